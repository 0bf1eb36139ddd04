"""Every value rule the stack, sizing and the host's user data share, stated once.

Constrained types (pydantic `Annotated`): the config model declares its fields with them, the host
settings (`userdata.settings`) validate with the same ones, and sizing checks its inputs through
`problem()`. A rule changes here or nowhere. No Pulumi, no I/O: cheap to import from anywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def _whole_number_as_text(value: object) -> object:
    """A YAML whole number as its digits: `pulumi config set --path` stores `3412345` as a
    number. A decimal or true/false is no ID (YAML reads `1.0` and `yes` so)."""
    if isinstance(value, bool):
        raise ValueError("is true/false, not an ID or key")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError("is a decimal number, not an ID or key: write the digits only")
    return value


#: A Synapse team ID, written as text or as a YAML whole number.
TeamId = Annotated[NumericId, BeforeValidator(_whole_number_as_text)]
#: A reference to a queue key (`hosts[].queues`): `1` names the queue whose key is "1".
QueueKeyText = Annotated[str, BeforeValidator(_whole_number_as_text)]
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


def _listed(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


#: Roles whose team gets no grant on a project or queue a member could misuse: the
#: preregistrants team gets none at all (components/synapse/site_plan.py), the participants team
#: only SUBMIT on the queues at launch (components/challenge_launch.py).
_UNPRIVILEGED_ROLES = frozenset({"participants", "preregistrants"})


def shared_team_problems(team_ids: Mapping[str, str | None]) -> list[str]:
    """One line per team ID given for roles that must not share a team (existing team IDs by
    role). Participants and preregistrants may share one: neither role gets rights to manage
    anything. A team that is admin and organizers would hold two different grants (ADMIN, and
    MODERATE on the live project / EDIT on staging) on each project, one access entry per team:
    the grants overwrite each other. Any other pair gives participants or preregistrants (teams
    anyone may be let into) admin or organizer rights."""
    roles_by_id: dict[str, list[str]] = {}
    for role, team_id in team_ids.items():
        if team_id:
            roles_by_id.setdefault(str(team_id), []).append(role)
    problems = []
    for team_id, roles in roles_by_id.items():
        if len(roles) < 2 or set(roles) <= _UNPRIVILEGED_ROLES:
            continue
        open_roles = [r for r in roles if r in _UNPRIVILEGED_ROLES]
        privileged = [r for r in roles if r not in _UNPRIVILEGED_ROLES]
        if open_roles:
            where = "the projects and queues" if "admin" in privileged else "the projects"
            rights = f"the rights of {_listed(privileged)} on {where}"
            why = f"the {_listed(open_roles)} would get {rights}"
        else:
            why = (
                "that team would get two different grants on each project (ADMIN as "
                "admin; MODERATE on the live project and EDIT on staging as organizers) that "
                "conflict: a project's ACL holds one entry per team, so each grant would "
                "overwrite the other"
            )
        problems.append(
            f"{_listed(roles)} name the same team {team_id}: {why}; give {_listed(privileged)} "
            f"{'its own team' if len(privileged) == 1 else 'a team each'} (only participants and "
            "preregistrants may share one)"
        )
    return problems


class HidesValue(ValueError):
    """A problem whose report must not repeat the value: it may hold a credential."""


def checked_by(problem_of: Callable[[str], str | HidesValue | None]) -> AfterValidator:
    """The pydantic validator of a `*_problem` rule: its message is the error (a `HidesValue`
    one raised as it is, so the report does not repeat the value)."""

    def check(value: str) -> str:
        problem = problem_of(value)
        if isinstance(problem, HidesValue):
            raise problem
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


#: Characters of a URL path besides percent-escapes (RFC 3986 `pchar` and '/').
_URL_PATH = re.compile(r"^(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)+$")
_URL_QUERY = re.compile(r"^(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*$")
_HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


#: What the orchestrator fetches (upstream WorkflowURLDownloader.java): a URL whose path ends in
#: `.zip` (any case), or a GA4GH TRS tool version URL (a path containing this), whose files it
#: lists at `<url>/files`.
GA4GH_TRS_PATH = "/api/ga4gh/v2/tools"
#: Query parameter names (lower case, `-` read as `_`) that carry a credential, and parts of
#: names that do (`X-Amz-Signature`, `access_token`, `apiKey`, Azure's `sig`).
_CREDENTIAL_PARAMETERS = frozenset({"key", "sig", "pass", "pwd", "auth"})
_CREDENTIAL_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "credential",
    "auth",
    "apikey",
    "api_key",
    "access_key",
    "accesskey",
)
#: Prefixes of GitHub and GitLab tokens, wherever they sit in a query.
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-")


def _credential_in_query(query: str) -> bool:
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        name = name.lower().replace("-", "_")
        if (
            name in _CREDENTIAL_PARAMETERS
            or name.endswith("key")
            or name.startswith(("x_amz_", "x_goog_"))
            or any(part in name for part in _CREDENTIAL_PARTS)
            or any(text.lower().startswith(_TOKEN_PREFIXES) for text in (name, value))
        ):
            return True
    return False


def workflow_archive_url_problem(url: str) -> str | HidesValue | None:
    """Why the orchestrator could not fetch the workflow from `url`, or None. The URL is stored
    in Synapse (the workflow's file link) and downloaded by the orchestrator, so it is held as
    strictly as synapseEndpoint: https, printable ASCII, an ASCII host name, no user info, no
    fragment, no query parameter that looks like a credential (Zenodo's `?download=1` is
    fine). A `HidesValue` problem is about a part that may be a credential: report it without
    the URL."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "has spaces or control characters"
    foreign = sorted({f"U+{ord(c):04X}" for c in url if ord(c) > 127})
    if foreign:
        return (
            f"has non-ASCII characters ({', '.join(foreign)}): a look-alike letter in the host "
            "name would fetch the workflow from someone else; write it in ASCII (an "
            "international host name in its xn-- form)"
        )
    parsed = urllib.parse.urlsplit(url)
    if "@" in parsed.netloc:
        return HidesValue(
            "has user info (a name or token before '@'): a credential would sit in the stack "
            "file and in Synapse; use the archive's public URL"
        )
    if _credential_in_query(parsed.query):
        return HidesValue(
            "has a query parameter that looks like a credential (a token, key, signature or "
            "password): it would sit in the stack file and in Synapse, readable by everyone "
            "who can read the workflow file; use a public URL"
        )
    if "#" in url:
        return "has a fragment ('#...'); the archive is the path: remove it"
    trs = GA4GH_TRS_PATH in parsed.path
    if parsed.scheme != "https" or not (parsed.path.lower().endswith(".zip") or trs):
        return (
            "must be an https URL whose path ends in .zip, or a GA4GH TRS tool version URL "
            f"(path with {GA4GH_TRS_PATH}): the orchestrator fetches nothing else (upstream "
            "WorkflowURLDownloader); for GitHub use "
            "https://github.com/<org>/<repo>/archive/refs/heads/<branch>.zip"
        )
    if trs and "?" in url:
        return (
            "is a GA4GH TRS URL with a query: the orchestrator appends /files to the whole "
            "URL, which would land in the query; remove it"
        )
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "has an invalid port"
    if not _HOST_NAME.fullmatch(parsed.hostname or "") or _is_ip_address(parsed.hostname or ""):
        return "must name its server by host name (letters, digits, '-' and '.')"
    if not _URL_PATH.fullmatch(parsed.path):
        return "has characters a URL path may hold only percent-encoded (%XX)"
    if not _URL_QUERY.fullmatch(parsed.query):
        return "has characters a URL query may hold only percent-encoded (%XX)"
    return None


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: The workflow's zip archive or GA4GH TRS URL (`workflow_archive_url_problem`).
WorkflowArchiveUrl = Annotated[str, checked_by(workflow_archive_url_problem)]


def root_template_problem(path: str) -> str | None:
    """Why `path` is not a CWL file inside the unzipped archive (ROOT_TEMPLATE), or None."""
    parts = path.split("/")
    if (
        not re.fullmatch(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*", path)
        or any(p in (".", "..") for p in parts)
        or not parts[-1].endswith(".cwl")
        or parts[-1] == ".cwl"
    ):
        return (
            "must be a relative path inside the archive ending in .cwl: names of letters, "
            "digits and ._- separated by '/', without '..'"
        )
    return None


#: The workflow's entry file inside the archive (`root_template_problem`).
RootTemplate = Annotated[str, checked_by(root_template_problem)]


# --- AWS -------------------------------------------------------------------------------------

#: A region name: `us-east-1`, `ap-southeast-7`, `us-gov-west-1`, `cn-north-1`.
AwsRegion = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")]

#: `aws:` keys a stack may set: the default AWS provider's configuration (pulumi-aws 7.51.1,
#: `pulumi_aws/config/vars.py`) that chooses the account, region, credentials source, tags and
#: retries, and never where API calls go.
AWS_PROVIDER_KEYS = frozenset(
    {
        "region",
        "profile",
        "sharedConfigFiles",
        "sharedCredentialsFiles",
        "assumeRoles",
        "assumeRoleWithWebIdentity",
        "allowedAccountIds",
        "forbiddenAccountIds",
        "defaultTags",
        "ignoreTags",
        "maxRetries",
        "retryMode",
        "tokenBucketRateLimiterCapacity",
        "stsRegion",
        "useFipsEndpoint",
        "useDualstackEndpoint",
        "s3UsEast1RegionalEndpoint",
        "s3UsePathStyle",
        "ec2MetadataServiceEndpointMode",
        "noProxy",
        "userAgents",
        "tagPolicyCompliance",
        # Pulumi's default is true already; aws:region itself is held to the catalog regions.
        "skipRegionValidation",
        # Only drops the EC2 metadata service as a credential source (older pulumi-aws made
        # true the default: pulumi-aws "Do not skip metadata API check by default").
        "skipMetadataApiCheck",
    }
)
#: Credentials: allowed only as Pulumi secrets.
AWS_SECRET_KEYS = ("accessKey", "secretKey", "token")
#: Keys that send AWS API calls (the SSM write carrying the orchestrator's token among them)
#: somewhere else, or let someone else read them: refused whatever their value.
AWS_REDIRECTING_KEYS = {
    "endpoints": "sends API calls to other servers than AWS's",
    "httpProxy": "routes every API call through a proxy",
    "httpsProxy": "routes every API call through a proxy",
    "customCaBundle": "trusts another certificate authority, which can then read every API call",
    "ec2MetadataServiceEndpoint": (
        "takes credentials from another metadata server, so resources (and the token) could "
        "land in an account that is not yours"
    ),
}
#: Switches that turn a check off (meant for AWS look-alike APIs): refused unless false.
AWS_WEAKENING_KEYS = {
    "insecure": "turns off the TLS certificate check of every API call",
    "skipCredentialsValidation": "skips checking the credentials with STS before any call",
    "skipRequestingAccountId": "skips the account lookup that allowedAccountIds relies on",
}
#: Where sharedConfigFiles and sharedCredentialsFiles may point: an AWS folder (`.aws`) in a home
#: directory (`~`, `$HOME`, /root, /home/<user>, /Users/<user>), never a file of the repository.
AWS_SHARED_FILES_DIR = ".aws"


def aws_shared_file_problem(path: object) -> str | None:
    """Why `path` is not a file in an operator's own AWS folder, or None. A config file from
    elsewhere (the repository) can set endpoint_url or run a credential_process."""
    if not isinstance(path, str):
        return "is not a file path"
    if ".." in re.split(r"[/\\]", path):
        return "has a '..' component"
    if path == "$HOME" or path.startswith("$HOME/"):
        path = "~" + path.removeprefix("$HOME")
    home = os.path.expanduser("~")
    expanded = os.path.normpath(os.path.expanduser(path))
    folder = os.path.dirname(expanded)
    if not os.path.isabs(expanded) or os.path.basename(folder) != AWS_SHARED_FILES_DIR:
        return f"is not a file directly in a {AWS_SHARED_FILES_DIR} folder"
    owner = os.path.dirname(folder)
    if owner != home and owner != "/root" and not re.fullmatch(r"/(home|Users)/[^/]+", owner):
        return f"is in a {AWS_SHARED_FILES_DIR} folder outside a home directory"
    return None


def aws_key_problem(key: str, value: Any) -> str | None:
    """Why the stack must not set `aws:<key>` to `value` (a secret key is the caller's rule)."""
    import difflib

    allowed = "allowed: " + ", ".join(sorted(AWS_PROVIDER_KEYS)) + " (and the secrets "
    allowed += ", ".join(AWS_SECRET_KEYS) + ")"
    if key in AWS_REDIRECTING_KEYS:
        return (
            f"refused: it {AWS_REDIRECTING_KEYS[key]}, and one of those calls writes the "
            f"orchestrator's token to SSM; {allowed}"
        )
    if key in AWS_WEAKENING_KEYS:
        if value is False or str(value).lower() == "false":
            return None
        return f"refused: it {AWS_WEAKENING_KEYS[key]}; remove it (false is the default)"
    if key in ("sharedConfigFiles", "sharedCredentialsFiles"):
        files = value if isinstance(value, list) else [value]
        for file in files:
            problem = aws_shared_file_problem(file)
            if problem:
                return (
                    f"{_describe_value(value)}: {_describe_value(file)} {problem}; name files "
                    "in your home's .aws folder only (~/.aws/..., /home/<user>/.aws/...): a "
                    "config file from elsewhere (the repository) can set endpoint_url or run a "
                    "credential_process"
                )
        return None
    if key not in AWS_PROVIDER_KEYS:
        close = difflib.get_close_matches(
            key, [*AWS_PROVIDER_KEYS, *AWS_SECRET_KEYS, *AWS_REDIRECTING_KEYS], n=1
        )
        hint = f" (did you mean aws:{close[0]}?)" if close else ""
        return f"not a key of the AWS provider this program uses{hint}; {allowed}"
    return None


def _describe_value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


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
#: `s3://bucket[/prefix]`. The bucket follows AWS's general purpose bucket naming rules (checked in
#: full by `s3_uri_problem`); the prefix keeps to AWS's "safe" key characters, which are safe in an
#: IAM ARN and a shell word too. No `*`: `aws s3 sync` takes it literally (it syncs nothing), and
#: in the host role's IAM policy it would be a wildcard.
S3_URI_PATTERN = (
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>[A-Za-z0-9!_.()/=+-]*))?$"
)
#: Reserved bucket name prefixes and suffixes (AWS S3 User Guide, "General purpose bucket naming
#: rules": IDN names, access point and Object Lambda aliases, Multi-Region Access Points,
#: directory and table buckets).
S3_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_S3_NAMING = (
    "bucket names are 3-63 lower-case letters, digits, '.' and '-', starting and ending with a "
    "letter or digit (AWS's naming rules)"
)


