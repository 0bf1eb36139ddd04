"""Permission levels (as named in the Synapse web UI) and ACL entry arithmetic."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import SynapseProvisioningError
from .names import numeric_id_problem, syn_id_problem
from .session import SynapseSession, quote


class AccessLevel(StrEnum):
    """A named set of access types; which levels apply depends on the object (see the tables)."""

    VIEW = "view"
    DOWNLOAD = "download"
    MODERATE = "moderate"
    EDIT = "edit"
    EDIT_AND_DELETE = "edit_and_delete"
    SUBMIT = "submit"
    SCORE = "score"
    ADMIN = "admin"


_EDIT = frozenset({"READ", "DOWNLOAD", "CREATE", "UPDATE"})

ENTITY_ACCESS: Mapping[AccessLevel, frozenset[str]] = {
    AccessLevel.VIEW: frozenset({"READ"}),
    AccessLevel.DOWNLOAD: frozenset({"READ", "DOWNLOAD"}),
    AccessLevel.MODERATE: frozenset({"READ", "DOWNLOAD", "MODERATE"}),
    AccessLevel.EDIT: _EDIT,
    AccessLevel.EDIT_AND_DELETE: _EDIT | {"DELETE"},
    AccessLevel.ADMIN: _EDIT | {"DELETE", "CHANGE_SETTINGS", "MODERATE", "CHANGE_PERMISSIONS"},
}
"""Entity (project, folder, file) levels."""

EVALUATION_ACCESS: Mapping[AccessLevel, frozenset[str]] = {
    AccessLevel.VIEW: frozenset({"READ"}),
    AccessLevel.SUBMIT: frozenset({"READ", "SUBMIT"}),
    AccessLevel.SCORE: frozenset({"READ", "UPDATE_SUBMISSION", "READ_PRIVATE_SUBMISSION"}),
    AccessLevel.ADMIN: frozenset(
        {
            "READ",
            "CREATE",
            "UPDATE",
            "DELETE",
            "SUBMIT",
            "UPDATE_SUBMISSION",
            "READ_PRIVATE_SUBMISSION",
            "DELETE_SUBMISSION",
            "CHANGE_PERMISSIONS",
        }
    ),
}
"""Evaluation queue levels."""


@dataclass(frozen=True)
class GrantTarget:
    """A kind of object one principal can be granted access on: its levels and its ACL paths
    (``{id}`` is the object's ID). The grant resources of ``components.synapse`` are these."""

    kind: str
    """The grant in messages, e.g. ``entity permission``."""
    target: str
    """The grant's input naming the object, e.g. ``entity_id`` (a change replaces the grant)."""
    target_problem: Callable[[Any], str | None]
    levels: Mapping[AccessLevel, frozenset[str]]
    acl_uri: str
    """GET the object's own ACL (404 when there is none), POST to create it, DELETE to inherit."""
    acl_put_uri: str
    """Where an ACL update is PUT."""
    benefactor_uri: str = ""
    """Where an object that inherits its ACL names the benefactor (entities only; queues always
    have their own ACL)."""


ENTITY_GRANT = GrantTarget(
    kind="entity permission",
    target="entity_id",
    target_problem=syn_id_problem,
    levels=ENTITY_ACCESS,
    acl_uri="/entity/{id}/acl",
    acl_put_uri="/entity/{id}/acl",
    benefactor_uri="/entity/{id}/benefactor",
)
EVALUATION_GRANT = GrantTarget(
    kind="evaluation permission",
    target="evaluation_id",
    target_problem=numeric_id_problem,
    levels=EVALUATION_ACCESS,
    acl_uri="/evaluation/{id}/acl",
    acl_put_uri="/evaluation/acl",
)

PUBLIC_PRINCIPAL_ID = "273949"
"""Anyone, signed in or not."""
AUTHENTICATED_USERS_PRINCIPAL_ID = "273948"
"""Every signed-in Synapse user."""


def level_of(access_types: Iterable[str], table: Mapping[AccessLevel, frozenset[str]]) -> str:
    """The level name for a set of access types, or ``custom:<types>`` when none matches."""
    wanted = frozenset(access_types)
    for level, types in table.items():
        if types == wanted:
            return level.value
    return "custom:" + ",".join(sorted(wanted))


def entry_of(acl: Mapping[str, Any], principal_id: str) -> set[str] | None:
    for entry in acl.get("resourceAccess") or []:
        if str(entry.get("principalId")) == principal_id:
            return set(entry.get("accessType") or [])
    return None


def with_entry(
    entries: Iterable[Mapping[str, Any]], principal_id: str, access_types: Iterable[str] | None
) -> list[dict[str, Any]]:
    """The entries with this principal's set replaced (or removed when ``access_types`` is None)."""
    kept = [dict(e) for e in entries if str(e.get("principalId")) != principal_id]
    if access_types is not None:
        kept.append({"principalId": int(principal_id), "accessType": sorted(access_types)})
    return kept


def resolve_principal(
    session: SynapseSession, principal_id: str | None, username: str | None
) -> str:
    """The principal ID, looking a user name up at run time when no ID is given."""
    if principal_id:
        return principal_id
    if not username:
        raise SynapseProvisioningError("a permission needs principal_id or principal_username")
    try:
        found = session.post("/principal/alias", {"alias": username, "type": "USER_NAME"})
        return str(found["principalId"])
    except SynapseProvisioningError as exc:
        if exc.status not in (400, 404, 405):
            raise
    headers = session.get(f"/userGroupHeaders?prefix={quote(username)}")
    for header in headers.get("children") or []:
        if header.get("userName") == username and header.get("isIndividual", True):
            return str(header["ownerId"])
    raise SynapseProvisioningError(
        f"no Synapse user named {username!r}: check the user name (for the orchestrator, the "
        "stack config's orchestrator Synapse user name)",
        status=404,
    )
