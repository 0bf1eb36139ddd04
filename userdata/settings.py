"""What the orchestrator host's user data is rendered from: plain values, validated up front.

Every problem is reported at once, naming the setting (and its stack key) and what is allowed, so
a bad value is an error at preview time instead of a host that fails at boot.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import UserDataError

#: The one OS family the bootstrap supports (its packages and paths are Debian 13's).
SUPPORTED_OS = ("debian-13",)
DEFAULT_AMI_SSM_PARAMETER = "/aws/service/debian/release/13/latest/amd64"
DEFAULT_INPUT_DATA_DIR = "/home/user/input_data"
DEFAULT_TOIL_CLI_OPTIONS = "--defaultMemory 100M --retryCount 0 --defaultDisk 1G"
DEFAULT_COMPOSE_PROJECT_NAME = "workflow_orchestrator"
DEFAULT_DOCKER_ENGINE_URL = "unix:///var/run/docker.sock"
KINDS = ("model-to-data", "data-to-model")
#: EXECUTION_STAGE values (EvaluationUtils); None means ALL.
EXECUTION_STAGES = ("ALL", "VALIDATION", "EXECUTION")
#: One RW_VOLUMES entry: the orchestrator splits the list on ',' and each entry on ':'.
_RW_VOLUME = re.compile(r"^/[A-Za-z0-9._/-]*:/[A-Za-z0-9._/-]*$")
_DOCKERHUB_USER = re.compile(r"^[a-z0-9]{4,30}$")

_AMI_PARAMETER = re.compile(
    r"^/aws/service/debian/(release|daily)/(13|trixie)/[^/\s]+/(amd64|arm64)$"
)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_STACK = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,256}$")
_SYNAPSE_ID = re.compile(r"^syn[0-9]+$")
_EVALUATION_ID = re.compile(r"^[0-9]+$")
_PRINCIPAL_ID = re.compile(r"^[0-9]+$")
#: A Docker image reference: repository (optional registry with port), then tag and/or digest.
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+(?=/))?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")
_S3_URI = re.compile(
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>[A-Za-z0-9!_.*()/=+-]*))?$"
)
_ENV_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SSM_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]{1,1010}$")
#: Characters of a Synapse personal access token (a JWT: base64url parts joined by dots).
TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
_COMPOSE_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DOCKER_URL = re.compile(r"^(unix|tcp)://[A-Za-z0-9._:/-]+$")
_SYSTEM_DIRS = {"/", "/bin", "/boot", "/etc", "/opt", "/opt/orchestrator", "/usr", "/var", "/root"}

#: Setting -> the stack key (or source) an organiser changes to fix it.
SOURCE_KEYS = {
    "challenge_name": "challenge:name",
    "stack": "the stack name",
    "region": "aws:region",
    "orchestrator_synapse_username": "challenge:orchestratorSynapseUsername",
    "logs_folder_id": "the Logs folder's Synapse ID",
    "evaluation_templates": "the queues' evaluation IDs and the workflow file's Synapse ID",
    "max_concurrent_workflows": "challenge:maxConcurrentSubmissions",
    "orchestrator_image": "challenge:orchestratorImage",
    "workflow_engine_image": "challenge:workflowEngineImage",
    "kind": "challenge:kind",
    "input_data_dir": "challenge:inputDataDir",
    "input_data_s3_uri": "challenge:inputDataS3Uri",
    "job_retention_days": "challenge:jobRetentionDays",
    "submitter_notification_mask": "challenge:submitterNotificationMask",
    "share_results_immediately": "challenge:shareResultsImmediately",
    "toil_cli_options": "challenge:toilCliOptions",
    "execution_stage": "challenge:executionStage",
    "rw_volumes": "challenge:rwVolumes",
    "dockerhub_username": "challenge:dockerhubUsername",
    "dockerhub_password_source": "challenge:dockerhubPassword",
    "target_os": "challenge:amiSsmParameter",
}


def _problem(setting: str, message: str) -> str:
    source = SOURCE_KEYS.get(setting)
    return f"{setting} ({source}): {message}" if source else f"{setting}: {message}"


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
        if not _REGION.fullmatch(self.region):
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
class BootstrapSettings:
    """Everything the host's bootstrap needs, as plain values; never the token itself.

    `evaluation_templates` maps an evaluation (queue) ID to the Synapse ID of the workflow file.
    """

    challenge_name: str
    stack: str
    region: str
    orchestrator_synapse_username: str
    token_source: TokenSource
    logs_folder_id: str
    evaluation_templates: Mapping[str, str]
    max_concurrent_workflows: int
    orchestrator_image: str
    kind: str = "model-to-data"
    workflow_engine_image: str | None = None
    input_data_dir: str = DEFAULT_INPUT_DATA_DIR
    input_data_s3_uri: str | None = None
    job_retention_days: int = 7
    submitter_notification_mask: int = 31
    share_results_immediately: bool = True
    toil_cli_options: str = DEFAULT_TOIL_CLI_OPTIONS
    #: Initial drain state; afterwards `challenge-accept-submissions` on the host owns it.
    accept_new_submissions: bool = True
    notification_principal_id: str | None = None
    data_unlock_synapse_principal_id: str | None = None
    compose_project_name: str = DEFAULT_COMPOSE_PROJECT_NAME
    docker_engine_url: str = DEFAULT_DOCKER_ENGINE_URL
    #: Install the SSM agent when absent (EC2, for Session Manager); off for self-hosted sites.
    install_ssm_agent: bool = True
    target_os: str = "debian-13"
    #: True when the Synapse IDs are stand-ins (rendered for review before they exist).
    placeholder_ids: bool = False
    #: After this instant the host stops taking submissions (`endDate`); None: never.
    end_date: dt.datetime | None = None
    #: With an end date: power the host off once no evaluation runs (`stopHostAfterEnd`).
    stop_host_after_end: bool = True
    #: RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE, EXECUTION_STAGE (None: ALL), RW_VOLUMES entries.
    run_workflow_container_in_privileged_mode: bool = False
    execution_stage: str | None = None
    rw_volumes: tuple[str, ...] = ()
    #: DOCKERHUB_USERNAME, and where the host reads DOCKERHUB_PASSWORD at boot (never the value).
    dockerhub_username: str | None = None
    dockerhub_password_source: TokenSource | None = None

    def __post_init__(self) -> None:
        templates = self.evaluation_templates
        if isinstance(templates, Mapping):
            frozen = types.MappingProxyType({str(k): v for k, v in sorted(templates.items())})
            object.__setattr__(self, "evaluation_templates", frozen)
        problems = list(_check(self))
        if problems:
            raise UserDataError("; ".join(problems))

    @property
    def input_data_bucket_and_prefix(self) -> tuple[str, str] | None:
        """(bucket, prefix without slashes) of `input_data_s3_uri`, or None."""
        return None if self.input_data_s3_uri is None else parse_s3_uri(self.input_data_s3_uri)


def token_parameter_name(challenge_name: str, stack: str) -> str:
    """The SSM parameter holding the orchestrator's token: `/challenge/<name-slug>/<stack>/...`."""
    slug = re.sub(r"[^a-z0-9]+", "-", challenge_name.lower()).strip("-")[:100] or "challenge"
    return f"/challenge/{slug}/{stack}/orchestrator-token"


