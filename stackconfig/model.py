"""The stack file as a contract: one pydantic model for every `challenge:` key.

Field aliases are the camelCase stack keys; descriptions here are the single source for the README
table and the `Pulumi.yaml` declarations (tests keep the three in step).
"""

from __future__ import annotations

import datetime as dt
import itertools
import urllib.parse
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from rules import INPUT_DATA_ROOTS as INPUT_DATA_ROOTS  # re-exported for the stack layer
from rules import MOVING_IMAGE_TAGS as MOVING_IMAGE_TAGS
from rules import SYNAPSE_NAME_PATTERN as SYNAPSE_NAME_PATTERN
from rules import (
    AmiId,
    AmiSsmParameter,
    DockerhubUsername,
    DockerImage,
    ExecutionStage,
    HostDataDir,
    InstanceTypeName,
    JobRetentionDays,
    Kind,
    MaxConcurrentSubmissions,
    NotificationMask,
    QueueKeyText,
    RootTemplate,
    RwVolume,
    S3Uri,
    SubnetId,
    SynapseName,
    SynapseUsername,
    TeamId,
    ToilCliOptions,
    WorkflowArchiveUrl,
    duplicate_names,
)
from rules import image_tag as image_tag
from rules import input_data_dir_problem as input_data_dir_problem
from rules import moving_image_problem as moving_image_problem
from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, is_loopback_host

SYNAPSE_ID_PATTERN = r"^syn[0-9]+$"
#: The stack keys' namespace in `Pulumi.<stack>.yaml` (`challenge:name`).
NAMESPACE = "challenge"
#: Upstream CI (`.github/workflows/ci.yml`: docker/metadata-action `type=sha`, build-push-action
#: without `platforms`, so linux/amd64 only) tags every pushed commit `sha-<7 hex>`; this is master
#: at be79fdc, the commit the `.env` contract was checked against. Immutable, unlike `:master`.
DEFAULT_ORCHESTRATOR_IMAGE = "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:sha-be79fdc"
DEFAULT_TOIL_CLI_OPTIONS = "--defaultMemory 100M --retryCount 0 --defaultDisk 1G"
DEFAULT_AMI_SSM_PARAMETER = "/aws/service/debian/release/13/latest/amd64"
#: The model-to-data template's `inputDir` default.
DEFAULT_INPUT_DATA_DIR = INPUT_DATA_ROOTS[0]
#: Production Synapse; the orchestrator itself talks to no other (upstream
#: src/main/java/org/sagebionetworks/SynapseClientFactory.java hard-codes it).
PRODUCTION_SYNAPSE_ENDPOINT = DEFAULT_SYNAPSE_ENDPOINT

#: Secret keys: never part of the validated spec, only whether each is set.
SECRET_KEYS: dict[str, str] = {
    "synapseAuthToken": (
        "Organiser's Synapse personal access token, used by `pulumi up` to create the Synapse side "
        "(or set SYNAPSE_AUTH_TOKEN). Secret."
    ),
    "orchestratorAuthToken": (
        "Personal access token of the orchestrator's Synapse account; stored in SSM Parameter "
        "Store and read by the host at boot. Secret."
    ),
    "dockerhubPassword": (
        "Docker Hub access token of dockerhubUsername (DOCKERHUB_PASSWORD); stored in SSM "
        "Parameter Store and read by the host at boot. Secret."
    ),
}


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=False, frozen=True, str_strip_whitespace=True
    )


class SubmissionLimits(_Strict):
    """Caps on submissions per team or participant within one round (Synapse EvaluationRound)."""

    total: int | None = Field(None, ge=1, description="Submissions allowed in the whole round.")
    daily: int | None = Field(None, ge=1, description="Submissions allowed per day.")
    weekly: int | None = Field(None, ge=1, description="Submissions allowed per week.")
    monthly: int | None = Field(None, ge=1, description="Submissions allowed per month.")


