"""Permission of one principal (user or team) on one entity: project, folder or file."""

from __future__ import annotations

from typing import Any

import pulumi

from synapse_client.access import ENTITY_ACCESS, entry_of, with_entry
from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import syn_id_problem
from synapse_client.session import MAX_PRECONDITION_ATTEMPTS, SynapseSession

from ._grant import GrantProvider
from ._resource import SynapseResource
from .common import REPLACE, Prop


class EntityPermissionsProvider(GrantProvider):
    """One ACL entry on an entity. An entity that inherits its ACL gets a local copy first."""

    KIND = "entity permission"
    TARGET_PROP = Prop("entity_id", str, change=REPLACE, validate=syn_id_problem)
    LEVELS = ENTITY_ACCESS
    ACL_URI = "/entity/{id}/acl"

    def grant(
        self, session: SynapseSession, target: str, grantee: str, types: frozenset[str]
    ) -> list[str]:
        copied: list[str] = []
        for _ in range(MAX_PRECONDITION_ATTEMPTS):
            acl = self.acl(session, target)
            try:
                if acl is None:
                    inherited = _benefactor_acl(session, target).get("resourceAccess") or []
                    copied = sorted({str(e["principalId"]) for e in inherited} - {grantee})
                    body = {"id": target, "resourceAccess": with_entry(inherited, grantee, types)}
                    session.post(f"/entity/{target}/acl", body, object_id=target)
                    return copied
                if entry_of(acl, grantee) == set(types):
                    return copied
                acl["resourceAccess"] = with_entry(acl.get("resourceAccess") or [], grantee, types)
                session.put(f"/entity/{target}/acl", acl, object_id=target)
                return copied
            except SynapseProvisioningError as exc:
                if exc.status not in (409, 412):
                    raise
        raise SynapseProvisioningError(
            f"the ACL of {target} kept changing while granting {grantee}; run `pulumi up` again",
            status=412,
            object_id=target,
        )

    def revoke(
        self, session: SynapseSession, target: str, grantee: str, inherited: list[str]
    ) -> None:
        """Drop the grantee's entry; if this grant made the ACL local and nothing but the
        copied entries is left, go back to inheriting (no hidden copies of team entries)."""
        for _ in range(MAX_PRECONDITION_ATTEMPTS):
            acl = self.acl(session, target)
            if acl is None or entry_of(acl, grantee) is None:
                return
            remaining = with_entry(acl.get("resourceAccess") or [], grantee, None)
            try:
                if inherited and {str(e["principalId"]) for e in remaining} <= set(inherited):
                    session.delete(f"/entity/{target}/acl", object_id=target)
                    return
                acl["resourceAccess"] = remaining
                session.put(f"/entity/{target}/acl", acl, object_id=target)
                return
            except SynapseProvisioningError as exc:
                if not (exc.gone or exc.status == 412):
                    raise
        raise SynapseProvisioningError(
            f"the ACL of {target} kept changing while revoking {grantee}; run `pulumi destroy` "
            "again",
            status=412,
            object_id=target,
        )


def _benefactor_acl(session: SynapseSession, entity_id: str) -> dict[str, Any]:
    benefactor = session.get(f"/entity/{entity_id}/benefactor", object_id=entity_id)["id"]
    return session.get(f"/entity/{benefactor}/acl", object_id=str(benefactor))


class EntityPermissions(SynapseResource, provider=EntityPermissionsProvider):
    """Grant ``access`` (an ``AccessLevel`` for entities) on ``entity_id`` to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
