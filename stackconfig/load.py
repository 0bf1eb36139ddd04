"""Turn raw stack config (a stack file, or what Pulumi hands the program) into a `StackConfig`.

Every problem is reported at once, one line each, naming the key, the bad value and what is
allowed, so an organiser fixes the stack file in one pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from rules import (
    AWS_SECRET_KEYS,
    HidesValue,
    aws_key_problem,
    rw_volume_problems,
    shared_team_problems,
)

from .hosts import HostGroup, host_group_problems
from .model import (
    NAMESPACE,
    SECRET_KEYS,
    STACK_KEYS,
    ChallengeSpec,
    is_production_endpoint,
    moving_image_problem,
    synapse_endpoint_problem,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
#: Keys of other namespaces the program reads.
AWS_REGION_KEY = "aws:region"
#: A self-hosted stack needs no AWS: without aws:region, sizing reads this region's catalog.
SELF_HOSTED_SIZING_REGION = "us-east-1"
#: Stack names the host's SSM parameter path and AWS tags can carry.
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
#: Config namespaces a stack of this program may use; any other is a typo (`challange:`).
KNOWN_NAMESPACES = (NAMESPACE, "aws", "pulumi")


class ConfigError(Exception):
    """The stack config is invalid; `problems` holds one line per offending key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class StackConfig:
    """A validated stack: the spec, the AWS region, and which secrets are set (never values)."""

    stack: str
    spec: ChallengeSpec
    region: str
    secrets_set: frozenset[str]

    def for_host(self, group: HostGroup) -> StackConfig:
        """The stack as one host of `challenge:hosts` sees it: its queues, its own keys."""
        return dataclasses.replace(self, spec=group.spec)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Valid but worth saying at `make check` and `pulumi up`."""
        spec = self.spec
        if spec.host == "self-hosted" and not is_production_endpoint(spec.synapse_endpoint):
            return (
                f"{NAMESPACE}:synapseEndpoint: {spec.synapse_endpoint!r} is not production "
                "Synapse, but the orchestrator always talks to production Synapse (upstream "
                "SynapseClientFactory): the self-hosted server's orchestrator will evaluate none "
                "of this stack's queues. Fine for a rehearsal of the Synapse side, not for a "
                "challenge",
            )
        return ()

    @property
    def secrets_needed(self) -> tuple[str, ...]:
        """Secret keys `pulumi up` needs: the orchestrator's tokens only for an EC2 host (a
        self-hosted server reads them from its own files), dockerhubPassword only with
        dockerhubUsername."""
        ec2 = self.spec.host == "ec2"
        wanted = {
            "synapseAuthToken": True,
            "orchestratorAuthToken": ec2,
            "dockerhubPassword": ec2 and bool(self.spec.dockerhub_username),
        }
        return tuple(k for k in SECRET_KEYS if wanted.get(k, True))

    @property
    def secrets_missing(self) -> tuple[str, ...]:
        return tuple(f"{NAMESPACE}:{k}" for k in self.secrets_needed if k not in self.secrets_set)


def _structured_keys() -> set[str]:
    """Stack keys whose values are lists or objects (Pulumi hands those over as JSON text)."""
    keys = set()
    for alias, name in STACK_KEYS.items():
        annotation = ChallengeSpec.model_fields[name].annotation
        candidates = [annotation, *get_args(annotation)]
        if any(
            get_origin(c) in (tuple, list, dict)
            or (isinstance(c, type) and issubclass(c, BaseModel))
            for c in candidates
        ):
            keys.add(alias)
    return keys


STRUCTURED_KEYS = _structured_keys()
WHOLE_NUMBER_KEYS = {
    alias
    for alias, name in STACK_KEYS.items()
    if int
    in (
        ChallengeSpec.model_fields[name].annotation,
        *get_args(ChallengeSpec.model_fields[name].annotation),
    )
}
OPTIONAL_KEYS = {
    alias for alias, name in STACK_KEYS.items() if ChallengeSpec.model_fields[name].default is None
}


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _location(loc: tuple[Any, ...]) -> str:
    out = f"{NAMESPACE}:{loc[0]}"
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _field_bounds(alias: str) -> tuple[Any, Any]:
    name = STACK_KEYS.get(alias)
    if name is None:
        return None, None
    low = high = None
    for meta in ChallengeSpec.model_fields[name].metadata:
        low = getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else low
        high = getattr(meta, "le", None) if getattr(meta, "le", None) is not None else high
    return low, high


def _message(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    if not loc:  # a rule across keys; its message starts with the key it is about
        return f"{NAMESPACE}:{error.get('ctx', {}).get('error', error['msg'])!s}"
    where = _location(loc)
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    if kind == "missing":
        return f"{where}: required, not set"
    if kind == "extra_forbidden":
        known = list(STACK_KEYS) if len(loc) == 1 else []
        close = difflib.get_close_matches(str(loc[-1]), known + list(SECRET_KEYS), n=1)
        hint = f" (did you mean {NAMESPACE}:{close[0]}?)" if close else ""
        return f"{where}: unknown key{hint}"
    if kind in {"greater_than_equal", "less_than_equal"} and len(loc) == 1:
        low, high = _field_bounds(loc[0])
        if low is not None and high is not None:
            return f"{where}: {_describe(value)} is out of range {low}..{high}"
    if kind == "greater_than":
        return f"{where}: {_describe(value)} must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"{where}: {_describe(value)} must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"{where}: {_describe(value)} must be at most {ctx.get('le')}"
    if kind == "literal_error":
        return f"{where}: {_describe(value)} is not one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"{where}: {_describe(value)} does not match {ctx.get('pattern')}"
    if kind in {"int_parsing", "int_from_float", "int_type"}:
        return f"{where}: {_describe(value)} is not a whole number"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{where}: {_describe(value)} is not true or false"
    if kind == "too_short":
        return f"{where}: needs at least {ctx.get('min_length')} item(s), got {_describe(value)}"
    if kind == "string_too_short":
        return f"{where}: must not be empty"
    if kind == "value_error" and isinstance(ctx.get("error"), HidesValue):
        return f"{where}: {ctx['error']!s}"
    if kind == "value_error":
        return f"{where}: {_describe(value)} {ctx.get('error', error['msg'])!s}"
    return f"{where}: {_describe(value)}: {error['msg']}"


def _spurious(error: Mapping[str, Any]) -> bool:
    """pydantic's `too_short` for a list whose items failed: it counts the valid items only
    (`queues: [{name: 'a:b'}]` "needs at least 1 item"); the items' own errors say what is wrong."""
    value = error.get("input")
    minimum = error.get("ctx", {}).get("min_length")
    return (
        error["type"] == "too_short"
        and isinstance(value, list | tuple)
        and minimum is not None
        and len(value) >= minimum
    )


