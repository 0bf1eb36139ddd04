"""`make rehearse`: the stack's Synapse side, a participant's submissions and the status table,
on this machine against the Synapse-compatible server (no cloud account, no Pulumi CLI)."""

from .cli import RehearsalReport, rehearse_destroy, rehearse_up
from .engine import RehearsalMocks, RehearsalRun, rehearse_program

__all__ = [
    "RehearsalMocks",
    "RehearsalReport",
    "RehearsalRun",
    "rehearse_destroy",
    "rehearse_program",
    "rehearse_up",
]