def s3_uri_problem(uri: str) -> str | None:
    """Why `uri` is not an `s3://bucket[/prefix]` that `aws s3 sync` and IAM take as meant."""
    if not uri.startswith("s3://"):
        return "is not an s3://bucket[/prefix] URI"
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if "*" in prefix or "?" in prefix:
        return "has a wildcard in the prefix: aws s3 sync takes '*' literally (syncs nothing)"
    if not re.fullmatch(r"[a-z0-9.-]{3,63}", bucket) or not re.fullmatch(
        r"[a-z0-9].*[a-z0-9]", bucket
    ):
        return f"has bucket {bucket!r}: {_S3_NAMING}"
    if ".." in bucket:
        return f"has bucket {bucket!r} with two adjacent periods: {_S3_NAMING}"
    if re.fullmatch(r"[0-9]+(\.[0-9]+){3}", bucket):
        return f"has bucket {bucket!r} formatted as an IP address, which AWS refuses"
    reserved = [p for p in S3_RESERVED_BUCKET_PREFIXES if bucket.startswith(p)]
    reserved += [s for s in S3_RESERVED_BUCKET_SUFFIXES if bucket.endswith(s)]
    if reserved:
        return f"has bucket {bucket!r}: AWS reserves {reserved[0]!r} (not a bucket name)"
    if not re.fullmatch(S3_URI_PATTERN, uri):
        return (
            "has a prefix with characters outside AWS's safe key characters: letters, digits "
            "and !_.()/=+-"
        )
    return None


