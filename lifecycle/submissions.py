"""Submission queries against Synapse: what is in flight, and counts by status.

``session`` is anything with ``get(uri) -> JSON`` that raises ``SynapseProvisioningError``, in
practice ``synapse_client.SynapseSession`` (bounded retries on 429/5xx).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

IN_PROGRESS = "EVALUATION_IN_PROGRESS"
RECEIVED = "RECEIVED"
#: A VALIDATION host's in-progress and final statuses (EXECUTION_STAGE, below).
OPEN = "OPEN"
VALIDATED = "VALIDATED"
ACCEPTED = "ACCEPTED"
INVALID = "INVALID"
#: The statuses `make status` counts, in the order shown.
COUNTED_STATUSES = (RECEIVED, OPEN, VALIDATED, IN_PROGRESS, ACCEPTED, INVALID)
#: Submissions not finished yet: waiting for a host, being validated or being evaluated.
IN_FLIGHT_STATUSES = (RECEIVED, OPEN, VALIDATED, IN_PROGRESS)
#: The status a host's running work has, by its EXECUTION_STAGE (upstream
#: src/main/java/org/sagebionetworks/EvaluationUtils.java, getInProgressSubmissionState): a
#: VALIDATION host moves RECEIVED -> OPEN -> VALIDATED, an EXECUTION host VALIDATED ->
#: EVALUATION_IN_PROGRESS -> ACCEPTED, ALL (the default) RECEIVED -> EVALUATION_IN_PROGRESS ->
#: ACCEPTED. A host's drain waits until none of its queues has a submission in this status.
IN_PROGRESS_BY_STAGE = {"ALL": IN_PROGRESS, "VALIDATION": OPEN, "EXECUTION": IN_PROGRESS}
#: Synapse's largest page for submission listings.
PAGE_LIMIT = 100


class Session(Protocol):
    def get(self, uri: str, *, object_id: str | None = None) -> Any: ...


@dataclass(frozen=True)
class InFlightSubmission:
    """A submission that is not finished, with the time it got its current status."""

    submission_id: str
    evaluation_id: str
    status: str
    since: str | None
    """ISO 8601: submission time (from a bundle) or last status change (from a status)."""

    def label(self) -> str:
        return f"{self.submission_id} (queue {self.evaluation_id})"

    def age_seconds(self, now: dt.datetime) -> float | None:
        moment = parse_time(self.since)
        return None if moment is None else max(0.0, (now - moment).total_seconds())


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _pages(session: Session, uri: str, evaluation_id: str) -> Iterator[dict[str, Any]]:
    """Every result of a paginated listing; stops at the first page shorter than the limit."""
    offset = 0
    separator = "&" if "?" in uri else "?"
    while True:
        page = session.get(
            f"{uri}{separator}limit={PAGE_LIMIT}&offset={offset}", object_id=evaluation_id
        )
        results = page.get("results") or []
        yield from results
        offset += len(results)
        total = page.get("totalNumberOfResults")
        if len(results) < PAGE_LIMIT or (isinstance(total, int) and offset >= total):
            return


def in_progress(
    session: Session, evaluation_ids: Sequence[str], status_name: str = IN_PROGRESS
) -> list[InFlightSubmission]:
    """Submissions in `status_name` (a host's running work, IN_PROGRESS_BY_STAGE) on the queues:
    one call per queue and 100 running.

    Uses the status listing, the cheapest call that needs only READ on the queue.
    """
    found = []
    for evaluation_id in evaluation_ids:
        uri = f"/evaluation/{evaluation_id}/submission/status/all?status={status_name}"
        for status in _pages(session, uri, evaluation_id):
            found.append(
                InFlightSubmission(
                    str(status["id"]), str(evaluation_id), status_name, status.get("modifiedOn")
                )
            )
    return found


def in_flight(session: Session, evaluation_id: str) -> list[InFlightSubmission]:
    """Submissions of one queue not finished yet (IN_FLIGHT_STATUSES), with submission times.

    Bundles carry the submission's ``createdOn``; they need READ_PRIVATE_SUBMISSION (admin or
    score), which the organiser's account has.
    """
    found = []
    for status_name in IN_FLIGHT_STATUSES:
        uri = f"/evaluation/{evaluation_id}/submission/bundle/all?status={status_name}"
        for bundle in _pages(session, uri, evaluation_id):
            submission = bundle.get("submission") or {}
            found.append(
                InFlightSubmission(
                    str(submission.get("id")),
                    str(evaluation_id),
                    status_name,
                    submission.get("createdOn"),
                )
            )
    return found


def count_with_status(session: Session, evaluation_id: str, status_name: str) -> int:
    """How many submissions of the queue have this status: one call when Synapse says the total."""
    uri = f"/evaluation/{evaluation_id}/submission/status/all?status={status_name}"
    page = session.get(f"{uri}&limit=1&offset=0", object_id=evaluation_id)
    total = page.get("totalNumberOfResults")
    if isinstance(total, int):
        return total
    return sum(1 for _ in _pages(session, uri, evaluation_id))


def oldest(submissions: Sequence[InFlightSubmission]) -> InFlightSubmission | None:
    """The submission with the earliest time; ties and unknown times by submission ID."""
    dated = [s for s in submissions if parse_time(s.since) is not None]
    if not dated:
        return min(submissions, key=lambda s: int(s.submission_id), default=None)
    return min(dated, key=lambda s: (parse_time(s.since), int(s.submission_id)))
