"""``GET /evaluation/submission/query``: Synapse's query over one queue's submissions.

As documented at https://rest-docs.synapse.org/rest/GET/evaluation/submission/query.html:

    SELECT <fields> FROM evaluation_<id> [WHERE <filter> (AND <filter>)*]
        [ORDER BY <name> asc|desc] [LIMIT <L> OFFSET <O>]

``<fields>`` is ``*`` or names of system fields or of the statuses' (old-style) annotations;
a filter is ``<name> <comparator> <value>`` with ``==, !=, >, <, >=, <=``. The caller needs READ
on the queue; private annotations are seen only with READ_PRIVATE_SUBMISSION (``SELECT *``
leaves their names out of the headers). The answer is a QueryTableResults: ``headers``,
``rows`` of ``values`` (strings, null where a submission has no such value) and
``totalNumberOfResults`` (matches before LIMIT/OFFSET). challengeutils' ``query``,
``attach-writeup`` and ``download-current-lead-submission`` read queues through it.
"""

from __future__ import annotations

import re
from typing import Any

from .app import Request, route
from .errors import bad_request
from .state import State, parse_iso

#: The documented system fields, and ``submitterId`` (the team of a team submission, else the
#: user: Synapse's DBOConstants.PARAM_SUBMISSION_SUBMITTER_ID), which challenge tools select.
SYSTEM_FIELDS = (
    "objectId",
    "scopeId",
    "userId",
    "submitterId",
    "submitterAlias",
    "entityId",
    "versionNumber",
    "name",
    "createdOn",
    "modifiedOn",
    "status",
)
ANNOTATION_GROUPS = ("stringAnnos", "longAnnos", "doubleAnnos")
QUERY = re.compile(
    r"^\s*select\s+(?P<fields>.+?)\s+from\s+evaluation_(?P<evaluation>\d+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s+by\s+(?P<order>[\w.]+)(?:\s+(?P<direction>asc|desc))?)?"
    r"(?:\s+limit\s+(?P<limit>\d+)(?:\s+offset\s+(?P<offset>\d+))?)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
FILTER = re.compile(
    r"\s*(?P<name>[\w.]+)\s*(?P<op>==|!=|>=|<=|>|<|=)\s*"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s'\"]+)\s*",
    re.DOTALL,
)
AND = re.compile(r"and\b", re.IGNORECASE)
COMPARE = {
    "==": lambda a, b: a == b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def parse_filters(text: str) -> list[tuple[str, str, str]]:
    filters = []
    position = 0
    while True:
        found = FILTER.match(text, position)
        if not found:
            raise bad_request(f"Cannot parse the WHERE clause at: {text[position:]!r}")
        value = found["value"]
        if value[:1] in "'\"":
            value = value[1:-1]
        filters.append((found["name"], found["op"], value))
        position = found.end()
        if position == len(text):
            return filters
        joined = AND.match(text, position)
        if not joined:
            raise bad_request(f"Filters must be joined by AND, found: {text[position:]!r}")
        position = joined.end()


def epoch_ms(iso: str) -> str:
    return str(round(parse_iso(iso) * 1000))


def row_of(
    state: State, submission: dict[str, Any], private_ok: bool
) -> tuple[dict[str, str], set[str]]:
    """A submission's values by field name, and the names of its private annotations."""
    status = state.submission_statuses[submission["id"]]
    values = {
        "objectId": submission["id"],
        "scopeId": submission["evaluationId"],
        "userId": submission["userId"],
        "submitterId": submission.get("teamId") or submission["userId"],
        "submitterAlias": submission.get("submitterAlias"),
        "entityId": submission["entityId"],
        "versionNumber": str(submission["versionNumber"]),
        "name": submission.get("name"),
        "createdOn": epoch_ms(submission["createdOn"]),
        "modifiedOn": epoch_ms(status["modifiedOn"]),
        "status": status["status"],
    }
    private = set()
    annotations = status.get("annotations") or {}
    for group in ANNOTATION_GROUPS:
        for annotation in annotations.get(group) or []:
            key = annotation.get("key")
            if key in SYSTEM_FIELDS or key is None:
                continue  # the doc: a colliding name queries the system field
            if annotation.get("isPrivate", True):
                private.add(key)
                if not private_ok:
                    continue
            values[key] = None if annotation.get("value") is None else str(annotation["value"])
    return {k: v for k, v in values.items() if v is not None}, private


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def matches(row: dict[str, str], filters: list[tuple[str, str, str]]) -> bool:
    for name, op, wanted in filters:
        have = row.get(name)
        if have is None:
            return False
        left, right = as_number(have), as_number(wanted)
        if left is not None and right is not None:
            if not COMPARE[op](left, right):
                return False
        elif not COMPARE[op](have, wanted):
            return False
    return True


@route("GET", "repo", "/evaluation/submission/query", auth=False)
def query_submissions(req: Request) -> dict[str, Any]:
    text = req.param("query")
    if not text:
        raise bad_request("query is required")
    parsed = QUERY.match(text)
    if not parsed:
        raise bad_request(f"Cannot parse the query: {text!r}")
    state = req.state
    evaluation = state.authorized("evaluation", parsed["evaluation"], req.user, "READ")
    private_ok = "READ_PRIVATE_SUBMISSION" in state.evaluation_access(req.user, evaluation["id"])
    filters = parse_filters(parsed["where"]) if parsed["where"] else []
    submissions = sorted(
        (s for s in state.submissions.values() if s["evaluationId"] == evaluation["id"]),
        key=lambda s: int(s["id"]),
    )
    rows = []
    for submission in submissions:
        row, _ = row_of(state, submission, private_ok)
        if matches(row, filters):
            rows.append(row)
    if parsed["order"]:
        key = parsed["order"]
        numeric = all(as_number(r[key]) is not None for r in rows if key in r)
        present = [r for r in rows if key in r]
        present.sort(
            key=lambda r: as_number(r[key]) if numeric else r[key],  # type: ignore[arg-type,return-value]
            reverse=(parsed["direction"] or "asc").lower() == "desc",
        )
        rows = present + [r for r in rows if key not in r]
    total = len(rows)
    if parsed["limit"] is not None:
        limit, offset = int(parsed["limit"]), int(parsed["offset"] or 0)
        if limit < 1:
            raise bad_request("limit must be at least 1")
        rows = rows[offset : offset + limit]
    if parsed["fields"].strip() == "*":
        annotation_names = sorted({k for r in rows for k in r} - set(SYSTEM_FIELDS))
        headers = [*SYSTEM_FIELDS, *annotation_names]
    else:
        headers = [f.strip() for f in parsed["fields"].split(",") if f.strip()]
    return {
        "totalNumberOfResults": total,
        "headers": headers,
        "rows": [{"values": [r.get(h) for h in headers]} for r in rows],
    }
