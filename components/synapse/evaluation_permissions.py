"""Permission of one principal (user or team) on one evaluation queue."""

from __future__ import annotations

import pulumi

from synapse_client.access import EVALUATION_ACCESS
from synapse_client.names import numeric_id_problem

from ._grant import GrantProvider
from ._resource import SynapseResource
from .common import REPLACE, Prop


class EvaluationPermissionsProvider(GrantProvider):
    """One ACL entry on an evaluation queue (queues always have their own ACL)."""

    KIND = "evaluation permission"
    TARGET_PROP = Prop("evaluation_id", str, change=REPLACE, validate=numeric_id_problem)
    LEVELS = EVALUATION_ACCESS
    ACL_URI = "/evaluation/{id}/acl"
    ACL_PUT_URI = "/evaluation/acl"


class EvaluationPermissions(SynapseResource, provider=EvaluationPermissionsProvider):
    """Grant ``access`` (view, submit, score or admin) on a queue to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
