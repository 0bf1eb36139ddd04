"""A logged-in synapseclient session with bounded retries and errors that carry the HTTP status
and the object ID; the read-modify-write loop for etag-guarded updates."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import requests

if TYPE_CHECKING:
    import synapseclient

from .endpoints import endpoints_for
from .errors import SynapseProvisioningError

LOG = logging.getLogger("challenge.synapse")

AUTH_TOKEN_CONFIG_KEY = "challenge:synapseAuthToken"
AUTH_TOKEN_ENV_VAR = "SYNAPSE_AUTH_TOKEN"

MAX_PRECONDITION_ATTEMPTS = 6
"""How many times a read-modify-write is re-read and re-applied after 412 (stale etag)."""

#: Seconds the reachability probe waits before the login; synapseclient's own login retries
#: connection errors for many minutes, which looks like a hang with a wrong synapseEndpoint.
REACH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for 429, 5xx and dropped connections (synapseclient's ``with_retry``)."""

    attempts: int = 8
    first_wait_seconds: float = 1.0
    max_wait_seconds: float = 16.0
    back_off: float = 2.0

    def as_synapseclient(self) -> dict[str, Any]:
        from synapseclient.core.retry import (
            DEFAULT_RETRY_STATUS_CODES,
            RETRYABLE_CONNECTION_ERRORS,
            RETRYABLE_CONNECTION_EXCEPTIONS,
        )

        return {
            "retry_status_codes": list(DEFAULT_RETRY_STATUS_CODES),
            "retry_errors": list(RETRYABLE_CONNECTION_ERRORS),
            "retry_exceptions": list(RETRYABLE_CONNECTION_EXCEPTIONS),
            "retries": self.attempts - 1,
            "wait": self.first_wait_seconds,
            "max_wait": self.max_wait_seconds,
            "back_off": self.back_off,
        }


RETRY_POLICY = RetryPolicy()
"""Bounded (about two minutes at worst) instead of synapseclient's 30-minute default."""


@dataclass(frozen=True)
class _Login:
    credentials: Any
    owner_id: str
    username: str


_LOGINS: dict[tuple[str, str], _Login] = {}
_LOGIN_LOCK = threading.Lock()
_THREAD_CLIENTS = threading.local()


def clear_session_cache() -> None:
    """Forget cached logins (tests restart servers on reused ports)."""
    with _LOGIN_LOCK:
        _LOGINS.clear()
    _THREAD_CLIENTS.__dict__.clear()


def _new_client(base_url: str) -> synapseclient.Synapse:
    # Imported on first use: synapseclient takes most of a CLI's start-up (`--help` needs none).
    import synapseclient

    ends = endpoints_for(base_url)
    return synapseclient.Synapse(
        repoEndpoint=ends.repo,
        authEndpoint=ends.auth,
        fileHandleEndpoint=ends.file,
        portalEndpoint=ends.portal,
        skip_checks=True,
        silent=True,
        cache_client=False,
    )


def open_session(base_url: str, token: str) -> SynapseSession:
    """A logged-in session; the login (GET /userProfile) happens once per process and token."""
    key = (base_url.rstrip("/"), hashlib.sha256(token.encode()).hexdigest())
    login = _LOGINS.get(key)
    if login is None:
        with _LOGIN_LOCK:
            login = _LOGINS.get(key)
            if login is None:
                login = _login(base_url, token)
                _LOGINS[key] = login
    clients = _THREAD_CLIENTS.__dict__.setdefault("clients", {})
    syn = clients.get(key)
    if syn is None:
        syn = _new_client(base_url)
        syn.credentials = login.credentials
        clients[key] = syn
    return SynapseSession(syn, base_url.rstrip("/"), login.owner_id, login.username)


