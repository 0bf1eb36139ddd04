"""The one user-facing error of the Synapse side, and the one rule for "the object is gone"."""

from __future__ import annotations

GONE_STATUS = 404
"""Synapse answers 404 for an object that does not exist: never made, deleted, or in the trash
can. A 403 is never "gone": the object exists and this account may not read it, which a person
has to fix (grant access), so it stays an error everywhere."""


class SynapseProvisioningError(Exception):
    """The one user-facing error of the Synapse side: names the object and the HTTP status."""

    def __init__(self, message: str, *, status: int | None = None, object_id: str | None = None):
        details = [f"HTTP {status}" if status is not None else None]
        details.append(f"object {object_id}" if object_id else None)
        suffix = ", ".join(d for d in details if d)
        super().__init__(f"{message} ({suffix})" if suffix else message)
        self.status = status
        self.object_id = object_id

    @property
    def gone(self) -> bool:
        """Whether the object asked for does not exist (see ``GONE_STATUS``)."""
        return self.status == GONE_STATUS