def _stack_name_problem(stack: str) -> str:
    return (
        f"stack {stack!r}: a stack name may use only letters, digits and _.- (at most 100); "
        "it names the stack file, the host's SSM parameter and tags"
    )


def _namespace_problem(full_key: str) -> str:
    namespace, _, key = full_key.partition(":")
    close = difflib.get_close_matches(namespace, KNOWN_NAMESPACES, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}:{key}?)" if close else ""
    allowed = ", ".join(f"{n}:" for n in KNOWN_NAMESPACES)
    return f"{full_key}: unknown namespace {namespace!r}{hint}; this program reads {allowed} keys"


def _plaintext_secret_problem(stack: str, key: str, namespace: str = NAMESPACE) -> str:
    where = "in Synapse" if namespace == NAMESPACE else "in AWS IAM"
    return (
        f"{namespace}:{key}: is set in plain text; a token must be a Pulumi secret: delete the "
        f"line from Pulumi.{stack}.yaml, revoke that token {where} (it is in a file now), and "
        f"run: pulumi config set --secret {namespace}:{key} --stack {stack} "
        "(Pulumi prompts for the value)"
    )


def _is_secret(full_key: str, value: Any, secret_keys: Collection[str] | None) -> bool:
    """A Pulumi secret: encrypted in a stack file, or (at `pulumi up`) named in `secret_keys`."""
    return _is_encrypted(value) if secret_keys is None else full_key in secret_keys


