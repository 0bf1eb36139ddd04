"""Turn raw stack config (a stack file, or what Pulumi hands the program) into a `StackConfig`.

Every problem is reported at once, one line each, naming the key, the bad value and what is
allowed, so an organiser fixes the stack file in one pass.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .model import SECRET_KEYS, STACK_KEYS, ChallengeSpec

NAMESPACE = "challenge"
PROJECT_DIR = Path(__file__).resolve().parent.parent
#: Keys of other namespaces the program reads.
AWS_REGION_KEY = "aws:region"


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
    warnings: tuple[str, ...] = field(default=())

    @property
    def secrets_missing(self) -> tuple[str, ...]:
        return tuple(f"{NAMESPACE}:{k}" for k in SECRET_KEYS if k not in self.secrets_set)


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


def _message(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
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
    if kind in {"too_short"}:
        return f"{where}: needs at least {ctx.get('min_length')} item(s), got {_describe(value)}"
    if kind == "string_too_short":
        return f"{where}: must not be empty"
    if kind == "value_error":
        return f"{where}: {_describe(value)} {ctx.get('error', error['msg'])!s}"
    return f"{where}: {_describe(value)}: {error['msg']}"


def parse_config(
    stack: str, raw: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> StackConfig:
    """Validate raw `namespace:key` config, as Pulumi or a stack file gives it.

    Secret values may be present (decrypted, at `pulumi up`) or encrypted (`{"secure": ...}` in a
    stack file); either way only their presence is kept.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    secrets_set: set[str] = set()
    problems: list[str] = []
    for full_key, value in raw.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if value not in (None, ""):
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
        values[key] = value
    if "synapseAuthToken" not in secrets_set and env.get("SYNAPSE_AUTH_TOKEN"):
        secrets_set.add("synapseAuthToken")

    region = raw.get(AWS_REGION_KEY) or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        problems.append(f"{AWS_REGION_KEY}: required, not set (e.g. us-east-1)")

    spec = None
    try:
        spec = ChallengeSpec.model_validate(values)
    except ValidationError as exc:
        problems.extend(_message(e) for e in exc.errors(include_url=False))
    if problems or spec is None:
        raise ConfigError(problems)

    warnings = []
    if spec.orchestrator_image.endswith(":master"):
        warnings.append(
            f"{NAMESPACE}:orchestratorImage: {spec.orchestrator_image} follows a moving tag; pin "
            "`:sha-<commit>` or `@sha256:<digest>` before launch so a reboot cannot change it"
        )
    return StackConfig(
        stack=stack,
        spec=spec,
        region=str(region),
        secrets_set=frozenset(secrets_set),
        warnings=tuple(warnings),
    )


def stack_file_path(stack: str, project_dir: Path | None = None) -> Path:
    return (project_dir or PROJECT_DIR) / f"Pulumi.{stack}.yaml"


def read_stack_file(stack: str, project_dir: Path | None = None) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml`, or a ConfigError saying what is wrong."""
    path = stack_file_path(stack, project_dir)
    if not path.is_file():
        available = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("Pulumi.*.yaml")
        )
        stacks = ", ".join(available) or "none"
        raise ConfigError([f"stack {stack!r}: no file {path.name} (stacks here: {stacks})"])
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path.name}: not valid YAML: {exc}"]) from exc
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise ConfigError([f"{path.name}: `config:` must be a mapping of namespace:key to value"])
    return config


def load_stack(
    stack: str, project_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> StackConfig:
    """Read and validate `Pulumi.<stack>.yaml` without Pulumi: for `make check` and tools."""
    return parse_config(stack, read_stack_file(stack, project_dir), env)


def from_pulumi_runtime(stack: str) -> StackConfig:
    """Validate the config the Pulumi engine handed this program (all namespaces)."""
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_config(stack, raw)
