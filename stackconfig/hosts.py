"""Host groups (`challenge:hosts`): which orchestrator host serves which queues.

Two orchestrators must never take submissions from one queue: each reconciles its running
containers against the queue's in-progress submissions and marks the other's INVALID (upstream
src/main/java/org/sagebionetworks/WorkflowOrchestrator.java). So every queue is served by exactly
one host, with the one split the orchestrator supports: its EXECUTION_STAGE (upstream
src/main/java/org/sagebionetworks/EvaluationUtils.java) lets a VALIDATION host move RECEIVED ->
OPEN -> VALIDATED and an EXECUTION host VALIDATED -> EVALUATION_IN_PROGRESS -> ACCEPTED on the
same queue; ALL (the default) moves RECEIVED -> EVALUATION_IN_PROGRESS -> ACCEPTED. A queue is
split that way between two hosts of the stack only when the stack says so
(`queues[].splitByExecutionStage: true`); a stack of one host may set `executionStage` for it.

Without `hosts`, one group keyed `default` serves every queue with the stack's own keys. A group
is the stack's spec with the group's overrides and only its queues, so sizing, the host settings
and the component checks take it like a one-host stack. Pure: no Pulumi.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from synapse_client.names import queue_stable_key

from .model import HOST_GROUP_OVERRIDES, NAMESPACE, ChallengeSpec, QueueConfig

#: The group that keeps the resource names (and so the URNs) of the one host before groups: a
#: stack without `hosts` is this group, and a stack that splits keeps its first host under it.
DEFAULT_HOST_KEY = "default"
#: Prefix of every host group's Pulumi resource names (`orchestrator`, `orchestrator-<key>`).
HOST_RESOURCE_PREFIX = "orchestrator"
ALL_STAGES = "ALL"


@dataclass(frozen=True)
class HostGroup:
    """One orchestrator host: its key, the queues it serves, and the spec it is built from."""

    key: str
    #: Position in `challenge:hosts`; None for the implicit group of a stack without `hosts`.
    index: int | None
    #: Stable keys of the queues it serves, in the stack's queue order.
    queue_keys: tuple[str, ...]
    #: The orchestrator's EXECUTION_STAGE: ALL, VALIDATION or EXECUTION.
    execution_stage: str
    #: The stack's spec with this group's overrides and only its queues (no `hosts`).
    spec: ChallengeSpec
    #: Stack keys (camelCase) the group sets for itself.
    overridden: frozenset[str] = frozenset()

    @property
    def resource_name(self) -> str:
        """Pulumi name of the group's host component; `default` keeps the one host's name."""
        if self.key == DEFAULT_HOST_KEY:
            return HOST_RESOURCE_PREFIX
        return f"{HOST_RESOURCE_PREFIX}-{self.key}"

    def stack_key(self, alias: str) -> str:
        """Where the stack sets `alias` for this host: `challenge:hosts[i].<alias>` when the
        group sets it, else the stack's own `challenge:<alias>`."""
        if self.index is not None and alias in self.overridden:
            return f"{NAMESPACE}:hosts[{self.index}].{alias}"
        return f"{NAMESPACE}:{alias}"

    def in_stack_terms(self, message: str) -> str:
        """A problem of this host's (sizing, user data) in the stack's words: a key the group
        sets becomes `challenge:hosts[i].<key>`; any other is marked with the host it is for."""
        if self.index is None:
            return message
        where = f"{NAMESPACE}:hosts[{self.index}]"
        for alias in self.overridden:
            message = message.replace(f"{NAMESPACE}:{alias}", self.stack_key(alias))
        return message if message.startswith(where) else f"{where} ({self.key!r}): {message}"


def _groups(spec: ChallengeSpec) -> tuple[Any, ...]:
    """`challenge:hosts` (HostGroupConfig is made from ChallengeSpec's fields at import, so its
    override attributes are unknown to a type checker)."""
    return spec.hosts


def queue_key(queue: QueueConfig) -> str:
    return queue_stable_key(queue.name, queue.key)


