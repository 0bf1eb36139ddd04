"""From the validated stack config to each component's Args: the program's one mapping layer.

Kept apart from `__main__.py` so the mapping is plain code that tests can call directly.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

import sizing
import stackconfig
from components.challenge_launch import ChallengeLaunchArgs
from components.challenge_site import ChallengeSite, ChallengeSiteArgs, QueueSpec, SubmissionRound
from components.drain_guard import DrainGuardArgs
from components.orchestrator_host import (
    OrchestratorHost,
    OrchestratorHostArgs,
    OrchestratorHostError,
    check_args,
)
from components.synapse.site_plan import evaluation_templates, plan_site
from lifecycle.submissions import IN_PROGRESS_BY_STAGE
from stackconfig import ChallengeSpec, StackConfig
from stackconfig.hosts import DEFAULT_HOST_KEY, HostGroup, host_groups
from synapse_client import SynapseProvisioningError
from userdata import (
    ACCEPT_SUBMISSIONS_PATH,
    BootstrapSettings,
    FileToken,
    UserDataError,
    host_settings,
    render_cloud_config,
)
from userdata.cli import bootstrap_settings

#: Where a self-hosted server keeps the orchestrator's token (root-only); the bootstrap reads it.
SELF_HOSTED_TOKEN_FILE = "/etc/challenge/orchestrator-token"
#: Folder (relative to the project, where `pulumi up` runs) of the self-hosted bootstrap file.
SELF_HOSTED_OUT_DIR = Path("out")
#: What the site runs on its own server instead of the EC2 host's SSM-driven drain and status.
SELF_HOSTED_COMMANDS = {
    "drain": f"sudo {ACCEPT_SUBMISSIONS_PATH} no",
    "resume": f"sudo {ACCEPT_SUBMISSIONS_PATH} yes",
    "status": f"sudo {ACCEPT_SUBMISSIONS_PATH} status; docker ps --filter name=workflow_job; "
    "df -h /",
}


def check_before_creating(config: StackConfig, hosts: Sequence[FleetHost]) -> None:
    """Run every component's own checks while nothing exists yet, so a bad stack (say, user data
    over 16 KB for its number of queues) fails before the Synapse side is half-made."""
    problems = component_problems(config, hosts)
    if problems:
        raise stackconfig.ConfigError(problems)


def check_pinned_ami(spec: ChallengeSpec) -> None:
    """A pinned `amiId` must be an x86_64 image, as the orchestrator image is amd64 only (the
    `amiSsmParameter` and `instanceType` rules say so offline). EC2 is asked at `pulumi up`;
    where the architecture is unknown (offline, under mocks) nothing is said."""
    if spec.host != "ec2" or not spec.ami_id:
        return
    image = aws.ec2.get_ami(
        filters=[aws.ec2.GetAmiFilterArgs(name="image-id", values=[spec.ami_id])]
    )
    if image.architecture and image.architecture not in sizing.DEFAULT_ARCHITECTURES:
        raise stackconfig.ConfigError(
            [
                f"{stackconfig.NAMESPACE}:amiId: {spec.ami_id!r} is an {image.architecture} "
                "image, but the orchestrator image is published for amd64 (x86_64) only; pin "
                "an x86_64 AMI or leave amiId empty"
            ]
        )


def component_problems(config: StackConfig, hosts: Sequence[FleetHost]) -> list[str]:
    """Every component's own checks, all of them, each problem in the stack's words; each host
    of a fleet is checked on its own (its queues, its 16 KB of user data)."""
    problems: list[str] = []
    try:
        plan_site(site_args(config))
    except SynapseProvisioningError as error:
        problems.append(in_stack_terms(str(error)))
    for host in hosts:
        try:
            check_args(
                host_args(
                    host,
                    orchestrator_auth_token="",
                    logs_folder_id="",
                    evaluation_templates={},
                    dockerhub_password="",
                )
            )
        except (OrchestratorHostError, UserDataError) as error:
            message = str(error).removeprefix("OrchestratorHost: ")
            # One problem per setting: split where the next one names its setting (`ami_id: ...`).
            parts = re.split(r"; (?=[a-z_0-9]+(?:\[\d+\])?(?:\.\w+)*(?: \([^)]*\))?: )", message)
            problems.extend(host.group.in_stack_terms(in_stack_terms(part)) for part in parts)
    return problems


#: Component settings that come from a stack key of another name, or from no key at all.
_SETTING_SOURCES = {
    "challenge_name": f"{stackconfig.NAMESPACE}:name",
    "served_queue_count": f"{stackconfig.NAMESPACE}:queues",
    "root_volume_gib": f"{stackconfig.NAMESPACE}:instanceType",
    "target_os": f"{stackconfig.NAMESPACE}:amiSsmParameter",
    "region": "aws:region",
    "stack": "the stack name",
    "token_source": "the stack name",
}


def in_stack_terms(message: str) -> str:
    """A component's message with its setting (`workflow_archive_url`, `queues[1].key`) named
    as the stack file spells it (`challenge:workflowArchiveUrl`, `challenge:queues[1].key`)."""
    if message.startswith("rendered user data is"):  # the whole document: queues make it grow
        return f"{stackconfig.NAMESPACE}:queues: {_fields_as_keys(message)}"
    match = re.match(
        r"^(?:challenge site setting `(?P<quoted>[^`]+)`"
        r"|(?P<plain>[a-z_0-9]+(?:\[\d+\])?(?:\.\w+)*)(?: \([^)]*\))?:)\s*(?P<rest>.*)$",
        message,
        flags=re.DOTALL,
    )
    if not match:
        return _fields_as_keys(message)
    setting = match["quoted"] or match["plain"]
    head = re.split(r"[\[.]", setting, maxsplit=1)[0]
    suffix = setting[len(head) :]
    source = _SETTING_SOURCES.get(head)
    if source is None:
        alias = {name: alias for alias, name in stackconfig.STACK_KEYS.items()}.get(head)
        if alias is None:
            return _fields_as_keys(message)
        source = f"{stackconfig.NAMESPACE}:{alias}"
    return f"{source}{suffix}: {_fields_as_keys(match['rest'])}"


def _fields_as_keys(text: str) -> str:
    """Field names left in a message (`shorten toil_cli_options`) as their stack keys."""
    for alias, name in stackconfig.STACK_KEYS.items():
        if "_" in name:
            text = re.sub(rf"\b{name}\b", f"{stackconfig.NAMESPACE}:{alias}", text)
    return text


@dataclass(frozen=True)
class FleetHost:
    """One orchestrator host: its group, the stack as that host sees it (its queues, its keys)
    and its size."""

    group: HostGroup
    config: StackConfig
    estimate: sizing.HostEstimate

    @property
    def resource_name(self) -> str:
        return self.group.resource_name


def fleet(config: StackConfig, *, sized_choice: bool = False) -> tuple[FleetHost, ...]:
    """Every host of the stack (`challenge:hosts`, else one), each sized for its own queues with
    `host_estimate`; `monthlyBudgetUsd` holds for the fleet's total. `sized_choice`: ignore the
    instanceType overrides and the budget (`make check` goes on to the later layers with it).
    Raises SizingError with every host's problem in the stack's words."""
    groups = host_groups(config.spec)
    several = len(groups) > 1
    catalog = sizing.load_catalog(config.region)
    hosts, problems = [], []
    for group in groups:
        drop = {"monthly_budget_usd": None} if several or sized_choice else {}
        if sized_choice:
            drop["instance_type"] = None
        view = config.for_host(group)
        if drop:
            view = dataclasses.replace(view, spec=view.spec.model_copy(update=drop))
        try:
            hosts.append(FleetHost(group, view, host_estimate(view, catalog)))
        except sizing.SizingError as error:
            problems.append(group.in_stack_terms(str(error)))
    if problems:
        raise sizing.SizingError("\n".join(problems))
    budget = config.spec.monthly_budget_usd
    if several and budget and config.spec.host == "ec2" and not sized_choice:
        try:
            sizing.check_fleet_budget(
                {h.group.key: h.estimate for h in hosts},
                budget,
                catalog,
                {h.group.key: h.group.stack_key("instanceType") for h in hosts},
            )
        except sizing.SizingError as error:
            raise sizing.SizingError(_as_stack_key(error), key=error.key) from None
    return tuple(hosts)


def fleet_monthly_cost_usd(hosts: Sequence[FleetHost]) -> float | None:
    """The fleet's monthly cost, USD; None when any host's is unknown."""
    return sizing.sum_usd(h.estimate.monthly_cost_usd for h in hosts)


def host_estimate(
    config: StackConfig, catalog: sizing.Catalog | None = None
) -> sizing.HostEstimate:
    """The host `pulumi up` creates: sized from the workload keys with the committed catalog of
    `aws:region` (or `catalog`, loaded once for a fleet), checked against `monthlyBudgetUsd` on
    EC2 (a SizingError names the key)."""
    spec = config.spec
    budget = spec.monthly_budget_usd if spec.host == "ec2" else None
    try:
        return sizing.estimate_host(
            workload(spec),
            catalog or sizing.load_catalog(config.region),
            spec.instance_type,
            monthly_budget_usd=budget,
        )
    except sizing.SizingError as error:
        raise sizing.SizingError(_as_stack_key(error), key=error.key) from None


def _as_stack_key(error: sizing.SizingError) -> str:
    """The message with its key as the stack file spells it (`challenge:instanceType`)."""
    message, key = str(error), error.key
    if not key or ":" in key:
        return message
    if message.startswith(key):
        return f"{stackconfig.NAMESPACE}:{message}"
    return f"{stackconfig.NAMESPACE}:{key}: {message}"


def workload(spec: ChallengeSpec) -> sizing.Workload:
    """The sizing inputs the stack declares."""
    return sizing.Workload.read_from(spec)


def site_args(config: StackConfig) -> ChallengeSiteArgs:
    spec = config.spec
    return ChallengeSiteArgs(
        name=spec.name,
        queues=tuple(
            QueueSpec(
                name=queue.name,
                description=queue.description,
                key=queue.key,
                rounds=tuple(
                    SubmissionRound(
                        start=r.start,
                        end=r.end,
                        total_submissions=r.limits.total,
                        daily_submissions=r.limits.daily,
                        weekly_submissions=r.limits.weekly,
                        monthly_submissions=r.limits.monthly,
                    )
                    for r in queue.rounds
                ),
            )
            for queue in spec.queues
        ),
        workflow_archive_url=spec.workflow_archive_url,
        root_template=spec.root_template,
        orchestrator_synapse_username=spec.orchestrator_synapse_username,
        synapse_endpoint=spec.synapse_endpoint,
        delete_data_on_destroy=spec.delete_synapse_data_on_destroy,
        existing_team_ids={
            role: team_id
            for role, team_id in spec.existing_team_ids.model_dump().items()
            if team_id is not None
        },
        submission_view=spec.submission_view,
    )


def launch_args(config: StackConfig, site: ChallengeSite) -> ChallengeLaunchArgs:
    return ChallengeLaunchArgs(
        phase=config.spec.phase,
        queue_ids=site.queue_evaluation_ids,
        participants_team_id=site.team_ids["participants"],
        live_project_id=site.live_project_id,
        staging_project_id=site.staging_project_id,
        synapse_endpoint=config.spec.synapse_endpoint,
    )


def drain_guard_args(
    config: StackConfig, site: ChallengeSite, host: FleetHost, component: OrchestratorHost
) -> DrainGuardArgs:
    """The host's guard: it drains only the host's queues, waiting on its stage's running status."""
    return DrainGuardArgs(
        instance_id=component.instance_id,
        region=config.region,
        evaluation_ids=[site.queue_evaluation_ids[key] for key in host.group.queue_keys],
        synapse_endpoint=config.spec.synapse_endpoint,
        drain_timeout_minutes=config.spec.drain_timeout_minutes,
        force_replace=config.spec.force_replace,
        in_progress_status=IN_PROGRESS_BY_STAGE[host.group.execution_stage],
    )


