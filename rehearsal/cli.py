"""`make rehearse STACK=dev`: the whole challenge on this machine, no cloud account, no Pulumi CLI.

Starts the Synapse-compatible server in-process (the organiser, the stack's orchestrator account
and a participant as users), runs the program against it with the real Synapse providers, prints
the stack outputs `pulumi up` would, walks a participant through the challenge and prints the
status table `make status` prints. `make rehearse-destroy STACK=dev` tears it down.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stackconfig
from components.synapse.local_engine import LocalEngine
from lifecycle.outputs import parse_outputs
from lifecycle.status import StackStatus, collect_status, render_table
from synapse_client.errors import SynapseProvisioningError
from synapse_client.session import clear_session_cache, open_session
from synapse_emulator import SynapseEmulator

from .engine import RehearsalRun, rehearse_program
from .host import HostCheck, boot_rehearsal_host
from .overrides import rehearsal_config, round_shift_s
from .store import (
    DEFAULT_ROOT,
    ORGANISER,
    PARTICIPANT,
    RehearsalPaths,
    RehearsalSettings,
    load_synapse_state,
    save_synapse_state,
)
from .walkthrough import Submitted, walk_through

Progress = Callable[[str], None]


@dataclass
class RehearsalReport:
    """What one `rehearse up` did, for tests and the benchmark."""

    run: RehearsalRun
    outputs: dict[str, Any]
    submitted: list[Submitted]
    status: StackStatus
    rest_calls: int
    wall_s: float
    host_checks: list[HostCheck] = field(default_factory=list)


def _progress_printer(started: float) -> Progress:
    def say(message: str) -> None:
        print(f"[rehearse {time.monotonic() - started:5.1f}s] {message}", flush=True)

    return say


def _start_server(
    paths: RehearsalPaths, settings: RehearsalSettings, users: Sequence[str], say: Progress
) -> SynapseEmulator:
    server = SynapseEmulator(port=settings.port)
    if paths.synapse.exists():
        server.state = load_synapse_state(paths.synapse)
        say(f"Synapse server: state restored from {paths.synapse}")
    for user in users:
        token = settings.token_for(user)
        try:
            server.state.user_by_name(user)
        except KeyError:
            server.add_user(user, token)
    try:
        server.start()
    except OSError as exc:
        raise SynapseProvisioningError(
            f"cannot start the rehearsal's Synapse server on port {settings.port} ({exc}); the "
            f"objects made so far name that endpoint: free the port, or start over with "
            f"`make rehearse-destroy`"
        ) from None
    settings.port = int(server.base_url.rsplit(":", 1)[1])
    say(f"Synapse server on {server.base_url} (users: {', '.join(users)})")
    return server


def _status(stack: str, outputs: dict[str, Any], endpoint: str, token: str) -> StackStatus:
    """What `make status` collects, from the rehearsal's outputs."""
    return collect_status(
        parse_outputs(stack, outputs, "the rehearsal's outputs"),
        synapse_endpoint=endpoint,
        session_factory=lambda: open_session(endpoint, token),
        no_session_reason="",
        ec2=None,
        ssm=None,
        now=dt.datetime.now(dt.UTC),
    )


