"""Synapse SubmissionView: a table of the queues' submissions (the wiki's step 12 dashboard).

Created in the staging project over every queue when the stack sets `submissionView: true`;
its columns are Synapse's defaults for submission views.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from synapse_client.names import entity_name_problem, syn_id_problem
from synapse_client.session import SynapseSession

from . import _entity
from ._resource import SynapseResource
from .common import (
    DESCRIPTION_PROP,
    ENDPOINT_PROP,
    OWNER_KEY_PROP,
    Prop,
    SynapseProvider,
    is_unknown,
    retain_prop,
)

SUBMISSION_VIEW = "org.sagebionetworks.repo.model.table.SubmissionView"


def scope_problem(value: list[Any]) -> str | None:
    if not value:
        return "must list at least one evaluation queue ID"
    known = [v for v in value if not is_unknown(v)]
    bad = [v for v in known if not (isinstance(v, str) and v.isdigit())]
    if bad:
        return f"must be numeric evaluation queue IDs such as 9614045, got {bad!r}"
    if len(set(known)) != len(known):
        return f"lists a queue twice: {value!r}"
    return None


def normalize_scope(value: list[str]) -> list[str]:
    if any(is_unknown(v) for v in value):
        return list(value)
    return sorted(value, key=int)


def default_column_ids(session: SynapseSession) -> list[str]:
    """Synapse's default columns of a submission view (id, status, submitter, ...)."""
    found = session.get("/column/tableview/defaults?viewEntityType=submissionview")
    return [str(c["id"]) for c in found.get("list") or []]


class SubmissionViewProvider(SynapseProvider):
    """Create a submission view, change its name, place and queues in place, trash it on delete."""

    KIND = "submission view"
    PROPS = (
        Prop("name", str, validate=entity_name_problem),
        Prop("parent_id", str, validate=syn_id_problem),
        Prop("scope_ids", list, validate=scope_problem, normalize=normalize_scope),
        DESCRIPTION_PROP,
        OWNER_KEY_PROP,
        ENDPOINT_PROP,
        retain_prop(False),
    )
    DELETE_BEFORE_REPLACE = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        wanted = self._wanted(props)
        body = {
            **wanted,
            "concreteType": SUBMISSION_VIEW,
            "columnIds": default_column_ids(session),
        }
        hint = (
            f"An entity of that name already exists in {props['parent_id']}: rename or delete "
            "it, or choose another view name."
        )
        entity, adopted = _entity.create_or_adopt(
            session, self.KIND, body, props["owner_key"], hint
        )
        if adopted and self._differs(entity, wanted):
            _entity.update_entity(session, entity["id"], wanted, first=entity)
        return CreateResult(entity["id"], self.outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        entity = _entity.read_entity(self.session(props), id_)
        if entity is None:
            return ReadResult("", {})
        seen = {
            **_entity.observed(entity),
            "parent_id": entity.get("parentId"),
            "scope_ids": normalize_scope([str(s) for s in entity.get("scopeIds") or []]),
        }
        return ReadResult(id_, self.outputs({**props, **seen}))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.server_changes(olds, news):
            _entity.update_entity(self.session(news), id_, self._wanted(news))
        return UpdateResult(self.outputs(news))

    def delete_object(self, session: SynapseSession, id_: str, props: dict[str, Any]) -> None:
        _entity.delete_entity(session, id_)

    @staticmethod
    def _wanted(props: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": props["name"],
            "parentId": props["parent_id"],
            "description": _entity.described(props),
            "scopeIds": [str(s) for s in props["scope_ids"]],
        }

    @staticmethod
    def _differs(entity: dict[str, Any], wanted: dict[str, Any]) -> bool:
        scope = sorted(str(s) for s in entity.get("scopeIds") or [])
        others = {k: v for k, v in wanted.items() if k != "scopeIds"}
        return _entity.needs_update(entity, others) or scope != sorted(wanted["scopeIds"])


class SubmissionView(SynapseResource, provider=SubmissionViewProvider):
    """A Synapse SubmissionView over evaluation queues; ``id`` is its ``syn`` ID."""