#: An S3 prefix to sync input data from (`s3_uri_problem`).
S3Uri = Annotated[str, checked_by(s3_uri_problem)]


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


#: Release tags a new release re-points (docker/metadata-action's `{{major}}` and
#: `{{major}}.{{minor}}` patterns: `1`, `v1`, `12`, `1.2`, `v3.10`). A major of three or more
#: digits is a build number or a date (`:420`, `:20260701`, `:2026.07`), which stays put.
_RELEASE_LINE_TAG = re.compile(r"v?\d{1,2}(\.\d+)?")
#: The orchestrator's own repositories. Upstream CI (.github/workflows/ci.yml, metadata-action)
#: tags each push by branch, schedule, semver (`X.Y.Z`, `X.Y`, `X`) and commit (`sha-<7 hex>`):
#: only the commit and full version tags stay put.
UPSTREAM_ORCHESTRATOR_REPOSITORIES = frozenset(
    {
        "ghcr.io/sage-bionetworks/synapseworkfloworchestrator",
        "docker.io/sagebionetworks/synapseworkfloworchestrator",
        "sagebionetworks/synapseworkfloworchestrator",
    }
)
_UPSTREAM_FIXED_TAG = re.compile(r"sha-[0-9a-f]{7,40}|v?\d+\.\d+\.\d+")


