"""The ownership marker: a stack-owned key in an object's description, so a retried create
adopts its own half-made object and never takes over someone else's."""

from __future__ import annotations

import re

from .errors import SynapseProvisioningError

_MARKER = re.compile(r"\s*\[managed-by-pulumi:([^\]\n]+)\]\s*$")


def owner_key(project: str, stack: str, resource_name: str) -> str:
    """The stack-owned key written into the objects a stack creates."""
    return f"{project}/{stack}/{resource_name}"


def with_owner_marker(description: str, key: str) -> str:
    """``description`` followed by the marker that identifies this stack's object."""
    marker = f"[managed-by-pulumi:{key}]"
    return f"{description}\n\n{marker}" if description else marker


def split_owner_marker(description: str | None) -> tuple[str, str | None]:
    """The user description and the owner key found in a stored description."""
    text = description or ""
    found = _MARKER.search(text)
    if not found:
        return text, None
    return text[: found.start()], found.group(1)


def not_ours(
    kind: str, name: str, object_id: str, found_key: str | None, hint: str
) -> SynapseProvisioningError:
    """The error for an existing object of the wanted name that this stack did not create."""
    owner = f"is managed by {found_key!r}" if found_key else "carries no ownership marker"
    return SynapseProvisioningError(
        f"a Synapse {kind} named {name!r} already exists ({object_id}) and {owner}, not by this "
        f"stack; it was not taken over. {hint}",
        status=409,
        object_id=object_id,
    )
