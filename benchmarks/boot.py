"""Boot to orchestrator running, by the VM's own clock: the dev stack's user data in a real
Debian 13 VM under QEMU software emulation (the boot test's harness, tests/vm).

Prints, per boot, seconds since the guest kernel started (systemd's monotonic clock and cloud-init's
"Up N seconds"): cloud-init's stages, each bootstrap step, the orchestrator unit becoming active
(container running), of which the stand-in image import (a registry pull on EC2), and cloud-init
finishing; plus the host's wall time. Needs root, qemu-system-x86, debootstrap, cloud-image-utils
and e2fsprogs (`make system-deps`); the first run also builds the cached base image (~2 min).
Run: .venv/bin/python benchmarks/boot.py [--boots 1|2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.vm import BootRecord, ScenarioResult, VmTestError, run_boot_scenario
from tests.vm.machine import CPUS, MEMORY_MIB

LABEL_WIDTH = 50


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:7.1f}"


def _rows(boots: tuple[BootRecord, ...]) -> list[tuple[str, list[str]]]:
    timings = [b.timings() for b in boots]
    rows: list[tuple[str, list[str]]] = []
    for stage in ("init-local", "init", "modules:config", "modules:final"):
        rows.append(
            (
                f"cloud-init '{stage}' starts",
                [_seconds(t.cloud_init_stages.get(stage)) for t in timings],
            )
        )
    rows.append(
        (
            "bootstrap starts",
            [_seconds(t.bootstrap_steps[0][1] if t.bootstrap_steps else None) for t in timings],
        )
    )
    steps = [dict(_durations(t.bootstrap_steps)) for t in timings]
    names = [name for name, _ in _durations(timings[0].bootstrap_steps)]
    for name in names:
        label = f"  step: {name.split(' (')[0]}"
        rows.append((label[:LABEL_WIDTH], [_seconds(s.get(name)) for s in steps]))
    rows.append(("orchestrator unit active", [_seconds(t.orchestrator_active_s) for t in timings]))
    rows.append(
        ("  of which stand-in image import", [_seconds(t.stand_in_image_s) for t in timings])
    )
    rows.append(
        ("orchestrator container started", [_seconds(t.container_started_s) for t in timings])
    )
    rows.append(("cloud-init finished", [_seconds(t.cloud_init_finished_s) for t in timings]))
    rows.append(("qemu wall time (host clock)", [_seconds(b.outcome.wall_s) for b in boots]))
    return rows


def _durations(steps: tuple[tuple[str, float], ...]) -> list[tuple[str, float]]:
    """Each bootstrap step's duration: the time until the next step (or `done`) began."""
    return [(name, after - at) for (name, at), (_, after) in itertools.pairwise(steps)]


def report(result: ScenarioResult) -> None:
    base = result.base
    built = f"built in {base.built_in_s:.0f} s" if base.built_in_s is not None else "from the cache"
    print(f"VM: Debian 13, QEMU TCG, {CPUS} vCPUs, {MEMORY_MIB} MiB; base {base.key} {built}")
    print("seconds since the guest kernel started (step rows: duration of the step)")
    header = "".join(f"{'boot ' + str(b.number):>9}" for b in result.boots)
    print(f"{'':{LABEL_WIDTH}}{header}")
    for label, values in _rows(result.boots):
        print(f"{label:{LABEL_WIDTH}}" + "".join(f"{v:>9}" for v in values))
    running = ", ".join(
        f"boot {b.number} {_seconds(b.timings().orchestrator_active_s).strip()} s"
        for b in result.boots
    )
    print(f"boot to orchestrator running (VM clock): {running}")
    for boot in result.boots:
        summary = boot.failure_summary()
        if summary != "no failure recorded":
            print(f"boot {boot.number} FAILED: {summary}")
    print(
        f"whole run (base image, {len(result.boots)} boots, read-back): {result.wall_s:.0f} s wall"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, choices=(1, 2), default=2)
    parser.add_argument(
        "--workdir", type=Path, help="keep the run's files here (default: temporary)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f}s] {message}", file=sys.stderr, flush=True)

    keep = contextlib.nullcontext(str(args.workdir)) if args.workdir else None
    with keep or tempfile.TemporaryDirectory(prefix="boot-bench-") as workdir:
        try:
            result = run_boot_scenario(
                Path(workdir),
                boots=args.boots,
                keep_root_disk=bool(args.workdir),
                progress=progress,
            )
        except VmTestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        report(result)  # reads the run's files: inside the with
        return 0 if all(b.failure_summary() == "no failure recorded" for b in result.boots) else 1


if __name__ == "__main__":
    sys.exit(main())