class Round(_Strict):
    """One submission round of a queue: a window with optional limits."""

    start: dt.datetime = Field(description="Round start, ISO 8601 with time zone.")
    end: dt.datetime = Field(description="Round end, ISO 8601 with time zone, after start.")
    limits: SubmissionLimits = Field(default_factory=SubmissionLimits)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2027-01-01T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Round:
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class QueueConfig(_Strict):
    """One evaluation queue (Synapse Evaluation) served by the orchestrator."""

    name: SynapseName = Field(description="Queue name; unique across all of Synapse.")
    key: QueueKeyText | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=64,
        description="Stable identifier in the stack (default: from the name); keep it when "
        "renaming the queue so the rename happens in place.",
    )
    description: str = Field("", max_length=1000, description="Shown to participants.")
    rounds: tuple[Round, ...] = Field(
        (), description="Submission rounds with limits; none means always open, unlimited."
    )
    split_by_execution_stage: bool = Field(
        False,
        alias="splitByExecutionStage",
        description="Served by two hosts of challenge:hosts, one with executionStage VALIDATION "
        "and one with EXECUTION; otherwise exactly one host serves the queue.",
    )

    @model_validator(mode="after")
    def _rounds_do_not_overlap(self) -> QueueConfig:
        ordered = sorted(self.rounds, key=lambda r: r.start)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ValueError(
                    f"rounds overlap: {before.start.isoformat()}..{before.end.isoformat()} and "
                    f"{after.start.isoformat()}..{after.end.isoformat()}"
                )
        return self


class ExistingTeamIds(_Strict):
    """Numeric IDs of Synapse teams to use instead of creating `<name> <Role>` teams (text or
    a YAML number, as `pulumi config set --path` stores them)."""

    participants: TeamId | None = None
    admin: TeamId | None = None
    organizers: TeamId | None = None
    preregistrants: TeamId | None = None