def moving_image_problem(image: str) -> str | None:
    """Why `image` may change under a running challenge, or None (digest or fixed tag)."""
    if "@sha256:" in image:
        return None
    tag = image_tag(image)
    if tag is None:
        return f"{image!r} has no tag: Docker pulls `latest`, which moves"
    if tag.lower() in MOVING_IMAGE_TAGS:
        return f"{image!r} follows the moving tag `{tag}`"
    if _RELEASE_LINE_TAG.fullmatch(tag):
        return f"{image!r} follows the release line `{tag}`, which each new release re-points"
    repository = image.rsplit(":", 1)[0].lower()
    if repository in UPSTREAM_ORCHESTRATOR_REPOSITORIES and not _UPSTREAM_FIXED_TAG.fullmatch(tag):
        return (
            f"{image!r}: upstream CI re-points `{tag}` (it tags branches, schedules and release "
            "lines; only `sha-<7 hex>` and full `X.Y.Z` tags stay put)"
        )
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


def _without_trailing_slash(path: str) -> str:
    return path.rstrip("/")


#: A host directory for challenge input data (normalised: no trailing '/').
HostDataDir = Annotated[
    str, checked_by(input_data_dir_problem), AfterValidator(_without_trailing_slash)
]


#: Options the orchestrator puts after the organiser's own (upstream WorkflowManagerDocker.java:
#: `--workDir <job dir> --noLinkImports`), and refuses anywhere in TOIL_CLI_OPTIONS by substring.
ORCHESTRATOR_TOIL_OPTIONS = ("workDir", "linkImports", "noLinkImports")


