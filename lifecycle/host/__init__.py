"""Host side of `endDate`: a script and systemd units for the orchestrator host's user data.

After the end date the host stops accepting submissions (the drain switch) and, with
`stopHostAfterEnd`, powers itself off once no `workflow_job*` container runs. Pure: the
user-data renderer adds these files and enables ``END_DATE_TIMER``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources

import jinja2

from userdata import ORCHESTRATOR_UNIT

from ..errors import LifecycleError

END_DATE_SCRIPT_PATH = "/usr/local/sbin/challenge-end-date"
END_DATE_SERVICE = "challenge-end-date.service"
END_DATE_TIMER = "challenge-end-date.timer"
SYSTEMD_DIR = "/etc/systemd/system"

_FILES = resources.files(__name__)
_JINJA = jinja2.Environment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


@dataclass(frozen=True)
class HostFileSpec:
    """One file for cloud-init's write_files: absolute path, octal mode, content."""

    path: str
    mode: str
    content: str


def end_date_script() -> str:
    """`challenge-end-date`: stop new submissions after the end date, power off once drained."""
    return _FILES.joinpath("challenge-end-date.sh").read_text()


def _epoch(end_date: dt.datetime) -> int:
    if not isinstance(end_date, dt.datetime) or end_date.tzinfo is None:
        raise LifecycleError(
            f"endDate must be a date and time with a zone, e.g. 2027-06-30T23:59:00Z; "
            f"got {end_date!r}"
        )
    return int(end_date.timestamp())


def render_end_date_service(end_date: dt.datetime, stop_host_after_end: bool) -> str:
    """The oneshot unit carrying the end date (epoch seconds) and the power-off choice."""
    epoch = _epoch(end_date)
    template = _JINJA.from_string(_FILES.joinpath("challenge-end-date.service.j2").read_text())
    return template.render(
        end_date_iso=dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_epoch=epoch,
        stop_host_after_end=bool(stop_host_after_end),
        orchestrator_unit=ORCHESTRATOR_UNIT,
        script_path=END_DATE_SCRIPT_PATH,
    )


def render_end_date_timer() -> str:
    """Every 10 minutes (and 5 minutes after boot): checks are cheap, the script decides."""
    return _FILES.joinpath("challenge-end-date.timer").read_text()


def end_date_host_files(
    end_date: dt.datetime, stop_host_after_end: bool
) -> tuple[HostFileSpec, ...]:
    """The three files to add to user data; the bootstrap then enables ``END_DATE_TIMER``."""
    return (
        HostFileSpec(END_DATE_SCRIPT_PATH, "0700", end_date_script()),
        HostFileSpec(
            f"{SYSTEMD_DIR}/{END_DATE_SERVICE}",
            "0644",
            render_end_date_service(end_date, stop_host_after_end),
        ),
        HostFileSpec(f"{SYSTEMD_DIR}/{END_DATE_TIMER}", "0644", render_end_date_timer()),
    )
