"""Every problem of every layer of a stack at once: config, sizing, the components' own checks.

A stack with a bad image, a too-small `instanceType` and an `http://` endpoint used to take three
`make check` runs, one layer each. Here a layer that fails still lets the next run: keys the
config layer rejected fall back to their defaults (when they have one) for the later layers, and
a failed `instanceType` override falls back to the sized choice, so their own problems show too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sizing
import stackconfig
from program import FleetHost, component_problems, fleet

_KEY = re.compile(rf"^(?P<key>(?:{stackconfig.NAMESPACE}|aws):[A-Za-z0-9]+)")


@dataclass(frozen=True)
class StackCheck:
    """The outcome of all layers: `config` and `hosts` are None when a layer could not run."""

    config: stackconfig.StackConfig | None
    hosts: tuple[FleetHost, ...] | None
    problems: tuple[str, ...]


def check_stack(
    stack: str,
    raw: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> StackCheck:
    """Run every layer on `raw` (a stack file's `config:`); problems in layer order."""
    problems: list[str] = []
    config = None
    try:
        config = stackconfig.parse_config(stack, raw, env, now=now)
    except stackconfig.ConfigError as error:
        problems.extend(error.problems)
        config = _config_without_bad_keys(stack, raw, error.problems, env, now)
    if config is None:
        return StackCheck(None, None, tuple(problems))
    hosts = None
    try:
        hosts = fleet(config)
    except sizing.SizingError as error:
        problems.extend(str(error).splitlines())
        hosts = _fleet_without_override(config)
    if hosts is not None:
        problems.extend(component_problems(config, hosts))
    valid = not problems
    return StackCheck(config if valid else None, hosts if valid else None, tuple(problems))


def _config_without_bad_keys(
    stack: str,
    raw: Mapping[str, Any],
    problems: list[str],
    env: Mapping[str, str] | None,
    now: dt.datetime | None,
) -> stackconfig.StackConfig | None:
    """The stack with every rejected key (`challenge:` or `aws:`) removed (back to its default)
    and unknown namespaces dropped, if that validates: what the later layers check."""
    bad = {m["key"] for p in problems if (m := _KEY.match(p))}
    kept = {
        full: value
        for full, value in raw.items()
        if full.partition(":")[0] in stackconfig.load.KNOWN_NAMESPACES
        and (full if ":" in full else f"{stackconfig.NAMESPACE}:{full}") not in bad
    }
    if not stackconfig.load.STACK_NAME.fullmatch(stack):
        stack = "invalid-stack-name"  # reported already; the later layers need a valid one
    try:
        return stackconfig.parse_config(stack, kept, env, now=now)
    except stackconfig.ConfigError:
        return None


def _fleet_without_override(config: stackconfig.StackConfig) -> tuple[FleetHost, ...] | None:
    try:
        return fleet(config, sized_choice=True)
    except sizing.SizingError:
        return None
