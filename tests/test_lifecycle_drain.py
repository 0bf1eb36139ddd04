"""Drain against the Synapse-compatible server (submissions, statuses) and moto (SSM, EC2).

Waits while a submission is EVALUATION_IN_PROGRESS and proceeds when the orchestrator finishes
it; times out naming the submission; honours force; turns submissions back on after a failed
drain. The clock is simulated: ``sleep`` advances it and lets the test play the orchestrator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lifecycle import (
    DrainTimeout,
    DrainWait,
    LifecycleError,
    drain_host,
    in_progress,
    wait_until_drained,
)
from lifecycle.drain import MAX_FAILED_CHECKS
from lifecycle.submissions import IN_PROGRESS_BY_STAGE
from synapse_emulator import SynapseEmulator
from tests.fixtures.host import sent_commands
from tests.fixtures.synapse import SubmissionQueues

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SYNAPSE_RETRY_ATTEMPTS = 2
"""Attempts per Synapse call (the fault tests count on it)."""


@pytest.fixture
def challenge(synapse_emulator: SynapseEmulator) -> SubmissionQueues:
    return SubmissionQueues(synapse_emulator)


class Clock:
    """Simulated time; ``sleep`` advances it and runs the actions scheduled for that sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: dict[int, Callable[[], None]] = {}

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        action = self.on_sleep.get(len(self.sleeps))
        if action:
            action()


def wait(challenge: SubmissionQueues, clock: Clock, **kwargs: Any) -> Any:
    """``wait_until_drained`` on the challenge's queues with the simulated clock."""
    kwargs.setdefault("progress", lambda _: None)
    kwargs.setdefault("evaluation_ids", challenge.queues)
    return wait_until_drained(
        challenge.session(), DrainWait(sleep=clock.sleep, clock=clock, **kwargs)
    )


def test_in_progress_lists_running_submissions_with_one_call_per_queue(challenge):
    first, second = challenge.queues
    running = challenge.submit(first, "EVALUATION_IN_PROGRESS")
    challenge.submit(first)
    challenge.submit(first, "ACCEPTED")
    other = challenge.submit(second, "EVALUATION_IN_PROGRESS")
    session = challenge.session()
    challenge.emu.reset_counts()
    found = in_progress(session, challenge.queues)
    assert {(s.submission_id, s.evaluation_id) for s in found} == {
        (running, first),
        (other, second),
    }
    assert challenge.emu.request_counts() == {
        ("GET", "/repo/v1/evaluation/{evaluation_id}/submission/status/all"): 2
    }


def test_wait_proceeds_once_the_running_submission_completes(challenge):
    running = challenge.submit(challenge.queues[0], "EVALUATION_IN_PROGRESS")
    clock = Clock()
    clock.on_sleep[2] = lambda: challenge.set_status(running, "ACCEPTED")
    messages: list[str] = []
    result = wait(challenge, clock, timeout_s=600, poll_s=30, progress=messages.append)
    assert (result.drained, result.checks, result.waited_seconds) == (True, 3, 60)
    assert clock.sleeps == [30, 30]
    assert messages == [
        f"waiting for 1 submission(s) in progress: {running} (queue {challenge.queues[0]}) "
        "(0 of 10 min)",
        "drained: no submission in progress on 2 queue(s)",
    ]


def test_wait_times_out_naming_the_submissions_still_running(challenge):
    first, second = challenge.queues
    a = challenge.submit(first, "EVALUATION_IN_PROGRESS")
    b = challenge.submit(second, "EVALUATION_IN_PROGRESS")
    clock = Clock()
    with pytest.raises(DrainTimeout) as error:
        wait(challenge, clock, timeout_s=120, poll_s=50)
    message = str(error.value)
    assert f"{a} (queue {first}), {b} (queue {second})" in message
    assert (
        "drain timed out after 2 min with 2 submission(s) still EVALUATION_IN_PROGRESS" in message
    )
    assert "challenge:forceReplace" in message
    assert [s.submission_id for s in error.value.still_running] == [a, b]
    assert clock.sleeps == [50, 50, 20]


def test_force_goes_on_after_the_timeout_with_a_warning(challenge):
    running = challenge.submit(challenge.queues[1], "EVALUATION_IN_PROGRESS")
    clock = Clock()
    messages: list[str] = []
    result = wait(challenge, clock, timeout_s=0, progress=messages.append, force=True)
    assert (result.drained, [s.submission_id for s in result.still_running]) == (False, [running])
    assert clock.sleeps == []
    assert messages[-1].startswith("WARNING: forceReplace is set: going on with 1 submission(s)")
    assert running in messages[-1]


def test_received_submissions_do_not_hold_a_drain(challenge):
    challenge.submit(challenge.queues[0])
    clock = Clock()
    result = wait(challenge, clock, timeout_s=0)
    assert result.drained and result.checks == 1


def test_a_few_failed_checks_are_tolerated_more_are_an_error(challenge):
    emu = challenge.emu
    running = challenge.submit(challenge.queues[0], "EVALUATION_IN_PROGRESS")
    clock = Clock()
    clock.on_sleep[1] = lambda: challenge.set_status(running, "ACCEPTED")
    # Each check makes up to 2 attempts (the retry policy) on the first queue's listing.
    emu.faults.burst(503, count=2 * (MAX_FAILED_CHECKS - 1), path_regex=r"/submission/status/all")
    messages: list[str] = []
    result = wait(challenge, clock, timeout_s=600, poll_s=10, progress=messages.append)
    assert result.drained and result.checks == MAX_FAILED_CHECKS
    assert sum(m.startswith("check failed") for m in messages) == MAX_FAILED_CHECKS - 1

    emu.faults.burst(503, count=2 * MAX_FAILED_CHECKS, path_regex=r"/submission/status/all")
    with pytest.raises(LifecycleError) as error:
        wait(challenge, clock, timeout_s=600, poll_s=10)
    assert f"({MAX_FAILED_CHECKS} checks failed in a row)" in str(error.value)