def _as_structure(value: Any) -> Any:
    """A list or object value as given, or parsed from the JSON text Pulumi hands over."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, Mapping | list) else {}


def _aws_problems(
    stack: str, key: str, value: Any, secret_keys: Collection[str] | None
) -> list[str]:
    """What is wrong with `aws:<key>`: a plaintext credential, or a key the stack may not set."""
    full_key = f"aws:{key}"
    if key in AWS_SECRET_KEYS:
        if value in (None, "") or _is_secret(full_key, value, secret_keys):
            return []
        return [_plaintext_secret_problem(stack, key, "aws")]
    if (
        key == "assumeRoleWithWebIdentity"
        and "webIdentityToken" in _as_structure(value)
        and not _is_secret(full_key, value, secret_keys)
    ):
        return [
            f"{full_key}: has webIdentityToken in plain text; use webIdentityTokenFile instead "
            f"(a token must not sit in Pulumi.{stack}.yaml)"
        ]
    if isinstance(value, str) and value.startswith(("[", "{")):
        value = _as_structure(value)  # a list or object, as Pulumi hands it to the program
    problem = aws_key_problem(key, value)
    return [f"{full_key}: {problem}"] if problem else []


def _is_encrypted(value: Any) -> bool:
    """A stack file's encrypted value: `{secure: <ciphertext>}`."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def parse_config(
    stack: str,
    raw: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    *,
    secret_keys: Collection[str] | None = None,
    now: dt.datetime | None = None,
) -> StackConfig:
    """Validate raw `namespace:key` config, as Pulumi or a stack file gives it.

    Secret values may be encrypted (`{"secure": ...}` in a stack file) or, at `pulumi up`,
    decrypted: then `secret_keys` names the keys Pulumi holds as secrets. A secret key set any
    other way is a plaintext token and an error. Only whether each secret is set is kept.
    `now` (default: the clock) is what `endDate` must lie after.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    secrets_set: set[str] = set()
    problems: list[str] = []
    if not STACK_NAME.fullmatch(stack):
        problems.append(_stack_name_problem(stack))
    for full_key, value in raw.items():
        namespace, colon, key = full_key.partition(":")
        if not colon:  # Pulumi reads a key without namespace as the project's
            namespace, key = NAMESPACE, full_key
        if namespace not in KNOWN_NAMESPACES:
            problems.append(_namespace_problem(full_key))
            continue
        if namespace == "aws":
            problems.extend(_aws_problems(stack, key, value, secret_keys))
            continue
        if namespace != NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if value in (None, ""):
                continue
            if not _is_secret(f"{NAMESPACE}:{key}", value, secret_keys):
                problems.append(_plaintext_secret_problem(stack, key))
            secrets_set.add(key)
            continue
        if key in STRUCTURED_KEYS and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(f"{NAMESPACE}:{key}: is not valid JSON/YAML structure ({exc.msg})")
                continue
        if value == "" and key in OPTIONAL_KEYS:
            continue  # Pulumi.yaml declares "" as the default of an optional key
        if isinstance(value, bool) and key in WHOLE_NUMBER_KEYS:
            problems.append(f"{NAMESPACE}:{key}: {value!r} is true/false, not a whole number")
            continue  # pydantic would take true for 1
        values[key] = value
    if "synapseAuthToken" not in secrets_set and env.get("SYNAPSE_AUTH_TOKEN"):
        secrets_set.add("synapseAuthToken")

    region = raw.get(AWS_REGION_KEY) or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region and values.get("host") == "self-hosted":
        region = SELF_HOSTED_SIZING_REGION
    if not region:
        problems.append(f"{AWS_REGION_KEY}: required, not set (e.g. us-east-1)")

    spec = None
    try:
        spec = ChallengeSpec.model_validate(values)
    except ValidationError as exc:
        problems.extend(_message(e) for e in exc.errors(include_url=False) if not _spurious(e))
    if spec is not None:
        problems.extend(_policy_problems(spec))
        if "dockerhubPassword" in secrets_set and not spec.dockerhub_username:
            problems.append(
                f"{NAMESPACE}:dockerhubPassword is set without {NAMESPACE}:dockerhubUsername: "
                "set the Docker Hub user it belongs to, or remove the password"
            )
        problems.extend(host_group_problems(spec))
        problems.extend(_end_date_problems(spec, now or dt.datetime.now(dt.UTC)))
    if problems or spec is None:
        raise ConfigError(problems)

    return StackConfig(
        stack=stack,
        spec=spec,
        region=str(region),
        secrets_set=frozenset(secrets_set),
    )


def _policy_problems(spec: ChallengeSpec) -> list[str]:
    """Rules across keys: where the organiser's token goes, what the host may run."""
    problems = []
    endpoint = synapse_endpoint_problem(spec.synapse_endpoint, spec.trusted_synapse_host)
    if endpoint:
        problems.append(f"{NAMESPACE}:synapseEndpoint: {endpoint}")
    elif spec.host == "ec2" and not is_production_endpoint(spec.synapse_endpoint):
        problems.append(
            f"{NAMESPACE}:synapseEndpoint: {spec.synapse_endpoint!r} is not production Synapse, "
            "but the orchestrator always talks to production Synapse (upstream "
            "SynapseClientFactory hard-codes https://repo-prod.prod.sagebase.org): an EC2 host "
            "would evaluate nothing of this stack's queues. Use host: self-hosted for a "
            "rehearsal against another server, or the production endpoint"
        )
    images = [("orchestratorImage", spec.orchestrator_image)]
    if spec.workflow_engine_image is not None:
        images.append(("workflowEngineImage", spec.workflow_engine_image))
    for index, group in enumerate(spec.hosts):  # a host group's own engine image
        engine_image = getattr(group, "workflow_engine_image", None)
        if engine_image is not None:
            images.append((f"hosts[{index}].workflowEngineImage", engine_image))
    for key, image in images:
        moving = moving_image_problem(image)
        if moving and not spec.allow_moving_image_tags:
            problems.append(
                f"{NAMESPACE}:{key}: {moving}; pin a commit tag (:sha-<7 hex>), a version tag or "
                f"a digest (@sha256:...), or set {NAMESPACE}:allowMovingImageTags: true"
            )
    for index, problem in rw_volume_problems(spec.rw_volumes):
        problems.append(f"{NAMESPACE}:rwVolumes[{index}]: {problem}")
    for problem in shared_team_problems(spec.existing_team_ids.model_dump()):
        problems.append(f"{NAMESPACE}:existingTeamIds: {problem}")
    if spec.ami_ssm_parameter.rstrip("/").endswith("/arm64"):
        problems.append(
            f"{NAMESPACE}:amiSsmParameter: {spec.ami_ssm_parameter!r} is an arm64 AMI, but the "
            "orchestrator image is published for amd64 only (upstream CI builds no other "
            "platform); use .../amd64"
        )
    return problems


