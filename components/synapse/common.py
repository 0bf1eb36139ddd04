"""Shared plumbing of the Synapse dynamic providers.

Everything the per-object modules have in common lives here: the package's one user-facing
error type, endpoint handling, credentials read at run time, a synapseclient session with
bounded retries and errors that carry the HTTP status and the object ID, the ownership
marker that lets a retried create adopt its own object, and the provider base class that
implements check/diff from a declarative property list.

Credentials: a Pulumi Python dynamic provider is pickled (dill) into the state and run in a
separate provider process. Since pulumi/pulumi#17673 (Nov 2024; in the 3.272 SDK's
``pulumi/dynamic/__main__.py``) the engine sends that process the whole stack configuration
(``Configure``: keys keep their namespace, secrets arrive decrypted) and the process calls
``ResourceProvider.configure(ConfigureRequest)`` once per deserialized provider. The token is
read there, kept only in the provider process's memory and excluded from pickling; the
``SYNAPSE_AUTH_TOKEN`` environment variable is the fallback. Nothing credential-like is ever
an input, an output or part of the serialized provider.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
import synapseclient
from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, DiffResult, ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN
from synapseclient.core.exceptions import SynapseAuthenticationError, SynapseHTTPError
from synapseclient.core.retry import (
    DEFAULT_RETRY_STATUS_CODES,
    RETRYABLE_CONNECTION_ERRORS,
    RETRYABLE_CONNECTION_EXCEPTIONS,
)

LOG = logging.getLogger("challenge.synapse")

DEFAULT_SYNAPSE_ENDPOINT = "https://repo-prod.prod.sagebase.org"
"""Base URL of production Synapse; the repo, auth and file services live under it."""

PRODUCTION_PORTAL = "https://www.synapse.org"
AUTH_TOKEN_CONFIG_KEY = "challenge:synapseAuthToken"
AUTH_TOKEN_ENV_VAR = "SYNAPSE_AUTH_TOKEN"

MAX_NAME_LENGTH = 256
MAX_PRECONDITION_ATTEMPTS = 6
"""How many times a read-modify-write is re-read and re-applied after 412 (stale etag)."""


class SynapseProvisioningError(Exception):
    """The one user-facing error of the Synapse side: names the object and the HTTP status."""

    def __init__(self, message: str, *, status: int | None = None, object_id: str | None = None):
        details = [f"HTTP {status}" if status is not None else None]
        details.append(f"object {object_id}" if object_id else None)
        suffix = ", ".join(d for d in details if d)
        super().__init__(f"{message} ({suffix})" if suffix else message)
        self.status = status
        self.object_id = object_id


# --- endpoints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoints:
    """The service URLs synapseclient needs, derived from one base URL."""

    repo: str
    auth: str
    file: str
    portal: str


def endpoints_for(base_url: str) -> Endpoints:
    base = base_url.rstrip("/")
    portal = PRODUCTION_PORTAL + "/" if base == DEFAULT_SYNAPSE_ENDPOINT else base + "/"
    return Endpoints(f"{base}/repo/v1", f"{base}/auth/v1", f"{base}/file/v1", portal)


def site_url(base_url: str, entity_id: str) -> str:
    """The web address of an entity: www.synapse.org for production, the server itself otherwise."""
    base = base_url.rstrip("/")
    portal = PRODUCTION_PORTAL if base == DEFAULT_SYNAPSE_ENDPOINT else base
    return f"{portal}/Synapse:{entity_id}"


def endpoint_problem(url: Any) -> str | None:
    """Why ``url`` is not a usable Synapse base URL, or None: https, or http on loopback only."""
    if not isinstance(url, str) or not url:
        return "must be a base URL such as " + DEFAULT_SYNAPSE_ENDPOINT
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        return f"must be an http(s) base URL such as {DEFAULT_SYNAPSE_ENDPOINT}, got {url!r}"
    if parsed.query or parsed.fragment or parsed.path.rstrip("/") not in ("",):
        return f"must be a base URL without a path (the /repo/v1 part is added), got {url!r}"
    if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
        return f"plain http is allowed only for a local server on loopback, got {url!r}"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for 429, 5xx and dropped connections (synapseclient's ``with_retry``)."""

    attempts: int = 8
    first_wait_seconds: float = 1.0
    max_wait_seconds: float = 16.0
    back_off: float = 2.0

    def as_synapseclient(self) -> dict[str, Any]:
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


#: Seconds the reachability probe waits before the login; synapseclient's own login retries
#: connection errors for many minutes, which looks like a hang with a wrong synapseEndpoint.
REACH_TIMEOUT_SECONDS = 10.0


