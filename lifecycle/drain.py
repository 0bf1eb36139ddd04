"""Drain the orchestrator host before it is replaced or destroyed.

1. Stop new submissions: the host's drain switch (``challenge-accept-submissions no``) sets
   ``ACCEPT_NEW_SUBMISSIONS`` in ``.env`` and recreates only the orchestrator container; the
   running ``workflow_job*`` containers keep going and are picked up again.
2. Wait until no queue served by the host has a submission in its running status
   (EVALUATION_IN_PROGRESS; OPEN on a VALIDATION host: submissions.IN_PROGRESS_BY_STAGE).
3. On timeout: fail naming the submissions still running (and let the host accept submissions
   again), unless forced.

RECEIVED submissions are left alone: the next host (or the same one after a failed drain)
starts them.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synapse_client.errors import SynapseProvisioningError
from userdata import ACCEPT_SUBMISSIONS_PATH

from .errors import DrainTimeout, LifecycleError
from .ssm import CommandResult, instance_state, run_shell
from .submissions import IN_PROGRESS, InFlightSubmission, Session, in_progress

Progress = Callable[[str], None]
#: Consecutive failed Synapse checks tolerated during a wait before giving up.
MAX_FAILED_CHECKS = 3
#: Answers that no retry will change (bad request, bad token, no access, queue gone).
FATAL_STATUSES = frozenset({400, 401, 403, 404})
#: How many still-running submissions an error message names before "and N more".
NAMED_IN_ERRORS = 20


@dataclass(frozen=True)
class SwitchResult:
    """What the host's drain switch reported."""

    accepting: bool | None
    """True accepting, False draining, None when the output did not say."""
    workflow_containers: int | None
    """`workflow_job*` containers running on the host at that moment, None if unknown."""
    command: CommandResult


@dataclass(frozen=True)
class DrainResult:
    """How a wait for running evaluations ended."""

    drained: bool
    still_running: tuple[InFlightSubmission, ...]
    waited_seconds: float
    checks: int


@dataclass(frozen=True)
class DrainWait:
    """What a drain waits for (the queues, their running status), how long and how often it
    checks, what it does on timeout, and how it reports and keeps time (tests pass a clock)."""

    evaluation_ids: Sequence[str]
    timeout_s: float
    poll_s: float = 30.0
    force: bool = False
    """On timeout, report the submissions still running and go on instead of failing."""
    in_progress_status: str = IN_PROGRESS
    """EVALUATION_IN_PROGRESS; OPEN for a VALIDATION host (IN_PROGRESS_BY_STAGE)."""
    progress: Progress = print
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def drain_switch_script(accept: bool, switch_path: str = ACCEPT_SUBMISSIONS_PATH) -> list[str]:
    """The Run Command script: flip the switch, then count running workflow containers."""
    return [
        "set -eu",
        f"switch={shlex.quote(switch_path)}",
        'if [ ! -x "$switch" ]; then',
        '  echo "$switch is missing: this host was not set up by the challenge bootstrap" >&2',
        "  exit 3",
        "fi",
        f'"$switch" {"yes" if accept else "no"}',
        "running=$(docker ps --quiet --filter name=workflow_job | wc -l)",
        'echo "workflow_containers=$running"',
    ]


def parse_switch_output(stdout: str) -> tuple[bool | None, int | None]:
    accepting: bool | None = None
    containers: int | None = None
    for line in stdout.splitlines():
        words = line.strip().split()
        if words[:2] == ["now", "accepting"]:
            accepting = True
        elif words[:2] == ["now", "draining"]:
            accepting = False
        elif line.startswith("workflow_containers="):
            value = line.partition("=")[2].strip()
            containers = int(value) if value.isdigit() else None
    return accepting, containers


