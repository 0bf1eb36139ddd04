"""Routing: handlers register with ``@route`` and receive a parsed ``Request``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from .errors import SynapseApiError, bad_request, unauthorized
from .state import State, User

SERVICE_PREFIXES = {"repo": "/repo/v1", "file": "/file/v1", "auth": "/auth/v1", "": ""}


@dataclass
class Response:
    """A non-default answer: another status, a text body, or extra headers."""

    status: int = 200
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes
    user: User | None
    base_url: str
    state: State
    server: Any = None

    def json(self) -> Any:
        if not self.raw_body:
            raise bad_request("Request body is required")
        try:
            return json.loads(self.raw_body)
        except ValueError as exc:
            raise bad_request(f"Malformed JSON request body: {exc}") from exc

    def json_or_empty(self) -> Any:
        return self.json() if self.raw_body.strip() else {}

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def params(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def int_param(self, name: str, default: int) -> int:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise bad_request(f"Query parameter {name} must be an integer, got {value!r}") from exc

    def bool_param(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        return default if value is None else value.lower() == "true"

    def require_user(self) -> User:
        if self.user is None:
            raise unauthorized("You must be logged in to perform this action")
        return self.user

    def caller_and_body(self) -> tuple[User, Any]:
        """The signed-in caller and the JSON body, 401 before 400 as Synapse checks them."""
        return self.require_user(), self.json()

    def authorized(self, kind: str, object_id: str, access: str) -> tuple[User, dict[str, Any]]:
        """The signed-in caller and the entity, evaluation or team it may act on with ``access``:
        401, then 404, then 403, in Synapse's order."""
        user = self.require_user()
        return user, self.state.authorized(kind, object_id, user, access)

    def authorized_by_body(
        self, kind: str, id_field: str, access: str
    ) -> tuple[User, Any, dict[str, Any]]:
        """For a PUT or POST whose JSON body names the object in ``id_field``: the caller, the
        body and the object, checked in the order 401, 400 (body), 404, 403."""
        user, body = self.caller_and_body()
        return user, body, self.state.authorized(kind, str(body.get(id_field)), user, access)


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool


ROUTES: list[Route] = []


def route(
    method: str, service: str, template: str, *, auth: bool = True
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` on ``<service prefix><template>``."""
    full = SERVICE_PREFIXES[service] + template
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", full) + "$"

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, full, re.compile(regex), handler, auth))
        return handler

    return register


SYNAPSE_ID = re.compile(r"(?i)(syn)?\d+(\.\d+)?")
NUMBER = re.compile(r"\d+")


def param_fits(name: str, value: str) -> bool:
    """Whether a path segment has the shape of the ID its route expects: Synapse IDs for
    entities, numbers for every other ``*_id`` and versions. A path like
    ``/membershipInvitation/openInvitationCount`` then falls through to "not served" instead
    of being answered by ``/membershipInvitation/{invitation_id}``."""
    if name in ("entity_id", "owner_id", "parent_id"):
        return SYNAPSE_ID.fullmatch(value) is not None
    if name.endswith("_id") or name in ("version", "token", "part"):
        return NUMBER.fullmatch(value) is not None
    return True


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for this path; literal segments win over ``{param}`` ones, as in Spring."""
    best: tuple[Route, dict[str, str]] | None = None
    path_matched = False
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if not found or not all(param_fits(k, unquote(v)) for k, v in found.groupdict().items()):
            continue
        path_matched = True
        if candidate.method != method:
            continue
        if best is None or candidate.template.count("{") < best[0].template.count("{"):
            best = (candidate, {k: unquote(v) for k, v in found.groupdict().items()})
    if best is None and path_matched:
        raise MethodNotAllowed(method, path)
    return best


class MethodNotAllowed(SynapseApiError):
    """The path is served, but not with this method (405, counted as not served)."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(405, f"Request method '{method}' is not supported")


def template_for(method: str, path: str) -> str:
    """The route template a path belongs to, for request counting; the path itself if none."""
    try:
        found = match(method, path)
    except SynapseApiError:
        found = None
    return found[0].template if found else path


def parse_query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def paginated(
    items: list[Any], request: Request, default_limit: int = 10, max_limit: int = 1000
) -> dict:
    """Synapse's PaginatedResults: a ``limit``/``offset`` page and the total count."""
    limit = request.int_param("limit", default_limit)
    offset = request.int_param("offset", 0)
    if limit < 0 or offset < 0:
        raise bad_request("limit and offset must be non-negative")
    if limit > max_limit:
        raise bad_request(f"Limit may not exceed {max_limit}")
    return {"results": items[offset : offset + limit], "totalNumberOfResults": len(items)}