def dockerhub_password_parameter_name(challenge_name: str, stack: str) -> str:
    """The SSM parameter holding the Docker Hub password, beside the token's."""
    return token_parameter_name(challenge_name, stack).rsplit("/", 1)[0] + "/dockerhub-password"


def dockerhub_password_source(
    token_source: TokenSource, challenge_name: str, stack: str
) -> TokenSource:
    """Where the host reads DOCKERHUB_PASSWORD: the same kind of place as the token (its own SSM
    parameter, `dockerhub-password` beside the token file, or $DOCKERHUB_PASSWORD)."""
    if isinstance(token_source, SsmParameterToken):
        return SsmParameterToken(
            dockerhub_password_parameter_name(challenge_name, stack), token_source.region
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
    match = _S3_URI.fullmatch(uri)
    if not match:
        raise UserDataError(
            _problem("input_data_s3_uri", f"{uri!r} is not an s3://bucket[/prefix] URI")
        )
    return match["bucket"], (match["prefix"] or "").strip("/")


def os_for_ami_parameter(name: str) -> str:
    """The OS an AMI's public SSM parameter stands for, if the bootstrap supports it."""
    if not _AMI_PARAMETER.fullmatch(name):
        raise UserDataError(
            _problem(
                "target_os",
                f"{name!r} is not a supported AMI; the bootstrap supports Debian 13 only, e.g. "
                f"{DEFAULT_AMI_SSM_PARAMETER} (or .../arm64)",
            )
        )
    return "debian-13"


def image_problem(setting: str, image: str) -> str | None:
    """Why an image reference is not pinned and well formed, or None."""
    match = _IMAGE.fullmatch(image)
    if not match:
        return _problem(setting, f"{image!r} is not a Docker image reference")
    if not match["tag"] and not match["digest"]:
        return _problem(
            setting, f"{image!r} has no tag or digest; pin one, e.g. {image}:sha-abc1234"
        )
    if match["tag"] == "latest" and not match["digest"]:
        return _problem(setting, f"{image!r} follows 'latest'; pin a tag or digest")
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(s: BootstrapSettings) -> list[str]:
    out: list[str] = []
    if s.end_date is not None and (
        not isinstance(s.end_date, dt.datetime) or s.end_date.tzinfo is None
    ):
        out.append(_problem("end_date", "must be a date and time with a zone (endDate)"))
    if not s.challenge_name or len(s.challenge_name) > 256 or not s.challenge_name.isprintable():
        out.append(_problem("challenge_name", "must be 1..256 printable characters, one line"))
    if not _STACK.fullmatch(s.stack):
        out.append(_problem("stack", f"{s.stack!r} may use only letters, digits and _.-"))
    if not _REGION.fullmatch(s.region):
        out.append(_problem("region", f"{s.region!r} is not an AWS region name, e.g. us-east-1"))
    if not _USERNAME.fullmatch(s.orchestrator_synapse_username):
        out.append(
            _problem(
                "orchestrator_synapse_username",
                f"{s.orchestrator_synapse_username!r} is not a Synapse user name",
            )
        )
    if not isinstance(s.token_source, SsmParameterToken | FileToken | EnvToken | InlineToken):
        out.append(_problem("token_source", "must be SsmParameterToken, FileToken or EnvToken"))
    if not isinstance(s.logs_folder_id, str) or not _SYNAPSE_ID.fullmatch(s.logs_folder_id):
        out.append(_problem("logs_folder_id", f"{s.logs_folder_id!r} does not match syn[0-9]+"))
    if not isinstance(s.evaluation_templates, Mapping) or not s.evaluation_templates:
        out.append(_problem("evaluation_templates", "needs at least one evaluation ID"))
    else:
        for evaluation, workflow in s.evaluation_templates.items():
            if not _EVALUATION_ID.fullmatch(evaluation):
                out.append(
                    _problem("evaluation_templates", f"{evaluation!r} is not an evaluation ID")
                )
            if not isinstance(workflow, str) or not _SYNAPSE_ID.fullmatch(workflow):
                out.append(
                    _problem(
                        "evaluation_templates",
                        f"{evaluation}: {workflow!r} does not match syn[0-9]+ (URLs are rejected)",
                    )
                )
    if not _is_int(s.max_concurrent_workflows) or not 1 <= s.max_concurrent_workflows <= 100:
        out.append(
            _problem("max_concurrent_workflows", f"{s.max_concurrent_workflows!r} not in 1..100")
        )
    out.extend(p for p in [image_problem("orchestrator_image", s.orchestrator_image)] if p)
    if s.workflow_engine_image is not None:
        problem = image_problem("workflow_engine_image", s.workflow_engine_image)
        if problem:
            out.append(problem)
    if s.kind not in KINDS:
        out.append(_problem("kind", f"{s.kind!r} is not one of {', '.join(KINDS)}"))
    path = s.input_data_dir
    if (
        not _SAFE_PATH.fullmatch(path)
        or ".." in path.split("/")
        or path.rstrip("/") in _SYSTEM_DIRS
    ):
        out.append(
            _problem(
                "input_data_dir",
                f"{path!r} must be an absolute path of letters, digits and ._/- outside system "
                "directories",
            )
        )
    if s.input_data_s3_uri is not None:
        if not _S3_URI.fullmatch(s.input_data_s3_uri):
            out.append(
                _problem(
                    "input_data_s3_uri", f"{s.input_data_s3_uri!r} is not an s3://bucket[/prefix]"
                )
            )
        if s.kind != "model-to-data":
            out.append(_problem("input_data_s3_uri", "input data is for model-to-data only"))
    if not _is_int(s.job_retention_days) or not 1 <= s.job_retention_days <= 365:
        out.append(_problem("job_retention_days", f"{s.job_retention_days!r} not in 1..365"))
    mask = s.submitter_notification_mask
    if not _is_int(mask) or not 0 <= mask <= 31:
        out.append(_problem("submitter_notification_mask", f"{mask!r} not in 0..31"))
    if not isinstance(s.share_results_immediately, bool):
        out.append(_problem("share_results_immediately", "must be true or false"))
    options = s.toil_cli_options
    if not isinstance(options, str) or not options.isprintable() or "'" in options:
        out.append(_problem("toil_cli_options", "must be one line without single quotes"))
    elif "workdir" in options.lower() or "linkimports" in options.lower():
        out.append(
            _problem("toil_cli_options", "must not contain --workDir or LinkImports (set by it)")
        )
    for name in ("notification_principal_id", "data_unlock_synapse_principal_id"):
        value = getattr(s, name)
        if value is not None and not _PRINCIPAL_ID.fullmatch(value):
            out.append(_problem(name, f"{value!r} is not a numeric Synapse principal ID"))
    if not _COMPOSE_PROJECT.fullmatch(s.compose_project_name):
        out.append(_problem("compose_project_name", "lower-case letters, digits, _ and - only"))
    if not _DOCKER_URL.fullmatch(s.docker_engine_url):
        out.append(_problem("docker_engine_url", "must be a unix:// or tcp:// URL"))
    if s.execution_stage not in (None, *EXECUTION_STAGES):
        out.append(
            _problem("execution_stage", f"{s.execution_stage!r} not one of {EXECUTION_STAGES}")
        )
    for volume in s.rw_volumes:
        if not _RW_VOLUME.fullmatch(volume):
            out.append(_problem("rw_volumes", f"{volume!r} is not /host/path:/container/path"))
    if (s.dockerhub_username is None) != (s.dockerhub_password_source is None):
        out.append(_problem("dockerhub_username", "needs the Docker Hub password too, and back"))
    if s.dockerhub_username is not None and not _DOCKERHUB_USER.fullmatch(s.dockerhub_username):
        out.append(_problem("dockerhub_username", f"{s.dockerhub_username!r} is not one"))
    if isinstance(s.dockerhub_password_source, InlineToken):
        out.append(_problem("dockerhub_password_source", "must not be written into user data"))
    if s.target_os not in SUPPORTED_OS:
        out.append(
            _problem("target_os", f"{s.target_os!r} is not supported; supported: {SUPPORTED_OS}")
        )
    return out
