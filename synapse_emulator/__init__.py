"""A Synapse-compatible server for tests and local rehearsal (see ``SynapseEmulator``)."""

from .emulator import SynapseEmulator
from .errors import EmulatorConfigError, SynapseApiError
from .faults import Faults

__all__ = ["EmulatorConfigError", "Faults", "SynapseApiError", "SynapseEmulator"]
