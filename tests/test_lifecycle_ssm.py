"""SSM Run Command calls against moto, and the scripts they carry run for real in a sandbox.

The fixtures (moto, the scratch host ``ssm_runs_in`` runs sent scripts in) are in
``tests/fixtures/host.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lifecycle import LifecycleError, drain_switch_script, instance_state, run_shell
from lifecycle.drain import stop_new_submissions
from lifecycle.ssm import RUN_SHELL_DOCUMENT
from lifecycle.status import host_status_script, parse_host_output
from tests.fixtures.host import SECRET, sent_commands

# --- run_shell against moto ----------------------------------------------------------------------


def test_run_shell_sends_one_run_shell_script_and_returns_its_result(aws, instance_id):
    ssm = aws.client("ssm")
    result = run_shell(ssm, instance_id, ["echo one", "echo two"], comment="challenge: test")
    assert (result.ok, result.instance_id, result.response_code) == (True, instance_id, 0)
    [command] = sent_commands(aws)
    assert command["DocumentName"] == RUN_SHELL_DOCUMENT
    assert command["InstanceIds"] == [instance_id]
    assert command["Parameters"] == {
        "commands": ["echo one", "echo two"],
        "executionTimeout": ["120"],
    }
    assert command["Comment"] == "challenge: test"
    assert command["CommandId"] == result.command_id


class FlakySsm:
    """moto's client, except the first invocation reads fail or report a status we choose."""

    def __init__(self, ssm: Any, first: list[Any]) -> None:
        self._ssm = ssm
        self._first = list(first)
        self.reads = 0

    def send_command(self, **kwargs: Any) -> Any:
        return self._ssm.send_command(**kwargs)

    def get_command_invocation(self, **kwargs: Any) -> Any:
        self.reads += 1
        real = self._ssm.get_command_invocation(**kwargs)
        if not self._first:
            return real
        step = self._first.pop(0)
        if isinstance(step, Exception):
            raise step
        return {**real, "Status": step}


def missing_invocation() -> ClientError:
    return ClientError(
        {"Error": {"Code": "InvocationDoesNotExist", "Message": "not yet"}},
        "GetCommandInvocation",
    )


def test_run_shell_waits_through_unregistered_and_pending_invocations(aws, instance_id):
    flaky = FlakySsm(aws.client("ssm"), [missing_invocation(), "Pending", "InProgress"])
    slept: list[float] = []
    result = run_shell(flaky, instance_id, ["true"], comment="c", poll_s=0.5, sleep=slept.append)
    assert result.status == "Success"
    assert flaky.reads == 4 and slept == [0.5, 0.5, 0.5]


def test_run_shell_gives_up_after_its_bound_naming_the_command(aws, instance_id):
    flaky = FlakySsm(aws.client("ssm"), ["InProgress"] * 100)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(LifecycleError) as error:
        run_shell(
            flaky,
            instance_id,
            ["sleep 999"],
            comment="c",
            wait_s=10,
            poll_s=2,
            sleep=sleep,
            clock=lambda: now[0],
        )
    command_id = sent_commands(aws)[0]["CommandId"]
    assert f"SSM command {command_id} on {instance_id} did not finish within 10 s" in str(
        error.value
    )
    assert "last status InProgress" in str(error.value)


def test_unreachable_host_is_a_clear_error(aws):
    class Unmanaged:
        def send_command(self, **kwargs: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "InvalidInstanceId", "Message": "not managed"}}, "SendCommand"
            )

    with pytest.raises(LifecycleError) as error:
        run_shell(Unmanaged(), "i-0123456789abcdef0", ["true"], comment="c")
    assert "i-0123456789abcdef0 is not reachable through SSM Run Command" in str(error.value)


def test_instance_state_from_ec2(aws, instance_id):
    ec2 = aws.client("ec2")
    assert instance_state(ec2, instance_id) == "running"
    ec2.stop_instances(InstanceIds=[instance_id])
    assert instance_state(ec2, instance_id) == "stopped"
    assert instance_state(ec2, "i-0123456789abcdef0") is None


# --- the drain switch through SSM, run in the sandbox --------------------------------------------


def test_stop_new_submissions_flips_the_hosts_switch_and_reloads_only_the_orchestrator(
    aws, instance_id, ssm_runs_in
):
    host = ssm_runs_in
    host.set_containers(2)
    switched = stop_new_submissions(aws.client("ssm"), instance_id, False)
    assert (switched.accepting, switched.workflow_containers) == (False, 2)
    assert host.accept_value() == "'false'"
    assert ["systemctl", "reload", "challenge-orchestrator.service"] in host.calls()
    assert not any(c[0] == "docker" and c[1] in ("stop", "kill", "rm") for c in host.calls())
    assert oct(host.env_file.stat().st_mode & 0o777) == "0o600"
    [command] = sent_commands(aws)
    assert command["Parameters"]["commands"] == drain_switch_script(False)
    assert command["Comment"] == "challenge: stop new submissions"

    resumed = stop_new_submissions(aws.client("ssm"), instance_id, True)
    assert resumed.accepting is True
    assert host.accept_value() == "''"


def test_a_host_without_the_switch_fails_with_the_reason(aws, instance_id, ssm_runs_in):
    ssm_runs_in.switch.unlink()
    with pytest.raises(LifecycleError) as error:
        stop_new_submissions(aws.client("ssm"), instance_id, False)
    message = str(error.value)
    assert "could not stop new submissions on host" in message
    assert "Failed (exit 3)" in message and "was not set up by the challenge bootstrap" in message


def test_host_status_script_reports_disk_containers_and_switch_without_secrets(sandbox):
    sandbox.set_containers(3)
    done = sandbox.run_script(host_status_script())
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    disk = parse_host_output(done.stdout)
    assert disk.root_size_kib and disk.root_used_kib is not None and disk.root_available_kib
    assert disk.shared_volume == "proj_shared"
    assert disk.shared_volume_kib is not None and disk.shared_volume_kib >= 290
    assert (disk.workflow_containers, disk.submissions) == (3, "accepting")
    assert ["docker", "volume", "inspect", "--format", "{{ .Mountpoint }}", "proj_shared"] in (
        sandbox.calls()
    )


@pytest.mark.parametrize("script", [drain_switch_script(False), host_status_script()])
def test_run_command_scripts_are_shellcheck_clean_posix_sh(script, tmp_path):
    path = tmp_path / "script.sh"
    path.write_text("\n".join(script) + "\n")
    checker = Path(sys.executable).parent / "shellcheck"
    done = subprocess.run(
        [str(checker), "--shell=sh", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
