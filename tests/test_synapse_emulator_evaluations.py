"""The emulator's evaluation queues, rounds, submissions, statuses and SubmissionView via synapseclient."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import synapseclient
from synapseclient import models
from synapseclient.core.exceptions import SynapseHTTPError

from tests.fixtures.synapse import SCORE, SUBMIT, status_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def open_round(
    syn: synapseclient.Synapse,
    evaluation_id: str,
    start: dt.datetime,
    end: dt.datetime,
    **fields: object,
) -> dict:
    """POST /evaluation/{id}/round for ``start``..``end`` (plus ``fields``, e.g. limits)."""
    body = {"evaluationId": evaluation_id, "roundStart": iso(start), "roundEnd": iso(end)}
    return syn.restPOST(f"/evaluation/{evaluation_id}/round", json.dumps({**body, **fields}))


@pytest.fixture
def queue(synapse_emulator, organiser_syn):
    """A project with one queue; orchestrator may score, participant may submit."""
    project = models.Project(name="Queue Host").store(synapse_client=organiser_syn)
    evaluation = models.Evaluation(
        name="Queue Host Task 1",
        description="task 1",
        content_source=project.id,
        submission_instructions_message="submit a docker image",
        submission_receipt_message="thanks",
    ).store(synapse_client=organiser_syn)
    evaluation.update_acl(
        principal_id=synapse_emulator.principal_id("orchestrator"),
        access_type=SCORE,
        synapse_client=organiser_syn,
    )
    evaluation.update_acl(
        principal_id=synapse_emulator.principal_id("participant"),
        access_type=SUBMIT,
        synapse_client=organiser_syn,
    )
    return project, evaluation


@pytest.fixture
def submission_file(participant_syn):
    project = models.Project(name="Participant Work").store(synapse_client=participant_syn)
    return models.File(
        path="https://example.org/prediction.csv",
        synapse_store=False,
        name="prediction.csv",
        parent_id=project.id,
    ).store(synapse_client=participant_syn)


# ----- evaluations -----------------------------------------------------------------------------
def test_evaluation_with_models(organiser_syn, queue):
    project, evaluation = queue
    fetched = models.Evaluation(id=evaluation.id).get(synapse_client=organiser_syn)
    assert (fetched.name, fetched.content_source, fetched.submission_receipt_message) == (
        "Queue Host Task 1",
        project.id,
        "thanks",
    )
    by_name = models.Evaluation(name="Queue Host Task 1").get(synapse_client=organiser_syn)
    assert by_name.id == evaluation.id
    fetched.description = "renamed task"
    updated = fetched.store(synapse_client=organiser_syn)
    assert updated.etag != evaluation.etag
    listed = models.Evaluation.get_evaluations_by_project(
        project_id=project.id, synapse_client=organiser_syn
    )
    assert [e.description for e in listed] == ["renamed task"]
    updated.delete(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/evaluation/{evaluation.id}")
    assert status_of(error) == 404


def test_evaluation_with_legacy_calls(organiser_syn):
    project = organiser_syn.store(synapseclient.Project("Legacy Queues"))
    evaluation = organiser_syn.store(
        synapseclient.Evaluation(name="Legacy Task", description="d", contentSource=project.id)
    )
    assert organiser_syn.getEvaluation(evaluation.id).name == "Legacy Task"
    assert organiser_syn.getEvaluationByName("Legacy Task").id == evaluation.id
    assert [e.id for e in organiser_syn.getEvaluationByContentSource(project)] == [evaluation.id]
    organiser_syn.delete(evaluation)
    with pytest.raises(SynapseHTTPError):
        organiser_syn.getEvaluation(evaluation.id)


def test_evaluation_names_are_global_and_sources_must_be_projects(
    organiser_syn, participant_syn, queue
):
    project, _ = queue
    other = models.Project(name="Elsewhere").store(synapse_client=participant_syn)
    body = {"name": "Queue Host Task 1", "contentSource": other.id}
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST("/evaluation", json.dumps(body))
    assert status_of(error) == 409
    folder = models.Folder(name="f", parent_id=project.id).store(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST(
            "/evaluation", json.dumps({"name": "Bad source", "contentSource": folder.id})
        )
    assert status_of(error) == 400


def test_evaluation_stale_etag_is_412(organiser_syn, queue):
    _, evaluation = queue
    current = organiser_syn.restGET(f"/evaluation/{evaluation.id}")
    organiser_syn.restPUT(
        f"/evaluation/{evaluation.id}", json.dumps({**current, "description": "a"})
    )
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(
            f"/evaluation/{evaluation.id}", json.dumps({**current, "description": "b"})
        )
    assert status_of(error) == 412


def test_evaluation_acl_controls_access(synapse_emulator, organiser_syn, participant_syn, queue):
    _, evaluation = queue
    acl = evaluation.get_acl(synapse_client=organiser_syn)
    grants = {e["principalId"]: sorted(e["accessType"]) for e in acl["resourceAccess"]}
    assert grants[synapse_emulator.principal_id("orchestrator")] == sorted(SCORE)
    assert grants[synapse_emulator.principal_id("participant")] == sorted(SUBMIT)
    assert "CHANGE_PERMISSIONS" in grants[synapse_emulator.principal_id("organiser")]
    permissions = evaluation.get_permissions(synapse_client=participant_syn)
    assert permissions["canSubmit"] is True and permissions["canEdit"] is False
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPUT("/evaluation/acl", json.dumps(acl))
    assert status_of(error) == 403
    renewed = organiser_syn.restPUT("/evaluation/acl", json.dumps(acl))
    assert renewed["etag"] != acl["etag"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT("/evaluation/acl", json.dumps(acl))
    assert status_of(error) == 412

    evaluation.update_acl(
        principal_id=synapse_emulator.principal_id("participant"),
        access_type=[],
        synapse_client=organiser_syn,
    )
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restGET(f"/evaluation/{evaluation.id}")
    assert status_of(error) == 403


def test_legacy_set_permissions_on_an_evaluation(synapse_emulator, organiser_syn):
    project = organiser_syn.store(synapseclient.Project("Legacy ACL"))
    evaluation = organiser_syn.store(
        synapseclient.Evaluation(name="Legacy ACL q", contentSource=project.id)
    )
    orchestrator = synapse_emulator.principal_id("orchestrator")
    organiser_syn.setPermissions(evaluation, orchestrator, SCORE)
    assert sorted(organiser_syn.getPermissions(evaluation, orchestrator)) == sorted(SCORE)


# ----- rounds and limits --------------------------------------------------------------------------
def test_rounds_validate_and_list(organiser_syn, queue):
    _, evaluation = queue
    now = dt.datetime.now(dt.UTC)
    body = {
        "evaluationId": evaluation.id,
        "roundStart": iso(now - dt.timedelta(days=1)),
        "roundEnd": iso(now + dt.timedelta(days=30)),
        "limits": [{"limitType": "DAILY", "maximumSubmissions": 2}],
    }
    created = organiser_syn.restPOST(f"/evaluation/{evaluation.id}/round", json.dumps(body))
    assert created["id"] and created["etag"]
    overlapping = {**body, "roundStart": iso(now + dt.timedelta(days=5))}
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST(f"/evaluation/{evaluation.id}/round", json.dumps(overlapping))
    assert status_of(error) == 400
    backwards = {**body, "roundStart": body["roundEnd"], "roundEnd": body["roundStart"]}
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST(f"/evaluation/{evaluation.id}/round", json.dumps(backwards))
    assert status_of(error) == 400
    changed = {**created, "limits": [{"limitType": "TOTAL", "maximumSubmissions": 5}]}
    updated = organiser_syn.restPUT(
        f"/evaluation/{evaluation.id}/round/{created['id']}", json.dumps(changed)
    )
    assert updated["limits"] == [{"limitType": "TOTAL", "maximumSubmissions": 5}]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(
            f"/evaluation/{evaluation.id}/round/{created['id']}", json.dumps(changed)
        )
    assert status_of(error) == 412
    listed = organiser_syn.restPOST(f"/evaluation/{evaluation.id}/round/list", json.dumps({}))
    assert [r["id"] for r in listed["page"]] == [created["id"]]
    organiser_syn.restDELETE(f"/evaluation/{evaluation.id}/round/{created['id']}")
    assert organiser_syn.restPOST(f"/evaluation/{evaluation.id}/round/list", "{}")["page"] == []


def test_round_limits_are_enforced(organiser_syn, participant_syn, queue, submission_file):
    _, evaluation = queue
    now = dt.datetime.now(dt.UTC)
    open_round(
        organiser_syn,
        evaluation.id,
        now - dt.timedelta(hours=1),
        now + dt.timedelta(days=1),
        limits=[{"limitType": "TOTAL", "maximumSubmissions": 1}],
    )
    first = participant_syn.submit(evaluation.id, submission_file.id, name="one")
    assert first.evaluationRoundId
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.submit(evaluation.id, submission_file.id, name="two")
    assert status_of(error) == 403
    assert "TOTAL limit" in str(error.value)


def test_no_submissions_outside_rounds(organiser_syn, participant_syn, queue, submission_file):
    _, evaluation = queue
    now = dt.datetime.now(dt.UTC)
    open_round(organiser_syn, evaluation.id, now + dt.timedelta(days=1), now + dt.timedelta(days=2))
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.submit(evaluation.id, submission_file.id)
    assert status_of(error) == 403


# ----- submissions and statuses -----------------------------------------------------------------
def test_submission_lifecycle_with_legacy_calls(
    organiser_syn, orchestrator_syn, participant_syn, queue, submission_file
):
    _, evaluation = queue
    submission = participant_syn.submit(evaluation.id, submission_file.id, name="run 1")
    assert submission.entityId == submission_file.id and submission.versionNumber == 1
    bundle = json.loads(submission.entityBundleJSON)
    assert bundle["entity"]["id"] == submission_file.id

    status = orchestrator_syn.getSubmissionStatus(submission)
    assert status.status == "RECEIVED"
    status.status = "EVALUATION_IN_PROGRESS"
    stored = orchestrator_syn.store(status)
    assert stored.status == "EVALUATION_IN_PROGRESS" and stored.etag != status.etag

    in_progress = list(
        orchestrator_syn.getSubmissionBundles(evaluation.id, status="EVALUATION_IN_PROGRESS")
    )
    assert [(s.id, st.status) for s, st in in_progress] == [
        (submission.id, "EVALUATION_IN_PROGRESS")
    ]
    assert list(orchestrator_syn.getSubmissionBundles(evaluation.id, status="ACCEPTED")) == []
    assert [s.id for s in orchestrator_syn.getSubmissions(evaluation.id)] == [submission.id]
    assert orchestrator_syn.getSubmission(submission.id, downloadFile=False).name == "run 1"
    # Not even the submitter reads a Submission without READ_PRIVATE_SUBMISSION
    # (Synapse-Repository-Services SubmissionManagerImpl.getSubmission); its status is READ.
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.getSubmission(submission.id, downloadFile=False)
    assert status_of(error) == 403
    assert participant_syn.getSubmissionStatus(submission.id).status == "EVALUATION_IN_PROGRESS"

    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.store(status)
    assert status_of(error) == 412
    with pytest.raises(SynapseHTTPError) as error:
        list(participant_syn.getSubmissionBundles(evaluation.id))
    assert status_of(error) == 403
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPUT(
            f"/evaluation/submission/{submission.id}/status", json.dumps(dict(stored))
        )
    assert status_of(error) == 403


def test_submission_lifecycle_with_models(
    orchestrator_syn, participant_syn, organiser_syn, queue, submission_file
):
    _, evaluation = queue
    submission = models.Submission(
        entity_id=submission_file.id, evaluation_id=evaluation.id, name="model run"
    ).store(synapse_client=participant_syn)
    assert (
        models.Submission(id=submission.id).get(synapse_client=orchestrator_syn).name == "model run"
    )
    status = models.SubmissionStatus(id=submission.id).get(synapse_client=orchestrator_syn)
    assert (status.status, status.status_version) == ("RECEIVED", 0)
    status.status = "ACCEPTED"
    status.submission_annotations = {"auc": [0.91]}
    stored = status.store(synapse_client=orchestrator_syn)
    assert (stored.status, stored.status_version) == ("ACCEPTED", 1)
    assert stored.submission_annotations == {"auc": [0.91]}

    statuses = models.SubmissionStatus.get_all_submission_statuses(
        evaluation_id=evaluation.id, status="ACCEPTED", synapse_client=orchestrator_syn
    )
    assert [s.id for s in statuses] == [submission.id]
    bundles = models.SubmissionBundle.get_evaluation_submission_bundles(
        evaluation_id=evaluation.id, status="ACCEPTED", synapse_client=orchestrator_syn
    )
    assert [(b.submission.id, b.submission_status.status) for b in bundles] == [
        (submission.id, "ACCEPTED")
    ]
    mine = models.SubmissionBundle.get_user_submission_bundles(
        evaluation_id=evaluation.id, synapse_client=participant_syn
    )
    assert [b.submission.id for b in mine] == [submission.id]
    # a bare JSON number, as EvaluationController.getSubmissionCount's `long`
    count = models.Submission.get_submission_count(
        evaluation_id=evaluation.id, synapse_client=orchestrator_syn
    )
    assert count == 1
    models.Submission(id=submission.id).delete(synapse_client=organiser_syn)
    assert (
        models.Submission.get_submission_count(
            evaluation_id=evaluation.id, synapse_client=orchestrator_syn
        )
        == 0
    )


def test_status_batch_is_all_or_nothing(orchestrator_syn, participant_syn, queue, submission_file):
    _, evaluation = queue
    first = participant_syn.submit(evaluation.id, submission_file.id, name="a")
    second = participant_syn.submit(evaluation.id, submission_file.id, name="b")
    statuses = [
        orchestrator_syn.restGET(f"/evaluation/submission/{s.id}/status") for s in (first, second)
    ]
    stale = {**statuses[1], "etag": "stale"}
    batch = {
        "statuses": [{**statuses[0], "status": "INVALID"}, stale],
        "isFirstBatch": True,
        "isLastBatch": True,
    }
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restPUT(f"/evaluation/{evaluation.id}/statusBatch", json.dumps(batch))
    assert status_of(error) == 412
    assert (
        orchestrator_syn.restGET(f"/evaluation/submission/{first.id}/status")["status"]
        == "RECEIVED"
    )
    batch["statuses"] = [{**s, "status": "INVALID"} for s in statuses]
    orchestrator_syn.restPUT(f"/evaluation/{evaluation.id}/statusBatch", json.dumps(batch))
    everything = orchestrator_syn.restGET(f"/evaluation/{evaluation.id}/submission/status/all")
    assert {s["status"] for s in everything["results"]} == {"INVALID"}


def test_private_status_annotations_are_hidden_from_participants(
    orchestrator_syn, participant_syn, queue, submission_file
):
    _, evaluation = queue
    submission = participant_syn.submit(evaluation.id, submission_file.id)
    status = orchestrator_syn.restGET(f"/evaluation/submission/{submission.id}/status")
    status["annotations"] = {
        "stringAnnos": [
            {"key": "log", "value": "secret", "isPrivate": True},
            {"key": "public", "value": "shown", "isPrivate": False},
        ]
    }
    orchestrator_syn.restPUT(f"/evaluation/submission/{submission.id}/status", json.dumps(status))
    seen = participant_syn.restGET(f"/evaluation/submission/{submission.id}/status")
    assert [a["key"] for a in seen["annotations"]["stringAnnos"]] == ["public"]
    seen_by_scorer = orchestrator_syn.restGET(f"/evaluation/submission/{submission.id}/status")
    assert len(seen_by_scorer["annotations"]["stringAnnos"]) == 2


def test_submitting_needs_submit_access_and_the_current_etag(
    organiser_syn, participant_syn, queue, submission_file
):
    _, evaluation = queue
    other = models.Evaluation(
        name="Closed queue", description="closed", content_source=queue[0].id
    ).store(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.submit(other.id, submission_file.id)
    assert status_of(error) == 403
    body = {"evaluationId": evaluation.id, "entityId": submission_file.id, "versionNumber": 1}
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST("/evaluation/submission?etag=stale", json.dumps(body))
    # SubmissionManagerImpl.createSubmission: an IllegalArgumentException (400), not a 412.
    assert status_of(error) == 400
    assert "The supplied eTag is out of date" in str(error.value)


def test_team_submission(synapse_emulator, organiser_syn, participant_syn, queue, submission_file):
    _, evaluation = queue
    participant = synapse_emulator.principal_id("participant")
    team = participant_syn.store(synapseclient.Team(name="Solvers", canPublicJoin=True))
    submission = participant_syn.submit(evaluation.id, submission_file.id, team=team.id)
    assert submission.teamId == str(team.id)
    assert submission.contributors[0]["principalId"] == str(participant)
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restDELETE(f"/team/{team.id}")
    assert status_of(error) == 400


# ----- submission view ------------------------------------------------------------------------------
def test_submission_view_with_models(organiser_syn, queue):
    project, evaluation = queue
    view = models.SubmissionView(
        name="Dashboard", parent_id=project.id, scope_ids=[evaluation.id]
    ).store(synapse_client=organiser_syn)
    assert view.id.startswith("syn")
    fetched = models.SubmissionView(id=view.id).get(
        include_columns=True, synapse_client=organiser_syn
    )
    assert fetched.scope_ids == [evaluation.id]
    assert {"id", "status", "evaluationid", "submitterid"} <= set(fetched.columns)
    entity = organiser_syn.restGET(f"/entity/{view.id}")
    assert entity["concreteType"] == "org.sagebionetworks.repo.model.table.SubmissionView"
    view.delete(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/entity/{view.id}")
    assert status_of(error) == 404