def _login(base_url: str, token: str) -> _Login:
    from synapseclient.core.exceptions import SynapseAuthenticationError, SynapseHTTPError

    try:
        requests.get(f"{endpoints_for(base_url).repo}/version", timeout=REACH_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise SynapseProvisioningError(
            f"cannot reach Synapse at {base_url} ({type(exc).__name__}); check synapseEndpoint"
        ) from None
    syn = _new_client(base_url)
    try:
        syn.login(authToken=token, silent=True)
    except (SynapseHTTPError, SynapseAuthenticationError) as exc:
        cause = exc if isinstance(exc, SynapseHTTPError) else exc.__cause__
        response = getattr(cause, "response", None)
        status = response.status_code if response is not None else None
        raise SynapseProvisioningError(
            f"Synapse at {base_url} rejected the auth token; set a valid personal access token "
            f"with `pulumi config set --secret {AUTH_TOKEN_CONFIG_KEY}` or {AUTH_TOKEN_ENV_VAR}",
            status=status,
        ) from None
    except requests.RequestException as exc:
        raise SynapseProvisioningError(
            f"cannot reach Synapse at {base_url} to log in ({type(exc).__name__}); "
            "check synapse_endpoint"
        ) from None
    creds = syn.credentials
    return _Login(creds, str(creds.owner_id), str(creds.username))


class SynapseSession:
    """REST calls through synapseclient with the bounded retry policy and mapped errors."""

    def __init__(self, syn: synapseclient.Synapse, base_url: str, owner_id: str, username: str):
        self._syn = syn
        self.base_url = base_url
        self.owner_id = owner_id
        self.username = username

    @overload
    def get(
        self,
        uri: str,
        *,
        object_id: str | None = None,
        service: str = "repo",
        missing_ok: Literal[False] = False,
    ) -> Any: ...

    @overload
    def get(
        self, uri: str, *, object_id: str | None = None, service: str = "repo", missing_ok: bool
    ) -> Any | None: ...

    def get(
        self,
        uri: str,
        *,
        object_id: str | None = None,
        service: str = "repo",
        missing_ok: bool = False,
    ) -> Any | None:
        """GET; with ``missing_ok`` an object that is gone (404) reads as None."""
        try:
            return self._call("GET", uri, None, object_id, service)
        except SynapseProvisioningError as exc:
            if missing_ok and exc.gone:
                return None
            raise

    def post(
        self, uri: str, body: Any, *, object_id: str | None = None, service: str = "repo"
    ) -> Any:
        return self._call("POST", uri, body, object_id, service)

    def put(self, uri: str, body: Any, *, object_id: str | None = None) -> Any:
        return self._call("PUT", uri, body, object_id, "repo")

    def delete(self, uri: str, *, object_id: str | None = None, missing_ok: bool = False) -> None:
        """DELETE; with ``missing_ok`` an object already gone (404) counts as deleted."""
        try:
            self._call("DELETE", uri, None, object_id, "repo")
        except SynapseProvisioningError as exc:
            if not (missing_ok and exc.gone):
                raise

    def _call(self, method: str, uri: str, body: Any, object_id: str | None, service: str) -> Any:
        from synapseclient.core.exceptions import SynapseHTTPError

        syn = self._syn
        endpoint = syn.fileHandleEndpoint if service == "file" else syn.repoEndpoint
        policy = RETRY_POLICY.as_synapseclient()
        data = None if body is None else json.dumps(body)
        try:
            if method == "GET":
                return syn.restGET(uri, endpoint=endpoint, retryPolicy=policy)
            if method == "POST":
                return syn.restPOST(uri, data, endpoint=endpoint, retryPolicy=policy)
            if method == "PUT":
                return syn.restPUT(uri, data, endpoint=endpoint, retryPolicy=policy)
            syn.restDELETE(uri, endpoint=endpoint, retryPolicy=policy)
            return None
        except SynapseHTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else None
            raise SynapseProvisioningError(
                f"{method} {uri}: {_reason(response)}", status=status, object_id=object_id
            ) from None
        except requests.RequestException as exc:
            raise SynapseProvisioningError(
                f"{method} {uri}: no answer from {self.base_url} after "
                f"{RETRY_POLICY.attempts} attempts ({type(exc).__name__})",
                object_id=object_id,
            ) from None


def _reason(response: requests.Response | None) -> str:
    if response is None:
        return "no response"
    try:
        reason = response.json().get("reason")
    except ValueError:
        reason = None
    return str(reason or response.text or response.reason)[:500]


def read_modify_write(
    read: Callable[[], dict[str, Any]],
    modify: Callable[[dict[str, Any]], dict[str, Any]],
    write: Callable[[dict[str, Any]], dict[str, Any]],
    what: str,
    *,
    first: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply ``modify`` and write; on 412 (someone else changed it) re-read and re-apply."""
    current = first
    for _ in range(MAX_PRECONDITION_ATTEMPTS):
        if current is None:
            current = read()
        try:
            return write(modify(current))
        except SynapseProvisioningError as exc:
            if exc.status != 412:
                raise
            LOG.info("%s changed while being updated (412); re-reading and re-applying", what)
            current = None
    raise SynapseProvisioningError(
        f"{what} kept changing during the update: gave up after {MAX_PRECONDITION_ATTEMPTS} "
        "re-reads; run `pulumi up` again",
        status=412,
    )


def update_object(
    session: SynapseSession,
    uri: str,
    fields: dict[str, Any],
    what: str,
    *,
    object_id: str,
    put_uri: str | None = None,
    first: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``fields`` onto the object at ``uri`` (GET, merge, PUT to ``put_uri`` or ``uri``),
    re-reading on a stale etag: the one update path of teams, queues, challenges, entities."""
    return read_modify_write(
        lambda: session.get(uri, object_id=object_id),
        lambda current: {**current, **fields},
        lambda merged: session.put(put_uri or uri, merged, object_id=object_id),
        what,
        first=first,
    )


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def wait_seconds(attempt: int) -> float:
    """Backoff between attempts of an eventually consistent lookup (e.g. the team index)."""
    return min(RETRY_POLICY.first_wait_seconds * (RETRY_POLICY.back_off**attempt), 8.0)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
