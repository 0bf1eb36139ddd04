"""Validation shared by entity, evaluation and team ACLs (Synapse's PermissionsManagerUtils)."""

from __future__ import annotations

from typing import Any

from .app import Request
from .errors import bad_request, not_found, precondition_failed
from .state import ANONYMOUS, PUBLIC, State, User, new_etag

#: org.sagebionetworks.repo.model.ACCESS_TYPE. Synapse accepts any of them in any ACL
#: (PermissionsManagerUtils.validateACLContent does not check them against the object type).
ACCESS_TYPES = {
    "CREATE",
    "READ",
    "UPDATE",
    "DELETE",
    "CHANGE_PERMISSIONS",
    "DOWNLOAD",
    "UPLOAD",
    "PARTICIPATE",
    "SUBMIT",
    "READ_PRIVATE_SUBMISSION",
    "UPDATE_SUBMISSION",
    "DELETE_SUBMISSION",
    "TEAM_MEMBERSHIP_UPDATE",
    "SEND_MESSAGE",
    "CHANGE_SETTINGS",
    "MODERATE",
    "REVIEW_SUBMISSIONS",
    "EXEMPTION_ELIGIBLE",
}


def validated_resource_access(
    state: State, body: Any, caller: User, owner_id: str | int
) -> list[dict[str, Any]]:
    """The ACL's resourceAccess, cleaned; 400/404 for what Synapse rejects.

    The caller must keep CHANGE_PERMISSIONS (directly or through a team) unless it owns the
    object; anonymous gets nothing and PUBLIC only READ.
    """
    entries = body.get("resourceAccess") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise bad_request("AccessControlList.resourceAccess is required")
    groups = state.groups_of(caller)
    keeps_control = str(caller.principal_id) == str(owner_id)
    cleaned = []
    for entry in entries:
        try:
            principal_id = int(entry["principalId"])
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_request("Group ID is null") from exc
        access = sorted(set(entry.get("accessType") or []))
        if not access:
            raise bad_request("No access types specified.")
        unknown = sorted(set(access) - ACCESS_TYPES)
        if unknown:
            # the JSON binding's error for a value outside the enum
            raise bad_request(
                f"No enum constant org.sagebionetworks.repo.model.ACCESS_TYPE.{unknown[0]}"
            )
        if principal_id == ANONYMOUS:
            raise bad_request(
                "Cannot assign permissions to anonymous. To share resources with anonymous "
                f"users, use the PUBLIC group id ({PUBLIC})"
            )
        if principal_id == PUBLIC and access != ["READ"]:
            raise bad_request("Only READ permissions can be assigned to the public group")
        if not state.is_principal(principal_id):
            raise not_found(f"Principal ID {principal_id} does not exist")
        if principal_id in groups and "CHANGE_PERMISSIONS" in access:
            keeps_control = True
        cleaned.append({"principalId": principal_id, "accessType": access})
    if not keeps_control:
        raise bad_request("Caller is trying to revoke their own ACL editing permissions.")
    return cleaned


def replace_acl(
    state: State, acl: dict[str, Any], body: Any, caller: User, owner_id: str | int
) -> dict[str, Any]:
    """PUT of an entity, evaluation or team ACL: 412 on a stale etag, then the validated
    resourceAccess and a new etag."""
    if body.get("etag") != acl["etag"]:
        raise precondition_failed(acl["id"])
    acl.update(
        resourceAccess=validated_resource_access(state, body, caller, owner_id), etag=new_etag()
    )
    return acl


def replace_acl_named_in_body(
    req: Request, kind: str, access: str, acls: dict[str, dict[str, Any]], owner_field: str
) -> dict[str, Any]:
    """PUT of an evaluation or team ACL (``/evaluation/acl``, ``/team/acl``): the body's ``id``
    names the object; 401, 400, 404, 403 first, in Synapse's order."""
    user, body, found = req.authorized_by_body(kind, "id", access)
    return replace_acl(req.state, acls[found["id"]], body, user, found[owner_field])