def toil_options_problem(value: str) -> str | None:
    """Why toil-cwl-runner would not run `value` (TOIL_CLI_OPTIONS) as the organiser meant, or None.

    Toil 9.6 (the engine built here: toil/cwl/cwltoil.py `get_options`) parses with
    `allow_abbrev=False`, but an older Toil in a workflowEngineImage may take an unambiguous
    abbreviation (argparse's default), so `--workD` would set --workDir: every `--name` that
    starts one of the orchestrator's own options is refused, as is a bare `--`, after which the
    orchestrator's options would become workflow inputs.
    """
    if not value.isprintable() or "'" in value:
        return "must be one line of printable characters without single quotes"
    lowered = value.lower()
    if "workdir" in lowered or "linkimports" in lowered:
        return (
            "must not contain --workDir or LinkImports: the orchestrator sets them itself and "
            "refuses any TOIL_CLI_OPTIONS containing 'workdir' or 'linkimports' anywhere, in "
            "any case (upstream WorkflowManagerDocker.java, DISALLOWED_USER_TOIL_PARAMS), so "
            "Toil options such as --cleanWorkDir cannot be passed either"
        )
    for word in value.split():  # the orchestrator splits on whitespace (`split("\\s+")`)
        if word == "--":
            return (
                "must not contain a bare '--': the orchestrator's own options after it would "
                "become workflow inputs"
            )
        if not word.startswith("--"):
            continue
        name = word[2:].split("=", 1)[0].lower()
        for option in ORCHESTRATOR_TOIL_OPTIONS:
            if name and option.lower().startswith(name):
                return (
                    f"must not contain {word.split('=', 1)[0]}: argparse may read it as an "
                    f"abbreviation of --{option}, which the orchestrator sets itself"
                )
    return None