def host_group_problems(spec: ChallengeSpec) -> list[str]:
    """Every problem with `challenge:hosts`, each naming the key as the stack spells it: a queue
    served by two hosts or by none, an unknown queue, a split the stack did not ask for."""
    split = {queue_key(q) for q in spec.queues if q.split_by_execution_stage}
    if not spec.hosts:
        # One host: `executionStage` is the stack's to choose (the other half may run elsewhere).
        return [
            f"{NAMESPACE}:queues: {key!r} has splitByExecutionStage but challenge:hosts is not "
            "set; a split needs a VALIDATION host and an EXECUTION host"
            for key in sorted(split)
        ]
    problems: list[str] = []
    known = [queue_key(q) for q in spec.queues]
    keys_seen: dict[str, int] = {}
    served_by: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for index, group in enumerate(_groups(spec)):
        where = f"{NAMESPACE}:hosts[{index}]"
        if group.key in keys_seen:
            problems.append(
                f"{where}.key: {group.key!r} is also the key of hosts[{keys_seen[group.key]}]; "
                "each host needs its own key"
            )
        keys_seen.setdefault(group.key, index)
        stage = group.execution_stage or spec.execution_stage or ALL_STAGES
        for position, key in enumerate(group.queues):
            if key not in known:
                problems.append(
                    f"{where}.queues[{position}]: {key!r} is not a queue key; the queues are "
                    f"{', '.join(known)}"
                )
                continue
            if any(other == index for other, _ in served_by[key]):
                problems.append(f"{where}.queues[{position}]: {key!r} is listed twice")
                continue
            served_by[key].append((index, stage))
            if stage != ALL_STAGES and key not in split:
                problems.append(
                    f"{where}.queues: {key!r} is served by an executionStage {stage} host but "
                    f"the queue does not set splitByExecutionStage: true"
                )
    for key in known:
        hosts = served_by.get(key, [])
        if not hosts:
            problems.append(
                f"{NAMESPACE}:hosts: queue {key!r} is served by no host; add it to the queues of "
                "one host"
            )
            continue
        stages = sorted(stage for _, stage in hosts)
        named = ", ".join(f"hosts[{i}] ({spec.hosts[i].key!r}, {s})" for i, s in hosts)
        if key in split:
            if stages != ["EXECUTION", "VALIDATION"]:
                problems.append(
                    f"{NAMESPACE}:hosts[{hosts[-1][0]}].queues: {key!r} sets "
                    "splitByExecutionStage, so exactly one executionStage VALIDATION host and "
                    f"one EXECUTION host must serve it; it is served by {named}"
                )
        elif len(hosts) > 1:
            problems.append(
                f"{NAMESPACE}:hosts[{hosts[-1][0]}].queues: {key!r} is also served by "
                f"hosts[{hosts[0][0]}] ({spec.hosts[hosts[0][0]].key!r}); two orchestrators on "
                "one queue mark each other's submissions INVALID. Serve it from one host, or "
                "split it by stage (splitByExecutionStage)"
            )
    return problems


def host_groups(spec: ChallengeSpec) -> tuple[HostGroup, ...]:
    """The hosts of a stack whose `host_group_problems` are none, in the stack's order."""
    if not spec.hosts:
        return (
            HostGroup(
                key=DEFAULT_HOST_KEY,
                index=None,
                queue_keys=tuple(queue_key(q) for q in spec.queues),
                execution_stage=spec.execution_stage or ALL_STAGES,
                spec=spec,
            ),
        )
    groups = []
    for index, group in enumerate(_groups(spec)):
        served = set(group.queues)
        queues = tuple(q for q in spec.queues if queue_key(q) in served)
        overrides = {
            name: getattr(group, name)
            for name in HOST_GROUP_OVERRIDES
            if getattr(group, name) is not None
        }
        groups.append(
            HostGroup(
                key=group.key,
                index=index,
                queue_keys=tuple(queue_key(q) for q in queues),
                execution_stage=(group.execution_stage or spec.execution_stage or ALL_STAGES),
                spec=spec.model_copy(update={**overrides, "queues": queues, "hosts": ()}),
                overridden=frozenset(
                    str(ChallengeSpec.model_fields[name].alias) for name in overrides
                ),
            )
        )
    return tuple(groups)