class ChallengeSpec(_Strict):
    """Everything under `challenge:` in a stack file, validated and typed."""

    # --- the challenge -----------------------------------------------------------------------
    name: SynapseName = Field(
        alias="name",
        description="Challenge name: live project `<name>`, staging `<name> - staging`, teams.",
    )
    kind: Kind = Field(
        "model-to-data",
        alias="kind",
        description="`model-to-data`: participants submit Docker images run on the host; "
        "`data-to-model`: participants submit prediction files.",
    )
    queues: tuple[QueueConfig, ...] = Field(
        alias="queues",
        min_length=1,
        description="Evaluation queues, a list of objects: `name` (required), `key` (stable ID for "
        "renames), `description`, `rounds` (list of `start`, `end`, `limits` {total, daily, "
        "weekly, monthly}), `splitByExecutionStage` (see hosts).",
    )
    workflow_archive_url: WorkflowArchiveUrl = Field(
        alias="workflowArchiveUrl",
        description="https URL the orchestrator fetches the workflow from: a path ending in "
        ".zip (GitHub 'Download ZIP', Zenodo `...zip?download=1`) or a GA4GH TRS tool version "
        "URL (Dockstore `.../api/ga4gh/v2/tools/...`); no user info, fragment or "
        "credential-like query parameter (token, key, signature).",
    )
    root_template: RootTemplate = Field(
        alias="rootTemplate",
        description="Path of the CWL workflow inside the unzipped archive, e.g. "
        "`model-to-data-challenge-workflow-main/workflow.cwl` (the ROOT_TEMPLATE annotation).",
    )
    orchestrator_synapse_username: SynapseUsername = Field(
        alias="orchestratorSynapseUsername",
        description="Synapse user name the orchestrator runs as (SYNAPSE_USERNAME).",
    )
    # --- workload, for sizing ------------------------------------------------------------------
    per_submission_memory_gib: int = Field(
        alias="perSubmissionMemoryGiB",
        gt=0,
        le=4096,
        description="Memory one submission's evaluation needs, GiB (whole number).",
    )
    max_concurrent_submissions: MaxConcurrentSubmissions = Field(
        10,
        alias="maxConcurrentSubmissions",
        description="Submissions evaluated at once (MAX_CONCURRENT_WORKFLOWS).",
    )
    vcpus_per_submission: int = Field(
        1, alias="vcpusPerSubmission", ge=1, le=192, description="vCPUs one evaluation needs."
    )
    docker_image_gib: int = Field(
        4,
        alias="dockerImageGiB",
        gt=0,
        le=1024,
        description="Largest participant Docker image expected, GiB.",
    )
    input_data_gib: int = Field(
        0,
        alias="inputDataGiB",
        ge=0,
        le=16384,
        description="Challenge input data kept on the host (model-to-data), GiB.",
    )
    output_per_submission_gib: int = Field(
        1,
        alias="outputPerSubmissionGiB",
        ge=0,
        le=16384,
        description="Output one submission writes before upload, GiB.",
    )
    submissions_per_day: int | None = Field(
        None,
        alias="submissionsPerDay",
        ge=1,
        le=100000,
        description="Evaluations finished per day on average; sizes the disk for job folders kept "
        "jobRetentionDays. Empty: maxConcurrentSubmissions.",
    )
    instance_type: InstanceTypeName | None = Field(
        None,
        alias="instanceType",
        description="EC2 instance type override; must fit the workload. Empty: cheapest that fits.",
    )
    monthly_budget_usd: int | None = Field(
        None,
        alias="monthlyBudgetUsd",
        ge=1,
        le=1_000_000,
        description="Most the EC2 host may cost a month, whole USD (instance, gp3 root volume, "
        "public IPv4, on demand); `make check` and `pulumi up` fail above it, naming the "
        "cheapest type that fits. Empty: no limit.",
    )
    # --- the host ------------------------------------------------------------------------------
    host: Literal["ec2", "self-hosted"] = Field(
        "ec2",
        alias="host",
        description="`ec2`: `pulumi up` launches the host on AWS; `self-hosted`: no AWS at all, "
        "`pulumi up` writes the bootstrap for the site's own server (output and file).",
    )
    hosts: tuple[HostGroupConfig, ...] = Field(
        (),
        alias="hosts",
        max_length=50,
        description="Several orchestrator hosts, a list of objects: `key` (stable ID: `default` "
        "keeps the one host's resources), `queues` (the queue keys it serves; each queue is "
        "served by exactly one host), and for that host any of executionStage, kind, the "
        "workload keys, instanceType, workflowEngineImage, toilCliOptions, inputDataS3Uri, "
        "inputDataDir, jobRetentionDays, subnetId. Empty: one host serves every queue.",
    )
    orchestrator_image: DockerImage = Field(
        DEFAULT_ORCHESTRATOR_IMAGE,
        alias="orchestratorImage",
        description="Orchestrator image, pinned by commit tag (`:sha-<7 hex>`), version tag or "
        "digest; moving tags (`:master`, `:latest`, none, `:1.2`) need allowMovingImageTags.",
    )
    allow_moving_image_tags: bool = Field(
        False,
        alias="allowMovingImageTags",
        description="Accept a branch tag such as `:master` for orchestratorImage and "
        "workflowEngineImage (what runs then changes whenever the host pulls).",
    )
    workflow_engine_image: DockerImage | None = Field(
        None,
        alias="workflowEngineImage",
        description=(
            "Engine image override (WORKFLOW_ENGINE_DOCKER_IMAGE), pinned; empty: built on the "
            "host from the pinned recipe in userdata/engine/ (Toil with CWL v1.2)."
        ),
    )
    ami_ssm_parameter: AmiSsmParameter = Field(
        DEFAULT_AMI_SSM_PARAMETER,
        alias="amiSsmParameter",
        description="Public SSM parameter naming the AMI; Debian 13 is the supported OS.",
    )
    ami_id: AmiId | None = Field(
        None,
        alias="amiId",
        description="Pin the AMI instead of resolving amiSsmParameter.",
    )
    subnet_id: SubnetId | None = Field(
        None,
        alias="subnetId",
        description="Subnet for the host; empty: a subnet of the default VPC.",
    )
    input_data_s3_uri: S3Uri | None = Field(
        None,
        alias="inputDataS3Uri",
        description="Sync model-to-data input from this S3 prefix at boot (read-only access).",
    )
    input_data_dir: HostDataDir = Field(
        INPUT_DATA_ROOTS[0],
        alias="inputDataDir",
        description="Host directory the workflow mounts as input (the template's inputDir): "
        "/home/user/input_data, a directory below it, or /data[/...].",
    )
    job_retention_days: JobRetentionDays = Field(
        7,
        alias="jobRetentionDays",
        description="Days finished job folders stay on the host before the daily clean-up.",
    )
    submitter_notification_mask: NotificationMask = Field(
        31,
        alias="submitterNotificationMask",
        description="Which emails submitters get: 1 started, 2 completed, 4 failed, 8 stopped, "
        "16 timed out.",
    )
    share_results_immediately: bool = Field(
        True, alias="shareResultsImmediately", description="Share logs with submitters at once."
    )
    toil_cli_options: ToilCliOptions = Field(
        DEFAULT_TOIL_CLI_OPTIONS,
        alias="toilCliOptions",
        description="Extra toil-cwl-runner options (TOIL_CLI_OPTIONS); nothing containing "
        "workdir or linkimports (the orchestrator refuses it: also --cleanWorkDir) nor "
        "abbreviations of --workDir/--noLinkImports.",
    )
    run_workflow_container_in_privileged_mode: bool = Field(
        False,
        alias="runWorkflowContainerInPrivilegedMode",
        description=(
            "Start each workflow's engine container privileged "
            "(RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE); only for workflows that need it."
        ),
    )
    execution_stage: ExecutionStage | None = Field(
        None,
        alias="executionStage",
        description=(
            "Part of the evaluation this host runs (EXECUTION_STAGE): VALIDATION takes RECEIVED to "
            "VALIDATED (OPEN while running), EXECUTION takes VALIDATED to ACCEPTED; empty: ALL. "
            "Set per host in challenge:hosts to split a queue between two hosts."
        ),
    )
    rw_volumes: list[RwVolume] = Field(
        default_factory=list,
        alias="rwVolumes",
        description=(
            "Host directories mounted read-write into every engine container, each "
            "`/host/path:/container/path` (RW_VOLUMES): host path under /data or "
            "/home/user/input_data; each container path its own, not a system directory, "
            "/var/run or /var/lib/docker."
        ),
    )
    dockerhub_username: DockerhubUsername | None = Field(
        None,
        alias="dockerhubUsername",
        description=(
            "Docker Hub account for image pulls (DOCKERHUB_USERNAME; anonymous pulls are "
            "rate-limited per IP); needs the secret dockerhubPassword."
        ),
    )
    # --- Synapse side --------------------------------------------------------------------------
    synapse_endpoint: str = Field(
        PRODUCTION_SYNAPSE_ENDPOINT,
        alias="synapseEndpoint",
        description="Synapse server base URL; it receives the organiser's token: production "
        "Synapse, a loopback URL (local emulator), or the host named in trustedSynapseHost.",
    )
    trusted_synapse_host: str | None = Field(
        None,
        alias="trustedSynapseHost",
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        description="Opt-in: the one host name besides production Synapse and loopback that "
        "synapseEndpoint may name (https only), e.g. a Synapse staging server.",
    )
    delete_synapse_data_on_destroy: bool = Field(
        False,
        alias="deleteSynapseDataOnDestroy",
        description="Let `pulumi destroy` delete the live project, Logs, queues and teams.",
    )
    existing_team_ids: ExistingTeamIds = Field(
        default_factory=ExistingTeamIds,
        alias="existingTeamIds",
        description="Object of numeric team IDs to reuse (participants, admin, organizers, "
        "preregistrants) instead of creating them; admin and organizers each their own team "
        "(participants and preregistrants may share one).",
    )
    # --- lifecycle -----------------------------------------------------------------------------
    phase: Literal["staging", "live"] = Field(
        "staging",
        alias="phase",
        description="`live` opens the queues to the Participants team and publishes the site.",
    )
    drain_timeout_minutes: int = Field(
        120,
        alias="drainTimeoutMinutes",
        ge=0,
        le=10080,
        description="How long replace/destroy of the host waits for running evaluations.",
    )
    force_replace: bool = Field(
        False,
        alias="forceReplace",
        description="Replace/destroy the host even if evaluations are still running.",
    )
    submission_view: bool = Field(
        False,
        alias="submissionView",
        description="Create a SubmissionView over the queues in the staging project.",
    )
    end_date: dt.datetime | None = Field(
        None,
        alias="endDate",
        description="After this instant (ISO 8601 with zone) the host stops taking submissions.",
    )
    stop_host_after_end: bool = Field(
        True,
        alias="stopHostAfterEnd",
        description="After endDate, stop the instance once no evaluation is running.",
    )

    @field_validator("end_date")
    @classmethod
    def _end_date_aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2027-06-30T23:59:00Z")
        return value

    @field_validator("queues")
    @classmethod
    def _unique_queue_names(cls, queues: tuple[QueueConfig, ...]) -> tuple[QueueConfig, ...]:
        duplicates = duplicate_names(q.name for q in queues)
        if duplicates:
            raise ValueError(f"duplicate queue names: {', '.join(duplicates)}")
        return queues


