"""Synapse's rules for names and IDs, checked before anything is sent."""

from __future__ import annotations

import re
from typing import Any

MAX_NAME_LENGTH = 256
# Synapse's ModelConstants.VALID_ENTITY_NAME_REGEX (commas included)
_ENTITY_NAME = re.compile(r"[A-Za-z0-9 _.+\-'(),]+")


def validate_name(value: Any) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters, got {len(value)}"
    return None


def entity_name_problem(value: Any) -> str | None:
    """Synapse's rule for project, folder and file names."""
    problem = validate_name(value)
    if problem or _ENTITY_NAME.fullmatch(value):
        return problem
    return (
        "may contain only letters, digits, spaces and _ . + - ' ( ) , (Synapse's rule for "
        f"entity names), got {value!r}"
    )


def syn_id_problem(value: Any) -> str | None:
    ok = value.startswith("syn") and value[3:].isdigit()
    return None if ok else f"must be a Synapse entity ID such as syn123, got {value!r}"


def numeric_id_problem(value: Any) -> str | None:
    ok = value.isdigit()
    return None if ok else f"must be a numeric Synapse ID such as 3412345, got {value!r}"


def queue_stable_key(name: str, key: str | None = None) -> str:
    """A queue's stable key in the stack: its `key`, else derived from its name (lower case,
    runs of other characters as one dash). Resource names and host groups refer to it."""
    return key or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
