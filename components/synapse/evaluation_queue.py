"""Synapse evaluation queue, with its submission limits expressed as rounds."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult

from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import syn_id_problem, validate_name
from synapse_client.session import SynapseSession, quote, update_object

from ._resource import SynapseResource
from .common import (
    Prop,
    SynapseProvider,
    described,
    is_unknown,
    observed,
    owned_props,
)

CONFLICT_HINT = (
    "Evaluation queue names are unique across Synapse: rename the queue in the stack config "
    "(its `name`; keep its `key` to rename in place) or delete the existing queue."
)
LIMIT_TYPES = {
    "total_submissions": "TOTAL",
    "daily_submissions": "DAILY",
    "weekly_submissions": "WEEKLY",
    "monthly_submissions": "MONTHLY",
}
ROUND_KEYS = ("start", "end", *LIMIT_TYPES)


def normalize_timestamp(value: Any) -> str:
    """An ISO 8601 instant with a time zone, as Synapse writes it (UTC, milliseconds, Z)."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; write it like 2025-01-31T00:00:00Z")
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


def round_problems(rounds: Sequence[Any]) -> list[str]:
    """What is wrong with the rounds: bad fields, end before start, overlaps."""
    problems: list[str] = []
    spans: list[tuple[str, str, int]] = []
    for index, item in enumerate(rounds):
        where = f"rounds[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where} must be a mapping with start, end and optional limits")
            continue
        unknown = sorted(set(item) - set(ROUND_KEYS))
        if unknown:
            problems.append(f"{where} has unknown keys {unknown}; allowed: {list(ROUND_KEYS)}")
        try:
            start = normalize_timestamp(item.get("start"))
            end = normalize_timestamp(item.get("end"))
        except (TypeError, ValueError) as exc:
            problems.append(f"{where} start/end must be ISO 8601 instants with a zone: {exc}")
            continue
        if end <= start:
            problems.append(f"{where} ends ({end}) before it starts ({start})")
        for key in LIMIT_TYPES:
            limit = item.get(key)
            if limit is None:
                continue
            integral = isinstance(limit, int | float) and not isinstance(limit, bool)
            if not integral or limit != int(limit) or limit < 0:
                problems.append(f"{where}.{key} must be a whole number >= 0, got {limit!r}")
        spans.append((start, end, index))
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            problems.append(f"rounds[{first}] and rounds[{second}] overlap")
    return problems


def normalize_round(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": normalize_timestamp(item["start"]),
        "end": normalize_timestamp(item["end"]),
    }
    for key in LIMIT_TYPES:
        if item.get(key) is not None:
            out[key] = int(item[key])
    return out


def round_from_server(item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": normalize_timestamp(item["roundStart"]),
        "end": normalize_timestamp(item["roundEnd"]),
    }
    by_type = {v: k for k, v in LIMIT_TYPES.items()}
    for limit in item.get("limits") or []:
        out[by_type[limit["limitType"]]] = int(limit["maximumSubmissions"])
    return out


def round_to_server(item: Mapping[str, Any], evaluation_id: str) -> dict[str, Any]:
    limits = [
        {"limitType": kind, "maximumSubmissions": int(item[key])}
        for key, kind in LIMIT_TYPES.items()
        if item.get(key) is not None
    ]
    return {
        "evaluationId": evaluation_id,
        "roundStart": item["start"],
        "roundEnd": item["end"],
        "limits": limits,
    }


def _normalize_rounds(rounds: list[Any]) -> list[dict[str, Any]]:
    return sorted((normalize_round(r) for r in rounds), key=lambda r: r["start"])