# --- the whole drain: SSM switch + wait ----------------------------------------------------------


def drain(aws: Any, challenge: SubmissionQueues, instance: str, clock: Clock, **kwargs: Any) -> Any:
    wait = DrainWait(challenge.queues, poll_s=30, sleep=clock.sleep, clock=clock, **kwargs)
    return drain_host(
        ssm=aws.client("ssm"),
        ec2=aws.client("ec2"),
        syn=challenge.session(),
        instance_id=instance,
        wait=wait,
    )


def test_drain_stops_new_submissions_then_waits_for_the_running_one(
    aws, instance_id, ssm_runs_in, challenge
):
    running = challenge.submit(challenge.queues[0], "EVALUATION_IN_PROGRESS")
    ssm_runs_in.set_containers(1)
    clock = Clock()
    clock.on_sleep[1] = lambda: challenge.set_status(running, "ACCEPTED")
    messages: list[str] = []
    result = drain(aws, challenge, instance_id, clock, timeout_s=3600, progress=messages.append)
    assert result is not None and result.drained
    assert ssm_runs_in.accept_value() == "'false'"
    assert [c["Comment"] for c in sent_commands(aws)] == ["challenge: stop new submissions"]
    assert messages[0] == (
        f"host {instance_id} stopped taking new submissions; 1 workflow container(s) running"
    )


def test_a_timed_out_drain_fails_and_turns_submissions_back_on(
    aws, instance_id, ssm_runs_in, challenge
):
    running = challenge.submit(challenge.queues[1], "EVALUATION_IN_PROGRESS")
    clock = Clock()
    messages: list[str] = []
    with pytest.raises(DrainTimeout) as error:
        drain(aws, challenge, instance_id, clock, timeout_s=60, progress=messages.append)
    assert f"{running} (queue {challenge.queues[1]})" in str(error.value)
    assert ssm_runs_in.accept_value() == "''"
    assert sorted(c["Comment"] for c in sent_commands(aws)) == [
        "challenge: accept new submissions",
        "challenge: stop new submissions",
    ]
    assert messages[-1] == f"host {instance_id} accepts new submissions again"


def test_a_forced_drain_goes_on_and_leaves_the_host_draining(
    aws, instance_id, ssm_runs_in, challenge
):
    challenge.submit(challenge.queues[1], "EVALUATION_IN_PROGRESS")
    result = drain(aws, challenge, instance_id, Clock(), timeout_s=60, force=True)
    assert result is not None and not result.drained and len(result.still_running) == 1
    assert ssm_runs_in.accept_value() == "'false'"


def test_a_stopped_host_needs_no_drain(aws, instance_id, ssm_runs_in, challenge):
    challenge.submit(challenge.queues[0], "EVALUATION_IN_PROGRESS")
    aws.client("ec2").stop_instances(InstanceIds=[instance_id])
    messages: list[str] = []
    assert (
        drain(aws, challenge, instance_id, Clock(), timeout_s=60, progress=messages.append) is None
    )
    assert sent_commands(aws) == []
    assert messages == [f"host {instance_id} is stopped: nothing runs there; no drain needed"]


def test_an_unreachable_switch_fails_unless_forced(aws, instance_id, ssm_runs_in, challenge):
    ssm_runs_in.switch.unlink()
    with pytest.raises(LifecycleError) as error:
        drain(aws, challenge, instance_id, Clock(), timeout_s=60)
    assert "Nothing was replaced or destroyed" in str(error.value)
    assert "challenge:forceReplace true" in str(error.value)
    messages: list[str] = []
    result = drain(
        aws, challenge, instance_id, Clock(), timeout_s=60, force=True, progress=messages.append
    )
    assert result is not None and not result.drained
    assert messages[0].startswith("WARNING: forceReplace is set: going on without a drain")


def test_a_queue_that_cannot_be_read_stops_the_wait_at_once(challenge):
    clock = Clock()
    with pytest.raises(LifecycleError) as error:
        wait(challenge, clock, evaluation_ids=["999999"], timeout_s=600, poll_s=10)
    assert "cannot check the queues for running evaluations" in str(error.value)
    assert "HTTP 404" in str(error.value) and clock.sleeps == []


def test_a_validation_host_waits_on_open_not_on_evaluation_in_progress(challenge):
    """EXECUTION_STAGE=VALIDATION moves RECEIVED -> OPEN -> VALIDATED (upstream
    EvaluationUtils.getInProgressSubmissionState): its drain waits while a submission is OPEN,
    and an execution host's EVALUATION_IN_PROGRESS on the same queue does not hold it."""
    first = challenge.queues[0]
    validating = challenge.submit(first, IN_PROGRESS_BY_STAGE["VALIDATION"])
    challenge.submit(first, "EVALUATION_IN_PROGRESS")
    clock = Clock()
    clock.on_sleep[1] = lambda: challenge.set_status(validating, "VALIDATED")
    messages: list[str] = []
    result = wait(
        challenge,
        clock,
        timeout_s=600,
        poll_s=30,
        progress=messages.append,
        in_progress_status=IN_PROGRESS_BY_STAGE["VALIDATION"],
    )
    assert (result.drained, result.checks) == (True, 2)
    assert f"{validating} (queue {first})" in messages[0]
    with pytest.raises(DrainTimeout, match="still EVALUATION_IN_PROGRESS"):
        wait(challenge, Clock(), timeout_s=0)