def host_templates(site: ChallengeSite, host: FleetHost) -> pulumi.Output[dict[str, str]]:
    """EVALUATION_TEMPLATES of the host: its own queues' evaluation IDs -> the workflow file."""
    queue_ids = [site.queue_evaluation_ids[key] for key in host.group.queue_keys]
    return pulumi.Output.all(site.workflow_file_id, *queue_ids).apply(
        lambda ids: evaluation_templates(ids[1:], ids[0])
    )


def host_args(
    host: FleetHost,
    *,
    orchestrator_auth_token: pulumi.Input[str],
    logs_folder_id: pulumi.Input[str],
    evaluation_templates: pulumi.Input[Mapping[str, str]],
    dockerhub_password: pulumi.Input[str] | None = None,
) -> OrchestratorHostArgs:
    config, estimate, spec = host.config, host.estimate, host.config.spec
    key = None if host.group.key == DEFAULT_HOST_KEY else host.group.key
    return OrchestratorHostArgs(
        settings=host_settings(config, host_key=key),
        instance_type=estimate.instance_type,
        root_volume_gib=estimate.root_volume_gib,
        monthly_price_usd=estimate.monthly_cost_usd,
        orchestrator_auth_token=orchestrator_auth_token,
        logs_folder_id=logs_folder_id,
        evaluation_templates=evaluation_templates,
        ami_ssm_parameter=spec.ami_ssm_parameter,
        ami_id=spec.ami_id,
        subnet_id=spec.subnet_id,
        served_queue_count=len(spec.queues),
        dockerhub_password=dockerhub_password,
        host_key=key,
    )


