"""Every value rule the stack, sizing and the host's user data share, stated once.

Constrained types (pydantic `Annotated`): the config model declares its fields with them, the host
settings (`userdata.settings`) validate with the same ones, and sizing checks its inputs through
`problem()`. A rule changes here or nowhere. No Pulumi, no I/O: cheap to import from anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("is true/false, not a whole number")
    return value


#: A whole number as a stack file or Pulumi's string config gives it, never a YAML true/false.
WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean)]


# --- Synapse ---------------------------------------------------------------------------------

#: Characters Synapse allows in entity, team and evaluation names (ModelConstants.
#: VALID_ENTITY_NAME_REGEX in Synapse-Repository-Services: commas too).
SYNAPSE_NAME_PATTERN = r"^[A-Za-z0-9 _\-.+'(),]+$"
SynapseName = Annotated[str, Field(min_length=1, max_length=256, pattern=SYNAPSE_NAME_PATTERN)]
SynapseId = Annotated[str, Field(pattern=r"^syn[0-9]+$")]
#: Evaluation (queue) IDs and principal (user, team) IDs are plain numbers.
NumericId = Annotated[str, Field(pattern=r"^[0-9]+$")]
#: Synapse user names: letters, digits, '.', '_' and '-' (Synapse's own rule for new accounts).
SynapseUsername = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._-]+$")]


def name_key(name: str) -> str:
    """What makes two queue names the same: case is ignored, because queue keys derive from the
    lower-cased name, so `Main` and `main` would collide in the plan."""
    return name.casefold()


def duplicate_names(names: Iterable[str]) -> list[str]:
    """Names used twice (by `name_key`)."""
    names = list(names)
    keys = [name_key(n) for n in names]
    return sorted({n for n in names if keys.count(name_key(n)) > 1})


# --- AWS -------------------------------------------------------------------------------------

#: A region name: `us-east-1`, `ap-southeast-7`, `us-gov-west-1`, `cn-north-1`.
AwsRegion = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
#: Debian 13's public AMI parameters (`release` or `daily`, by number or code name).
AMI_SSM_PARAMETER_PATTERN = (
    r"^/aws/service/debian/(release|daily)/(13|trixie)/[^/\s]+/(amd64|arm64)$"
)
AmiSsmParameter = Annotated[str, Field(pattern=AMI_SSM_PARAMETER_PATTERN)]
AmiId = Annotated[str, Field(pattern=r"^ami-[0-9a-f]{8,17}$")]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
InstanceTypeName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")]
#: The smallest root volume we create, whatever the disk model sums to: room for an OS upgrade and
#: stray logs, and above the 8 GiB of Debian's AMI snapshot (a volume smaller than its snapshot
#: cannot be created). gp3 volumes go up to 16 TiB.
MIN_ROOT_VOLUME_GIB = 20
MAX_ROOT_VOLUME_GIB = 16384
RootVolumeGiB = Annotated[WholeNumber, Field(ge=MIN_ROOT_VOLUME_GIB, le=MAX_ROOT_VOLUME_GIB)]
S3_URI_PATTERN = (
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>[A-Za-z0-9!_.*()/=+-]*))?$"
)
#: An S3 prefix; its characters are the ones safe in an IAM ARN and a shell word.
S3Uri = Annotated[str, Field(pattern=S3_URI_PATTERN)]


# --- the host --------------------------------------------------------------------------------

#: `model-to-data`: participants submit images the host runs; `data-to-model`: prediction files.
Kind = Literal["model-to-data", "data-to-model"]
KINDS: tuple[str, ...] = get_args(Kind)

#: A Docker image reference as the distribution/reference grammar has it: optional registry
#: (host[:port]), lower-case path components, then a tag and/or a sha256 digest.
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
#: A first component is a registry only with a dot, a port or as `localhost` (else it is a path).
_REGISTRY = (
    rf"(?:(?:localhost|{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})+)(?::[0-9]+)?"
    rf"|{_DOMAIN_COMPONENT}:[0-9]+)"
)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_PATTERN = re.compile(
    rf"^(?P<repository>(?:{_REGISTRY}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _image_reference(image: str) -> str:
    if not IMAGE_PATTERN.fullmatch(image):
        raise ValueError("is not a Docker image reference")
    return image


#: A well-formed image reference; whether it may move is `moving_image_problem`'s rule.
DockerImage = Annotated[str, AfterValidator(_image_reference)]

#: Tags that follow a branch or "the newest": a reboot or a re-pull may change what runs.
MOVING_IMAGE_TAGS = frozenset(
    {"latest", "master", "main", "develop", "dev", "edge", "nightly", "stable", "head"}
)


def image_tag(image: str) -> str | None:
    """The tag of an image reference, None when it has none (a digest alone pins it)."""
    match = IMAGE_PATTERN.fullmatch(image)
    if match:
        return match["tag"]
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def moving_image_problem(image: str) -> str | None:
    """Why `image` may change under a running challenge, or None (digest or fixed tag)."""
    if "@sha256:" in image:
        return None
    tag = image_tag(image)
    if tag is None:
        return f"{image!r} has no tag: Docker pulls `latest`, which moves"
    if tag.lower() in MOVING_IMAGE_TAGS:
        return f"{image!r} follows the moving tag `{tag}`"
    return None


#: Where challenge input data may live: the template's default and a dedicated tree. Boot runs
#: `aws s3 sync` as root into it, so a system directory (`/etc/cron.d`, `/root/.ssh`) is refused.
INPUT_DATA_ROOTS = ("/home/user/input_data", "/data")


def input_data_dir_problem(path: str) -> str | None:
    """Why `path` may not hold challenge data (or be mounted read-write), or None."""
    parts = path.rstrip("/").split("/")
    if (
        not path.startswith("/")
        or any(p in ("", ".", "..") or not re.fullmatch(r"[A-Za-z0-9._-]+", p) for p in parts[1:])
        or len(parts) < 2
    ):
        return "must be an absolute path of letters, digits and ._- components (no '..')"
    normal = "/".join(parts)
    if not any(normal == root or normal.startswith(root + "/") for root in INPUT_DATA_ROOTS):
        return (
            "is outside the input data directories: use "
            + " or ".join(f"{root} (or a directory below it)" for root in INPUT_DATA_ROOTS)
            + "; boot syncs input data into it as root"
        )
    return None


def _input_data_dir(path: str) -> str:
    problem = input_data_dir_problem(path)
    if problem:
        raise ValueError(problem)
    return path.rstrip("/")


#: A host directory for challenge input data (normalised: no trailing '/').
HostDataDir = Annotated[str, AfterValidator(_input_data_dir)]


def _toil_options(value: str) -> str:
    if not value.isprintable() or "'" in value:
        raise ValueError("must be one line of printable characters without single quotes")
    lowered = value.lower()
    if "workdir" in lowered or "linkimports" in lowered:
        raise ValueError("must not contain --workDir or LinkImports (the orchestrator sets them)")
    return value


#: EXECUTION_STAGE (upstream EvaluationUtils): VALIDATION takes RECEIVED to VALIDATED, EXECUTION
#: VALIDATED to ACCEPTED, ALL both.
ExecutionStage = Literal["ALL", "VALIDATION", "EXECUTION"]
#: One RW_VOLUMES entry: two absolute paths without ':' or ',' (DockerUtils.createModelContainer
#: splits the list on ',' and each entry on ':').
RW_VOLUME_PATTERN = r"^/[A-Za-z0-9._/-]*:/[A-Za-z0-9._/-]*$"
RwVolume = Annotated[str, Field(pattern=RW_VOLUME_PATTERN)]
#: Docker Hub user names: 4-30 lower-case letters and digits.
DockerhubUsername = Annotated[str, Field(pattern=r"^[a-z0-9]{4,30}$")]

#: Extra toil-cwl-runner options (TOIL_CLI_OPTIONS); the orchestrator adds its own after them.
ToilCliOptions = Annotated[str, AfterValidator(_toil_options)]
#: Evaluations at once (MAX_CONCURRENT_WORKFLOWS).
MaxConcurrentSubmissions = Annotated[WholeNumber, Field(ge=1, le=100)]
#: Days finished job folders stay. At least 1: with 0 the daily clean-up would delete every job
#: folder not mounted at that moment, including ones a workflow is about to upload from.
JobRetentionDays = Annotated[WholeNumber, Field(ge=1, le=365)]
#: SUBMITTER_NOTIFICATION_MASK: 1 started, 2 completed, 4 failed, 8 stopped, 16 timed out.
NotificationMask = Annotated[WholeNumber, Field(ge=0, le=31)]
#: A Pulumi stack name as it appears in tags and the SSM parameter path.
StackName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]


def problem(type_: Any, value: object, *, strict: bool = False) -> str | None:
    """Why `value` breaks the rule of `type_` (one line, without the value), or None: for code
    that validates outside a pydantic model. `strict`: no conversion (no "4" for 4)."""
    try:
        TypeAdapter(type_).validate_python(value, strict=strict)
    except ValidationError as exc:
        return "; ".join(_message(error) for error in exc.errors())
    return None


def _message(error: Any) -> str:
    """pydantic's message, without its 'Value error, ' prefix."""
    return str(error["msg"]).removeprefix("Value error, ")
