"""Rehearsal benchmark: wall time, REST calls and the second run's counts of `make rehearse`.

Rehearses a copy of a stack (default dev) in a fresh state folder, in-process: the first run
(everything created), a second run of the same stack (nothing to do but the walk-through), a
third with one queue's description changed and a queue added, then destroy. Prints each run's
wall time (after imports), the REST calls the Synapse-compatible server answered (the
`/_emulator/counts` total) and the created/updated/unchanged counts. Without the VM
(`--with-host` is measured with `time make rehearse STACK=dev ARGS=--with-host`).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path[0] = str(Path(__file__).resolve().parents[1])

from rehearsal import rehearse_destroy, rehearse_up  # noqa: E402
from stackconfig import read_stack_file  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rehearse-") as tmp:
        root = Path(tmp)
        config = dict(read_stack_file(args.stack))
        changed = copy.deepcopy(config)
        changed["challenge:queues"][-1]["description"] = "Reworded."
        changed["challenge:queues"].append({"name": "Benchmark Added Queue"})
        runs = (
            ("first run", config),
            ("second run, same stack", config),
            ("third run, a queue reworded and one added", changed),
        )
        for label, stack_config in runs:
            stack_file = root / f"Pulumi.{args.stack}.yaml"
            stack_file.write_text(yaml.safe_dump({"config": stack_config}))
            with contextlib.redirect_stdout(io.StringIO()):
                report = rehearse_up(
                    args.stack, project_dir=root, state_root=root, say=lambda _: None
                )
            counts = report.run.counts()
            refused = sum(1 for s in report.submitted if s.refused)
            print(
                f"{label}: {report.wall_s:.2f} s wall, {report.rest_calls} REST calls; "
                f"Synapse objects {counts['create']} created, {counts['update']} updated, "
                f"{counts['replace']} replaced, {counts['delete']} deleted, "
                f"{counts['same']} unchanged; {len(report.submitted) - refused} submitted, "
                f"{refused} refused by the queue"
            )
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):
            deleted = rehearse_destroy(args.stack, state_root=root, say=lambda _: None)
        print(f"destroy: {time.monotonic() - started:.2f} s wall, {len(deleted)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