def rehearse_up(
    stack: str,
    *,
    project_dir: Path | None = None,
    state_root: Path = DEFAULT_ROOT,
    with_host: bool = False,
    say: Progress = print,
) -> RehearsalReport:
    started = time.monotonic()
    raw = stackconfig.read_stack_file(stack, project_dir)
    config = stackconfig.parse_config(stack, raw)
    spec = config.spec
    paths = RehearsalPaths.for_stack(stack, state_root)
    paths.make()
    settings = RehearsalSettings.load(paths.settings)
    users = [ORGANISER, spec.orchestrator_synapse_username, PARTICIPANT]
    server = _start_server(paths, settings, users, say)
    if settings.round_shift_s is None:
        settings.round_shift_s = round_shift_s(raw, dt.datetime.now(dt.UTC))
    settings.save(paths.settings)
    clear_session_cache()
    try:
        organiser = settings.token_for(ORGANISER)
        engine = LocalEngine(organiser, project="challenge", stack=stack, max_workers=4)
        engine.load(paths.engine)
        shift = settings.round_shift_s
        rehearsed = rehearsal_config(raw, endpoint=server.base_url, shift_s=shift)
        say(
            f"pulumi up (rehearsal): {len(engine.state)} Synapse objects in the state; "
            f"synapseEndpoint {server.base_url}, phase live"
            + (f", rounds moved by {shift / 86400:+.2f} days" if shift else "")
        )
        try:
            run = rehearse_program(
                rehearsed,
                stack=stack,
                engine=engine,
                secret_values={
                    f"{stackconfig.NAMESPACE}:synapseAuthToken": organiser,
                    f"{stackconfig.NAMESPACE}:orchestratorAuthToken": settings.token_for(
                        spec.orchestrator_synapse_username
                    ),
                },
                workdir=paths.root,
            )
        finally:
            engine.save(paths.engine)
            save_synapse_state(server.state, paths.synapse)
        say(run.summary())
        outputs = dict(run.program.outputs)
        print("Outputs:")
        for line in run.program.output_lines():
            print(f"    {line}")
        files = outputs.get("selfHostedBootstrapFile")
        for key, file in files.items() if isinstance(files, dict) else [("", files)]:
            if file:  # one per host of challenge:hosts
                say(f"the server's bootstrap{f' (host {key})' if key else ''}: {paths.root / file}")
        say("participant walk-through")
        participant = server.client(PARTICIPANT)
        submitted = walk_through(
            participant,
            kind=spec.kind,
            participants_team_id=str(outputs["teamIds"]["participants"]),
            queue_ids={str(k): str(v) for k, v in outputs["queueIds"].items()},
            progress=say,
        )
        status = _status(stack, outputs, server.base_url, organiser)
        print(render_table(status))
        save_synapse_state(server.state, paths.synapse)
        rest_calls = sum(server.request_counts().values())
        for method, path in server.unhandled_requests():
            say(f"the Synapse-compatible server could not serve {method} {path} (a gap to report)")
    finally:
        server.stop()
        clear_session_cache()
    report = RehearsalReport(run, outputs, submitted, status, rest_calls, 0.0)
    if with_host:
        report.host_checks = boot_rehearsal_host(
            stackconfig.parse_config(stack, rehearsed), outputs, paths.root / "vm", say
        )
    report.wall_s = time.monotonic() - started
    say(f"done: {rest_calls} REST calls to the Synapse server; state in {paths.root}")
    return report


def rehearse_destroy(
    stack: str, *, state_root: Path = DEFAULT_ROOT, say: Progress = print
) -> list[str]:
    """Destroy what the rehearsal made as `pulumi destroy` would (objects marked retained stay in
    Synapse), then delete its state folder, the server's data with it."""
    paths = RehearsalPaths.for_stack(stack, state_root)
    if not paths.exists():
        say(f"nothing to destroy: no rehearsal of stack {stack} in {paths.root}")
        return []
    settings = RehearsalSettings.load(paths.settings)
    server = _start_server(paths, settings, [ORGANISER], say)
    clear_session_cache()
    try:
        engine = LocalEngine(settings.token_for(ORGANISER), project="challenge", stack=stack)
        engine.load(paths.engine)
        say(f"pulumi destroy (rehearsal): {len(engine.state)} Synapse objects")
        deleted = engine.destroy()
    finally:
        server.stop()
        clear_session_cache()
    shutil.rmtree(paths.root)
    say(
        f"destroyed {len(deleted)} objects as `pulumi destroy` would (retained ones are left in "
        f"Synapse: here they go with the server's data), then deleted {paths.root}"
    )
    return deleted


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("up", "stand the stack up and walk through it"), ("destroy", "tear down")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--stack", default="dev", help="reads Pulumi.<stack>.yaml")
        command.add_argument(
            "--state-dir", type=Path, default=DEFAULT_ROOT, help="default: .rehearsal"
        )
        if name == "up":
            command.add_argument("--project-dir", type=Path, help="folder of the stack files")
            command.add_argument(
                "--with-host",
                action="store_true",
                help="also boot the bootstrap in a local VM (root; with the workflow engine build, "
                "20 minutes or more on 2 cores)",
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    say = _progress_printer(time.monotonic())
    try:
        if args.command == "destroy":
            rehearse_destroy(args.stack, state_root=args.state_dir, say=say)
        else:
            report = rehearse_up(
                args.stack,
                project_dir=args.project_dir,
                state_root=args.state_dir,
                with_host=args.with_host,
                say=say,
            )
            if not all(check.ok for check in report.host_checks):
                return 1
    except stackconfig.ConfigError as error:
        print(f"Stack {args.stack}: invalid:", *error.problems, sep="\n  ", file=sys.stderr)
        return 1
    except SynapseProvisioningError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
