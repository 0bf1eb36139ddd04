"""DrainGuard: a resource whose delete drains the orchestrator host first.

It takes the host's instance ID as an input, so the engine deletes it before the instance on
`pulumi destroy` and, when the instance is replaced delete-before-replace, before the old
instance is deleted (the engine's dependent-replacement rule: our ``diff`` answers "replace" when
the instance ID becomes unknown). Its delete stops new submissions through SSM and waits until
no queue of the host has a submission in its running status (EVALUATION_IN_PROGRESS; OPEN
for a VALIDATION host), failing the operation on timeout unless `forceReplace` is set. Nothing
else about it touches the cloud.

Runs on a plain `pulumi destroy` (no `--run-program`): the provider is restored from state.
`challenge:forceReplace` and `challenge:drainTimeoutMinutes` are read from the stack config at
the time of the delete, so `pulumi config set challenge:forceReplace true` takes effect at once.
Credentials: the Synapse token as every Synapse provider (stack secret or SYNAPSE_AUTH_TOKEN),
AWS through boto3's default chain (and `aws:profile` when the stack sets it); never pickled.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pulumi
from botocore.exceptions import BotoCoreError
from pulumi.dynamic import ConfigureRequest, CreateResult, ReadResult, UpdateResult

import rules
from components.synapse._resource import SynapseResource
from components.synapse.common import (
    ENDPOINT_PROP,
    REPLACE,
    STATE_ONLY,
    Prop,
    SynapseProvider,
    is_unknown,
)
from lifecycle.drain import DrainWait, drain_host
from lifecycle.errors import LifecycleError
from lifecycle.submissions import IN_PROGRESS, IN_PROGRESS_BY_STAGE
from rules import AwsRegion

FORCE_REPLACE_CONFIG_KEY = "challenge:forceReplace"
DRAIN_TIMEOUT_CONFIG_KEY = "challenge:drainTimeoutMinutes"
AWS_PROFILE_CONFIG_KEY = "aws:profile"
DEFAULT_DRAIN_TIMEOUT_MINUTES = 120
#: Seconds between drain checks (no stack key sets it; tests shorten it).
POLL_SECONDS = 30


def _about(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(frozen=True)
class DrainGuardArgs:
    """What the guard drains; the program fills it from the host and the Synapse side."""

    instance_id: pulumi.Input[str] = field(
        metadata=_about("EC2 instance ID of the host; a new ID means a drain of the old host.")
    )
    region: str = field(metadata=_about("AWS region of the host."))
    evaluation_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = field(
        metadata=_about("Evaluation queue IDs the host serves (checked for running work).")
    )
    synapse_endpoint: str = field(metadata=_about("Synapse base URL."))
    drain_timeout_minutes: int = field(
        default=DEFAULT_DRAIN_TIMEOUT_MINUTES,
        metadata=_about("Minutes to wait for running evaluations (stack drainTimeoutMinutes)."),
    )
    force_replace: bool = field(
        default=False,
        metadata=_about("Go on after the timeout instead of failing (stack forceReplace)."),
    )
    in_progress_status: str = field(
        default=IN_PROGRESS,
        metadata=_about(
            "The status of the host's running work, by its EXECUTION_STAGE "
            "(lifecycle.submissions.IN_PROGRESS_BY_STAGE): OPEN on a VALIDATION host."
        ),
    )


def _instance_problem(value: str) -> str | None:
    ok = re.fullmatch(r"i-[0-9a-f]{8,17}", value)
    return None if ok else f"must be an EC2 instance ID such as i-0123456789abcdef0, got {value!r}"


def _region_problem(value: str) -> str | None:
    ok = rules.problem(AwsRegion, value) is None
    return None if ok else f"must be an AWS region such as us-east-1, got {value!r}"


def _queues_problem(value: list[Any]) -> str | None:
    known = [v for v in value if not is_unknown(v)]
    bad = [v for v in known if not (isinstance(v, str) and v.isdigit())]
    if not value:
        return "must list the evaluation queue IDs the host serves"
    return f"must be numeric evaluation queue IDs, got {bad!r}" if bad else None


def _status_problem(value: str) -> str | None:
    known = sorted(set(IN_PROGRESS_BY_STAGE.values()))
    return None if value in known else f"must be one of {known}, got {value!r}"


def _timeout_problem(value: int) -> str | None:
    return None if 0 <= value <= 10080 else f"must be 0..10080 minutes, got {value}"


def _flag(text: Any) -> bool | None:
    if isinstance(text, bool):
        return text
    if isinstance(text, str) and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return None


def _minutes(text: Any) -> int | None:
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if 0 <= value <= 10080 else None


class DrainGuardProvider(SynapseProvider):
    """Create/update only record settings; delete drains the host (see the module docstring)."""

    KIND = "drain guard"
    PROPS = (
        Prop("instance_id", str, change=REPLACE, validate=_instance_problem),
        Prop("region", str, change=STATE_ONLY, validate=_region_problem),
        Prop("evaluation_ids", list, change=STATE_ONLY, validate=_queues_problem),
        dataclasses.replace(ENDPOINT_PROP, change=STATE_ONLY),
        Prop(
            "drain_timeout_minutes",
            int,
            required=False,
            default=DEFAULT_DRAIN_TIMEOUT_MINUTES,
            change=STATE_ONLY,
            validate=_timeout_problem,
        ),
        Prop("force_replace", bool, required=False, default=False, change=STATE_ONLY),
        Prop(
            "in_progress_status",
            str,
            required=False,
            default=IN_PROGRESS,
            change=STATE_ONLY,
            validate=_status_problem,
        ),
    )
    DELETE_BEFORE_REPLACE = True

    def __init__(self) -> None:
        super().__init__()
        self._live_config: dict[str, Any] = {}

    def configure(self, req: ConfigureRequest) -> None:
        super().configure(req)
        self._live_config = {
            key: req.config.get(key)
            for key in (FORCE_REPLACE_CONFIG_KEY, DRAIN_TIMEOUT_CONFIG_KEY, AWS_PROFILE_CONFIG_KEY)
        }

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_live_config"] = {}
        return state

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"drain-guard-{props['instance_id']}", self.outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, dict(props))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self.outputs(news))

    def settings(self, props: dict[str, Any]) -> tuple[bool, int]:
        """forceReplace and the timeout: the stack config now, else what the last `up` recorded."""
        live = getattr(self, "_live_config", {}) or {}
        force = _flag(live.get(FORCE_REPLACE_CONFIG_KEY))
        minutes = _minutes(live.get(DRAIN_TIMEOUT_CONFIG_KEY))
        return (
            bool(props.get("force_replace")) if force is None else force,
            int(props.get("drain_timeout_minutes") or 0) if minutes is None else minutes,
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        force, minutes = self.settings(props)
        instance_id = props["instance_id"]
        profile = (getattr(self, "_live_config", {}) or {}).get(AWS_PROFILE_CONFIG_KEY)
        try:
            aws = boto3.session.Session(profile_name=profile or None, region_name=props["region"])
        except BotoCoreError as exc:
            raise LifecycleError(
                f"cannot use AWS profile {profile!r} (aws:profile): {exc}"
            ) from None

        def progress(message: str) -> None:
            print(f"drain {instance_id}: {message}", file=sys.stderr, flush=True)

        progress(
            f"before replacing or destroying the host: waiting up to {minutes} min for running "
            f"evaluations on {len(props['evaluation_ids'])} queue(s)"
            + (" (forceReplace: will go on after that)" if force else "")
        )
        wait = DrainWait(
            evaluation_ids=[str(e) for e in props["evaluation_ids"]],
            timeout_s=minutes * 60,
            poll_s=float(POLL_SECONDS),
            force=force,
            in_progress_status=str(props.get("in_progress_status") or IN_PROGRESS),
            progress=progress,
        )
        drain_host(
            ssm=aws.client("ssm"),
            ec2=aws.client("ec2"),
            syn=self.session(props),
            instance_id=instance_id,
            wait=wait,
        )


class DrainGuard(SynapseResource, provider=DrainGuardProvider, module="lifecycle"):
    """Drains the orchestrator host before the engine replaces or destroys it.

    Give it ``instance_id=host.instance.id`` (a property dependency, so the engine deletes the
    guard before the old instance) and ``depends_on`` the Synapse side, so destroy keeps the
    queues and the orchestrator's permissions until the drain is over. The instance itself
    must be ``delete_before_replace=True``: two orchestrators must never serve one queue.
    """

    def __init__(
        self, resource_name: str, args: DrainGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        inputs = {
            "instance_id": args.instance_id,
            "region": args.region,
            "evaluation_ids": args.evaluation_ids,
            "synapse_endpoint": args.synapse_endpoint,
            "drain_timeout_minutes": args.drain_timeout_minutes,
            "force_replace": args.force_replace,
        }
        if args.in_progress_status != IN_PROGRESS:  # a guard from before host groups stays as is
            inputs["in_progress_status"] = args.in_progress_status
        own = pulumi.ResourceOptions(replace_on_changes=["instance_id"], delete_before_replace=True)
        super().__init__(resource_name, pulumi.ResourceOptions.merge(own, opts), **inputs)
