"""What the orchestrator host's user data is rendered from, and the one mapping from a stack to it.

`host_settings(config)` is the only place a validated stack becomes host settings: the Pulumi
program (components/orchestrator_host.py), `python -m userdata render` and the VM boot test all
call it, then add the Synapse IDs with `with_synapse_ids`. A setting named like a `ChallengeSpec`
field is copied from the stack by that name; a field marked `OrchestratorEnv("NAME")` goes into the
orchestrator's `.env` and its compose `environment:` list. So a new host setting is the stack key
(stackconfig/model.py), its field here, and the template that uses it (`settings.<name>`).

Values are checked by the shared rules in `rules.py`; every problem is reported at once, naming the
setting and its stack key. No Pulumi in here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

import rules
from rules import (
    AwsRegion,
    DockerhubUsername,
    DockerImage,
    ExecutionStage,
    HostDataDir,
    JobRetentionDays,
    Kind,
    MaxConcurrentSubmissions,
    NotificationMask,
    NumericId,
    RwVolume,
    S3Uri,
    StackName,
    SynapseId,
    SynapseName,
    SynapseUsername,
    ToilCliOptions,
)
from stackconfig.model import (
    DEFAULT_AMI_SSM_PARAMETER,
    DEFAULT_INPUT_DATA_DIR,
    DEFAULT_TOIL_CLI_OPTIONS,
    STACK_KEYS,
    ChallengeSpec,
)

from .errors import UserDataError

if TYPE_CHECKING:
    from stackconfig import StackConfig

#: The one OS family the bootstrap supports (its packages and paths are Debian 13's).
SUPPORTED_OS = ("debian-13",)
#: The orchestrator finds its job volume as `<COMPOSE_PROJECT_NAME>_shared` (upstream
#: src/main/java/org/sagebionetworks/Utils.java, getProperty("COMPOSE_PROJECT_NAME")).
COMPOSE_PROJECT_NAME = "workflow_orchestrator"
#: The host's own Docker engine, through the socket the compose file mounts.
DOCKER_ENGINE_URL = "unix:///var/run/docker.sock"

_SSM_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1010}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")
_ENV_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Characters of a Synapse personal access token (a JWT: base64url parts joined by dots).
TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


# --- where the orchestrator's Synapse token comes from at boot --------------------------------


@dataclass(frozen=True)
class SsmParameterToken:
    """EC2: a SecureString in SSM Parameter Store, read with the instance role at boot."""

    name: str
    region: str

    def __post_init__(self) -> None:
        if not _SSM_NAME.fullmatch(self.name):
            raise UserDataError(
                f"token_source: SSM parameter name {self.name!r} must start with '/' and use only "
                "letters, digits and _.-/"
            )
        if rules.problem(AwsRegion, self.region):
            raise UserDataError(f"token_source: {self.region!r} is not an AWS region name")


@dataclass(frozen=True)
class FileToken:
    """Self-hosted site: a root-only file on the server holding the token."""

    path: str

    def __post_init__(self) -> None:
        if not _SAFE_PATH.fullmatch(self.path) or ".." in self.path.split("/"):
            raise UserDataError(
                f"token_source: {self.path!r} must be an absolute path of letters, digits and ._/-"
            )


@dataclass(frozen=True)
class EnvToken:
    """Self-hosted site: an environment variable set when the bootstrap is run by hand."""

    variable: str

    def __post_init__(self) -> None:
        if not _ENV_VARIABLE.fullmatch(self.variable):
            raise UserDataError(
                f"token_source: {self.variable!r} is not an environment variable name"
            )


@dataclass(frozen=True)
class InlineToken:
    """The token itself, written into the user data: only on explicit, warned request."""

    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.value or not TOKEN_CHARACTERS.fullmatch(self.value):
            raise UserDataError(
                "token_source: the token is empty or has characters a Synapse personal access "
                "token never has (value not shown)"
            )


TokenSource = SsmParameterToken | FileToken | EnvToken | InlineToken


# --- the settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrchestratorEnv:
    """Marks a setting as the orchestrator's `.env` variable `name` (and its compose list).

    `omit_unset`: no entry at all when the setting is None (the bootstrap may add one itself).
    """

    name: str
    omit_unset: bool = False


class HostSettings(BaseModel):
    """Everything the host's bootstrap takes from the stack, as plain values; never the token.

    Fields named like a `ChallengeSpec` field are filled from the stack by `host_settings()`; the
    others (challenge_name .. target_os) are derived there.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    # --- derived from the stack and the deployment
    challenge_name: SynapseName
    stack: StackName
    region: AwsRegion
    token_source: TokenSource
    #: Install the SSM agent when absent (EC2, for Session Manager); off for self-hosted sites.
    install_ssm_agent: bool = True
    target_os: Literal["debian-13"] = "debian-13"
    #: Initial drain state; afterwards `challenge-accept-submissions` on the host owns it.
    accept_new_submissions: bool = True
    # --- copied from the stack key of the same name
    orchestrator_synapse_username: Annotated[SynapseUsername, OrchestratorEnv("SYNAPSE_USERNAME")]
    orchestrator_image: DockerImage
    kind: Kind = "model-to-data"
    max_concurrent_submissions: Annotated[
        MaxConcurrentSubmissions, OrchestratorEnv("MAX_CONCURRENT_WORKFLOWS")
    ] = 10
    toil_cli_options: Annotated[ToilCliOptions, OrchestratorEnv("TOIL_CLI_OPTIONS")] = (
        DEFAULT_TOIL_CLI_OPTIONS
    )
    submitter_notification_mask: Annotated[
        NotificationMask, OrchestratorEnv("SUBMITTER_NOTIFICATION_MASK")
    ] = 31
    share_results_immediately: Annotated[bool, OrchestratorEnv("SHARE_RESULTS_IMMEDIATELY")] = True
    #: Without an override the bootstrap adds the ID of the engine image it built.
    workflow_engine_image: Annotated[
        DockerImage | None, OrchestratorEnv("WORKFLOW_ENGINE_DOCKER_IMAGE", omit_unset=True)
    ] = None
    input_data_dir: HostDataDir = DEFAULT_INPUT_DATA_DIR
    input_data_s3_uri: S3Uri | None = None
    job_retention_days: JobRetentionDays = 7
    #: After this instant the host stops taking submissions; None: never.
    end_date: AwareDatetime | None = None
    #: With an end date: power the host off once no evaluation runs.
    stop_host_after_end: bool = True
    run_workflow_container_in_privileged_mode: Annotated[
        bool, OrchestratorEnv("RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE")
    ] = False
    #: None: ALL (the orchestrator's default).
    execution_stage: Annotated[ExecutionStage | None, OrchestratorEnv("EXECUTION_STAGE")] = None
    rw_volumes: Annotated[tuple[RwVolume, ...], OrchestratorEnv("RW_VOLUMES")] = ()
    dockerhub_username: Annotated[
        DockerhubUsername | None, OrchestratorEnv("DOCKERHUB_USERNAME")
    ] = None
    # --- derived: where the host reads DOCKERHUB_PASSWORD at boot (never the value)
    dockerhub_password_source: TokenSource | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise UserDataError("; ".join(_problems(exc))) from None

    @model_validator(mode="after")
    def _dockerhub_username_with_its_password(self) -> HostSettings:
        if (self.dockerhub_username is None) != (self.dockerhub_password_source is None):
            raise ValueError("dockerhub_username: needs the Docker Hub password too, and back")
        if isinstance(self.dockerhub_password_source, InlineToken):
            raise ValueError("dockerhub_password_source: must not be written into user data")
        return self

    @model_validator(mode="after")
    def _input_data_is_for_model_to_data(self) -> HostSettings:
        if self.input_data_s3_uri is not None and self.kind != "model-to-data":
            raise ValueError("input_data_s3_uri: input data is for model-to-data only")
        return self

    @model_validator(mode="after")
    def _rw_volumes_are_mountable(self) -> HostSettings:
        problems = rules.rw_volume_problems(self.rw_volumes)
        if problems:
            index, problem = problems[0]
            raise ValueError(f"rw_volumes: [{index}] {problem}")
        return self

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, validated like a new one (`model_copy` would not check them)."""
        return type(self)(**{**dict(self), **changes})

    @property
    def input_data_bucket_and_prefix(self) -> tuple[str, str] | None:
        """(bucket, prefix without slashes) of `input_data_s3_uri`, or None."""
        return None if self.input_data_s3_uri is None else parse_s3_uri(self.input_data_s3_uri)

    def with_synapse_ids(
        self,
        logs_folder_id: str,
        evaluation_templates: Mapping[str, str],
        *,
        placeholder_ids: bool = False,
    ) -> BootstrapSettings:
        """These settings plus the IDs the Synapse side has (or placeholders for a review)."""
        return BootstrapSettings(
            **dict(self),
            logs_folder_id=logs_folder_id,
            evaluation_templates=dict(evaluation_templates),
            placeholder_ids=placeholder_ids,
        )


class BootstrapSettings(HostSettings):
    """Host settings plus the Synapse IDs: all the user data is rendered from.

    `evaluation_templates` maps an evaluation (queue) ID to the Synapse ID of the workflow file.
    """

    logs_folder_id: Annotated[SynapseId, OrchestratorEnv("WORKFLOW_OUTPUT_ROOT_ENTITY_ID")]
    evaluation_templates: Annotated[
        dict[NumericId, SynapseId],
        Field(min_length=1),
        AfterValidator(lambda templates: dict(sorted(templates.items()))),
        OrchestratorEnv("EVALUATION_TEMPLATES"),
    ]
    #: True when the Synapse IDs are stand-ins (rendered for review before they exist).
    placeholder_ids: bool = False


def host_settings(
    config: StackConfig, token_source: TokenSource | None = None, *, host_key: str | None = None
) -> HostSettings:
    """The host settings of a validated stack: the one mapping from stack keys to the host.

    The token is read at boot from SSM (the parameter `pulumi up` creates; a further host of a
    fleet, `host_key`, has its own) unless a self-hosted `token_source` says otherwise. For a host
    of `challenge:hosts`, pass `config.for_host(group)`: the stack as that host sees it.
    """
    spec = config.spec
    source = token_source or SsmParameterToken(
        token_parameter_name(spec.name, config.stack, host_key), config.region
    )
    dockerhub = (
        dockerhub_password_source(source, spec.name, config.stack, host_key)
        if spec.dockerhub_username and not isinstance(source, InlineToken)
        else None
    )
    same_name = {
        name: getattr(spec, name)
        for name in HostSettings.model_fields
        if name in ChallengeSpec.model_fields
    }
    return HostSettings(
        **same_name,
        challenge_name=spec.name,
        stack=config.stack,
        region=config.region,
        token_source=source,
        install_ssm_agent=isinstance(source, SsmParameterToken),
        target_os=os_for_ami_parameter(spec.ami_ssm_parameter),
        dockerhub_password_source=dockerhub,
    )


#: Stand-ins for the Synapse IDs before they exist (`make check`, a review render): one digit
#: wider than Synapse's IDs today, so user data that fits EC2's 16 KB with them fits with the real
#: ones.
PLACEHOLDER_LOGS_FOLDER_ID = "syn999999999"
PLACEHOLDER_WORKFLOW_FILE_ID = "syn999999998"
PLACEHOLDER_FIRST_EVALUATION_ID = 999_000_000


def placeholder_evaluation_templates(queue_count: int) -> dict[str, str]:
    """One placeholder evaluation ID per queue, all pointing at the placeholder workflow file."""
    return {
        str(PLACEHOLDER_FIRST_EVALUATION_ID + i): PLACEHOLDER_WORKFLOW_FILE_ID
        for i in range(queue_count)
    }


def orchestrator_env(settings: BootstrapSettings) -> list[tuple[str, str]]:
    """The non-secret .env entries in file order; SYNAPSE_PAT and the drain switch follow them."""
    return [
        ("COMPOSE_PROJECT_NAME", COMPOSE_PROJECT_NAME),
        ("DOCKER_ENGINE_URL", DOCKER_ENGINE_URL),
        *(
            (marker.name, _env_value(getattr(settings, name)))
            for name, marker in _env_fields()
            if not (marker.omit_unset and getattr(settings, name) is None)
        ),
    ]


def compose_environment() -> tuple[str, ...]:
    """Variables the compose file passes to the orchestrator, all read from .env."""
    return (
        "COMPOSE_PROJECT_NAME",
        "DOCKER_ENGINE_URL",
        "SYNAPSE_PAT",
        *(marker.name for _, marker in _env_fields()),
        "ACCEPT_NEW_SUBMISSIONS",
        "DOCKERHUB_PASSWORD",
    )


def _env_fields() -> Iterator[tuple[str, OrchestratorEnv]]:
    """(setting, marker) of every BootstrapSettings field marked OrchestratorEnv."""
    for name, info in BootstrapSettings.model_fields.items():
        for marker in info.metadata:
            if isinstance(marker, OrchestratorEnv):
                yield name, marker


def _env_value(value: object) -> str:
    """The orchestrator's spelling: booleans lower-case, mappings JSON, None empty (= unset)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"))
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))  # RW_VOLUMES: the orchestrator splits on ','
    return str(value)


