"""The lifecycle package's one user-facing error type."""

from __future__ import annotations


class LifecycleError(Exception):
    """A drain, status or host operation that cannot go on; the message says what to do."""


class DrainTimeout(LifecycleError):
    """Submissions were still being evaluated when the drain timeout ran out."""

    def __init__(self, message: str, still_running: tuple[object, ...]) -> None:
        super().__init__(message)
        self.still_running = still_running