def _login(base_url: str, token: str) -> _Login:
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

    def get(self, uri: str, *, object_id: str | None = None, service: str = "repo") -> Any:
        return self._call("GET", uri, None, object_id, service)

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
            if not (missing_ok and exc.status == 404):
                raise

    def _call(self, method: str, uri: str, body: Any, object_id: str | None, service: str) -> Any:
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


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


# --- ownership marker ------------------------------------------------------------------------

_MARKER = re.compile(r"\s*\[managed-by-pulumi:([^\]\n]+)\]\s*$")


def owner_key(project: str, stack: str, resource_name: str) -> str:
    """The stack-owned key written into the objects a stack creates."""
    return f"{project}/{stack}/{resource_name}"


def with_owner_marker(description: str, key: str) -> str:
    """``description`` followed by the marker that identifies this stack's object."""
    marker = f"[managed-by-pulumi:{key}]"
    return f"{description}\n\n{marker}" if description else marker


def split_owner_marker(description: str | None) -> tuple[str, str | None]:
    """The user description and the owner key found in a stored description."""
    text = description or ""
    found = _MARKER.search(text)
    if not found:
        return text, None
    return text[: found.start()], found.group(1)


def not_ours(kind: str, name: str, object_id: str, found_key: str | None, hint: str) -> Exception:
    """The error for an existing object of the wanted name that this stack did not create."""
    owner = f"is managed by {found_key!r}" if found_key else "carries no ownership marker"
    return SynapseProvisioningError(
        f"a Synapse {kind} named {name!r} already exists ({object_id}) and {owner}, not by this "
        f"stack; it was not taken over. {hint}",
        status=409,
        object_id=object_id,
    )


# --- provider base ---------------------------------------------------------------------------

IN_PLACE = "in_place"
REPLACE = "replace"
STATE_ONLY = "state_only"


@dataclass(frozen=True)
class Prop:
    """One input property: type, default, how a change is applied, and an extra validator."""

    name: str
    types: type | tuple[type, ...]
    required: bool = True
    default: Any = None
    change: str = IN_PLACE
    validate: Callable[[Any], str | None] | None = None
    normalize: Callable[[Any], Any] | None = None


def is_unknown(value: Any) -> bool:
    """Whether a preview value is not known yet: the wire marker, or the ``Unknown`` the provider
    process makes of it (pulumi/dynamic/__main__.py deserializes Check and Diff inputs with
    ``keep_unknowns``)."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def validate_name(value: Any) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters, got {len(value)}"
    return None


_ENTITY_NAME = re.compile(r"[A-Za-z0-9 _.+\-'()]+")


def entity_name_problem(value: Any) -> str | None:
    """Synapse's rule for project, folder and file names, checked before anything is sent."""
    problem = validate_name(value)
    if problem or _ENTITY_NAME.fullmatch(value):
        return problem
    return (
        "may contain only letters, digits, spaces and _ . + - ' ( ) (Synapse's rule for "
        f"entity names), got {value!r}"
    )


def syn_id_problem(value: Any) -> str | None:
    ok = value.startswith("syn") and value[3:].isdigit()
    return None if ok else f"must be a Synapse entity ID such as syn123, got {value!r}"


def numeric_id_problem(value: Any) -> str | None:
    ok = value.isdigit()
    return None if ok else f"must be a numeric Synapse ID such as 3412345, got {value!r}"


ENDPOINT_PROP = Prop(
    "synapse_endpoint",
    str,
    required=False,
    default=DEFAULT_SYNAPSE_ENDPOINT,
    change=REPLACE,
    validate=endpoint_problem,
    normalize=lambda url: url.rstrip("/"),
)
MAX_DESCRIPTION_LENGTH = 800
"""Synapse keeps 1,000 characters of an entity's description; the ownership marker needs room."""


def _owner_key_problem(value: Any) -> str | None:
    if "]" in value or "\n" in value:
        return f"must not contain ']' or a line break, got {value!r}"
    return validate_name(value)


def _description_problem(value: Any) -> str | None:
    if len(value) > MAX_DESCRIPTION_LENGTH:
        return f"must be at most {MAX_DESCRIPTION_LENGTH} characters, got {len(value)}"
    return None


OWNER_KEY_PROP = Prop("owner_key", str, validate=_owner_key_problem)
DESCRIPTION_PROP = Prop(
    "description",
    str,
    required=False,
    default="",
    validate=_description_problem,
    normalize=str.rstrip,
)
"""Trailing white space is dropped: the marker follows the description after a blank line."""


def retain_prop(default: bool) -> Prop:
    return Prop("retain_on_delete", bool, required=False, default=default, change=STATE_ONLY)