#: EXECUTION_STAGE (upstream EvaluationUtils): VALIDATION takes RECEIVED to VALIDATED, EXECUTION
#: VALIDATED to ACCEPTED, ALL both.
ExecutionStage = Literal["ALL", "VALIDATION", "EXECUTION"]
#: One RW_VOLUMES entry: two absolute paths without ':' or ',' (DockerUtils.createModelContainer
#: splits the list on ',' and each entry on ':').
RW_VOLUME_PATTERN = r"^/[A-Za-z0-9._/-]*:/[A-Za-z0-9._/-]*$"
RwVolume = Annotated[str, Field(pattern=RW_VOLUME_PATTERN)]
#: Container paths an RW_VOLUMES entry may neither be, lie below, nor contain: the engine
#: container's system directories, and what the orchestrator mounts into it itself (upstream
#: WorkflowManagerDocker.java): the Docker socket at its host path (DOCKER_ENGINE_URL,
#: /var/run/docker.sock) and the job folder at its host path in the shared volume (under Docker's
#: data root, /var/lib/docker/volumes/...).
RESERVED_CONTAINER_PATHS = (
    "/bin",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/run",
    "/var/lib/docker",
)


def _container_path_problem(path: str) -> str | None:
    normal = path.rstrip("/") or "/"
    if normal != "/" and any(p in ("", ".", "..") for p in normal.split("/")[1:]):
        return f"container path {path!r} must be an absolute path without empty, '.' or '..' parts"
    for reserved in RESERVED_CONTAINER_PATHS:
        if normal == reserved or normal.startswith(reserved + "/"):
            clash = f"is {reserved} or below it"
        elif normal == "/" or reserved.startswith(normal + "/"):
            clash = f"would hide {reserved}"
        else:
            continue
        return (
            f"container path {path!r} {clash}: the engine container's system directories, its "
            "Docker socket (/var/run) and its job folder (/var/lib/docker) must stay as they are; "
            "use a directory of your own, e.g. /shared"
        )
    return None


def rw_volume_problems(volumes: Sequence[str]) -> list[tuple[int, str]]:
    """(index, why) of each RW_VOLUMES entry that must not be mounted into every engine container
    read-write: its host path outside the data directories, its container path over one the
    container needs, or a container path used twice."""
    problems: list[tuple[int, str]] = []
    first_use: dict[str, int] = {}
    for index, volume in enumerate(volumes):
        host_path, _, container_path = volume.partition(":")
        problem = input_data_dir_problem(host_path)
        if problem:
            problems.append(
                (
                    index,
                    f"host path {host_path!r} {problem} (every engine container mounts it "
                    "read-write)",
                )
            )
        problem = _container_path_problem(container_path)
        if problem:
            problems.append((index, problem))
            continue
        normal = container_path.rstrip("/") or "/"
        if normal in first_use:
            problems.append(
                (
                    index,
                    f"container path {container_path!r} is also entry [{first_use[normal]}]'s; "
                    "each entry needs its own",
                )
            )
        first_use.setdefault(normal, index)
    return problems


#: Docker Hub user names: 4-30 lower-case letters and digits.
DockerhubUsername = Annotated[str, Field(pattern=r"^[a-z0-9]{4,30}$")]

#: Extra toil-cwl-runner options (TOIL_CLI_OPTIONS); the orchestrator adds its own after them.
ToilCliOptions = Annotated[str, checked_by(toil_options_problem)]
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
