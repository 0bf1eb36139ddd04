"""SSM Run Command calls against moto, and the scripts they carry run for real in a sandbox.

moto records send_command/get_command_invocation; ``ssm_runs_in`` makes moto execute the sent
script in a scratch host tree (``HostSandbox``) with the real drain switch rendered by
``userdata`` and recording stand-ins for docker and systemctl, so the script's exit code and
output are real.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ssm import models as ssm_models

from lifecycle import LifecycleError, drain_switch_script, instance_state, run_shell
from lifecycle.drain import stop_new_submissions
from lifecycle.ssm import RUN_SHELL_DOCUMENT
from lifecycle.status import host_status_script, parse_host_output
from userdata import (
    ACCEPT_SUBMISSIONS_PATH,
    ENV_PATH,
    ROOT_ENV_VARIABLE,
    BootstrapSettings,
    SsmParameterToken,
    render_accept_submissions_script,
    token_parameter_name,
)

REGION = "us-east-1"
SECRET = "orchestrator-secret-token-abc123"

STANDIN = r"""
import json, os, sys
from pathlib import Path

name = os.environ["STANDIN_NAME"]
args = sys.argv[1:]
state = Path(os.environ["STANDIN_STATE"])
with (state / "calls.jsonl").open("a") as calls:
    calls.write(json.dumps([name, *args]) + "\n")
if name in os.environ.get("STANDIN_FAIL", "").split(","):
    print(f"{name}: simulated failure", file=sys.stderr)
    sys.exit(1)
if name == "docker" and args[:1] == ["ps"]:
    count = int((state / "containers").read_text()) if (state / "containers").exists() else 0
    for n in range(count):
        print(f"c0ffee{n:06d}")
elif name == "docker" and args[:2] == ["volume", "inspect"]:
    print(state / "volume")
elif name == "date":
    print((state / "now").read_text().strip())
"""


class HostSandbox:
    """A scratch host: /opt/orchestrator/.env, the real drain switch, stand-ins on PATH."""

    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.bin = base / "bin"
        self.state = base / "state"
        for directory in (self.root / "opt/orchestrator", self.bin, self.state / "volume"):
            directory.mkdir(parents=True)
        (self.state / "volume" / "job.log").write_text("x" * 300_000)
        self.env_file = self.root / ENV_PATH.lstrip("/")
        self.env_file.write_text(
            f"COMPOSE_PROJECT_NAME='proj'\nSYNAPSE_PAT='{SECRET}'\nACCEPT_NEW_SUBMISSIONS=''\n"
        )
        self.env_file.chmod(0o600)
        self.switch = self.root / ACCEPT_SUBMISSIONS_PATH.lstrip("/")
        self.switch.parent.mkdir(parents=True)
        self.switch.write_text(render_accept_submissions_script(host_settings()))
        self.switch.chmod(0o700)
        program = self.bin / "standin.py"
        program.write_text(STANDIN)
        for name in ("docker", "systemctl", "date"):
            launcher = self.bin / name
            launcher.write_text(
                f'#!/bin/sh\nSTANDIN_NAME={name} exec {sys.executable} {program} "$@"\n'
            )
            launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)

    def set_containers(self, count: int) -> None:
        (self.state / "containers").write_text(str(count))

    def environment(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            ROOT_ENV_VARIABLE: str(self.root),
            "STANDIN_STATE": str(self.state),
            **extra,
        }

    def run_script(self, commands: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """The Run Command script as the SSM agent runs it (sh), host paths moved into root."""
        script = "\n".join(commands)
        for path in (ACCEPT_SUBMISSIONS_PATH, ENV_PATH):
            script = script.replace(path, str(self.root / path.lstrip("/")))
        return subprocess.run(
            ["sh", "-c", script],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[list[str]]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def accept_value(self) -> str:
        for line in self.env_file.read_text().splitlines():
            if line.startswith("ACCEPT_NEW_SUBMISSIONS="):
                return line.partition("=")[2]
        raise AssertionError("ACCEPT_NEW_SUBMISSIONS missing from .env")


def host_settings() -> BootstrapSettings:
    return BootstrapSettings(
        challenge_name="Demo",
        stack="dev",
        region=REGION,
        orchestrator_synapse_username="demo-bot",
        token_source=SsmParameterToken(token_parameter_name("Demo", "dev"), REGION),
        logs_folder_id="syn1",
        evaluation_templates={"1": "syn2"},
        max_concurrent_workflows=2,
        orchestrator_image="ghcr.io/sage-bionetworks/synapseworkfloworchestrator:master",
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


@pytest.fixture
def instance_id(aws: boto3.session.Session) -> str:
    made = aws.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.large"
    )
    return made["Instances"][0]["InstanceId"]


@pytest.fixture
def sandbox(tmp_path: Path) -> HostSandbox:
    return HostSandbox(tmp_path)


@pytest.fixture
def ssm_runs_in(sandbox: HostSandbox, monkeypatch: pytest.MonkeyPatch) -> HostSandbox:
    """moto answers every Run Command with the result of running its script in the sandbox."""
    original = ssm_models.Command.invocation_response

    def run_in_sandbox(self: Any, instance_id: str, plugin_name: str) -> dict[str, Any]:
        response = original(self, instance_id, plugin_name)
        done = sandbox.run_script(self.parameters["commands"])
        response.update(
            Status="Success" if done.returncode == 0 else "Failed",
            StatusDetails="Success" if done.returncode == 0 else "Failed",
            ResponseCode=done.returncode,
            StandardOutputContent=done.stdout,
            StandardErrorContent=done.stderr,
        )
        return response

    monkeypatch.setattr(ssm_models.Command, "invocation_response", run_in_sandbox)
    return sandbox


def sent_commands(aws: boto3.session.Session) -> list[dict[str, Any]]:
    return aws.client("ssm").list_commands()["Commands"]


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
