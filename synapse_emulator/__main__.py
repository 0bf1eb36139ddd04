"""``python -m synapse_emulator --port 0 [--user NAME=TOKEN ...]``: print the URL, then serve."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from .emulator import SynapseEmulator
from .errors import EmulatorConfigError


def parse_user(value: str) -> tuple[str, str]:
    name, sep, token = value.partition("=")
    if not sep or not name or not token:
        raise EmulatorConfigError(f"--user must be NAME=TOKEN, got {name!r} without a token")
    return name, token


def parse_fault(value: str) -> dict[str, object]:
    try:
        spec = json.loads(value)
    except ValueError as exc:
        raise EmulatorConfigError(f"--fault must be a JSON object: {exc}") from exc
    if not isinstance(spec, dict):
        raise EmulatorConfigError("--fault must be a JSON object")
    return spec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m synapse_emulator",
        description="Serve a Synapse-compatible API on loopback for tests and local rehearsal.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME=TOKEN",
        help="an account whose personal access token is TOKEN (repeatable)",
    )
    parser.add_argument(
        "--team-index-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds before a new or renamed team is found by GET /teams?fragment= (default 0)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay every request by SECONDS (default 0)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help=(
            'a fault as for POST /_emulator/faults, e.g. \'{"burst": {"status": 429, "count": 3}}\''
        ),
    )
    parser.add_argument("--log-requests", action="store_true", help="log each request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emulator = None
    try:
        users = dict(parse_user(u) for u in args.user)
        if len(users) != len(args.user):
            raise EmulatorConfigError("--user: the same NAME is given more than once")
        if args.team_index_delay < 0:
            raise EmulatorConfigError("--team-index-delay must be >= 0 seconds")
        faults = [parse_fault(f) for f in args.fault]
        emulator = SynapseEmulator(
            users,
            host=args.host,
            port=args.port,
            team_index_delay_seconds=args.team_index_delay,
            log_requests=args.log_requests,
        ).start()
        emulator.faults.latency(args.latency)
        for spec in faults:
            emulator.faults.configure(spec)
    except (EmulatorConfigError, OSError, TypeError) as exc:
        if emulator is not None:
            emulator.stop()
        print(f"synapse-emulator: error: {exc}", file=sys.stderr)
        return 1
    print(emulator.base_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