def _end_date_problems(spec: ChallengeSpec, now: dt.datetime) -> list[str]:
    """`endDate` must lie ahead, and after every round: the host stops evaluating at it."""
    end = spec.end_date
    if end is None:
        return []
    where = f"{NAMESPACE}:endDate"
    if end <= now:
        return [
            f"{where}: {end.isoformat()} is in the past; a host would stop taking submissions "
            "(and power off) as soon as it boots. Move it ahead, or remove it"
        ]
    problems = []
    for queue in spec.queues:
        for number, round_ in enumerate(queue.rounds, start=1):
            if round_.end > end:
                problems.append(
                    f"{where}: {end.isoformat()} is before the end of round {number} of queue "
                    f"{queue.name!r} ({round_.end.isoformat()}); submissions of that round would "
                    "never be evaluated. Set endDate at or after the last round's end"
                )
    return problems


def stack_file_path(stack: str, project_dir: Path | None = None) -> Path:
    return (project_dir or PROJECT_DIR) / f"Pulumi.{stack}.yaml"


def _duplicate_keys(node: yaml.Node, file_name: str) -> list[str]:
    """Every mapping key set twice in a YAML document: YAML loaders keep the last one silently."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                if key_node.value in first_line:
                    problems.append(
                        f"{key_node.value}: set twice in {file_name} (lines "
                        f"{first_line[key_node.value]} and {line}); keep one"
                    )
                else:
                    first_line[key_node.value] = line
        for _, value_node in node.value:
            problems.extend(_duplicate_keys(value_node, file_name))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item, file_name))
    return problems


def _aliases(node: yaml.Node, file_name: str) -> list[str]:
    """Every node reached twice: a YAML alias (`*name`). Nested aliases expand exponentially
    (a "billion laughs" file), so a stack file spells every value out instead."""
    seen: set[int] = set()
    problems: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            problems.append(
                f"{file_name} line {current.start_mark.line + 1}: a YAML alias (*name) repeats a "
                "value; write it out (stack files take no anchors or aliases)"
            )
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in current.value for n in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return sorted(set(problems))


def read_stack_file(stack: str, project_dir: Path | None = None) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml`, or a ConfigError saying what is wrong."""
    config, duplicates = read_stack_file_leniently(stack, project_dir)
    if duplicates:
        raise ConfigError(duplicates)
    return config


