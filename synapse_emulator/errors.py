"""Errors: ``SynapseApiError`` answers a request; ``EmulatorConfigError`` rejects bad settings."""


class SynapseApiError(Exception):
    """An HTTP error answered as Synapse does: the status code and JSON ``{"reason": ...}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def bad_request(reason: str) -> SynapseApiError:
    return SynapseApiError(400, reason)


def unauthorized(reason: str) -> SynapseApiError:
    return SynapseApiError(401, reason)


def forbidden(reason: str) -> SynapseApiError:
    return SynapseApiError(403, reason)


def not_found(reason: str) -> SynapseApiError:
    return SynapseApiError(404, reason)


def conflict(reason: str) -> SynapseApiError:
    return SynapseApiError(409, reason)


def precondition_failed(object_id: object) -> SynapseApiError:
    return SynapseApiError(
        412,
        f"Object: {object_id} was updated since you last fetched it, "
        "retrieve it again and re-apply the update",
    )


class EmulatorConfigError(ValueError):
    """Bad emulator settings (users, faults, command-line flags), named in the message."""
