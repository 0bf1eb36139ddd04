"""Shared logic of EntityPermissions and EvaluationPermissions: one principal's entry in an ACL.

Each resource owns exactly one principal's entry on one object and leaves every other entry
alone, so grants compose (the creator's own admin entry, later grants such as the launch-day
submit permission) and concurrent grants on one ACL resolve through 412 re-reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult

from synapse_client.access import (
    AccessLevel,
    GrantTarget,
    entry_of,
    level_of,
    resolve_principal,
    with_entry,
)
from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import numeric_id_problem
from synapse_client.session import MAX_PRECONDITION_ATTEMPTS, SynapseSession

from .common import ENDPOINT_PROP, REPLACE, Prop, SynapseProvider, is_unknown, retain_prop


class GrantProvider(SynapseProvider):
    """Base: a subclass names its target (``class ...(GrantProvider, target=ENTITY_GRANT)``),
    this does the REST of granting and revoking."""

    GRANT: ClassVar[GrantTarget]
    OUTPUTS = ("grantee_id", "inherited_principal_ids")
    DELETE_BEFORE_REPLACE = False
    ID_KIND = "grant"

    def __init_subclass__(cls, *, target: GrantTarget, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        levels = [level.value for level in target.levels]

        def level_problem(value: str) -> str | None:
            return None if value in levels else f"must be one of {levels}, got {value!r}"

        cls.GRANT = target
        cls.KIND = target.kind
        cls.PROPS = (
            Prop(target.target, str, change=REPLACE, validate=target.target_problem),
            Prop("principal_id", str, required=False, change=REPLACE, validate=numeric_id_problem),
            Prop("principal_username", str, required=False, change=REPLACE),
            Prop("access", str, validate=level_problem),
            ENDPOINT_PROP,
            retain_prop(False),
        )

    def check_together(self, inputs: dict[str, Any]) -> list[CheckFailure]:
        given = [k for k in ("principal_id", "principal_username") if inputs.get(k) is not None]
        if len(given) == 1 or any(is_unknown(inputs.get(k)) for k in given):
            return []
        return [
            CheckFailure(
                "principal_id",
                "give exactly one of principal_id (a numeric user or team ID) and "
                f"principal_username; got {given or 'neither'}",
            )
        ]

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        target = props[self.GRANT.target]
        grantee = resolve_principal(
            session, props.get("principal_id"), props.get("principal_username")
        )
        inherited = self.grant(session, target, grantee, self.types(props))
        outs = self.outputs(props, grantee_id=grantee, inherited_principal_ids=inherited)
        return CreateResult(f"{target}/{grantee}", outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        session = self.session(props)
        target = props[self.GRANT.target]
        types = self.entry(session, target, str(props["grantee_id"]))
        if types is None:
            return ReadResult("", {})
        seen = {"access": level_of(types, self.GRANT.levels)}
        return ReadResult(id_, {**props, **seen})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        grantee = str(olds["grantee_id"])
        inherited = list(olds.get("inherited_principal_ids") or [])
        if self.server_changes(olds, news):
            session = self.session(news)
            inherited = (
                self.grant(session, news[self.GRANT.target], grantee, self.types(news)) or inherited
            )
        outs = self.outputs(news, grantee_id=grantee, inherited_principal_ids=inherited)
        return UpdateResult(outs)

    def delete_object(self, session: SynapseSession, id_: str, props: dict[str, Any]) -> None:
        inherited = [str(p) for p in props.get("inherited_principal_ids") or []]
        self.revoke(session, props[self.GRANT.target], str(props["grantee_id"]), inherited)

    def types(self, props: Mapping[str, Any]) -> frozenset[str]:
        return self.GRANT.levels[AccessLevel(props["access"])]

    # REST, per object kind -----------------------------------------------------------------

    def acl(self, session: SynapseSession, target: str) -> dict[str, Any] | None:
        """The object's own ACL, or None (the object is gone, or an entity inherits its ACL)."""
        return session.get(self.GRANT.acl_uri.format(id=target), object_id=target, missing_ok=True)

    def entry(self, session: SynapseSession, target: str, grantee: str) -> set[str] | None:
        acl = self.acl(session, target)
        return None if acl is None else entry_of(acl, grantee)

    def grant(
        self, session: SynapseSession, target: str, grantee: str, types: frozenset[str]
    ) -> list[str]:
        """Set the grantee's access types, re-reading the ACL when it changed meanwhile (409,
        412). When this had to give the object its own ACL (it inherited one), returns the
        principals copied from the inherited ACL; else []."""
        copied: list[str] = []
        for _ in range(MAX_PRECONDITION_ATTEMPTS):
            acl = self.acl(session, target)
            try:
                if acl is None:
                    # Give the object its own ACL: the inherited one with the grantee's entry.
                    inherited = self.inherited_entries(session, target)
                    copied = sorted({str(e["principalId"]) for e in inherited} - {grantee})
                    body = {"id": target, "resourceAccess": with_entry(inherited, grantee, types)}
                    session.post(self.GRANT.acl_uri.format(id=target), body, object_id=target)
                    return copied
                if entry_of(acl, grantee) != set(types):
                    entries = with_entry(acl.get("resourceAccess") or [], grantee, types)
                    self.put_acl(session, target, {**acl, "resourceAccess": entries})
                return copied
            except SynapseProvisioningError as exc:
                if exc.status not in (409, 412):
                    raise
        raise self._kept_changing(target, f"granting {grantee}", "up")

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
                    session.delete(self.GRANT.acl_uri.format(id=target), object_id=target)
                else:
                    self.put_acl(session, target, {**acl, "resourceAccess": remaining})
                return
            except SynapseProvisioningError as exc:
                if not (exc.gone or exc.status == 412):
                    raise
        raise self._kept_changing(target, f"revoking {grantee}", "destroy")

    def put_acl(self, session: SynapseSession, target: str, acl: dict[str, Any]) -> None:
        session.put(self.GRANT.acl_put_uri.format(id=target), acl, object_id=target)

    def inherited_entries(self, session: SynapseSession, target: str) -> list[dict[str, Any]]:
        """The entries of the ACL an object without its own inherits (its benefactor's)."""
        grant = self.GRANT
        if not grant.benefactor_uri:
            raise SynapseProvisioningError(
                f"{self.GRANT.target} {target} does not exist or this account cannot see it",
                status=404,
                object_id=target,
            )
        benefactor = session.get(grant.benefactor_uri.format(id=target), object_id=target)["id"]
        acl = session.get(grant.acl_uri.format(id=benefactor), object_id=str(benefactor))
        return acl.get("resourceAccess") or []

    def _kept_changing(self, target: str, doing: str, command: str) -> SynapseProvisioningError:
        return SynapseProvisioningError(
            f"the ACL of {target} kept changing while {doing}; run `pulumi {command}` again",
            status=412,
            object_id=target,
        )
