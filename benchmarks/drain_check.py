"""Drain-check benchmark: wall time and Synapse REST calls of one drain check, per queue.

One drain check is what the DrainGuard does every poll: list the EVALUATION_IN_PROGRESS
submissions of every queue the host serves. Measured against the Synapse-compatible server
(synapse_emulator) with 1, 5 and 20 queues (2 running and 3 finished submissions each),
without and with 50 ms injected latency per request; `make status`'s per-queue query is shown
for comparison. Figures are medians of REPEATS runs after a warm-up; the session logs in first.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])
warnings.filterwarnings("ignore", category=DeprecationWarning)

from synapseclient import models  # noqa: E402

from lifecycle.status import queue_statuses  # noqa: E402
from lifecycle.submissions import in_progress  # noqa: E402
from synapse_client import clear_session_cache, open_session  # noqa: E402
from synapse_emulator import SynapseEmulator  # noqa: E402

QUEUE_COUNTS = (1, 5, 20)
LATENCIES_S = (0.0, 0.05)
RUNNING_PER_QUEUE = 2
FINISHED_PER_QUEUE = 3
REPEATS = 5
USERS = {"organiser": "tok-organiser", "orchestrator": "tok-orchestrator", "participant": "tok-p"}


def make_queues(emu: SynapseEmulator, count: int) -> list[str]:
    organiser, orchestrator = emu.client("organiser"), emu.client("orchestrator")
    participant = emu.client("participant")
    project = models.Project(name=f"Bench {count}").store(synapse_client=organiser)
    work = models.Project(name=f"Bench work {count}").store(synapse_client=participant)
    entry = models.File(
        path="https://example.org/m.txt", synapse_store=False, parent_id=work.id
    ).store(synapse_client=participant)
    queues = []
    for n in range(count):
        queue = models.Evaluation(
            name=f"Bench {count} queue {n}", description="d", content_source=project.id
        ).store(synapse_client=organiser)
        for who, access in (
            ("orchestrator", ["READ", "UPDATE_SUBMISSION", "READ_PRIVATE_SUBMISSION"]),
            ("participant", ["READ", "SUBMIT"]),
        ):
            queue.update_acl(
                principal_id=emu.principal_id(who), access_type=access, synapse_client=organiser
            )
        for k in range(RUNNING_PER_QUEUE + FINISHED_PER_QUEUE):
            submission = participant.submit(queue.id, entry.id)
            status = orchestrator.getSubmissionStatus(submission.id)
            status.status = "EVALUATION_IN_PROGRESS" if k < RUNNING_PER_QUEUE else "ACCEPTED"
            orchestrator.store(status)
        queues.append(str(queue.id))
    return queues


def measure(emu: SynapseEmulator, action: Callable[[], object]) -> tuple[float, int]:
    """Median seconds and REST calls of one run of ``action``."""
    action()
    times, calls = [], []
    for _ in range(REPEATS):
        emu.reset_counts()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
        calls.append(sum(emu.request_counts().values()))
    return statistics.median(times), int(statistics.median(calls))


def main() -> None:
    print(__doc__.strip().splitlines()[0])
    print(
        f"{'queues':>6} {'latency':>8} | {'drain check':>11} {'per queue':>10} {'calls/queue':>11}"
        f" | {'status':>8} {'calls/queue':>11}"
    )
    for count in QUEUE_COUNTS:
        clear_session_cache()
        with SynapseEmulator(users=USERS) as emu:
            queues = make_queues(emu, count)
            session = open_session(emu.base_url, emu.token("organiser"))
            now = dt.datetime.now(dt.UTC)
            for latency in LATENCIES_S:
                emu.faults.latency(latency)
                found = in_progress(session, queues)
                assert len(found) == RUNNING_PER_QUEUE * count, len(found)
                check_s, check_calls = measure(emu, partial(in_progress, session, queues))
                ids = {str(n): q for n, q in enumerate(queues)}
                status_s, status_calls = measure(emu, partial(queue_statuses, session, ids, now))
                print(
                    f"{count:>6} {latency * 1000:>6.0f}ms | {check_s * 1000:>9.1f}ms"
                    f" {check_s * 1000 / count:>8.1f}ms {check_calls / count:>11.1f}"
                    f" | {status_s * 1000:>6.0f}ms {status_calls / count:>11.1f}"
                )
            emu.faults.latency(0)


if __name__ == "__main__":
    main()
