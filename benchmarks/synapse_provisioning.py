"""Synapse provisioning benchmark: REST calls and wall time to create a challenge site.

Creates a whole ChallengeSite (2 projects, 4 teams, challenge, Logs folder, workflow link,
N queues, every permission) with 1, 5 and 20 queues against the Synapse-compatible server with
50 ms injected on every request, through the real providers:

- sequential: one object after another (`pulumi up --parallel 1`);
- concurrent: independent objects at once following the dependency graph, 4 at a time, which is
  what the Pulumi engine achieves with a Python dynamic provider (its gRPC server has 4 worker
  threads). Synapse itself allows 3 concurrent connections per user; the retry on 429 covers
  the fourth.

Each run starts a fresh server and a fresh login (the one GET /userProfile is included).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from components.synapse.local_engine import LocalEngine  # noqa: E402
from components.synapse.site_plan import (  # noqa: E402
    ChallengeSiteArgs,
    QueueSpec,
    SubmissionRound,
    plan_site,
)
from synapse_client import session as synapse_session  # noqa: E402
from synapse_emulator import SynapseEmulator  # noqa: E402

LATENCY_SECONDS = 0.05
QUEUE_COUNTS = (1, 5, 20)
MODES = (("sequential", 1), ("concurrent x4", 4))
USERS = {"organiser": "tok-organiser", "orchestrator": "tok-orchestrator"}


def site(queues: int, endpoint: str) -> ChallengeSiteArgs:
    rounds = (SubmissionRound("2030-01-01T00:00:00Z", "2030-03-01T00:00:00Z", daily_submissions=2),)
    return ChallengeSiteArgs(
        name="Benchmark",
        queues=tuple(QueueSpec(f"Benchmark Task {i}", rounds=rounds) for i in range(1, queues + 1)),
        workflow_archive_url="https://example.org/org/workflow/archive/main.zip",
        root_template="workflow-main/main.cwl",
        orchestrator_synapse_username="orchestrator",
        synapse_endpoint=endpoint,
    )


def run(queues: int, workers: int) -> tuple[int, int, float]:
    """(objects, REST calls, seconds) for one fresh create."""
    synapse_session.clear_session_cache()
    with SynapseEmulator(users=USERS) as emu:
        plan = plan_site(site(queues, emu.base_url))
        engine = LocalEngine(USERS["organiser"], stack="bench", max_workers=workers)
        engine.provider("Project")  # unpickle and configure outside the timing, as the engine does
        emu.faults.latency(LATENCY_SECONDS)
        emu.reset_counts()
        started = time.perf_counter()
        actions = engine.up(plan)
        seconds = time.perf_counter() - started
        assert set(actions.values()) == {"create"} and len(actions) == len(plan)
        calls = sum(emu.request_counts().values())
        return len(plan), calls, seconds


def main() -> None:
    print(
        f"ChallengeSite create, {LATENCY_SECONDS * 1000:.0f} ms per request, fresh server each run"
    )
    columns = ("queues", 6), ("objects", 7), ("mode", -14), ("REST calls", 10), ("calls/obj", 9)
    header = " ".join(f"{n:<{-w}}" if w < 0 else f"{n:>{w}}" for n, w in columns) + "  wall s"
    print(header)
    print("-" * len(header))
    baseline: dict[int, float] = {}
    for queues in QUEUE_COUNTS:
        for mode, workers in MODES:
            objects, calls, seconds = run(queues, workers)
            baseline.setdefault(queues, seconds)
            speedup = baseline[queues] / seconds
            print(
                f"{queues:>6} {objects:>7} {mode:<14} {calls:>10} {calls / objects:>9.2f} "
                f"{seconds:>7.2f}" + (f"  ({speedup:.1f}x faster)" if workers > 1 else "")
            )


if __name__ == "__main__":
    main()
