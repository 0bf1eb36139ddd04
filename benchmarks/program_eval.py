"""Wall time to evaluate the Pulumi program under mocks for stacks with 1, 10 and 100 queues,
and for fleets (`challenge:hosts`): 1 host x 100 queues and 10 hosts x 10 queues.

Goals: 100 queues under 3 s, growing no faster than linearly (issue 2); each fleet shape under
3 s (issue 15). Prints the median of several runs per size, resources registered, and the time
per queue relative to the 1-queue stack. Run: .venv/bin/python benchmarks/program_eval.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from preview import run_program
from stackconfig import read_stack_file

SECRETS = {
    "challenge:synapseAuthToken": "benchmark-organiser-token",
    "challenge:orchestratorAuthToken": "benchmark-orchestrator-token",
}
RUNS = 5


def stack_with_queues(count: int) -> dict:
    config = dict(read_stack_file("dev"))
    config["challenge:queues"] = [
        {"name": f"Benchmark Queue {i:03d}", "description": f"queue {i}"} for i in range(count)
    ]
    return config


def fleet_stack(hosts: int, queues_per_host: int) -> dict:
    """`hosts` host groups, each serving its own `queues_per_host` queues."""
    config = stack_with_queues(hosts * queues_per_host)
    keys = [f"benchmark-queue-{i:03d}" for i in range(hosts * queues_per_host)]
    config["challenge:hosts"] = [
        {
            "key": "default" if h == 0 else f"host-{h:02d}",
            "queues": keys[h * queues_per_host : (h + 1) * queues_per_host],
            "perSubmissionMemoryGiB": 2 + 2 * h,
        }
        for h in range(hosts)
    ]
    return config


def timed(config: dict) -> tuple[float, float, int]:
    """(median s, min s, resources) over RUNS runs."""
    times, resources = [], 0
    for _ in range(RUNS):
        start = time.perf_counter()
        run = run_program(config, stack="bench", secret_values=SECRETS)
        times.append(time.perf_counter() - start)
        resources = len(run.resources)
    return statistics.median(times), min(times), resources


def main() -> None:
    run_program(stack_with_queues(1), stack="bench", secret_values=SECRETS)  # warm imports
    print(f"{'queues':>6} {'resources':>9} {'median s':>9} {'min s':>7} {'s/queue':>8}")
    baseline = None
    for count in (1, 10, 100):
        median, fastest, resources = timed(stack_with_queues(count))
        baseline = baseline or median
        print(f"{count:>6} {resources:>9} {median:>9.3f} {fastest:>7.3f} {median / count:>8.4f}")
    growth = median / baseline
    print(f"goal: 100 queues < 3 s; 1 -> 100 queues took x{growth:.1f} the time (linear: x100)")
    print()
    print(f"{'fleet':>16} {'resources':>9} {'median s':>9} {'min s':>7}")
    for hosts, per_host in ((1, 100), (10, 10)):
        median, fastest, resources = timed(fleet_stack(hosts, per_host))
        shape = f"{hosts} x {per_host} queues"
        print(f"{shape:>16} {resources:>9} {median:>9.3f} {fastest:>7.3f}")
    print("goal: each fleet shape < 3 s")


if __name__ == "__main__":
    main()