class EvaluationQueueProvider(SynapseProvider):
    """Create, rename and (unless retained) delete a queue; rounds are reconciled in place."""

    KIND = "evaluation queue"
    ID_KIND = "numeric"
    URI = "/evaluation/{id}"
    PROPS = owned_props(
        Prop("name", str, validate=validate_name),
        Prop("content_source", str, validate=syn_id_problem),
        Prop("submission_instructions_message", str, required=False, default=""),
        Prop("submission_receipt_message", str, required=False, default=""),
        Prop("rounds", list, required=False, default=[]),
        retain=True,
    )
    OUTPUTS = ("round_ids",)
    DELETE_BEFORE_REPLACE = True

    def check_together(self, inputs: dict[str, Any]) -> list[CheckFailure]:
        rounds = inputs.get("rounds")
        if is_unknown(rounds) or rounds is None:
            return []
        problems = round_problems(rounds)
        if problems:
            return [CheckFailure("rounds", "; ".join(problems))]
        inputs["rounds"] = _normalize_rounds(rounds)
        return []

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        evaluation, adopted = self.create_owned(session, "/evaluation", props)
        id_ = str(evaluation["id"])
        existing = list_rounds(session, id_) if adopted else []
        round_ids = reconcile_rounds(session, id_, existing, props.get("rounds") or [])
        return CreateResult(id_, self.outputs(props, round_ids=round_ids))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        session = self.session(props)
        evaluation = self.fetch(session, id_)
        if evaluation is None:
            return ReadResult("", {})
        existing = list_rounds(session, id_)
        seen = {
            **observed(evaluation),
            "content_source": evaluation.get("contentSource"),
            "submission_instructions_message": evaluation.get("submissionInstructionsMessage")
            or "",
            "submission_receipt_message": evaluation.get("submissionReceiptMessage") or "",
            "rounds": [round_from_server(r) for r in existing],
        }
        round_ids = [str(r["id"]) for r in existing]
        return ReadResult(id_, self.outputs({**props, **seen}, round_ids=round_ids))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        changed = self.server_changes(olds, news)
        session = self.session(news)
        if changed - {"rounds"}:
            self.write(session, id_, self.wanted(news))
        round_ids = olds.get("round_ids") or []
        if "rounds" in changed:
            round_ids = reconcile_rounds(
                session, id_, list_rounds(session, id_), news.get("rounds") or []
            )
        return UpdateResult(self.outputs(news, round_ids=round_ids))

    def wanted(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": props["name"],
            "description": described(props),
            "contentSource": props["content_source"],
            "submissionInstructionsMessage": props.get("submission_instructions_message") or "",
            "submissionReceiptMessage": props.get("submission_receipt_message") or "",
        }

    def conflict_hint(self, props: Mapping[str, Any]) -> str:
        return CONFLICT_HINT

    def find_existing(
        self, session: SynapseSession, props: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        try:
            return session.get(f"/evaluation/name/{quote(props['name'])}")
        except SynapseProvisioningError as exc:
            # Not "gone": 403 is a queue of that name this account may not read (someone else's).
            if exc.status in (403, 404):
                return None
            raise


def list_rounds(session: SynapseSession, evaluation_id: str) -> list[dict[str, Any]]:
    rounds: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        body = {"nextPageToken": token} if token else {}
        uri = f"/evaluation/{evaluation_id}/round/list"
        page = session.post(uri, body, object_id=evaluation_id)
        rounds.extend(page.get("page") or [])
        token = page.get("nextPageToken")
        if not token:
            break
    return sorted(rounds, key=lambda r: normalize_timestamp(r["roundStart"]))


def reconcile_rounds(
    session: SynapseSession,
    evaluation_id: str,
    existing: list[dict[str, Any]],
    wanted: list[dict[str, Any]],
) -> list[str]:
    """Make the queue's rounds equal ``wanted`` (matched in start order); returns round IDs."""
    base = f"/evaluation/{evaluation_id}/round"
    for surplus in existing[len(wanted) :]:
        session.delete(f"{base}/{surplus['id']}", object_id=evaluation_id, missing_ok=True)
    ids: list[str] = []
    for index, item in enumerate(wanted):
        body = round_to_server(item, evaluation_id)
        if index < len(existing):
            current = existing[index]
            if round_from_server(current) != normalize_round(item):
                update_object(
                    session,
                    f"{base}/{current['id']}",
                    body,
                    f"round {current['id']} of evaluation queue {evaluation_id}",
                    object_id=evaluation_id,
                    first=current,
                )
            ids.append(str(current["id"]))
        else:
            ids.append(_create_round(session, evaluation_id, body, item))
    return ids


def _create_round(
    session: SynapseSession, evaluation_id: str, body: dict[str, Any], item: dict[str, Any]
) -> str:
    """POST a round; if a retried POST is refused because its first attempt committed (the
    new round now "overlaps" itself), use the round that is there."""
    try:
        return str(session.post(f"/evaluation/{evaluation_id}/round", body)["id"])
    except SynapseProvisioningError as exc:
        if exc.status not in (400, 409):
            raise
        wanted = normalize_round(item)
        for found in list_rounds(session, evaluation_id):
            if round_from_server(found) == wanted:
                return str(found["id"])
        raise


class EvaluationQueue(SynapseResource, provider=EvaluationQueueProvider):
    """A Synapse evaluation queue; ``id`` is its numeric ID.

    ``rounds`` is a list of ``{"start", "end", "total_submissions", "daily_submissions",
    "weekly_submissions", "monthly_submissions"}`` (instants ISO 8601 with a zone; limits are
    submissions per participant or team in that period, optional).
    """

    name: pulumi.Output[str]
    round_ids: pulumi.Output[list[str]]
