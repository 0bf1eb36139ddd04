"""Derive the `Pulumi.yaml` config declarations and the README key table from the model.

Pulumi's project config types are string, integer, boolean and arrays of those; lists of objects
and objects (`queues`, `existingTeamIds`) cannot be typed there, so they are declared in a
comment block of `Pulumi.yaml` and validated by the model alone.
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .model import SECRET_KEYS, STACK_KEYS, ChallengeSpec

#: Secrets Pulumi itself must insist on at `pulumi up` (the organiser's token may come from the
#: SYNAPSE_AUTH_TOKEN environment variable instead, so it is not required there).
REQUIRED_SECRETS = ("orchestratorAuthToken",)

#: Where an optional secret comes from when the stack does not set it.
SECRET_DEFAULTS = {"synapseAuthToken": "or SYNAPSE_AUTH_TOKEN"}

_UNITS = {"GiB": "GiB", "Days": "days", "Minutes": "minutes", "Usd": "USD/month"}


def _base_type(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Annotated:  # a shared constrained type of rules.py
        annotation = get_args(annotation)[0]
    return annotation


def pulumi_type(field: FieldInfo) -> str | None:
    """Pulumi project config type for a field, or None where Pulumi cannot express it."""
    base = _base_type(field.annotation)
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base in (str, dt.datetime) or get_origin(base) is Literal:
        return "string"
    return None


def _default(field: FieldInfo) -> Any:
    if field.default is PydanticUndefined and field.default_factory is None:
        return PydanticUndefined
    value = field.get_default(call_default_factory=True)
    return "" if value is None else value


def project_config_declarations() -> dict[str, dict[str, Any]]:
    """What `Pulumi.yaml` declares under `config:`, key by key."""
    declared: dict[str, dict[str, Any]] = {}
    for alias, name in STACK_KEYS.items():
        field = ChallengeSpec.model_fields[name]
        kind = pulumi_type(field)
        if kind is None:
            continue
        entry: dict[str, Any] = {"type": kind, "description": field.description}
        default = _default(field)
        if default is not PydanticUndefined:
            entry["default"] = default
        declared[alias] = entry
    for key in REQUIRED_SECRETS:
        declared[key] = {"type": "string", "secret": True, "description": SECRET_KEYS[key]}
    return declared


def untyped_keys() -> list[str]:
    """Keys that only the model validates (declared in a comment block of `Pulumi.yaml`)."""
    untyped = [
        a for a, n in STACK_KEYS.items() if pulumi_type(ChallengeSpec.model_fields[n]) is None
    ]
    return untyped + [k for k in SECRET_KEYS if k not in REQUIRED_SECRETS]


def _structured_type(annotation: Any) -> str:
    """`list of strings`, `list` (of objects) or `object`, for the README's type column."""
    if get_origin(annotation) not in (tuple, list):
        return "object"
    items = [a for a in get_args(annotation) if a is not Ellipsis]
    return "list of strings" if items and _base_type(items[0]) is str else "list"


def unit_of(alias: str) -> str:
    for suffix, unit in _UNITS.items():
        if alias.endswith(suffix):
            return unit
    return ""


def yaml_value(value: Any) -> str:
    """A default as the stack file would spell it (`true`, `7`, `--x 1`), not a Python repr."""
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, exclude_none=True)
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def readme_table() -> str:
    """The README's table of stack keys: key, type, unit, default, meaning."""
    rows = ["| key | type | unit | default | meaning |", "| --- | --- | --- | --- | --- |"]
    for alias, name in STACK_KEYS.items():
        field = ChallengeSpec.model_fields[name]
        default = _default(field)
        shown = "required" if default is PydanticUndefined else f"`{yaml_value(default)}`"
        if default in ("", {}, (), []) or shown == "`{}`":
            shown = "none"
        kind = pulumi_type(field) or _structured_type(field.annotation)
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{alias}` | {kind} | {unit_of(alias)} | {shown} | {description} |")
    for key, description in SECRET_KEYS.items():
        shown = "required" if key in REQUIRED_SECRETS else SECRET_DEFAULTS.get(key, "none")
        rows.append(f"| `{key}` | secret string |  | {shown} | {description} |")
    return "\n".join(rows)


_PULUMI_YAML_HEAD = """\
# The challenge program. Every `challenge:` key Pulumi can type (string, integer, boolean) is
# declared under `config:` with its type, description and default; the stack file sets the values
# (see Pulumi.dev.yaml and the README's key table). `make check` validates all of them.
# Generated by `python -m stackconfig pulumi-yaml` from stackconfig/model.py.
name: challenge
description: Evaluation infrastructure of a Synapse data challenge (projects, teams, queues, host).
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
#
# Keys Pulumi's project config cannot type (lists of objects, objects, optional secrets),
# validated by the program's config model before any resource is made:
"""


def pulumi_yaml() -> str:
    """The whole `Pulumi.yaml`, derived from the model."""
    lines = [_PULUMI_YAML_HEAD]
    for key in untyped_keys():
        name = STACK_KEYS.get(key)
        description = ChallengeSpec.model_fields[name].description if name else SECRET_KEYS[key]
        lines.append(f"#   challenge:{key}: {description}\n")
    body = yaml.safe_dump(
        {"config": project_config_declarations()}, sort_keys=False, width=100, allow_unicode=True
    )
    return "".join(lines) + body
