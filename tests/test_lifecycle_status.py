"""`python -m lifecycle status`: counts against the Synapse-compatible server, the host through
moto (EC2 state) and the sandboxed host (SSM disk script), and clear messages for what is
unreachable."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from lifecycle import LifecycleError, parse_outputs
from lifecycle import outputs as outputs_module
from lifecycle.cli import main
from lifecycle.status import human_age, human_size, queue_statuses
from lifecycle.submissions import COUNTED_STATUSES
from synapse_client.session import AUTH_TOKEN_ENV_VAR
from tests.fixtures.synapse import SubmissionQueues

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SYNAPSE_RETRY_ATTEMPTS = 2
"""Attempts per Synapse call (the fault tests count on it)."""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs_module.shutil, "which", lambda _: None)
    monkeypatch.setattr(outputs_module, "_home_pulumi", lambda: None)


@pytest.fixture
def busy(synapse_emulator) -> tuple[SubmissionQueues, dict[str, str]]:
    """Queue 1: 2 received, 1 being validated (OPEN), 2 validated, 1 in progress, 3 accepted,
    1 invalid; queue 2: empty."""
    challenge = SubmissionQueues(synapse_emulator)
    first = challenge.queues[0]
    made = {"oldest": challenge.submit(first)}
    challenge.submit(first)
    challenge.submit(first, "OPEN")
    for _ in range(2):
        challenge.submit(first, "VALIDATED")
    made["running"] = challenge.submit(first, "EVALUATION_IN_PROGRESS")
    for _ in range(3):
        challenge.submit(first, "ACCEPTED")
    challenge.submit(first, "INVALID")
    return challenge, made


def server_counts(challenge: SubmissionQueues, queue: str) -> dict[str, int]:
    """Counted independently with synapseclient's own listing."""
    return {
        status: len(list(challenge.organiser.getSubmissionBundles(queue, status=status)))
        for status in COUNTED_STATUSES
    }


def test_queue_counts_match_the_server_and_the_oldest_in_flight_is_found(busy):
    challenge, made = busy
    session = challenge.session()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    challenge.emu.reset_counts()
    found = queue_statuses(
        session, {"task-1": challenge.queues[0], "task-2": challenge.queues[1]}, later
    )
    calls = sum(challenge.emu.request_counts().values())
    assert [q.key for q in found] == ["task-1", "task-2"]
    for queue in found:
        assert dict(queue.counts) == server_counts(challenge, queue.evaluation_id), queue.key
    assert dict(found[0].counts) == {
        "RECEIVED": 2,
        "OPEN": 1,
        "VALIDATED": 2,
        "EVALUATION_IN_PROGRESS": 1,
        "ACCEPTED": 3,
        "INVALID": 1,
    }
    oldest = found[0].oldest_in_flight
    assert oldest is not None and (oldest.submission_id, oldest.status) == (
        made["oldest"],
        "RECEIVED",
    )
    assert 7100 < found[0].oldest_age_seconds < 7300
    assert found[1].oldest_in_flight is None and found[1].problem is None
    assert calls == 12  # per queue: 4 in-flight listings + 2 counts


def write_outputs(tmp_path: Path, **values: Any) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(values))
    return path


