"""CLI start-up benchmark: wall time of `python -m lifecycle status --help`, and what it imports.

`make status` starts a fresh interpreter each time, so its import time is the wait before the
first Synapse call. Usage: `benchmarks/cli_startup.py [CHECKOUT]`.
Figures: median and minimum of REPEATS runs after one warm-up, plus the
number of modules loaded and whether the Pulumi SDK is among them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
"""The checkout to measure; another one (e.g. an older commit's worktree) as the argument."""
REPEATS = 7
COMMAND = [sys.executable, "-m", "lifecycle", "status", "--help"]
MODULES = (
    "import sys, runpy\n"
    "sys.argv = ['lifecycle', 'status', '--help']\n"
    "try:\n"
    "    runpy.run_module('lifecycle', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "sdk = [m for m in sys.modules if m == 'pulumi' or m.startswith('pulumi.')]\n"
    "print(len(sys.modules), len(sdk), file=sys.stderr)\n"
)


def wall_seconds() -> float:
    start = time.perf_counter()
    subprocess.run(COMMAND, cwd=PROJECT_DIR, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    wall_seconds()
    runs = [wall_seconds() for _ in range(REPEATS)]
    probe = subprocess.run(
        [sys.executable, "-c", MODULES], cwd=PROJECT_DIR, capture_output=True, text=True
    )
    modules, pulumi_modules = probe.stderr.split()[-2:]
    print(f"`python -m lifecycle status --help`, {REPEATS} runs after a warm-up")
    print(f"  wall median {statistics.median(runs):.3f} s, min {min(runs):.3f} s")
    print(f"  modules loaded {modules}, of them pulumi.* {pulumi_modules}")


if __name__ == "__main__":
    main()