def token_parameter_name(challenge_name: str, stack: str, host_key: str | None = None) -> str:
    """The SSM parameter holding the orchestrator's token: `/challenge/<name-slug>/<stack>/...`;
    each further host of a fleet (`host_key`) has its own, `.../<stack>/<host_key>/...`."""
    slug = re.sub(r"[^a-z0-9]+", "-", challenge_name.lower()).strip("-")[:100] or "challenge"
    host = f"{host_key}/" if host_key else ""
    return f"/challenge/{slug}/{stack}/{host}orchestrator-token"


def dockerhub_password_parameter_name(
    challenge_name: str, stack: str, host_key: str | None = None
) -> str:
    """The SSM parameter holding the Docker Hub password, beside the token's (one per host)."""
    token = token_parameter_name(challenge_name, stack, host_key)
    return token.rsplit("/", 1)[0] + "/dockerhub-password"


def dockerhub_password_source(
    token_source: TokenSource, challenge_name: str, stack: str, host_key: str | None = None
) -> TokenSource:
    """Where the host reads DOCKERHUB_PASSWORD: the same kind of place as the token (its own SSM
    parameter, `dockerhub-password` beside the token file, or $DOCKERHUB_PASSWORD)."""
    if isinstance(token_source, SsmParameterToken):
        return SsmParameterToken(
            dockerhub_password_parameter_name(challenge_name, stack, host_key),
            token_source.region,
        )
    if isinstance(token_source, FileToken):
        return FileToken(token_source.path.rsplit("/", 1)[0] + "/dockerhub-password")
    if isinstance(token_source, EnvToken):
        return EnvToken("DOCKERHUB_PASSWORD")
    raise UserDataError(
        _problem("dockerhub_password_source", "only from SSM, a local file or the environment")
    )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix/`; the prefix has no leading or trailing '/'."""
    match = re.fullmatch(rules.S3_URI_PATTERN, uri)
    if not match:
        raise UserDataError(
            _problem("input_data_s3_uri", f"{uri!r} is not an s3://bucket[/prefix] URI")
        )
    return match["bucket"], (match["prefix"] or "").strip("/")


def os_for_ami_parameter(name: str) -> Literal["debian-13"]:
    """The OS an AMI's public SSM parameter stands for, if the bootstrap supports it."""
    if rules.problem(rules.AmiSsmParameter, name):
        raise UserDataError(
            _problem(
                "target_os",
                f"{name!r} is not a supported AMI; the bootstrap supports Debian 13 only, e.g. "
                f"{DEFAULT_AMI_SSM_PARAMETER} (or .../arm64)",
            )
        )
    return "debian-13"


#: Settings that are not a stack key of the same name -> where an organiser fixes them.
_DERIVED_SOURCES = {
    "challenge_name": "challenge:name",
    "stack": "the stack name",
    "region": "aws:region",
    "target_os": "challenge:amiSsmParameter",
    "dockerhub_password_source": "challenge:dockerhubPassword",
    "logs_folder_id": "the Logs folder's Synapse ID",
    "evaluation_templates": "the queues' evaluation IDs and the workflow file's Synapse ID",
}
_ALIASES = {name: alias for alias, name in STACK_KEYS.items()}


def _problem(setting: str, message: str) -> str:
    alias = _ALIASES.get(setting)
    source = f"challenge:{alias}" if alias else _DERIVED_SOURCES.get(setting)
    return f"{setting} ({source}): {message}" if source else f"{setting}: {message}"


def _problems(exc: ValidationError) -> Iterator[str]:
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not loc:  # a rule across settings says which one it is about: "<setting>: ..."
            setting, _, message = message.partition(": ")
            yield _problem(setting, message)
            continue
        setting, where = loc[0], ".".join(loc[1:])
        value = error.get("input")
        shown = "" if setting == "token_source" else f"{value!r} "
        yield _problem(setting, f"{where + ': ' if where else ''}{shown}{message}")