def test_status_cli_shows_queues_and_host_as_a_table_and_as_json(
    busy, aws, instance_id, ssm_runs_in, tmp_path, monkeypatch, capsys
):
    challenge, made = busy
    ssm_runs_in.set_containers(1)
    monkeypatch.setenv(AUTH_TOKEN_ENV_VAR, challenge.emu.token("organiser"))
    outputs = write_outputs(
        tmp_path,
        queueIds={"task-1": challenge.queues[0], "task-2": challenge.queues[1]},
        instanceId=instance_id,
        awsRegion="us-east-1",
        synapseEndpoint=challenge.emu.base_url,
        phase="live",
    )
    assert main(["status", "--stack", "dev", "--outputs-file", str(outputs)]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0] == "Stack dev (phase live)"
    row = next(line for line in lines if line.strip().startswith("task-1"))
    assert row.split()[:8] == ["task-1", challenge.queues[0], "2", "1", "2", "1", "3", "1"]
    assert f"{made['oldest']} RECEIVED" in row
    assert f"Host {instance_id}: running, t3.large" in table
    assert "workflow containers running: 1; new submissions: accepting" in table
    assert "volume proj_shared:" in table

    assert main(["status", "--stack", "dev", "--outputs-file", str(outputs), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [q["counts"] for q in shown["queues"]] == [
        server_counts(challenge, q) for q in challenge.queues
    ]
    (host,) = shown["hosts"]
    assert host["disk"]["workflow_containers"] == 1
    assert host["state"] == "running" and shown["synapse_problem"] is None


def test_status_says_what_is_unreachable_and_still_succeeds(aws, instance_id, tmp_path, capsys):
    aws.client("ec2").stop_instances(InstanceIds=[instance_id])
    outputs = write_outputs(
        tmp_path, queueIds={"task-1": "9614045"}, instanceId=instance_id, awsRegion="us-east-1"
    )
    assert main(["status", "--stack", "dev", "--outputs-file", str(outputs)]) == 0
    table = capsys.readouterr().out
    assert "unavailable: no Synapse token: set SYNAPSE_AUTH_TOKEN" in table
    assert f"Host {instance_id}: stopped" in table
    assert "unavailable: host is stopped: no disk figures" in table


def test_without_a_region_the_host_part_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AWS_REGION", raising=False)
    outputs = write_outputs(tmp_path, queueIds={"task-1": "9614045"}, instanceId="i-0abc1234")
    assert main(["status", "--stack", "dev", "--outputs-file", str(outputs)]) == 0
    table = capsys.readouterr().out
    assert "Host i-0abc1234: unknown" in table
    assert "unavailable: no AWS region: export awsRegion from the stack" in table


def test_an_unreachable_synapse_is_a_message(aws, instance_id, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(AUTH_TOKEN_ENV_VAR, "some-token")
    outputs = write_outputs(
        tmp_path,
        queueIds={"task-1": "9614045"},
        instanceId=instance_id,
        awsRegion="us-east-1",
        synapseEndpoint="http://127.0.0.1:9",
    )
    assert main(["status", "--stack", "dev", "--outputs-file", str(outputs)]) == 0
    table = capsys.readouterr().out
    assert "unavailable: Synapse unreachable: cannot reach Synapse at http://127.0.0.1:9" in table


def test_bad_outputs_are_one_line_errors(tmp_path, capsys):
    outputs = write_outputs(tmp_path, queueIds={"task-1": "1"}, awsRegion="us-east-1")
    assert main(["status", "--stack", "dev", "--outputs-file", str(outputs)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "stack outputs instanceId are missing" in err

    assert main(["status", "--stack", "dev"]) == 1
    assert "the Pulumi CLI is not installed" in capsys.readouterr().err

    good = write_outputs(tmp_path, queueIds={"a": "1"}, instanceId="i-1", awsRegion="x")
    assert (
        main(
            [
                "status",
                "--stack",
                "dev",
                "--outputs-file",
                str(good),
                "--synapse-endpoint",
                "ftp://x",
            ]
        )
        == 1
    )
    assert "--synapse-endpoint" in capsys.readouterr().err


def test_parse_outputs_accepts_a_list_of_ids_and_rejects_names():
    parsed = parse_outputs(
        "dev", {"queueIds": ["11", "12"], "instanceId": "i-1", "awsRegion": "eu-west-1"}, "f"
    )
    assert parsed.queue_ids == {"11": "11", "12": "12"}
    with pytest.raises(LifecycleError, match="queueIds must map queue keys to numeric"):
        parse_outputs("dev", {"queueIds": {"a": "syn1"}, "instanceId": "i", "awsRegion": "r"}, "f")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (59, "0m"), (3599, "59m"), (7260, "2h01m"), (200000, "2d07h")],
)
def test_human_age(seconds, text):
    assert human_age(seconds) == text


def test_human_size():
    assert [human_size(k) for k in (None, 512, 2048, 5 * 1024 * 1024)] == [
        "?",
        "512 KiB",
        "2.0 MiB",
        "5.0 GiB",
    ]


def test_a_fleet_shows_each_host_with_its_stage_and_queues(aws, instance_id, tmp_path, capsys):
    """With the `hosts` output, each host gets its own state line; no `instanceId` needed."""
    outputs = parse_outputs(
        "dev",
        {
            "queueIds": {"light": "11", "heavy": "12"},
            "awsRegion": "us-east-1",
            "hosts": {
                "default": {"instanceId": instance_id, "queues": ["light"]},
                "gpu": {"instanceId": "i-0fffffffffffffff0", "queues": ["heavy"]},
            },
        },
        "f",
    )
    assert [(h.key, h.instance_id, h.queue_keys) for h in outputs.hosts] == [
        ("default", instance_id, ("light",)),
        ("gpu", "i-0fffffffffffffff0", ("heavy",)),
    ]
    path = write_outputs(
        tmp_path,
        queueIds={"light": "11", "heavy": "12"},
        awsRegion="us-east-1",
        hosts={
            "default": {"instanceId": instance_id, "queues": ["light"]},
            "gpu": {"instanceId": "i-0fffffffffffffff0", "queues": ["heavy"]},
        },
    )
    assert main(["status", "--stack", "dev", "--outputs-file", str(path)]) == 0
    table = capsys.readouterr().out
    assert f"Host default (ALL; queues light) {instance_id}: running" in table
    assert "Host gpu (ALL; queues heavy) i-0fffffffffffffff0: not found" in table
