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
    TARGET = "evaluation_id"
    LEVELS = EVALUATION_ACCESS
    PROPS = GrantProvider.grant_props(
        Prop("evaluation_id", str, change=REPLACE, validate=numeric_id_problem), EVALUATION_ACCESS
    )
    OUTPUTS = ("grantee_id", "inherited_principal_ids")

    def entry(self, session: SynapseSession, target: str, grantee: str) -> set[str] | None:
        acl = _acl(session, target)
        return None if acl is None else entry_of(acl, grantee)

    def grant(
        self, session: SynapseSession, target: str, grantee: str, types: frozenset[str]
    ) -> list[str]:
        acl = _acl(session, target)
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
        acl = _acl(session, target)
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


def _acl(session: SynapseSession, evaluation_id: str) -> dict[str, Any] | None:
    """The queue's ACL, or None when the queue is gone."""
    uri = f"/evaluation/{evaluation_id}/acl"
    return session.get(uri, object_id=evaluation_id, missing_ok=True)


class EvaluationPermissions(SynapseResource, provider=EvaluationPermissionsProvider):
    """Grant ``access`` (view, submit, score or admin) on a queue to one principal.

    Give ``principal_id`` (user or team ID) or ``principal_username`` (resolved at run time).
    """

    grantee_id: pulumi.Output[str]