def add_stack_arguments(parser: argparse.ArgumentParser, *, stack_required: bool = False) -> None:
    """``--stack`` and ``--project-dir``: the stack file a command reads (``read_stack_file``)."""
    parser.add_argument(
        "--stack",
        required=stack_required,
        default=None if stack_required else "dev",
        help="stack name: reads Pulumi.<stack>.yaml",
    )
    parser.add_argument(
        "--project-dir", type=Path, help="folder of the stack files (default: the project)"
    )


def read_stack_file_leniently(
    stack: str, project_dir: Path | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The `config:` mapping (the last of duplicate keys wins, as YAML loaders do) and one
    problem per duplicate key, so `make check` can report them with every other problem. A
    missing or unparsable file is a ConfigError."""
    if not STACK_NAME.fullmatch(stack):  # also keeps `../` out of the file's path
        raise ConfigError([_stack_name_problem(stack)])
    path = stack_file_path(stack, project_dir)
    if not path.is_file():
        available = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("Pulumi.*.yaml")
        )
        stacks = ", ".join(available) or "none"
        raise ConfigError([f"stack {stack!r}: no file {path.name} (stacks here: {stacks})"])
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        aliases = _aliases(node, path.name) if node is not None else []
        if aliases:
            raise ConfigError(aliases)
        duplicates = _duplicate_keys(node, path.name) if node is not None else []
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path.name}: not valid YAML: {exc}"]) from exc
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise ConfigError([f"{path.name}: `config:` must be a mapping of namespace:key to value"])
    return config, duplicates


def load_stack(
    stack: str, project_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> StackConfig:
    """Read and validate `Pulumi.<stack>.yaml` without Pulumi: for `make check` and tools."""
    return parse_config(stack, read_stack_file(stack, project_dir), env)


def from_pulumi_runtime(stack: str) -> StackConfig:
    """Validate the config the Pulumi engine handed this program (all namespaces)."""
    from components.sdk_internals import engine_config

    raw, secret_keys = engine_config()
    config = parse_config(stack, raw, secret_keys=secret_keys)
    if config.secrets_missing:  # before anything is created, not half-way through
        raise ConfigError(
            [
                f"{key}: not set; `pulumi up` needs it: pulumi config set --secret {key} "
                f"--stack {stack} (or `make secrets STACK={stack}`)"
                for key in config.secrets_missing
            ]
        )
    return config