#: ChallengeSpec fields a host group may set for its own host: what sizes it and what its
#: bootstrap takes per host. The rest (names, Synapse side, image pins) is the stack's.
HOST_GROUP_OVERRIDES = (
    "kind",
    "per_submission_memory_gib",
    "max_concurrent_submissions",
    "vcpus_per_submission",
    "docker_image_gib",
    "input_data_gib",
    "output_per_submission_gib",
    "submissions_per_day",
    "instance_type",
    "workflow_engine_image",
    "toil_cli_options",
    "input_data_s3_uri",
    "input_data_dir",
    "job_retention_days",
    "subnet_id",
    "execution_stage",
)


class _HostGroupBase(_Strict):
    """One orchestrator host of `challenge:hosts`: the queues it serves and its own keys."""

    key: str = Field(
        alias="key",
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=40,
        description="Stable identifier of the host (its resource names); `default` is the one "
        "host of a stack without hosts.",
    )
    queues: tuple[QueueKeyText, ...] = Field(
        alias="queues", min_length=1, description="Keys of the queues this host serves."
    )


def _override(name: str) -> tuple[Any, Any]:
    """A ChallengeSpec field as an optional group key: same alias, rules and description."""
    info = ChallengeSpec.model_fields[name]
    annotation: Any = info.annotation
    optional = annotation | None
    return (
        Annotated[optional, *info.metadata] if info.metadata else optional,
        Field(None, alias=info.alias, description=info.description),
    )


