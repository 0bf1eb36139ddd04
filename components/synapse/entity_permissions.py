"""Permission of one principal (user or team) on one entity: project, folder or file."""

from __future__ import annotations

from typing import Any

import pulumi

from synapse_client.access import ENTITY_ACCESS, with_entry
from synapse_client.names import syn_id_problem
from synapse_client.session import SynapseSession

from ._grant import GrantProvider
from ._resource import SynapseResource
from .common import REPLACE, Prop


class EntityPermissionsProvider(GrantProvider):
    """One ACL entry on an entity. An entity that inherits its ACL gets a local copy first."""

    KIND = "entity permission"
    TARGET_PROP = Prop("entity_id", str, change=REPLACE, validate=syn_id_problem)
    LEVELS = ENTITY_ACCESS
    ACL_URI = "/entity/{id}/acl"
    ACL_PUT_URI = "/entity/{id}/acl"

    def own_acl(
        self,
        session: SynapseSession,
        target: str,
        grantee: str,
        types: frozenset[str],
        copied: list[str],
    ) -> list[str]:
        """Copy the inherited ACL (the benefactor's) with the grantee's entry set."""
        inherited = _benefactor_acl(session, target).get("resourceAccess") or []
        copied[:] = sorted({str(e["principalId"]) for e in inherited} - {grantee})
        body = {"id": target, "resourceAccess": with_entry(inherited, grantee, types)}
        session.post(self.ACL_URI.format(id=target), body, object_id=target)
        return copied


def _benefactor_acl(session: SynapseSession, entity_id: str) -> dict[str, Any]:
    benefactor = session.get(f"/entity/{entity_id}/benefactor", object_id=entity_id)["id"]
    return session.get(f"/entity/{benefactor}/acl", object_id=str(benefactor))


class EntityPermissions(SynapseResource, provider=EntityPermissionsProvider):
    """Grant ``access`` (an ``AccessLevel`` for entities) on ``entity_id`` to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
