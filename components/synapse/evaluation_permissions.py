"""Permission of one principal (user or team) on one evaluation queue."""

from __future__ import annotations

from typing import Any

import pulumi

from synapse_client.access import EVALUATION_ACCESS, entry_of, with_entry
from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import numeric_id_problem
from synapse_client.session import SynapseSession, read_modify_write

from ._grant import GrantProvider
from ._resource import SynapseResource
from .common import REPLACE, Prop


class EvaluationPermissionsProvider(GrantProvider):
    """One ACL entry on an evaluation queue (queues always have their own ACL)."""

    KIND = "evaluation permission"
    TARGET_PROP = Prop("evaluation_id", str, change=REPLACE, validate=numeric_id_problem)
    LEVELS = EVALUATION_ACCESS
    ACL_URI = "/evaluation/{id}/acl"

    def grant(
        self, session: SynapseSession, target: str, grantee: str, types: frozenset[str]
    ) -> list[str]:
        acl = self.acl(session, target)
        if acl is None:
            raise SynapseProvisioningError(
                f"evaluation queue {target} does not exist or this account cannot see it",
                status=404,
                object_id=target,
            )
        if entry_of(acl, grantee) != set(types):
            self._set(session, target, grantee, types, first=acl)
        return []

    def revoke(
        self, session: SynapseSession, target: str, grantee: str, inherited: list[str]
    ) -> None:
        acl = self.acl(session, target)
        if acl is None or entry_of(acl, grantee) is None:
            return
        try:
            self._set(session, target, grantee, None, first=acl)
        except SynapseProvisioningError as exc:
            if not exc.gone:
                raise

    @staticmethod
    def _set(
        session: SynapseSession,
        target: str,
        grantee: str,
        types: frozenset[str] | None,
        first: dict[str, Any] | None = None,
    ) -> None:
        def modify(acl: dict[str, Any]) -> dict[str, Any]:
            entries = with_entry(acl.get("resourceAccess") or [], grantee, types)
            return {**acl, "resourceAccess": entries}

        read_modify_write(
            lambda: session.get(f"/evaluation/{target}/acl", object_id=target),
            modify,
            lambda acl: session.put("/evaluation/acl", acl, object_id=target),
            f"the ACL of evaluation queue {target}",
            first=first,
        )


class EvaluationPermissions(SynapseResource, provider=EvaluationPermissionsProvider):
    """Grant ``access`` (view, submit, score or admin) on a queue to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
