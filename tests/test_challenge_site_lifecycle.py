"""A whole challenge site through the real providers against the Synapse-compatible server:
create, re-run with no change, add and rename a queue, refresh after drift, destroy (retained
by default, deleted in Synapse's order on request), and existing teams referenced.

The local engine does what the Pulumi engine does with the providers (dill round trip,
configure, check/diff/create/update/delete in dependency order, four at a time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from components.challenge_site import ChallengeSiteArgs, QueueSpec, SubmissionRound
from components.synapse.local_engine import LocalEngine
from components.synapse.site_plan import evaluation_templates, plan_site
from synapse_client import SynapseProvisioningError
from synapse_client.access import ENTITY_ACCESS, EVALUATION_ACCESS, AccessLevel
from synapse_emulator import SynapseEmulator
from tests.fixtures.synapse import (
    TEAM_ROLES,
    USERS,
    entry,
    gone,
    rest,
    team_names,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


WRITES = {"POST", "PUT", "DELETE"}


def site_args(emu: SynapseEmulator, **changes: Any) -> ChallengeSiteArgs:
    args = ChallengeSiteArgs(
        name="Lifecycle",
        queues=(
            QueueSpec(
                "Lifecycle Task 1",
                "first task",
                key="task-1",
                rounds=(
                    SubmissionRound(
                        "2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z", daily_submissions=2
                    ),
                ),
            ),
        ),
        workflow_archive_url="https://example.org/org/workflow/archive/main.zip",
        root_template="workflow-main/main.cwl",
        orchestrator_synapse_username="orchestrator",
        synapse_endpoint=emu.base_url,
    )
    return dataclasses.replace(args, **changes)


@pytest.fixture(name="engine")
def engine_fixture(emu: SynapseEmulator) -> Iterator[LocalEngine]:
    yield LocalEngine(USERS["organiser"], stack="dev", max_workers=4)


def writes(emu: SynapseEmulator) -> int:
    return sum(n for (method, _), n in emu.request_counts().items() if method in WRITES)


def ids(engine: LocalEngine) -> dict[str, str]:
    return {key: entry.id for key, entry in engine.state.items()}


def test_create_then_rerun_then_add_and_rename_a_queue(emu, syn, engine) -> None:
    args = site_args(emu)
    actions = engine.up(plan_site(args))
    assert set(actions.values()) == {"create"}
    assert emu.unhandled_requests() == []
    made = ids(engine)
    admin, organizers = made["team-admin"], made["team-organizers"]
    orchestrator = emu.principal_id("orchestrator")

    live = rest(syn, "GET", f"/entity/{made['live-project']}")
    staging = rest(syn, "GET", f"/entity/{made['staging-project']}")
    assert (live["name"], staging["name"]) == ("Lifecycle", "Lifecycle - staging")
    teams = {role: rest(syn, "GET", f"/team/{made[f'team-{role}']}") for role in TEAM_ROLES}
    assert {r: t["name"] for r, t in teams.items()} == team_names("Lifecycle")
    assert {r for r, t in teams.items() if t["canPublicJoin"]} == {"participants", "preregistrants"}
    challenge = rest(syn, "GET", f"/entity/{made['live-project']}/challenge")
    assert str(challenge["participantTeamId"]) == made["team-participants"]
    logs = rest(syn, "GET", f"/entity/{made['logs-folder']}")
    assert (logs["name"], logs["parentId"]) == ("Logs", made["live-project"])
    wf = rest(syn, "GET", f"/entity/{made['workflow-file']}")
    assert wf["parentId"] == made["staging-project"]
    annotations = rest(syn, "GET", f"/entity/{made['workflow-file']}/annotations2")["annotations"]
    assert annotations["ROOT_TEMPLATE"]["value"] == ["workflow-main/main.cwl"]

    live_acl = rest(syn, "GET", f"/entity/{made['live-project']}/acl")
    staging_acl = rest(syn, "GET", f"/entity/{made['staging-project']}/acl")
    assert entry(live_acl, admin) == ENTITY_ACCESS[AccessLevel.ADMIN]
    assert entry(live_acl, organizers) == ENTITY_ACCESS[AccessLevel.MODERATE]
    assert entry(staging_acl, admin) == ENTITY_ACCESS[AccessLevel.ADMIN]
    assert entry(staging_acl, organizers) == ENTITY_ACCESS[AccessLevel.EDIT]
    logs_acl = rest(syn, "GET", f"/entity/{made['logs-folder']}/acl")
    assert entry(logs_acl, orchestrator) == ENTITY_ACCESS[AccessLevel.EDIT]
    assert entry(logs_acl, admin) == ENTITY_ACCESS[AccessLevel.ADMIN], "copied from the project"
    assert entry(logs_acl, organizers) == ENTITY_ACCESS[AccessLevel.MODERATE]
    wf_acl = rest(syn, "GET", f"/entity/{made['workflow-file']}/acl")
    assert entry(wf_acl, orchestrator) == ENTITY_ACCESS[AccessLevel.DOWNLOAD]
    queue_acl = rest(syn, "GET", f"/evaluation/{made['queue-task-1']}/acl")
    assert entry(queue_acl, admin) == EVALUATION_ACCESS[AccessLevel.ADMIN]
    assert entry(queue_acl, orchestrator) == EVALUATION_ACCESS[AccessLevel.SCORE]
    participants = made["team-participants"]
    for acl in (live_acl, staging_acl, logs_acl, wf_acl, queue_acl):
        assert entry(acl, participants) is None, "participants get nothing before launch"
    assert evaluation_templates([made["queue-task-1"]], made["workflow-file"]) == {
        made["queue-task-1"]: made["workflow-file"]
    }

    emu.reset_counts()
    assert set(engine.up(plan_site(args)).values()) == {"same"}, "a re-run changes nothing"
    assert emu.request_counts() == {}, "and makes no request at all"

    renamed = dataclasses.replace(args.queues[0], name="Lifecycle Task One")
    added = QueueSpec(
        "Lifecycle Task 2",
        rounds=(
            SubmissionRound("2030-01-01T00:00:00Z", "2030-06-01T00:00:00Z", total_submissions=5),
        ),
    )
    actions = engine.up(plan_site(dataclasses.replace(args, queues=(renamed, added))))
    changed = {k: a for k, a in actions.items() if a != "same"}
    assert changed == {
        "queue-task-1": "update",
        "queue-lifecycle-task-2": "create",
        "queue-lifecycle-task-2-admin-access": "create",
        "queue-lifecycle-task-2-orchestrator-access": "create",
    }
    assert engine.state["queue-task-1"].id == made["queue-task-1"], "renamed in place"
    assert rest(syn, "GET", f"/evaluation/{made['queue-task-1']}")["name"] == "Lifecycle Task One"
    second = engine.state["queue-lifecycle-task-2"].id
    assert (
        entry(rest(syn, "GET", f"/evaluation/{second}/acl"), orchestrator)
        == EVALUATION_ACCESS[AccessLevel.SCORE]
    )
    rounds = rest(syn, "POST", f"/evaluation/{second}/round/list", {})["page"]
    assert [r["limits"] for r in rounds] == [[{"limitType": "TOTAL", "maximumSubmissions": 5}]]


def test_refresh_sees_drift_and_the_next_run_restores(emu, syn, engine) -> None:
    args = site_args(emu)
    engine.up(plan_site(args))
    queue_id = engine.state["queue-task-1"].id
    found = rest(syn, "GET", f"/evaluation/{queue_id}")
    rest(syn, "PUT", f"/evaluation/{queue_id}", {**found, "name": "Hand renamed"})
    refreshed = engine.refresh()
    assert {k for k, v in refreshed.items() if v != "same"} == {"queue-task-1"}
    assert engine.up(plan_site(args))["queue-task-1"] == "update"
    assert rest(syn, "GET", f"/evaluation/{queue_id}")["name"] == "Lifecycle Task 1"


def test_destroy_retains_participants_data_by_default(emu, syn, engine) -> None:
    engine.up(plan_site(site_args(emu)))
    made = ids(engine)
    emu.reset_counts()
    engine.destroy()
    assert engine.state == {}
    assert gone(syn, f"/entity/{made['workflow-file']}"), "the workflow link is not data"
    for key in ("live-project", "staging-project", "logs-folder"):
        assert not gone(syn, f"/entity/{made[key]}"), key
    for role in ("participants", "admin", "organizers", "preregistrants"):
        assert not gone(syn, f"/team/{made[f'team-{role}']}"), role
    assert not gone(syn, f"/evaluation/{made['queue-task-1']}")
    assert not gone(syn, f"/challenge/{made['challenge']}")
    acl = rest(syn, "GET", f"/entity/{made['live-project']}/acl")
    assert entry(acl, made["team-admin"]) == ENTITY_ACCESS[AccessLevel.ADMIN], "admins keep access"
    assert writes(emu) <= 3, "only the workflow link and its grant are deleted"


def test_destroy_with_deletion_enabled_removes_everything_in_synapse_order(emu, syn, engine):
    engine.up(plan_site(site_args(emu, delete_data_on_destroy=True)))
    made = ids(engine)
    order = engine.destroy()
    assert order.index("challenge") < order.index("team-participants")
    assert order.index("queue-task-1") < order.index("live-project")
    for key in ("live-project", "staging-project", "logs-folder", "workflow-file"):
        assert gone(syn, f"/entity/{made[key]}"), key
    for role in ("participants", "admin", "organizers", "preregistrants"):
        assert gone(syn, f"/team/{made[f'team-{role}']}"), role
    assert gone(syn, f"/evaluation/{made['queue-task-1']}")
    assert gone(syn, f"/challenge/{made['challenge']}")


def test_existing_teams_are_used_and_never_deleted(emu, syn, engine) -> None:
    organizers = rest(syn, "POST", "/team", {"name": "Our organisers", "description": "by hand"})
    args = site_args(
        emu, delete_data_on_destroy=True, existing_team_ids={"organizers": str(organizers["id"])}
    )
    engine.up(plan_site(args))
    assert "team-organizers" not in engine.state
    live_acl = rest(syn, "GET", f"/entity/{engine.state['live-project'].id}/acl")
    assert entry(live_acl, organizers["id"]) == ENTITY_ACCESS[AccessLevel.MODERATE]
    engine.destroy()
    assert rest(syn, "GET", f"/team/{organizers['id']}")["name"] == "Our organisers"


def test_second_stack_with_the_same_names_is_refused_with_a_clear_error(emu, engine) -> None:
    engine.up(plan_site(site_args(emu)))
    other = LocalEngine(USERS["organiser"], stack="prod", max_workers=1)
    with pytest.raises(SynapseProvisioningError, match="not taken over"):
        other.up(plan_site(site_args(emu)))
    assert other.state == {}, "nothing of the first stack was adopted by the second"
