"""The one user-facing error type of the sizing package."""

from __future__ import annotations


class SizingError(ValueError):
    """Bad workload, catalog or override: the message says what is wrong and what is allowed.

    `key` is the camelCase stack key the error is about (e.g. `perSubmissionMemoryGiB`), or None;
    the Pulumi program shows it as a config error, the CLI swaps in its flag name.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
