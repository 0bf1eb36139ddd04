"""Permission of one principal (user or team) on one evaluation queue.

The provider class stays in this module: state pickles it by this module and class name.
"""

from __future__ import annotations

import pulumi

from synapse_client.access import EVALUATION_GRANT

from ._grant import GrantProvider
from ._resource import SynapseResource


class EvaluationPermissionsProvider(GrantProvider, target=EVALUATION_GRANT):
    """One ACL entry on an evaluation queue (queues always have their own ACL)."""


class EvaluationPermissions(SynapseResource, provider=EvaluationPermissionsProvider):
    """Grant ``access`` (view, submit, score or admin) on a queue to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
