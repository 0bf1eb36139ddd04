"""Fault scenarios for the Synapse providers: 429 storms, 5xx bursts, answers lost after the
server committed, stale etags, and objects of the same name that this stack did not create.

After each, the provider's result (the state) and the server agree: no duplicate, no orphan,
nothing lost.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from components.synapse._entity import PROJECT
from components.synapse.challenge import ChallengeProvider
from components.synapse.entity_permissions import EntityPermissionsProvider
from components.synapse.evaluation_permissions import EvaluationPermissionsProvider
from components.synapse.evaluation_queue import EvaluationQueueProvider
from components.synapse.external_link_file import ExternalLinkFileProvider
from components.synapse.folder import FolderProvider
from components.synapse.project import ProjectProvider
from components.synapse.team import TeamProvider
from synapse_client import session as synapse_session
from synapse_client.errors import SynapseProvisioningError
from synapse_client.session import SynapseSession
from synapse_emulator import SynapseEmulator
from tests.fixtures.synapse import (
    USERS,
    checked,
    configured,
    entry,
    make,
    project,
    queue,
    rest,
    team,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def count(emu: SynapseEmulator, method: str, path: str) -> int:
    return emu.request_counts().get((method, path), 0)


def project_ids_named(syn, name: str) -> list[str]:
    found = rest(syn, "POST", "/entity/child", {"entityName": name})
    return [found["id"]]


# ----- 429 and 5xx -------------------------------------------------------------------------------


def test_429_storm_on_create_is_retried_into_one_project(emu, syn) -> None:
    provider = configured(ProjectProvider)
    inputs = checked(
        provider, {"name": "Storm", "owner_key": "t/s", "synapse_endpoint": emu.base_url}
    )
    emu.reset_counts()
    emu.faults.burst(status=429, count=4, method="POST", path_regex=r"/entity$")
    created = provider.create(inputs)
    assert count(emu, "POST", "/repo/v1/entity") == 5
    assert project_ids_named(syn, "Storm") == [created.id]
    assert emu.faults.injected["burst"] == 4


def test_429_storm_longer_than_the_retry_budget_fails_cleanly_and_creates_nothing(emu, syn) -> None:
    provider = configured(ProjectProvider)
    inputs = checked(
        provider, {"name": "Storm", "owner_key": "t/s", "synapse_endpoint": emu.base_url}
    )
    provider.session(inputs)  # log in before the storm
    emu.faults.burst(status=429, count=50, method="POST", path_regex=r"/entity$")
    with pytest.raises(SynapseProvisioningError) as error:
        provider.create(inputs)
    assert error.value.status == 429
    emu.faults.clear()
    with pytest.raises(Exception, match="404"):
        rest(syn, "POST", "/entity/child", {"entityName": "Storm"})


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_burst_during_update_is_retried(status, emu, syn) -> None:
    provider = configured(TeamProvider)
    inputs = checked(
        provider, {"name": "Admins", "owner_key": "t/a", "synapse_endpoint": emu.base_url}
    )
    created = provider.create(inputs)
    emu.faults.burst(status=status, count=3, method="PUT", path_regex=r"/team$")
    news = {**inputs, "name": "Admins 2"}
    provider.update(created.id, created.outs, news)
    assert rest(syn, "GET", f"/team/{created.id}")["name"] == "Admins 2"
    assert provider.diff(created.id, provider.read(created.id, news).outs, news).changes is False


# ----- answer lost after commit ---------------------------------------------------------------


def _project_inputs(emu):
    return ProjectProvider, {"name": "Dropped", "owner_key": "t/d"}, r"/entity$"


def _folder_inputs(emu):
    parent = project(emu)
    return FolderProvider, {"name": "Logs", "parent_id": parent, "owner_key": "t/l"}, r"/entity$"


def _team_inputs(emu):
    return TeamProvider, {"name": "Dropped Team", "owner_key": "t/t"}, r"/team$"


def _queue_inputs(emu):
    rounds = [
        {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z", "daily_submissions": 1}
    ]
    inputs = {
        "name": "Dropped Q",
        "content_source": project(emu),
        "owner_key": "t/q",
        "rounds": rounds,
    }
    return EvaluationQueueProvider, inputs, r"/evaluation$"


def _round_inputs(emu):
    provider, inputs, _ = _queue_inputs(emu)
    return provider, inputs, r"/round$"


def _challenge_inputs(emu):
    inputs = {"project_id": project(emu), "participant_team_id": team(emu)}
    return ChallengeProvider, inputs, r"/challenge$"


def _file_inputs(emu):
    inputs = {
        "name": "wf.zip",
        "parent_id": project(emu),
        "external_url": "https://example.org/wf.zip",
        "annotations": {"ROOT_TEMPLATE": "wf/main.cwl"},
        "owner_key": "t/f",
    }
    return ExternalLinkFileProvider, inputs, r"/repo/v1/entity$"


def _annotations_inputs(emu):
    provider, inputs, _ = _file_inputs(emu)
    return provider, inputs, r"/annotations2$"


def _folder_grant_inputs(emu):
    parent = project(emu)
    folder_id = make(FolderProvider, emu, name="Logs", parent_id=parent, owner_key="t/logs")
    inputs = {"entity_id": folder_id, "principal_username": "orchestrator", "access": "edit"}
    return EntityPermissionsProvider, inputs, r"/entity/syn\d+/acl$"


def _queue_grant_inputs(emu):
    inputs = {
        "evaluation_id": queue(emu, project(emu)),
        "principal_username": "orchestrator",
        "access": "score",
    }
    return EvaluationPermissionsProvider, inputs, r"/evaluation/acl$"


DROPPED = {
    "project": _project_inputs,
    "folder": _folder_inputs,
    "team": _team_inputs,
    "evaluation_queue": _queue_inputs,
    "evaluation_round": _round_inputs,
    "challenge": _challenge_inputs,
    "external_link_file": _file_inputs,
    "file_annotations": _annotations_inputs,
    "folder_grant": _folder_grant_inputs,
    "queue_grant": _queue_grant_inputs,
}


@pytest.mark.parametrize("case", sorted(DROPPED))
def test_dropped_answer_after_commit_is_adopted_not_duplicated(case, emu, syn) -> None:
    provider_cls, inputs, path_regex = DROPPED[case](emu)
    provider = configured(provider_cls)
    inputs = checked(provider, {**inputs, "synapse_endpoint": emu.base_url})
    method = "PUT" if case in ("file_annotations", "queue_grant") else "POST"
    emu.faults.drop_after_commit(method=method, path_regex=path_regex)
    created = provider.create(inputs)
    assert emu.faults.injected["drop"] == 1, "the fault fired"
    read = provider.read(created.id, created.outs)
    assert read.id == created.id, "state points at the object on the server"
    assert provider.diff(created.id, read.outs, inputs).changes is False, "server matches state"
    if case == "evaluation_round":
        rounds = rest(syn, "POST", f"/evaluation/{created.id}/round/list", {})["page"]
        assert len(rounds) == 1 and created.outs["round_ids"] == [str(rounds[0]["id"])]


def test_create_interrupted_before_any_answer_is_adopted_by_the_next_run(emu, syn, monkeypatch):
    """Pulumi keeps no state for a failed create and calls create again on the next `up`."""
    provider = configured(EvaluationQueueProvider)
    rounds = [
        {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z", "total_submissions": 3}
    ]
    inputs = checked(
        provider,
        {
            "name": "Flaky",
            "content_source": project(emu),
            "owner_key": "t/q",
            "rounds": rounds,
            "synapse_endpoint": emu.base_url,
        },
    )
    monkeypatch.setattr(synapse_session, "RETRY_POLICY", synapse_session.RetryPolicy(attempts=1))
    emu.faults.drop_after_commit(method="POST", path_regex=r"/evaluation$")
    with pytest.raises(SynapseProvisioningError, match="no answer"):
        provider.create(inputs)
    committed = rest(syn, "GET", "/evaluation/name/Flaky")
    assert rest(syn, "POST", f"/evaluation/{committed['id']}/round/list", {})["page"] == []

    created = provider.create(inputs)
    assert created.id == str(committed["id"]), "the second run adopts, no duplicate, no 409"
    rounds_now = rest(syn, "POST", f"/evaluation/{created.id}/round/list", {})["page"]
    assert [r["limits"] for r in rounds_now] == [[{"limitType": "TOTAL", "maximumSubmissions": 3}]]


def test_adoption_does_not_wait_for_the_lagging_team_name_index(monkeypatch) -> None:
    with SynapseEmulator(users=USERS, team_index_delay_seconds=60) as lagging:
        provider = configured(TeamProvider)
        inputs = checked(
            provider,
            {"name": "Fresh Team", "owner_key": "t/t", "synapse_endpoint": lagging.base_url},
        )
        lagging.faults.drop_after_commit(method="POST", path_regex=r"/team$")
        created = provider.create(inputs)
        assert lagging.client("organiser").restGET(f"/team/{created.id}")["name"] == "Fresh Team"


# ----- stale etag -------------------------------------------------------------------------------


def test_stale_etag_during_update_is_reread_and_reapplied_without_losing_the_other_change(
    emu, syn, monkeypatch
) -> None:
    provider = configured(ProjectProvider)
    inputs = checked(
        provider, {"name": "Etag", "owner_key": "t/e", "synapse_endpoint": emu.base_url}
    )
    created = provider.create(inputs)
    original_put = SynapseSession.put
    interfered: list[str] = []

    def put_after_someone_else(self, uri: str, body: Any, **kw: Any) -> Any:
        if not interfered:
            interfered.append(uri)
            current = rest(syn, "GET", f"/entity/{created.id}/annotations2")
            current["annotations"]["note"] = {"type": "STRING", "value": ["by hand"]}
            rest(syn, "PUT", f"/entity/{created.id}/annotations2", current)
        return original_put(self, uri, body, **kw)

    monkeypatch.setattr(SynapseSession, "put", put_after_someone_else)
    emu.reset_counts()
    news = {**inputs, "name": "Etag 2"}
    provider.update(created.id, created.outs, news)
    assert count(emu, "PUT", "/repo/v1/entity/{entity_id}") == 2, "412 once, then re-applied"
    assert rest(syn, "GET", f"/entity/{created.id}")["name"] == "Etag 2"
    annotations = rest(syn, "GET", f"/entity/{created.id}/annotations2")["annotations"]
    assert annotations["note"]["value"] == ["by hand"], "the concurrent change is kept"


def test_concurrent_grants_on_one_queue_all_land(emu, syn) -> None:
    """Four grants race on one ACL (as the engine runs them); 412s are re-read and re-applied."""
    queue_id = queue(emu, project(emu))
    principals = [str(emu.add_user(f"judge{i}", f"tok-judge{i}")) for i in range(4)]
    provider = configured(EvaluationPermissionsProvider)
    emu.faults.latency(0.02)

    def grant(principal: str) -> str:
        inputs = {
            "evaluation_id": queue_id,
            "principal_id": principal,
            "access": "score",
            "synapse_endpoint": emu.base_url,
        }
        return provider.create(checked(provider, inputs)).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(grant, principals))
    acl = rest(syn, "GET", f"/evaluation/{queue_id}/acl")
    for principal in principals:
        assert entry(acl, principal) == {"READ", "UPDATE_SUBMISSION", "READ_PRIVATE_SUBMISSION"}
    assert ids == [f"{queue_id}/{p}" for p in principals]


# ----- not ours ---------------------------------------------------------------------------------


def test_existing_project_not_created_by_this_stack_is_refused_and_left_alone(emu, syn) -> None:
    body = {"name": "Taken", "concreteType": PROJECT, "description": "organisers' own"}
    mine = rest(syn, "POST", "/entity", body)
    provider = configured(ProjectProvider)
    inputs = checked(
        provider, {"name": "Taken", "owner_key": "t/p", "synapse_endpoint": emu.base_url}
    )
    with pytest.raises(SynapseProvisioningError) as error:
        provider.create(inputs)
    message = str(error.value)
    assert error.value.status == 409 and error.value.object_id == mine["id"]
    assert "'Taken'" in message and mine["id"] in message and "not taken over" in message
    assert "choose another challenge name" in message
    assert rest(syn, "GET", f"/entity/{mine['id']}")["description"] == "organisers' own"


def test_existing_team_points_at_the_existing_team_ids_setting(emu, syn) -> None:
    rest(syn, "POST", "/team", {"name": "Site Admin", "description": "made by hand"})
    provider = configured(TeamProvider)
    inputs = checked(
        provider, {"name": "Site Admin", "owner_key": "t/a", "synapse_endpoint": emu.base_url}
    )
    with pytest.raises(SynapseProvisioningError, match="existingTeamIds") as error:
        provider.create(inputs)
    assert "carries no ownership marker" in str(error.value)


def test_queue_of_another_stack_is_not_adopted(emu, syn) -> None:
    other = configured(EvaluationQueueProvider)
    base = {"name": "Shared name", "content_source": project(emu), "synapse_endpoint": emu.base_url}
    other.create(checked(other, {**base, "owner_key": "challenge/prod/site-queue-main"}))
    provider = configured(EvaluationQueueProvider)
    with pytest.raises(
        SynapseProvisioningError, match="managed by 'challenge/prod/site-queue-main'"
    ):
        provider.create(checked(provider, {**base, "owner_key": "challenge/dev/site-queue-main"}))


def test_error_names_status_and_object(emu) -> None:
    provider = configured(FolderProvider)
    inputs = checked(
        provider,
        {
            "name": "L",
            "parent_id": "syn999999",
            "owner_key": "t/l",
            "synapse_endpoint": emu.base_url,
        },
    )
    with pytest.raises(SynapseProvisioningError) as error:
        provider.create(inputs)
    assert error.value.status in (403, 404)
    assert "POST /entity" in str(error.value) and f"HTTP {error.value.status}" in str(error.value)
