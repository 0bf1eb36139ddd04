"""Operating a running challenge: drain the host and show its status.

Imports no Pulumi (``tests/test_layering.py``): ``components.drain_guard`` calls ``drain_host``
from its provider, and `make status` runs ``python -m lifecycle status``. The end-date files the
host runs are rendered by ``userdata`` with the rest of its bootstrap.
"""

from .drain import (
    DrainResult,
    DrainWait,
    SwitchResult,
    drain_host,
    drain_switch_script,
    stop_new_submissions,
    wait_until_drained,
)
from .errors import DrainTimeout, LifecycleError
from .outputs import StackOutputs, parse_outputs, read_outputs
from .ssm import CommandResult, instance_state, run_shell
from .status import StackStatus, collect_status, render_table
from .submissions import InFlightSubmission, in_progress

__all__ = [
    "CommandResult",
    "DrainResult",
    "DrainTimeout",
    "DrainWait",
    "InFlightSubmission",
    "LifecycleError",
    "StackOutputs",
    "StackStatus",
    "SwitchResult",
    "collect_status",
    "drain_host",
    "drain_switch_script",
    "in_progress",
    "instance_state",
    "parse_outputs",
    "read_outputs",
    "render_table",
    "run_shell",
    "stop_new_submissions",
    "wait_until_drained",
]
