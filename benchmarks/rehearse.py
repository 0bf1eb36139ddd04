"""Rehearsal benchmark: wall time, REST calls and the second run's counts of `make rehearse`.

Runs the rehearsal of a stack (default dev) three times in a fresh state folder, in-process:
the first run (everything created), a second run of the same stack (nothing to do but the
walk-through), then destroy. Prints each run's wall time, REST calls the Synapse-compatible
server answered (the `/_emulator/counts` total) and the created/updated/unchanged counts.
Without VM (`--with-host` is measured with `time make rehearse STACK=dev ARGS=--with-host`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from rehearsal import rehearse_destroy, rehearse_up  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rehearse-") as tmp:
        root = Path(tmp)
        for label in ("first run", "second run, same stack"):
            with contextlib.redirect_stdout(io.StringIO()):
                report = rehearse_up(args.stack, state_root=root, say=lambda _: None)
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
