"""`make rehearse`: the program against the Synapse-compatible server, end to end.

A first run creates every Synapse object and a participant's submission on every queue; a second
run of a changed stack updates in place (the same IDs, an exact count of unchanged objects) and
keeps the server's data; destroy deletes every object and the state folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from rehearsal import rehearse_destroy, rehearse_up
from rehearsal.overrides import OPEN_MARGIN_S, rehearsal_config, round_shift_s
from rehearsal.store import RehearsalPaths, load_synapse_state
from stackconfig import read_stack_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STACK = "rh"


def write_stack(project: Path, config: dict[str, Any]) -> None:
    (project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The dev stack as a data-to-model challenge (a prediction file per queue)."""
    config = dict(read_stack_file("dev"))
    config["challenge:kind"] = "data-to-model"
    config["challenge:inputDataGiB"] = 0
    write_stack(tmp_path, config)
    return tmp_path


def test_first_run_creates_second_updates_in_place_destroy_removes(project: Path) -> None:
    state_root = project / "state"
    lines: list[str] = []
    first = rehearse_up(STACK, project_dir=project, state_root=state_root, say=lines.append)

    created = first.run.actions
    assert created and set(created.values()) == {"create"}
    queues = first.outputs["queueIds"]
    assert len(queues) == 2
    assert [s.refused for s in first.submitted] == [None, None]
    assert {s.evaluation_id for s in first.submitted} == set(queues.values())
    assert {q.key: q.counts["RECEIVED"] for q in first.status.queues} == dict.fromkeys(queues, 1)
    assert first.rest_calls > len(created)
    paths = RehearsalPaths.for_stack(STACK, state_root)
    server = load_synapse_state(paths.synapse)
    live = server.entities[first.outputs["liveProjectId"]]
    assert live["name"] == "Example Model-to-Data Challenge 2027"
    assert any("joined team" in line for line in lines)
    assert not [r.type for r in first.run.program.resources if r.type.startswith("aws:")]
    bootstrap = paths.root / first.outputs["selfHostedBootstrapFile"]
    assert bootstrap.read_text() == first.outputs["selfHostedBootstrap"]

    config = dict(read_stack_file(STACK, project))
    config["challenge:queues"][1]["description"] = "Task 2, reworded."
    config["challenge:queues"].append({"name": "Example M2D 2027 Task 3"})
    write_stack(project, config)
    second = rehearse_up(STACK, project_dir=project, state_root=state_root, say=lines.append)

    actions = second.run.actions
    new_queue = "example-m2d-2027-task-3"
    task_2 = "challenge-queue-example-m2d-2027-task-2"
    assert {k for k, a in actions.items() if a == "update"} == {task_2}
    assert {k for k, a in actions.items() if a == "create"} == {
        f"challenge-queue-{new_queue}",
        f"challenge-queue-{new_queue}-admin-access",
        f"challenge-queue-{new_queue}-orchestrator-access",
        f"launch-submit-{new_queue}",
    }
    assert second.run.counts()["same"] == len(created) - 1
    assert "replace" not in actions.values() and "delete" not in actions.values()
    for key in ("liveProjectId", "stagingProjectId", "challengeId", "teamIds", "logsFolderId"):
        assert second.outputs[key] == first.outputs[key], key
    # The server's data survived: the first run's submissions are still counted; the round with
    # a daily limit of 1 refuses the second submission of the day, as Synapse does.
    received = {q.key: q.counts["RECEIVED"] for q in second.status.queues}
    assert received == {
        "example-m2d-2027-task-1": 1,
        "example-m2d-2027-task-2": 2,
        new_queue: 1,
    }
    refused = [s for s in second.submitted if s.refused]
    assert [s.queue_key for s in refused] == ["example-m2d-2027-task-1"]
    assert "DAILY limit" in (refused[0].refused or "")

    deleted = rehearse_destroy(STACK, state_root=state_root, say=lines.append)
    assert sorted(deleted) == sorted(actions)
    assert not paths.root.exists()


def test_rounds_move_once_so_that_the_earliest_opens_now() -> None:
    raw = read_stack_file("dev")
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    shift = round_shift_s(raw, now)
    moved = rehearsal_config(raw, endpoint="http://127.0.0.1:1", shift_s=shift)
    round_ = moved["challenge:queues"][0]["rounds"][0]
    start = dt.datetime.fromisoformat(round_["start"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(round_["end"].replace("Z", "+00:00"))
    assert (now - start).total_seconds() == OPEN_MARGIN_S
    assert end - start == dt.timedelta(days=89)
    assert raw["challenge:queues"][0]["rounds"][0]["start"] == "2027-02-01T00:00:00Z"
    assert moved["challenge:phase"] == "live"
    assert round_shift_s(moved, now) == 0.0


def test_model_to_data_participant_submits_a_tagged_docker_image(tmp_path: Path) -> None:
    write_stack(tmp_path, dict(read_stack_file("dev")))
    report = rehearse_up(STACK, project_dir=tmp_path, state_root=tmp_path / "state", say=print)

    assert [s.refused for s in report.submitted] == [None, None]
    server = load_synapse_state(RehearsalPaths.for_stack(STACK, tmp_path / "state").synapse)
    submissions = [server.submissions[s.submission_id] for s in report.submitted]
    (repository_id,) = {s["entityId"] for s in submissions}
    repository = server.entities[repository_id]
    assert repository["concreteType"].endswith("docker.DockerRepository")
    (commit,) = server.docker_commits[repository_id]
    for submission in submissions:
        assert submission["dockerRepositoryName"] == repository["repositoryName"]
        assert submission["dockerDigest"] == commit["digest"]
    assert {q.counts["RECEIVED"] for q in report.status.queues} == {1}


def test_with_host_names_the_bootstrap_step_that_failed(tmp_path: Path) -> None:
    from rehearsal.host import bootstrap_failures

    assert bootstrap_failures(tmp_path) == "no bootstrap failure on the console"
    (tmp_path / "console-1.log").write_text(
        "[ 1.0] cloud-init[534]: challenge-bootstrap: step: build the workflow engine image\n"
        '[ 1.2] cloud-init[534]: Get "https://registry-1.docker.io/v2/": no such host\n'
        "[ 1.3] cloud-init[534]: challenge-bootstrap: FAILED in step 'build the workflow "
        "engine image' (exit 1)\n"
    )
    found = bootstrap_failures(tmp_path)
    assert found.startswith('[ 1.2] cloud-init[534]: Get "https://registry-1.docker.io/v2/"')
    assert found.endswith("FAILED in step 'build the workflow engine image' (exit 1)")
