"""SSM Run Command on the orchestrator host: send a shell script, wait (bounded) for its result.

The host is reached only through the SSM agent (no inbound port); the caller's AWS credentials
come from boto3's default chain at run time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import LifecycleError

RUN_SHELL_DOCUMENT = "AWS-RunShellScript"
#: Invocation states after which nothing changes any more.
FINAL_STATES = frozenset({"Success", "Failed", "Cancelled", "TimedOut"})
#: SSM's smallest delivery timeout (seconds) for send_command.
MIN_DELIVERY_TIMEOUT_S = 30


@dataclass(frozen=True)
class CommandResult:
    """What one Run Command invocation on one instance ended with."""

    command_id: str
    instance_id: str
    status: str
    """SSM invocation status: Success, Failed, Cancelled or TimedOut."""
    response_code: int
    """Exit code of the script (-1 when SSM reports none)."""
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == "Success"


def run_shell(
    ssm: Any,
    instance_id: str,
    commands: Sequence[str],
    *,
    comment: str,
    execution_timeout_s: int = 120,
    wait_s: float = 180.0,
    poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CommandResult:
    """Run ``commands`` (one shell script) as root on the instance and wait for the outcome.

    Raises ``LifecycleError`` when the host cannot be reached or the result does not arrive
    within ``wait_s`` seconds; a script that ran and failed is returned, not raised.
    """
    try:
        sent = ssm.send_command(
            InstanceIds=[instance_id],
            DocumentName=RUN_SHELL_DOCUMENT,
            Comment=comment[:100],
            TimeoutSeconds=max(MIN_DELIVERY_TIMEOUT_S, int(wait_s)),
            Parameters={
                "commands": list(commands),
                "executionTimeout": [str(execution_timeout_s)],
            },
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "InvalidInstanceId":
            raise LifecycleError(
                f"host {instance_id} is not reachable through SSM Run Command (instance stopped, "
                "SSM agent offline, or not a managed instance); check `aws ssm "
                f"describe-instance-information --filters Key=InstanceIds,Values={instance_id}`"
            ) from None
        raise LifecycleError(f"SSM send_command to {instance_id} failed: {code}: {exc}") from None
    except BotoCoreError as exc:
        raise LifecycleError(f"cannot call AWS SSM ({type(exc).__name__}: {exc})") from None
    command_id = sent["Command"]["CommandId"]
    deadline = clock() + wait_s
    status = "Pending"
    while True:
        invocation = _invocation(ssm, command_id, instance_id)
        if invocation is not None:
            status = invocation.get("Status", status)
            if status in FINAL_STATES:
                return CommandResult(
                    command_id,
                    instance_id,
                    status,
                    int(invocation.get("ResponseCode", -1)),
                    invocation.get("StandardOutputContent", "") or "",
                    invocation.get("StandardErrorContent", "") or "",
                )
        if clock() >= deadline:
            raise LifecycleError(
                f"SSM command {command_id} on {instance_id} did not finish within {wait_s:.0f} s "
                f"(last status {status}); see `aws ssm get-command-invocation --command-id "
                f"{command_id} --instance-id {instance_id}`"
            )
        sleep(poll_s)


def _invocation(ssm: Any, command_id: str, instance_id: str) -> dict[str, Any] | None:
    """The invocation, or None while SSM has not registered it yet (eventual consistency)."""
    try:
        return ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvocationDoesNotExist":
            return None
        raise LifecycleError(f"SSM get_command_invocation for {command_id} failed: {exc}") from None
    except BotoCoreError as exc:
        raise LifecycleError(f"cannot call AWS SSM ({type(exc).__name__}: {exc})") from None


def describe_instance(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    """The EC2 description of the instance, or None when it does not exist."""
    try:
        found = ec2.describe_instances(InstanceIds=[instance_id])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            return None
        raise LifecycleError(f"EC2 describe_instances({instance_id}) failed: {code}") from None
    except BotoCoreError as exc:
        raise LifecycleError(f"cannot call AWS EC2 ({type(exc).__name__}: {exc})") from None
    for reservation in found.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            if instance.get("InstanceId") == instance_id:
                return instance
    return None


def instance_state(ec2: Any, instance_id: str) -> str | None:
    """EC2 state name of the instance (running, stopped, ...), or None when it does not exist."""
    instance = describe_instance(ec2, instance_id)
    return None if instance is None else instance.get("State", {}).get("Name")
