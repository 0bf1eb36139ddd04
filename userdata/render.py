"""Render the orchestrator host's `#cloud-config` from `BootstrapSettings`: pure, no I/O, no cloud.

Templates are package data under `templates/`, rendered by jinja2 with StrictUndefined so a
missing variable is an error, never an empty string in a boot script. Each template reads the
settings as `settings` and the host's fixed paths and names as globals.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
import yaml

from . import engine
from .errors import UserDataError
from .settings import (
    COMPOSE_PROJECT_NAME,
    BootstrapSettings,
    EnvToken,
    FileToken,
    InlineToken,
    SsmParameterToken,
    TokenSource,
    compose_environment,
    orchestrator_env,
)

#: EC2 refuses user data above 16 KB; the limit is checked on the rendered document.
MAX_USER_DATA_BYTES = 16384

# Paths and names on the host (the boot test and issue 7's drain rely on them).
BOOTSTRAP_PATH = "/usr/local/sbin/challenge-bootstrap"
TOKEN_HELPER_PATH = "/usr/local/sbin/challenge-fetch-token"
CLEANUP_PATH = "/usr/local/sbin/challenge-cleanup"
#: The clean-up's record of when it first saw, or last saw in use, each image ("<ID> <epoch>").
IMAGES_SEEN_PATH = "/var/lib/challenge/images-seen"
ACCEPT_SUBMISSIONS_PATH = "/usr/local/sbin/challenge-accept-submissions"
ORCHESTRATOR_DIR = "/opt/orchestrator"
COMPOSE_PATH = f"{ORCHESTRATOR_DIR}/docker-compose.yaml"
ENV_PATH = f"{ORCHESTRATOR_DIR}/.env"
ORCHESTRATOR_UNIT = "challenge-orchestrator.service"
CLEANUP_SERVICE = "challenge-cleanup.service"
CLEANUP_TIMER = "challenge-cleanup.timer"
END_DATE_SCRIPT_PATH = "/usr/local/sbin/challenge-end-date"
BUILD_ENGINE_PATH = "/usr/local/sbin/challenge-build-engine"
DOCKERHUB_HELPER_PATH = "/usr/local/sbin/challenge-fetch-dockerhub-password"
END_DATE_SERVICE = "challenge-end-date.service"
END_DATE_TIMER = "challenge-end-date.timer"
SYSTEMD_DIR = "/etc/systemd/system"
LOG_PATH = "/var/log/challenge-bootstrap.log"
#: Test hook: a scratch root under which the bootstrap reads and writes instead of `/`.
ROOT_ENV_VARIABLE = "CHALLENGE_BOOTSTRAP_ROOT"

#: Debian 13 packages: Docker Engine, its CLI and the compose v2 plugin, from Debian's archive.
DOCKER_PACKAGES = ("docker.io", "docker-cli", "docker-compose")
#: Docker refuses containers on an AppArmor kernel without the apparmor userspace.
BASE_PACKAGES = ("apparmor", "ca-certificates", "curl")
#: How long the orchestrator gets to finish its loop after SIGTERM (compose stop_grace_period),
#: and systemd's stop timeout around `docker compose stop` (the grace plus a margin).
STOP_GRACE_S = 150
STOP_TIMEOUT_S = STOP_GRACE_S + 30
#: Container log rotation of the orchestrator (json-file driver).
LOG_MAX_SIZE = "50m"
LOG_MAX_FILES = 5

#: Variables the compose file passes to the orchestrator, all read from .env.
COMPOSE_ENVIRONMENT = compose_environment()

#: Path, mode and template of the files that run the orchestrator and its clean-up, each
#: rendered from the settings and the host's names (the template's first lines say what it is).
SERVICE_FILES = (
    (COMPOSE_PATH, "0644", "docker-compose.yaml.j2"),
    (f"{SYSTEMD_DIR}/{ORCHESTRATOR_UNIT}", "0644", "challenge-orchestrator.service.j2"),
    (CLEANUP_PATH, "0700", "cleanup.sh.j2"),
    (f"{SYSTEMD_DIR}/{CLEANUP_SERVICE}", "0644", "challenge-cleanup.service.j2"),
    (f"{SYSTEMD_DIR}/{CLEANUP_TIMER}", "0644", "challenge-cleanup.timer.j2"),
    (ACCEPT_SUBMISSIONS_PATH, "0700", "accept-submissions.sh.j2"),
)


@dataclass(frozen=True)
class HostFile:
    """One file cloud-init writes: absolute path, octal mode, content.

    `compressed` ships it gzip+base64 (cloud-init's `encoding: gz+b64`): for bulky files such as
    the engine recipe, which would otherwise eat EC2's 16 KB user-data limit.
    """

    path: str
    mode: str
    content: str
    compressed: bool = False

    def compacted(self) -> HostFile:
        """This file compressed if that makes the cloud-config shorter, else unchanged."""
        shorter = len(dataclasses.replace(self, compressed=True).encoded) < len(self.content)
        return dataclasses.replace(self, compressed=True) if shorter else self

    @property
    def encoded(self) -> str:
        """The content as the cloud-config carries it (base64 of gzip with mtime 0: stable)."""
        if not self.compressed:
            return self.content
        return base64.b64encode(gzip.compress(self.content.encode(), 9, mtime=0)).decode()


def env_quote(value: str) -> str:
    """`value` as a Docker Compose `.env` value that compose reads back exactly.

    Compose's dotenv grammar (compose-go `dotenv/parser.go`): a single-quoted value is literal but
    ends at the first `'` not preceded by `\\`, so `'a \\'` swallows the next line; a
    double-quoted value unescapes `\\\\`, `\\"`, `\\n` and interpolates `$` (`$$` is one `$`).
    Single quotes where they are safe, else double quotes with those escaped. Only one line:
    a newline or other control character cannot be a setting of ours, so it is refused.
    """
    if not value.isprintable():
        raise UserDataError(f".env value {value!r} has a newline or control character")
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
    return f'"{escaped}"'


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("userdata", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    # Shell's ${#array[@]} would otherwise open a jinja comment.
    comment_start_string="{##",
    comment_end_string="##}",
)


def _strict(function: Callable[[Any], str]) -> Callable[[Any], str]:
    """A filter that fails on an undefined variable instead of rendering something."""

    def checked(value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return function(value)

    return checked


_ENVIRONMENT.filters.update(
    shq=_strict(shlex.quote),
    envq=_strict(env_quote),
    pyrepr=_strict(repr),
    yamlstr=_strict(json.dumps),
    quoted=_strict(lambda value: json.dumps(value, ensure_ascii=False)),
)
# The host's fixed paths, names and limits, under the names the templates read them by.
_ENVIRONMENT.globals.update(
    bootstrap_path=BOOTSTRAP_PATH,
    token_helper_path=TOKEN_HELPER_PATH,
    cleanup_path=CLEANUP_PATH,
    accept_path=ACCEPT_SUBMISSIONS_PATH,
    orchestrator_dir=ORCHESTRATOR_DIR,
    orchestrator_unit=ORCHESTRATOR_UNIT,
    cleanup_timer=CLEANUP_TIMER,
    log_path=LOG_PATH,
    stop_grace_s=STOP_GRACE_S,
    stop_timeout_s=STOP_TIMEOUT_S,
    log_max_size=LOG_MAX_SIZE,
    log_max_files=LOG_MAX_FILES,
    environment=COMPOSE_ENVIRONMENT,
    volume=f"{COMPOSE_PROJECT_NAME}_shared",
    engine_label=engine.RECIPE_LABEL,
    engine_recipe=engine.recipe_hash(),
    images_seen_path=IMAGES_SEEN_PATH,
)


def _render(
    template: str, settings: BootstrapSettings | None = None, /, **variables: object
) -> str:
    """A template with its variables; `settings` is there too, so a template can use a new
    setting as `settings.<name>` without a change here."""
    try:
        text = _ENVIRONMENT.get_template(template).render(settings=settings, **variables)
    except jinja2.UndefinedError as exc:
        raise UserDataError(f"template {template}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise UserDataError(f"template {template}: {exc}") from exc
    return text.rstrip("\n") + "\n"


def packages(settings: BootstrapSettings) -> tuple[str, ...]:
    """Debian packages the bootstrap makes sure are installed."""
    extra: tuple[str, ...] = ()
    if isinstance(settings.token_source, SsmParameterToken):
        extra += ("python3-boto3",)
    if settings.input_data_s3_uri:
        extra += ("awscli",)
    return DOCKER_PACKAGES + BASE_PACKAGES + extra


def render_bootstrap_script(settings: BootstrapSettings) -> str:
    """`challenge-bootstrap`: the idempotent first-boot script (runcmd)."""
    return _render(
        "bootstrap.sh.j2",
        settings,
        stack=settings.stack,
        region=settings.region,
        packages=packages(settings),
        install_ssm_agent=settings.install_ssm_agent,
        kind=settings.kind,
        input_data_dir=settings.input_data_dir,
        input_data_s3_uri=settings.input_data_s3_uri,
        env=orchestrator_env(settings),
        initial_accept="" if settings.accept_new_submissions else "false",
        end_date_timer=END_DATE_TIMER if settings.end_date is not None else None,
        build_engine_path=None if settings.workflow_engine_image else BUILD_ENGINE_PATH,
        dockerhub_helper_path=DOCKERHUB_HELPER_PATH if settings.dockerhub_username else None,
    )


def render_build_engine_script() -> str:
    """`challenge-build-engine`: builds the engine image from the recipe once, prints its ID."""
    return _render(
        "build-engine.sh.j2",
        tag=engine.engine_tag(),
        label=f"{engine.RECIPE_LABEL}={engine.recipe_hash()}",
        files=engine.recipe(),
    )


def render_token_helper(settings: BootstrapSettings, *, allow_inline_token: bool = False) -> str:
    """`challenge-fetch-token`: prints the token on stdout, from wherever `token_source` says."""
    source = settings.token_source
    if isinstance(source, InlineToken):
        if not allow_inline_token:
            raise UserDataError(
                "token_source: an inline token puts the secret into the user data; pass "
                "allow_inline_token=True only on an explicit request"
            )
        return _render("fetch-token-inline.sh.j2", token=source.value)
    return _render_secret_helper(
        source, "challenge-fetch-token", "the orchestrator account's Synapse personal access token"
    )


def render_dockerhub_password_helper(settings: BootstrapSettings) -> str:
    """`challenge-fetch-dockerhub-password`: prints DOCKERHUB_PASSWORD, as the token helper does."""
    if settings.dockerhub_password_source is None:
        raise UserDataError("dockerhub_password_source: not set")
    return _render_secret_helper(
        settings.dockerhub_password_source,
        "challenge-fetch-dockerhub-password",
        "the Docker Hub access token",
    )


def _render_secret_helper(source: TokenSource, program: str, secret: str) -> str:
    names = {"program": program, "secret": secret, "bootstrap_path": BOOTSTRAP_PATH}
    if isinstance(source, SsmParameterToken):
        return _render(
            "fetch-token-ssm.py.j2", parameter=source.name, region=source.region, **names
        )
    if isinstance(source, FileToken):
        return _render("fetch-token-file.sh.j2", path=source.path, **names)
    if isinstance(source, EnvToken):
        return _render("fetch-token-env.sh.j2", variable=source.variable, **names)
    raise UserDataError(f"{program}: unsupported secret source {type(source).__name__}")


def end_date_script() -> str:
    """`challenge-end-date`: after the end date stop new submissions; power off once drained."""
    return _render("end-date.sh.j2")


def render_end_date_service(end_date: dt.datetime, stop_host_after_end: bool) -> str:
    """The oneshot unit carrying the end date (epoch seconds) and the power-off choice."""
    if not isinstance(end_date, dt.datetime) or end_date.tzinfo is None:
        raise UserDataError(
            f"end_date (endDate): must be a date and time with a zone, e.g. "
            f"2027-06-30T23:59:00Z; got {end_date!r}"
        )
    epoch = int(end_date.timestamp())
    return _render(
        "end-date.service.j2",
        end_date_iso=dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_epoch=epoch,
        stop_host_after_end=bool(stop_host_after_end),
        script_path=END_DATE_SCRIPT_PATH,
    )


def render_end_date_timer() -> str:
    """Every 10 minutes (and 5 minutes after boot): checks are cheap, the script decides."""
    return _render("end-date.timer.j2")


def end_date_host_files(end_date: dt.datetime, stop_host_after_end: bool) -> list[HostFile]:
    """The script and units of `endDate`; the bootstrap enables END_DATE_TIMER."""
    return [
        HostFile(END_DATE_SCRIPT_PATH, "0700", end_date_script()),
        HostFile(
            f"{SYSTEMD_DIR}/{END_DATE_SERVICE}",
            "0644",
            render_end_date_service(end_date, stop_host_after_end),
        ),
        HostFile(f"{SYSTEMD_DIR}/{END_DATE_TIMER}", "0644", render_end_date_timer()),
    ]


def host_files(settings: BootstrapSettings, *, allow_inline_token: bool = False) -> list[HostFile]:
    """Every file the cloud-config writes, in write order."""
    end_date = (
        end_date_host_files(settings.end_date, settings.stop_host_after_end)
        if settings.end_date is not None
        else []
    )
    engine_recipe = (
        []
        if settings.workflow_engine_image
        else [HostFile(BUILD_ENGINE_PATH, "0700", render_build_engine_script())]
    )
    files = [
        HostFile(
            TOKEN_HELPER_PATH,
            "0700",
            render_token_helper(settings, allow_inline_token=allow_inline_token),
        ),
        *(
            HostFile(path, mode, _render(template, settings))
            for path, mode, template in SERVICE_FILES
        ),
        *end_date,
        *engine_recipe,
        *(
            [HostFile(DOCKERHUB_HELPER_PATH, "0700", render_dockerhub_password_helper(settings))]
            if settings.dockerhub_username
            else []
        ),
        HostFile(BOOTSTRAP_PATH, "0700", render_bootstrap_script(settings)),
    ]
    # gzip+base64 where shorter, for EC2's 16 KB limit (`write_files_of` reads them back); the
    # token helper stays readable: it is the file a reviewer checks for secrets.
    return [f if f.path == TOKEN_HELPER_PATH else f.compacted() for f in files]


def write_files_of(document: str) -> dict[str, dict[str, Any]]:
    """A cloud-config's write_files by path, each `content` as the host gets it (gz+b64 decoded)."""
    entries = {}
    for entry in yaml.safe_load(document).get("write_files", []):
        entry = dict(entry)
        if entry.get("encoding") == "gz+b64":
            entry["content"] = gzip.decompress(base64.b64decode(entry["content"])).decode()
        elif "encoding" in entry:
            raise UserDataError(f"{entry['path']}: unexpected encoding {entry['encoding']!r}")
        entries[entry["path"]] = entry
    return entries


def _token_origin(settings: BootstrapSettings) -> str:
    source = settings.token_source
    if isinstance(source, SsmParameterToken):
        return f"SSM parameter {source.name} in {source.region}, instance role"
    if isinstance(source, FileToken):
        return f"local file {source.path}"
    if isinstance(source, EnvToken):
        return f"environment variable {source.variable}"
    return "WRITTEN INTO THIS DOCUMENT on explicit request"


def render_cloud_config(settings: BootstrapSettings, *, allow_inline_token: bool = False) -> str:
    """The `#cloud-config` user data; a UserDataError if it would exceed EC2's 16 KB."""
    document = _render(
        "cloud-config.yaml.j2",
        settings,
        challenge_name=settings.challenge_name,
        stack=settings.stack,
        target_os=settings.target_os,
        token_origin=_token_origin(settings),
        placeholder_ids=settings.placeholder_ids,
        files=host_files(settings, allow_inline_token=allow_inline_token),
    )
    size = len(document.encode())
    if size > MAX_USER_DATA_BYTES:
        raise UserDataError(
            f"rendered user data is {size} bytes, over EC2's {MAX_USER_DATA_BYTES}-byte (16 KB) "
            f"limit ({len(settings.evaluation_templates)} evaluation queues); serve fewer queues "
            "per host or shorten toil_cli_options"
        )
    return document
