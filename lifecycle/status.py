"""`make status`: per queue the submissions by status and the oldest in flight, and the host.

Replaces the wiki's `docker ps` on the host: the counts come from Synapse, the host's state from
EC2, its disk and running workflow containers from one SSM Run Command when reachable. Every
part that cannot be reached becomes a message, never a crash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stackconfig.hosts import ALL_STAGES, DEFAULT_HOST_KEY
from synapse_client.errors import SynapseProvisioningError
from userdata import ACCEPT_SUBMISSIONS_PATH, ENV_PATH

from .errors import LifecycleError
from .outputs import SELF_HOSTED, HostOutput, StackOutputs
from .ssm import describe_instance, run_shell
from .submissions import (
    COUNTED_STATUSES,
    IN_FLIGHT_STATUSES,
    InFlightSubmission,
    Session,
    count_with_status,
    in_flight,
    oldest,
)

NO_REGION = "no AWS region: export awsRegion from the stack, set AWS_REGION, or pass --region"


@dataclass(frozen=True)
class QueueStatus:
    """One queue: submissions per status and the oldest one not finished."""

    key: str
    evaluation_id: str
    counts: Mapping[str, int] = field(default_factory=dict)
    oldest_in_flight: InFlightSubmission | None = None
    oldest_age_seconds: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class HostDisk:
    """Disk use on the host, KiB (from `df -P -k /` and `du -sk` of the shared volume)."""

    root_size_kib: int | None = None
    root_used_kib: int | None = None
    root_available_kib: int | None = None
    shared_volume: str | None = None
    shared_volume_kib: int | None = None
    workflow_containers: int | None = None
    submissions: str | None = None
    """`accepting` or `draining` (the host's drain switch)."""


@dataclass(frozen=True)
class HostStatus:
    instance_id: str | None
    state: str | None = None
    instance_type: str | None = None
    disk: HostDisk | None = None
    problems: tuple[str, ...] = ()
    key: str = DEFAULT_HOST_KEY
    queue_keys: tuple[str, ...] = ()
    execution_stage: str = ALL_STAGES


@dataclass(frozen=True)
class StackStatus:
    stack: str
    phase: str | None
    synapse_endpoint: str
    queues: tuple[QueueStatus, ...]
    synapse_problem: str | None
    hosts: tuple[HostStatus, ...]


def host_status_script(
    env_path: str = ENV_PATH, switch_path: str = ACCEPT_SUBMISSIONS_PATH
) -> list[str]:
    """Run Command script printing `key=value` lines; read-only, never prints `.env` secrets."""
    return [
        "set -u",
        f"env_file={shlex.quote(env_path)}",
        f"switch={shlex.quote(switch_path)}",
        'df -P -k / | awk \'NR==2 {print "root_disk_kib=" $2 " " $3 " " $4}\'',
        "project=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' \"$env_file\" 2>/dev/null"
        ' | tr -d "\'\\"" | head -n 1)',
        'volume="${project:-workflow_orchestrator}_shared"',
        'echo "shared_volume=$volume"',
        "mount=$(docker volume inspect --format '{{ .Mountpoint }}' \"$volume\" 2>/dev/null"
        " || true)",
        'if [ -n "$mount" ]; then',
        '  echo "shared_volume_kib=$(timeout 30 du -sk "$mount" 2>/dev/null | cut -f1)"',
        "fi",
        'echo "workflow_containers=$(docker ps --quiet --filter name=workflow_job | wc -l)"',
        'if [ -x "$switch" ]; then echo "submissions=$("$switch" status)"; fi',
    ]


def parse_host_output(stdout: str) -> HostDisk:
    values: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            values[key] = value.strip()

    def number(text: str | None) -> int | None:
        return int(text) if text and text.isdigit() else None

    root = (values.get("root_disk_kib") or "").split()
    root += [""] * (3 - len(root))
    return HostDisk(
        root_size_kib=number(root[0]),
        root_used_kib=number(root[1]),
        root_available_kib=number(root[2]),
        shared_volume=values.get("shared_volume") or None,
        shared_volume_kib=number(values.get("shared_volume_kib")),
        workflow_containers=number(values.get("workflow_containers")),
        submissions=values.get("submissions") or None,
    )


def queue_statuses(
    session: Session, queue_ids: Mapping[str, str], now: dt.datetime
) -> tuple[QueueStatus, ...]:
    """Counts and oldest in-flight submission per queue; a queue that fails gets its message."""
    found = []
    for key, evaluation_id in queue_ids.items():
        try:
            flying = in_flight(session, evaluation_id)
            counts = {
                status: sum(1 for s in flying if s.status == status)
                if status in IN_FLIGHT_STATUSES
                else count_with_status(session, evaluation_id, status)
                for status in COUNTED_STATUSES
            }
            first = oldest(flying)
            found.append(
                QueueStatus(
                    key,
                    evaluation_id,
                    counts,
                    first,
                    first.age_seconds(now) if first else None,
                )
            )
        except SynapseProvisioningError as exc:
            found.append(QueueStatus(key, evaluation_id, problem=str(exc)))
    return tuple(found)


def host_status(
    ec2: Any, ssm: Any, instance_id: str | None, *, ssm_wait_s: float = 60.0
) -> HostStatus:
    """EC2 state and type; disk and containers through SSM when the host runs."""
    if not instance_id:
        return HostStatus(None, problems=("the stack has no host instance ID output",))
    try:
        instance = describe_instance(ec2, instance_id)
    except LifecycleError as exc:
        return HostStatus(instance_id, problems=(f"EC2 unreachable: {exc}",))
    if instance is None:
        return HostStatus(instance_id, "not found", problems=("the instance does not exist",))
    state = instance.get("State", {}).get("Name")
    kind = instance.get("InstanceType")
    if state != "running":
        return HostStatus(instance_id, state, kind, problems=(f"host is {state}: no disk figures",))
    try:
        result = run_shell(
            ssm,
            instance_id,
            host_status_script(),
            comment="challenge: status",
            execution_timeout_s=60,
            wait_s=ssm_wait_s,
        )
    except LifecycleError as exc:
        return HostStatus(instance_id, state, kind, problems=(f"SSM unreachable: {exc}",))
    if not result.ok:
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return HostStatus(
            instance_id,
            state,
            kind,
            problems=(f"status script ended {result.status}: {reason[0]}",),
        )
    return HostStatus(instance_id, state, kind, parse_host_output(result.stdout))


def self_hosted_status(outputs: StackOutputs) -> HostStatus:
    """A self-hosted server is out of this tool's reach: say what to run on it."""
    commands = outputs.self_hosted_commands or {}
    hint = commands.get("status") or "see README, A self-hosted server"
    return HostStatus(None, SELF_HOSTED, problems=(f"on the server run: {hint}",))


def collect_status(
    outputs: StackOutputs,
    *,
    synapse_endpoint: str,
    session_factory: Callable[[], Session] | None,
    no_session_reason: str,
    ec2: Any,
    ssm: Any,
    now: dt.datetime,
) -> StackStatus:
    """Everything `status` shows; Synapse and AWS problems become messages."""
    problem = None
    queues: tuple[QueueStatus, ...] = ()
    if session_factory is None:
        problem = no_session_reason
    else:
        try:
            queues = queue_statuses(session_factory(), outputs.queue_ids, now)
        except SynapseProvisioningError as exc:
            problem = f"Synapse unreachable: {exc}"
    hosts = tuple(
        dataclasses.replace(
            _one_host(outputs, fleet_host, ec2, ssm),
            key=fleet_host.key,
            queue_keys=fleet_host.queue_keys,
            execution_stage=fleet_host.execution_stage,
        )
        for fleet_host in outputs.hosts
    )
    return StackStatus(outputs.stack, outputs.phase, synapse_endpoint, queues, problem, hosts)


def _one_host(outputs: StackOutputs, host: HostOutput, ec2: Any, ssm: Any) -> HostStatus:
    if outputs.host == SELF_HOSTED:
        return self_hosted_status(outputs)
    if ec2 is None or ssm is None:
        return HostStatus(host.instance_id, problems=(NO_REGION,))
    return host_status(ec2, ssm, host.instance_id)


# --- rendering ---------------------------------------------------------------------------------


def human_size(kib: int | None) -> str:
    if kib is None:
        return "?"
    size = float(kib)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "KiB" else f"{int(size)} KiB"
        size /= 1024
    return f"{size:.1f} TiB"


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def render_table(status: StackStatus) -> str:
    lines = [
        f"Stack {status.stack}" + (f" (phase {status.phase})" if status.phase else ""),
        f"Queues on {status.synapse_endpoint}:",
    ]
    if status.synapse_problem:
        lines.append(f"  unavailable: {status.synapse_problem}")
    else:
        header = ("QUEUE", "EVALUATION", *_COLUMN_NAMES, "OLDEST")
        rows: list[Sequence[str]] = [header]
        for queue in status.queues:
            if queue.problem:
                rows.append((queue.key, queue.evaluation_id, f"error: {queue.problem}"))
                continue
            first = queue.oldest_in_flight
            oldest_text = (
                f"{first.submission_id} {first.status} {human_age(queue.oldest_age_seconds)}"
                if first
                else "-"
            )
            rows.append(
                (
                    queue.key,
                    queue.evaluation_id,
                    *(str(queue.counts.get(s, 0)) for s in COUNTED_STATUSES),
                    oldest_text,
                )
            )
        widths = [max(len(r[i]) for r in rows if len(r) > i) for i in range(len(header) - 1)]
        for row in rows:
            cells = [c.ljust(widths[i]) if i < len(widths) else c for i, c in enumerate(row)]
            lines.append("  " + "  ".join(cells).rstrip())
    for host in status.hosts:
        lines.extend(_host_lines(host, several=len(status.hosts) > 1))
    return "\n".join(lines)


#: Column titles of COUNTED_STATUSES (EVALUATION_IN_PROGRESS shortened).
_COLUMN_NAMES = tuple(s.removeprefix("EVALUATION_") for s in COUNTED_STATUSES)


def _host_lines(host: HostStatus, *, several: bool) -> list[str]:
    """The host's state, disk and containers; with several hosts, its key, stage and queues."""
    label = "Host"
    if several:
        queues = ", ".join(host.queue_keys) or "-"
        label = f"Host {host.key} ({host.execution_stage}; queues {queues})"
    if host.state == SELF_HOSTED:
        return [f"{label}: self-hosted (the site's own server)", *(f"  {p}" for p in host.problems)]
    lines = [
        f"{label} {host.instance_id or '?'}: {host.state or 'unknown'}"
        + (f", {host.instance_type}" if host.instance_type else "")
    ]
    disk = host.disk
    if disk is not None:
        if disk.root_size_kib:
            share = 100 * (disk.root_used_kib or 0) / disk.root_size_kib
            lines.append(
                f"  disk /: {human_size(disk.root_used_kib)} used of "
                f"{human_size(disk.root_size_kib)} ({share:.0f}%), "
                f"{human_size(disk.root_available_kib)} free"
            )
        if disk.shared_volume:
            lines.append(f"  volume {disk.shared_volume}: {human_size(disk.shared_volume_kib)}")
        lines.append(
            f"  workflow containers running: "
            f"{disk.workflow_containers if disk.workflow_containers is not None else '?'}; "
            f"new submissions: {disk.submissions or '?'}"
        )
    lines.extend(f"  unavailable: {p}" for p in host.problems)
    return lines


def to_json(status: StackStatus) -> dict[str, Any]:
    return asdict(status)
