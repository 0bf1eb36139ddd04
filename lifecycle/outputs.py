"""The stack outputs `make status` reads, from the Pulumi CLI or a JSON file.

Contract with ``__main__.py``: it exports these names (camelCase like the stack keys).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackconfig.hosts import ALL_STAGES, DEFAULT_HOST_KEY

from .errors import LifecycleError

QUEUE_IDS = "queueIds"
"""Map queue key -> evaluation ID."""
HOST_INSTANCE_ID = "instanceId"
"""EC2 instance ID of the orchestrator host."""
AWS_REGION = "awsRegion"
"""Region of the host (else --region or AWS_REGION)."""
SYNAPSE_ENDPOINT = "synapseEndpoint"
"""Synapse base URL the stack uses."""
PHASE = "phase"
"""`staging` or `live` (shown, not required)."""
HOST = "host"
"""`ec2` (default when absent) or `self-hosted` (no instance: the site runs its own commands)."""
SELF_HOSTED_COMMANDS = "selfHostedCommands"
"""Self-hosted: what to run on the site's server (drain, resume, status)."""
HOSTS = "hosts"
"""Map host key -> {instanceId, instanceType, queues (keys), executionStage}: the fleet."""
SELF_HOSTED = "self-hosted"
REQUIRED_OUTPUTS = (QUEUE_IDS, HOST_INSTANCE_ID)


@dataclass(frozen=True)
class HostOutput:
    """One orchestrator host of the stack: its key, instance and the queues it serves."""

    key: str
    instance_id: str | None
    queue_keys: tuple[str, ...]
    execution_stage: str = ALL_STAGES


@dataclass(frozen=True)
class StackOutputs:
    """What `status` needs from the stack."""

    stack: str
    queue_ids: Mapping[str, str]
    host_instance_id: str | None
    aws_region: str | None
    synapse_endpoint: str | None
    phase: str | None
    host: str = "ec2"
    self_hosted_commands: Mapping[str, str] | None = None
    hosts: tuple[HostOutput, ...] = ()
    """The fleet; a stack from before host groups has one host serving every queue."""


def parse_outputs(stack: str, raw: Mapping[str, Any], origin: str) -> StackOutputs:
    """Validate the outputs; names the missing or malformed one and where it came from."""
    if not isinstance(raw, Mapping):
        raise LifecycleError(f"{origin}: expected a JSON object of stack outputs")
    host = str(raw.get(HOST) or "ec2") if isinstance(raw, Mapping) else "ec2"
    fleet = raw.get(HOSTS)
    required = [
        k
        for k in REQUIRED_OUTPUTS
        if not ((host == SELF_HOSTED or fleet) and k == HOST_INSTANCE_ID)
    ]
    missing = [k for k in required if k not in raw]
    if missing:
        hint = "run `make up` first" if not raw else "update the program to export them"
        raise LifecycleError(f"{origin}: stack outputs {', '.join(missing)} are missing; {hint}")
    queues = raw[QUEUE_IDS]
    if isinstance(queues, list):
        queues = {str(q): str(q) for q in queues}
    if not isinstance(queues, Mapping) or not all(str(v).isdigit() for v in queues.values()):
        raise LifecycleError(
            f"{origin}: output {QUEUE_IDS} must map queue keys to numeric evaluation IDs, "
            f"got {queues!r}"
        )

    def text(key: str) -> str | None:
        value = raw.get(key)
        return str(value) if value not in (None, "") else None

    queue_ids = {str(k): str(v) for k, v in queues.items()}
    return StackOutputs(
        stack=stack,
        queue_ids=queue_ids,
        host_instance_id=text(HOST_INSTANCE_ID),
        aws_region=text(AWS_REGION),
        synapse_endpoint=text(SYNAPSE_ENDPOINT),
        phase=text(PHASE),
        host=host,
        self_hosted_commands=raw.get(SELF_HOSTED_COMMANDS),
        hosts=_hosts(fleet, text(HOST_INSTANCE_ID), tuple(queue_ids), origin),
    )


def _hosts(
    fleet: Any, instance_id: str | None, queue_keys: tuple[str, ...], origin: str
) -> tuple[HostOutput, ...]:
    if not fleet:
        return (HostOutput(DEFAULT_HOST_KEY, instance_id, queue_keys),)
    if not isinstance(fleet, Mapping) or not all(isinstance(v, Mapping) for v in fleet.values()):
        raise LifecycleError(f"{origin}: output {HOSTS} must map host keys to objects")
    return tuple(
        HostOutput(
            key=str(key),
            instance_id=str(host["instanceId"]) if host.get("instanceId") else None,
            queue_keys=tuple(str(q) for q in host.get("queues") or ()),
            execution_stage=str(host.get("executionStage") or ALL_STAGES),
        )
        for key, host in fleet.items()
    )


def read_outputs(stack: str, outputs_file: Path | None = None) -> StackOutputs:
    """The stack's outputs from ``outputs_file`` or ``pulumi stack output --json`` (no secrets)."""
    if outputs_file is not None:
        try:
            raw = json.loads(outputs_file.read_text())
        except (OSError, ValueError) as exc:
            raise LifecycleError(
                f"--outputs-file {outputs_file}: cannot read JSON ({exc})"
            ) from None
        return parse_outputs(stack, raw, str(outputs_file))
    done = _pulumi("stack", "output", "--json", "--stack", stack, timeout_s=120)
    if done is None:
        raise LifecycleError(
            "the Pulumi CLI is not installed: install it, or pass --outputs-file F with the "
            "JSON of `pulumi stack output --json`"
        )
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
        raise LifecycleError(f"`pulumi stack output --json --stack {stack}` failed: {reason[0]}")
    try:
        raw = json.loads(done.stdout or "{}")
    except ValueError as exc:
        raise LifecycleError(f"`pulumi stack output` printed no JSON ({exc})") from None
    return parse_outputs(stack, raw, f"stack {stack}")


def _home_pulumi() -> str | None:
    candidate = Path(os.path.expanduser("~/.pulumi/bin/pulumi"))
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def _pulumi(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str] | None:
    """Run the Pulumi CLI (on PATH or where its installer puts it); None when it is missing."""
    pulumi = shutil.which("pulumi") or _home_pulumi()
    if pulumi is None:
        return None
    return subprocess.run(
        [pulumi, *args], capture_output=True, text=True, check=False, timeout=timeout_s
    )


def synapse_token_from_stack(stack: str) -> str | None:
    """The organiser token: SYNAPSE_AUTH_TOKEN, else the stack's secret (kept in memory only)."""
    token = os.environ.get("SYNAPSE_AUTH_TOKEN")
    if token:
        return token
    done = _pulumi("config", "get", "challenge:synapseAuthToken", "--stack", stack, timeout_s=60)
    value = done.stdout.strip() if done else ""
    return value if done and done.returncode == 0 and value else None