def self_hosted_settings(
    config: StackConfig, logs_folder_id: str, evaluation_templates: Mapping[str, str]
) -> BootstrapSettings:
    """The site server's bootstrap settings: the token from a root-only file at boot."""
    return bootstrap_settings(
        config,
        FileToken(SELF_HOSTED_TOKEN_FILE),
        logs_folder_id=logs_folder_id,
        evaluation_templates=dict(evaluation_templates),
    )


def self_hosted_bootstrap(
    config: StackConfig, logs_folder_id: str, evaluation_templates: Mapping[str, str]
) -> str:
    """The site server's `#cloud-config`: exactly what `python -m userdata render --stack S
    --token-from-file /etc/challenge/orchestrator-token` prints once the IDs exist."""
    return render_cloud_config(self_hosted_settings(config, logs_folder_id, evaluation_templates))


def self_hosted_outputs(
    config: StackConfig, site: ChallengeSite, host: FleetHost
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The host's self-hosted bootstrap, once the Synapse IDs exist, and the file it is written
    to (`write_bootstrap`)."""
    bootstrap = pulumi.Output.all(site.logs_folder_id, host_templates(site, host)).apply(
        lambda ids: self_hosted_bootstrap(host.config, ids[0], ids[1])
    )
    path = bootstrap.apply(lambda document: write_bootstrap(config, document, host.group.key))
    return bootstrap, path


def write_bootstrap(config: StackConfig, document: str, host_key: str = DEFAULT_HOST_KEY) -> str:
    """Write the self-hosted bootstrap to `out/<stack>-bootstrap.yaml` (a further host of a
    fleet: `out/<stack>-<key>-bootstrap.yaml`, one server each); returns the path. It holds no
    secret (the token stays in the server's file)."""
    host = "" if host_key == DEFAULT_HOST_KEY else f"-{host_key}"
    path = SELF_HOSTED_OUT_DIR / f"{config.stack}{host}-bootstrap.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(document)
    os.replace(tmp, path)
    return str(path)
