"""Synapse SubmissionView: a table of the queues' submissions (the wiki's step 12 dashboard).

Created in the staging project over every queue when the stack sets `submissionView: true`;
its columns are Synapse's defaults for submission views.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse_client.session import SynapseSession

from ._entity import NAME_PROP, PARENT_PROP, EntityProvider
from ._resource import SynapseResource
from .common import (
    Prop,
    is_unknown,
    owned_props,
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


class SubmissionViewProvider(EntityProvider):
    """Create a submission view, change its name, place and queues in place, trash it on delete."""

    KIND = "submission view"
    CONCRETE_TYPE = SUBMISSION_VIEW
    PROPS = owned_props(
        NAME_PROP,
        PARENT_PROP,
        Prop("scope_ids", list, validate=scope_problem, normalize=normalize_scope),
        retain=False,
    )

    def wanted(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().wanted(props), "scopeIds": [str(s) for s in props["scope_ids"]]}

    def new_fields(self, session: SynapseSession, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"columnIds": default_column_ids(session)}

    def differs(self, entity: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
        scope = sorted(str(s) for s in entity.get("scopeIds") or [])
        others = {k: v for k, v in wanted.items() if k != "scopeIds"}
        return super().differs(entity, others) or scope != sorted(wanted["scopeIds"])

    def observe(self, session: SynapseSession, entity: Mapping[str, Any]) -> dict[str, Any]:
        scope = normalize_scope([str(s) for s in entity.get("scopeIds") or []])
        return {**super().observe(session, entity), "scope_ids": scope}


class SubmissionView(SynapseResource, provider=SubmissionViewProvider):
    """A Synapse SubmissionView over evaluation queues; ``id`` is its ``syn`` ID."""
