"""Wall time to evaluate the Pulumi program under mocks for stacks with 1, 10 and 100 queues.

Goal (issue 2): 100 queues under 3 s, growing no faster than linearly. Prints the median of
several runs per size, resources registered, and the time per queue relative to the 1-queue
stack. Run: .venv/bin/python benchmarks/program_eval.py
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


def main() -> None:
    run_program(stack_with_queues(1), stack="bench", secret_values=SECRETS)  # warm imports
    print(f"{'queues':>6} {'resources':>9} {'median s':>9} {'min s':>7} {'s/queue':>8}")
    baseline = None
    for count in (1, 10, 100):
        config = stack_with_queues(count)
        times, resources = [], 0
        for _ in range(RUNS):
            start = time.perf_counter()
            run = run_program(config, stack="bench", secret_values=SECRETS)
            times.append(time.perf_counter() - start)
            resources = len(run.resources)
        median = statistics.median(times)
        baseline = baseline or median
        print(f"{count:>6} {resources:>9} {median:>9.3f} {min(times):>7.3f} {median / count:>8.4f}")
    growth = median / baseline
    print(f"goal: 100 queues < 3 s; 1 -> 100 queues took x{growth:.1f} the time (linear: x100)")


if __name__ == "__main__":
    main()
