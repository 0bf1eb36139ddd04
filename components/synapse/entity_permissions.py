"""Permission of one principal (user or team) on one entity: project, folder or file."""

from __future__ import annotations

import pulumi

from synapse_client.access import ENTITY_ACCESS
from synapse_client.names import syn_id_problem

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
    BENEFACTOR_URI = "/entity/{id}/benefactor"


class EntityPermissions(SynapseResource, provider=EntityPermissionsProvider):
    """Grant ``access`` (an ``AccessLevel`` for entities) on ``entity_id`` to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