class SynapseProvider(ResourceProvider):
    """Base of every Synapse provider: credentials at run time, check/diff from ``PROPS``."""

    KIND: ClassVar[str] = "object"
    PROPS: ClassVar[tuple[Prop, ...]] = ()
    OUTPUTS: ClassVar[tuple[str, ...]] = ()
    DELETE_BEFORE_REPLACE: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._auth_token: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        token = req.config.get(AUTH_TOKEN_CONFIG_KEY)
        self._auth_token = token or None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_auth_token"] = None
        return state

    def session(self, props: Mapping[str, Any]) -> SynapseSession:
        token = getattr(self, "_auth_token", None) or os.environ.get(AUTH_TOKEN_ENV_VAR)
        if not token:
            raise SynapseProvisioningError(
                f"no Synapse credentials: set `pulumi config set --secret {AUTH_TOKEN_CONFIG_KEY} "
                f"<personal access token>` or the {AUTH_TOKEN_ENV_VAR} environment variable"
            )
        return open_session(props.get("synapse_endpoint") or DEFAULT_SYNAPSE_ENDPOINT, token)

    # check / diff ---------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs: dict[str, Any] = {}
        failures: list[CheckFailure] = []
        known = {p.name for p in self.PROPS} | set(self.OUTPUTS) | {"__provider"}
        for name in sorted(set(news) - known):
            failures.append(CheckFailure(name, f"unknown property of a Synapse {self.KIND}"))
        for prop in self.PROPS:
            value = news.get(prop.name)
            if is_unknown(value):
                inputs[prop.name] = value
                continue
            if value is None:
                if prop.required:
                    failures.append(CheckFailure(prop.name, f"{prop.name} is required"))
                    continue
                value = prop.default
            elif not _has_type(value, prop.types):
                failures.append(
                    CheckFailure(
                        prop.name,
                        f"{prop.name} must be {_type_names(prop.types)}, "
                        f"got {type(value).__name__} {value!r}",
                    )
                )
                continue
            if value is not None and isinstance(value, float) and prop.types is int:
                value = int(value)
            problem = prop.validate(value) if prop.validate and value is not None else None
            if problem:
                failures.append(CheckFailure(prop.name, f"{prop.name} {problem}"))
                continue
            if prop.normalize and value is not None:
                value = prop.normalize(value)
            inputs[prop.name] = value
        if not failures:
            failures.extend(self.check_together(inputs))
        if "__provider" in news:
            inputs["__provider"] = news["__provider"]
        return CheckResult(inputs, failures)

    def check_together(self, inputs: dict[str, Any]) -> list[CheckFailure]:
        """Rules that involve several properties; the checked inputs may hold unknowns."""
        return []

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [p for p in self.PROPS if _differs(olds.get(p.name), news.get(p.name))]
        replaces = [p.name for p in changed if p.change == REPLACE]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[],
            delete_before_replace=self.DELETE_BEFORE_REPLACE,
        )

    def server_changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> set[str]:
        """Names of changed properties that need a call to Synapse (not state-only ones)."""
        return {
            p.name
            for p in self.PROPS
            if p.change != STATE_ONLY and _differs(olds.get(p.name), news.get(p.name))
        }

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("retain_on_delete"):
            label = f"{id_} ({props['name']})" if props.get("name") else id_
            LOG.warning(
                "Synapse %s %s is retained: removing it from the stack leaves it in Synapse "
                "(retain_on_delete is true)",
                self.KIND,
                label,
            )
            return
        self.delete_object(self.session(props), id_, props)

    def delete_object(self, session: SynapseSession, id_: str, props: dict[str, Any]) -> None:
        raise NotImplementedError

    def outputs(self, news: Mapping[str, Any], **computed: Any) -> dict[str, Any]:
        """State to record: the inputs (so diffs see drift after a read) plus computed values."""
        outs = {p.name: news.get(p.name, p.default) for p in self.PROPS}
        outs.update(computed)
        return outs


def _has_type(value: Any, types: type | tuple[type, ...]) -> bool:
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool):
        return bool in wanted
    if int in wanted and isinstance(value, float) and value.is_integer():
        return True
    return isinstance(value, wanted)


def _type_names(types: type | tuple[type, ...]) -> str:
    wanted = types if isinstance(types, tuple) else (types,)
    names = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in wanted)


def _differs(old: Any, new: Any) -> bool:
    if is_unknown(new):
        return True
    return _canonical(old) != _canonical(new)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_canonical(v) for v in value]
    return value


def wait_seconds(attempt: int) -> float:
    """Backoff between attempts of an eventually consistent lookup (e.g. the team index)."""
    return min(RETRY_POLICY.first_wait_seconds * (RETRY_POLICY.back_off**attempt), 8.0)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
