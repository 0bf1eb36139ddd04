"""The end-date script run for real in the sandboxed host: the real drain switch, stand-ins for
date, docker and systemctl (poweroff is `systemctl poweroff`)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.host import HostSandbox, host_settings
from userdata import (
    ACCEPT_SUBMISSIONS_PATH,
    END_DATE_SCRIPT_PATH,
    END_DATE_SERVICE,
    END_DATE_TIMER,
    UserDataError,
    end_date_host_files,
    end_date_script,
    render_end_date_service,
)

END = dt.datetime(2027, 6, 30, 23, 59, tzinfo=dt.UTC)
END_EPOCH = int(END.timestamp())
SHELLCHECK = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "shellcheck"


@pytest.fixture
def host(tmp_path: Path) -> HostSandbox:
    sandbox = HostSandbox(tmp_path)
    script = tmp_path / "challenge-end-date"
    script.write_text(end_date_script())
    script.chmod(0o700)
    sandbox.end_date = script  # type: ignore[attr-defined]
    return sandbox


def run(
    host: HostSandbox, now: int, stop: str = "true", end: str = str(END_EPOCH), fail: str = ""
) -> subprocess.CompletedProcess[str]:
    (host.state / "now").write_text(str(now))
    env = host.environment(
        CHALLENGE_END_EPOCH=end, CHALLENGE_STOP_HOST_AFTER_END=stop, STANDIN_FAIL=fail
    )
    return subprocess.run(
        [str(host.end_date)],  # type: ignore[attr-defined]
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def commands(host: HostSandbox) -> list[list[str]]:
    return [c for c in host.calls() if c[0] != "date"]


def test_before_the_end_date_nothing_happens(host):
    done = run(host, END_EPOCH - 3600)
    assert done.returncode == 0, done.stderr
    assert "the challenge ends in 60 min; nothing to do yet" in done.stdout
    assert commands(host) == []
    assert host.accept_value() == "''"


JOBS = ["docker", "ps", "--all", "--quiet", "--filter", "name=^workflow_job"]


def test_after_the_end_date_a_drained_host_stops_taking_submissions_and_powers_off(host):
    done = run(host, END_EPOCH + 60)
    assert done.returncode == 0, done.stderr
    assert host.accept_value() == "'false'"
    assert commands(host) == [["systemctl", "reload", "challenge-orchestrator.service"], JOBS]
    assert "no workflow container; powering off if the next check agrees" in done.stdout

    second = run(host, END_EPOCH + 660)
    assert second.returncode == 0, second.stderr
    assert commands(host)[-2:] == [JOBS, ["systemctl", "poweroff"]]
    assert "ended and drained (two checks in a row): powering the host off" in second.stdout
    assert not (host.root / "run" / "challenge-end-date.idle").exists()


def test_a_workflow_container_between_two_idle_checks_restarts_the_count(host):
    assert run(host, END_EPOCH + 60).returncode == 0
    # e.g. an exited container the orchestrator has not removed yet (status and logs pending)
    host.set_containers(1)
    busy = run(host, END_EPOCH + 660)
    assert "1 workflow container(s) left" in busy.stdout
    host.set_containers(0)
    for minutes in (20, 30):
        assert run(host, END_EPOCH + minutes * 60).returncode == 0
    powered_off = [c for c in commands(host) if c == ["systemctl", "poweroff"]]
    assert len(powered_off) == 1, "powered off only at the second idle check after the busy one"
    assert commands(host)[-1] == ["systemctl", "poweroff"]


def test_running_workflows_delay_the_power_off_until_a_later_run(host):
    host.set_containers(2)
    first = run(host, END_EPOCH + 60)
    assert first.returncode == 0, first.stderr
    assert "2 workflow container(s) left" in first.stdout
    assert ["systemctl", "poweroff"] not in commands(host)
    assert host.accept_value() == "'false'"

    host.set_containers(0)
    for minutes in (11, 21):
        later = run(host, END_EPOCH + minutes * 60)
        assert later.returncode == 0, later.stderr
    assert commands(host)[-1] == ["systemctl", "poweroff"]
    reloads = [c for c in commands(host) if c[:2] == ["systemctl", "reload"]]
    assert len(reloads) == 1  # the switch was already off: no second orchestrator restart


def test_without_stop_host_after_end_the_host_keeps_running(host):
    done = run(host, END_EPOCH + 60, stop="false")
    assert done.returncode == 0, done.stderr
    assert host.accept_value() == "'false'"
    assert commands(host) == [["systemctl", "reload", "challenge-orchestrator.service"]]
    assert "the host keeps running (stopHostAfterEnd is false)" in done.stdout


def test_if_docker_cannot_say_the_host_is_not_powered_off(host):
    done = run(host, END_EPOCH + 60, fail="docker")
    assert done.returncode != 0
    assert ["systemctl", "poweroff"] not in commands(host)


@pytest.mark.parametrize(
    ("end", "stop", "message"),
    [
        ("", "true", "CHALLENGE_END_EPOCH must be seconds since 1970-01-01 UTC, got ''"),
        ("2027-06-30", "true", "CHALLENGE_END_EPOCH must be seconds"),
        (str(END_EPOCH), "yes", "CHALLENGE_STOP_HOST_AFTER_END must be true or false, got 'yes'"),
    ],
)
def test_bad_settings_stop_with_a_clear_message(host, end, stop, message):
    done = run(host, END_EPOCH + 60, stop=stop, end=end)
    assert done.returncode == 2
    assert message in done.stdout
    assert commands(host) == []


def test_the_script_is_shellcheck_clean_and_uses_the_hosts_switch(tmp_path):
    script = tmp_path / "challenge-end-date"
    script.write_text(end_date_script())
    checker = str(SHELLCHECK) if SHELLCHECK.exists() else shutil.which("shellcheck")
    assert checker, "shellcheck is missing from the venv"
    done = subprocess.run([checker, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
    assert f'SWITCH="$ROOT{ACCEPT_SUBMISSIONS_PATH}"' in end_date_script()


def test_host_files_for_user_data():
    files = {f.path: f for f in end_date_host_files(END, stop_host_after_end=True)}
    assert {p: f.mode for p, f in files.items()} == {
        END_DATE_SCRIPT_PATH: "0700",
        f"/etc/systemd/system/{END_DATE_SERVICE}": "0644",
        f"/etc/systemd/system/{END_DATE_TIMER}": "0644",
    }
    service = files[f"/etc/systemd/system/{END_DATE_SERVICE}"].content
    assert f"Environment=CHALLENGE_END_EPOCH={END_EPOCH}\n" in service
    assert "Environment=CHALLENGE_STOP_HOST_AFTER_END=true\n" in service
    assert f"ExecStart={END_DATE_SCRIPT_PATH}\n" in service
    assert "Description=Challenge end date 2027-06-30T23:59:00Z" in service
    timer = files[f"/etc/systemd/system/{END_DATE_TIMER}"].content
    assert "OnCalendar=*:0/10\n" in timer and "WantedBy=timers.target\n" in timer
    kept = render_end_date_service(END.astimezone(dt.timezone(dt.timedelta(hours=2))), False)
    assert f"Environment=CHALLENGE_END_EPOCH={END_EPOCH}\n" in kept
    assert "CHALLENGE_STOP_HOST_AFTER_END=false" in kept and "power off" not in kept


def test_an_end_date_without_a_zone_is_refused():
    with pytest.raises(UserDataError, match="must be a date and time with a zone"):
        end_date_host_files(dt.datetime(2027, 6, 30), True)


def test_user_data_carries_the_end_date_check_only_when_an_end_date_is_set():
    import yaml

    from userdata import render_bootstrap_script, render_cloud_config

    plain = host_settings()
    ending = plain.replace(end_date=END, stop_host_after_end=False)
    paths = {f["path"] for f in yaml.safe_load(render_cloud_config(ending))["write_files"]}
    assert {END_DATE_SCRIPT_PATH, f"/etc/systemd/system/{END_DATE_TIMER}"} <= paths
    assert f"enable_now {END_DATE_TIMER}" in render_bootstrap_script(ending)
    assert END_DATE_TIMER not in render_cloud_config(plain)