def stop_new_submissions(
    ssm: Any,
    instance_id: str,
    accept: bool,
    *,
    wait_s: float = 180.0,
    poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SwitchResult:
    """Set the host's drain switch (``accept=False`` stops new submissions) through SSM."""
    verb = "accept new submissions" if accept else "stop new submissions"
    result = run_shell(
        ssm,
        instance_id,
        drain_switch_script(accept),
        comment=f"challenge: {verb}",
        execution_timeout_s=120,
        wait_s=wait_s,
        poll_s=poll_s,
        sleep=sleep,
        clock=clock,
    )
    if not result.ok:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise LifecycleError(
            f"could not {verb} on host {instance_id}: SSM command {result.command_id} ended "
            f"{result.status} (exit {result.response_code}): {' | '.join(detail) or 'no output'}"
        )
    accepting, containers = parse_switch_output(result.stdout)
    if accepting is not None and accepting != accept:
        raise LifecycleError(
            f"host {instance_id} reports {'accepting' if accepting else 'draining'} after being "
            f"told to {verb}"
        )
    return SwitchResult(accepting, containers, result)


def describe_running(running: Sequence[InFlightSubmission]) -> str:
    named = ", ".join(s.label() for s in running[:NAMED_IN_ERRORS])
    more = len(running) - NAMED_IN_ERRORS
    return named + (f" and {more} more" if more > 0 else "")


def wait_until_drained(syn: Session, wait: DrainWait) -> DrainResult:
    """Poll Synapse until no queue has a submission in ``wait.in_progress_status``.

    One REST call per queue per check (more only past 100 running on a queue). On timeout,
    raise ``DrainTimeout`` naming the submissions still running, or with ``force`` report them
    and return.
    """
    ids = [str(e) for e in wait.evaluation_ids]
    timeout_s, poll_s, progress = wait.timeout_s, wait.poll_s, wait.progress
    in_progress_status = wait.in_progress_status
    start = wait.clock()
    checks = 0
    failed = 0
    last_report: tuple[str, ...] | None = None
    while True:
        try:
            running = in_progress(syn, ids, in_progress_status)
            failed = 0
        except SynapseProvisioningError as exc:
            failed += 1
            if exc.status in FATAL_STATUSES:
                raise LifecycleError(
                    f"cannot check the queues for running evaluations: {exc}; check that the "
                    "queues exist and the Synapse token may read them"
                ) from None
            if failed >= MAX_FAILED_CHECKS:
                raise LifecycleError(
                    f"cannot check the queues for running evaluations ({failed} checks failed "
                    f"in a row): {exc}"
                ) from None
            progress(f"check failed ({exc}); retrying")
            running = None
        checks += 1
        waited = wait.clock() - start
        if running == []:
            progress(f"drained: no submission in progress on {len(ids)} queue(s)")
            return DrainResult(True, (), waited, checks)
        if running is not None and waited >= timeout_s:
            listing = describe_running(running)
            if wait.force:
                progress(
                    f"WARNING: forceReplace is set: going on with {len(running)} submission(s) "
                    f"still in progress, which the orchestrator will mark INVALID: {listing}"
                )
                return DrainResult(False, tuple(running), waited, checks)
            raise DrainTimeout(
                f"drain timed out after {waited / 60:.0f} min with {len(running)} submission(s) "
                f"still {in_progress_status}: {listing}. Wait and run again, raise "
                "challenge:drainTimeoutMinutes, or `pulumi config set challenge:forceReplace "
                "true` to go on anyway (those submissions will be marked INVALID)",
                tuple(running),
            )
        if running is not None:
            report = tuple(s.submission_id for s in running)
            if report != last_report:
                progress(
                    f"waiting for {len(running)} submission(s) in progress: "
                    f"{describe_running(running)} ({waited / 60:.0f} of "
                    f"{timeout_s / 60:.0f} min)"
                )
                last_report = report
        wait.sleep(max(0.0, min(poll_s, timeout_s - waited)) if running is not None else poll_s)


def drain_host(
    *, ssm: Any, ec2: Any, syn: Session, instance_id: str, wait: DrainWait
) -> DrainResult | None:
    """Stop new submissions on the host, wait for running ones, fail or force on timeout.

    Returns None when there was nothing to drain (host not running). A failed drain turns new
    submissions back on before raising, so the challenge keeps running on the old host.
    """
    progress, sleep, clock = wait.progress, wait.sleep, wait.clock
    state = instance_state(ec2, instance_id)
    if state != "running":
        progress(f"host {instance_id} is {state or 'gone'}: nothing runs there; no drain needed")
        return None
    try:
        switched = stop_new_submissions(ssm, instance_id, False, sleep=sleep, clock=clock)
    except LifecycleError as exc:
        if wait.force:
            progress(f"WARNING: forceReplace is set: going on without a drain: {exc}")
            return DrainResult(False, (), 0.0, 0)
        raise LifecycleError(
            f"{exc}. Nothing was replaced or destroyed; fix SSM access to the host, or set "
            "`pulumi config set challenge:forceReplace true` to go on without a drain"
        ) from None
    containers = switched.workflow_containers
    progress(
        f"host {instance_id} stopped taking new submissions"
        + (f"; {containers} workflow container(s) running" if containers is not None else "")
    )
    try:
        return wait_until_drained(syn, wait)
    except LifecycleError as exc:
        try:
            stop_new_submissions(ssm, instance_id, True, sleep=sleep, clock=clock)
            progress(f"host {instance_id} accepts new submissions again")
        except LifecycleError as restore_error:
            raise LifecycleError(
                f"{exc}. Also, new submissions could NOT be turned back on ({restore_error}); "
                f"run `challenge-accept-submissions yes` on the host"
            ) from None
        raise