_OVERRIDE_FIELDS: dict[str, Any] = {name: _override(name) for name in HOST_GROUP_OVERRIDES}
HostGroupConfig = create_model("HostGroupConfig", __base__=_HostGroupBase, **_OVERRIDE_FIELDS)
ChallengeSpec.model_rebuild()


def is_production_endpoint(url: str) -> bool:
    """https to production Synapse's host (any case, an optional trailing slash)."""
    parsed = urllib.parse.urlsplit(url)
    production = urllib.parse.urlsplit(PRODUCTION_SYNAPSE_ENDPOINT)
    return (
        parsed.scheme == "https"
        and (parsed.hostname or "").lower() == production.hostname
        and parsed.port in (None, 443)
    )


def synapse_endpoint_problem(url: str, trusted_host: str | None = None) -> str | None:
    """Why `url` must not receive the organiser's token, or None.

    Allowed: production Synapse, a loopback server (http or https), and the one host the stack
    names in `trustedSynapseHost` (https). Anything else would hand the token to a stranger.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        return f"{url!r} has spaces or control characters"
    parsed = urllib.parse.urlsplit(url)
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return f"{url!r} has an invalid port"
    host = (parsed.hostname or "").lower()
    if (
        parsed.scheme not in ("http", "https")
        or not host
        or parsed.username is not None
        or parsed.path.rstrip("/")
        or parsed.query
        or parsed.fragment
    ):
        return (
            f"{url!r} is not a base URL such as {PRODUCTION_SYNAPSE_ENDPOINT} (scheme and host, "
            "no user, path or query)"
        )
    if is_loopback_host(host):
        return None
    if parsed.scheme != "https":
        return f"{url!r}: plain http is allowed only for a local server on loopback"
    if is_production_endpoint(url):
        return None
    if trusted_host is not None and host == trusted_host:
        return None
    return (
        f"{url!r} would receive the organiser's token; allowed are "
        f"{PRODUCTION_SYNAPSE_ENDPOINT} and loopback URLs (a local emulator); to trust another "
        f"Synapse server, name its host in challenge:trustedSynapseHost: {host}"
    )


#: camelCase stack key -> model field, for every non-secret key.
STACK_KEYS: dict[str, str] = {
    (field.alias or name): name for name, field in ChallengeSpec.model_fields.items()
}
