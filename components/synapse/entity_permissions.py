"""Permission of one principal (user or team) on one entity: project, folder or file.

The provider class stays in this module: state pickles it by this module and class name.
"""

from __future__ import annotations

import pulumi

from synapse_client.access import ENTITY_GRANT

from ._grant import GrantProvider
from ._resource import SynapseResource


class EntityPermissionsProvider(GrantProvider, target=ENTITY_GRANT):
    """One ACL entry on an entity. An entity that inherits its ACL gets a local copy first."""


class EntityPermissions(SynapseResource, provider=EntityPermissionsProvider):
    """Grant ``access`` (an ``AccessLevel`` for entities) on ``entity_id`` to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
