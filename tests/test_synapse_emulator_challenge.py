"""Challenge behaviour of the emulator through synapseclient: Docker submissions, registration
(eligibility) and downloading a submitted file.

Each test cites the Synapse REST documentation page and the Synapse-Repository-Services source
the behaviour was read from (services/repository-managers/... unless marked otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import synapseclient
from synapseclient import models
from synapseclient.core.exceptions import SynapseError, SynapseHTTPError

from tests.fixtures.synapse import SCORE, SUBMIT, status_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DIGEST_1 = "sha256:" + "1" * 64
DIGEST_2 = "sha256:" + "2" * 64


@pytest.fixture
def queue(synapse_emulator, organiser_syn):
    """A live project with one queue: the orchestrator scores, the participant may submit."""
    project = models.Project(name="Docker Challenge").store(synapse_client=organiser_syn)
    evaluation = models.Evaluation(
        name="Docker Challenge Task 1", description="task 1", content_source=project.id
    ).store(synapse_client=organiser_syn)
    for user, access in (("orchestrator", SCORE), ("participant", SUBMIT)):
        evaluation.update_acl(
            principal_id=synapse_emulator.principal_id(user),
            access_type=access,
            synapse_client=organiser_syn,
        )
    return project, evaluation


@pytest.fixture
def participant_project(participant_syn):
    return models.Project(name="Participant Work").store(synapse_client=participant_syn)


def prediction(participant_syn, parent_id: str) -> models.File:
    """An external file the participant submits."""
    return models.File(
        path="https://example.org/prediction.csv",
        synapse_store=False,
        name="prediction.csv",
        parent_id=parent_id,
    ).store(synapse_client=participant_syn)


def add_commit(syn: synapseclient.Synapse, repository_id: str, tag: str, digest: str) -> None:
    syn.restPOST(
        f"/entity/{repository_id}/dockerCommit", json.dumps({"tag": tag, "digest": digest})
    )


def make_challenge(organiser_syn, project_id: str) -> tuple[synapseclient.Team, dict]:
    team = organiser_syn.store(
        synapseclient.Team(name="Docker Challenge Participants", canPublicJoin=True)
    )
    challenge = organiser_syn.restPOST(
        "/challenge", json.dumps({"projectId": project_id, "participantTeamId": team.id})
    )
    return team, challenge


# ----- a. Docker repositories and Docker submissions ------------------------------------------
def test_docker_repository_commits_and_tags(participant_syn, participant_project):
    """https://rest-docs.synapse.org/rest/org/sagebionetworks/repo/model/docker/DockerRepository.html
    (unmanaged when made through the API), POST /entity/{id}/dockerCommit and
    GET /entity/{id}/dockerTag (DockerManagerImpl: only the latest commit of each tag)."""
    repository = models.DockerRepository(
        repository_name="example/model", parent_id=participant_project.id
    ).store(synapse_client=participant_syn)
    assert repository.is_managed is False
    etag_before = participant_syn.restGET(f"/entity/{repository.id}")["etag"]
    add_commit(participant_syn, repository.id, "v1", DIGEST_1)
    add_commit(participant_syn, repository.id, "latest", DIGEST_1)
    add_commit(participant_syn, repository.id, "latest", DIGEST_2)
    assert participant_syn.restGET(f"/entity/{repository.id}")["etag"] != etag_before
    tags = participant_syn.restGET(f"/entity/{repository.id}/dockerTag?sort=TAG&ascending=true")
    assert [(t["tag"], t["digest"]) for t in tags["results"]] == [
        ("latest", DIGEST_2),
        ("v1", DIGEST_1),
    ]
    assert tags["totalNumberOfResults"] == 2
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restGET(f"/entity/{participant_project.id}/dockerTag")
    assert status_of(error) == 400


@pytest.mark.parametrize(
    ("repository_name", "in_folder", "message"),
    [
        ("Not A Repository", False, "Invalid repository name: Not A Repository"),
        ("example/model", True, "Parent must be a project."),
    ],
)
def test_docker_repository_validation(
    participant_syn, participant_project, repository_name, in_folder, message
):
    """DockerRepositoryValidator and DockerNameUtil (services/repository): repositories named as
    Docker names them, directly in a project."""
    parent = participant_project.id
    if in_folder:
        parent = (
            models.Folder(name="images", parent_id=parent).store(synapse_client=participant_syn).id
        )
    body = {
        "concreteType": "org.sagebionetworks.repo.model.docker.DockerRepository",
        "repositoryName": repository_name,
        "parentId": parent,
    }
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST("/entity", json.dumps(body))
    assert status_of(error) == 400
    assert message in str(error.value)


def test_docker_submission(participant_syn, orchestrator_syn, queue, participant_project):
    """POST /evaluation/submission with dockerRepositoryName/dockerDigest
    (https://rest-docs.synapse.org/rest/org/sagebionetworks/evaluation/model/Submission.html);
    SubmissionManagerImpl.createSubmission checks the digest is a commit of the repository."""
    _, evaluation = queue
    repository = participant_syn.store(
        synapseclient.DockerRepository(repositoryName="example/model", parent=participant_project)
    )
    add_commit(participant_syn, repository.id, "v1", DIGEST_1)
    add_commit(participant_syn, repository.id, "v2", DIGEST_2)
    repository = participant_syn.get(repository.id)
    submission = participant_syn.submit(evaluation.id, repository, dockerTag="v1")
    assert (submission.dockerRepositoryName, submission.dockerDigest) == (
        "example/model",
        DIGEST_1,
    )
    # the object model submits the newest commit
    newest = models.Submission(entity_id=repository.id, evaluation_id=evaluation.id).store(
        synapse_client=participant_syn
    )
    assert newest.docker_digest == DIGEST_2
    bundles = list(orchestrator_syn.getSubmissionBundles(evaluation.id))
    assert sorted(s["dockerDigest"] for s, _ in bundles) == [DIGEST_1, DIGEST_2]

    etag = participant_syn.restGET(f"/entity/{repository.id}")["etag"]
    body = {
        "evaluationId": evaluation.id,
        "entityId": repository.id,
        "versionNumber": 1,
        "dockerRepositoryName": "example/model",
        "dockerDigest": "sha256:" + "9" * 64,
    }
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST(f"/evaluation/submission?etag={etag}", json.dumps(body))
    assert status_of(error) == 400
    assert f"The given Docker Repository, {repository.id}, does not have digest" in str(error.value)
    del body["dockerDigest"]
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST(f"/evaluation/submission?etag={etag}", json.dumps(body))
    assert "Docker Digest cannot be null" in str(error.value)


# ----- b. Challenge registration --------------------------------------------------------------
def test_submitter_must_be_registered_for_the_challenge(
    synapse_emulator, organiser_syn, participant_syn, queue, participant_project
):
    """SubmissionEligibilityManagerImpl.isIndividualEligible: with a challenge on the queue's
    project, only members of its participant team may submit (403 otherwise); see
    https://rest-docs.synapse.org/rest/POST/evaluation/submission.html."""
    project, evaluation = queue
    team, _ = make_challenge(organiser_syn, project.id)
    entry = prediction(participant_syn, participant_project.id)
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.submit(evaluation.id, entry.id)
    assert status_of(error) == 403
    assert "Submitter is not registered for the challenge." in str(error.value)

    participant = synapse_emulator.principal_id("participant")
    participant_syn.restPUT(f"/team/{team.id}/member/{participant}")
    assert participant_syn.submit(evaluation.id, entry.id).userId == str(participant)
    # GET /challenge?participantId= lists only challenges whose project the caller may read
    challenges = organiser_syn.restGET(f"/challenge?participantId={participant}")
    assert [c["participantTeamId"] for c in challenges["results"]] == [str(team.id)]
    assert participant_syn.restGET(f"/challenge?participantId={participant}")["results"] == []


def test_team_submission_needs_a_registered_team(
    synapse_emulator, organiser_syn, participant_syn, queue, participant_project
):
    """Team submissions: the team must be registered with POST /challenge/{id}/challengeTeam by
    a registered participant who manages it (ChallengeManagerImpl); submissionEligibility then
    says isRegistered (SubmissionEligibilityManagerImpl.getTeamSubmissionEligibility)."""
    project, evaluation = queue
    participants, challenge = make_challenge(organiser_syn, project.id)
    participant = synapse_emulator.principal_id("participant")
    solvers = participant_syn.store(synapseclient.Team(name="Solvers", canPublicJoin=True))
    entry = prediction(participant_syn, participant_project.id)
    registration = {"challengeId": challenge["id"], "teamId": solvers.id}
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST(
            f"/challenge/{challenge['id']}/challengeTeam", json.dumps(registration)
        )
    assert "You must be a Challenge participant for this operation." in str(error.value)
    participant_syn.restPUT(f"/team/{participants.id}/member/{participant}")
    with pytest.raises(SynapseError, match='Team "Solvers" is not registered'):
        participant_syn.submit(evaluation.id, entry.id, team=solvers.id)

    created = participant_syn.restPOST(
        f"/challenge/{challenge['id']}/challengeTeam", json.dumps(registration)
    )
    listed = organiser_syn.restGET(f"/challenge/{challenge['id']}/challengeTeam")
    assert [t["id"] for t in listed["results"]] == [created["id"]]
    submission = participant_syn.submit(evaluation.id, entry.id, team=solvers.id)
    assert submission.teamId == str(solvers.id)
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restDELETE(f"/challengeTeam/{created['id']}")
    assert status_of(error) == 403


# ----- c. Downloading a submitted file --------------------------------------------------------
def test_scorer_downloads_a_submitted_file(
    participant_syn, orchestrator_syn, queue, participant_project, tmp_path
):
    """POST /file/v1/fileHandle/batch with associateObjectType SubmissionAttachment and
    GET /evaluation/submission/{id}/file/{fileHandleId}
    (https://rest-docs.synapse.org/rest/GET/evaluation/submission/subId/file/fileHandleId.html):
    READ_PRIVATE_SUBMISSION on the queue, and only the submission's own file handles
    (SubmissionManagerImpl.getRedirectURLForFileHandle)."""
    _, evaluation = queue
    local = tmp_path / "prediction.csv"
    local.write_text("id,score\n1,0.5\n")
    entry = models.File(path=str(local), parent_id=participant_project.id).store(
        synapse_client=participant_syn
    )
    submission = participant_syn.submit(evaluation.id, entry.id)

    target = tmp_path / "scorer"
    fetched = orchestrator_syn.getSubmission(submission.id, downloadLocation=str(target))
    assert Path(fetched.filePath).read_text() == "id,score\n1,0.5\n"

    handle_id = entry.data_file_handle_id
    url = orchestrator_syn.restGET(
        f"/evaluation/submission/{submission.id}/file/{handle_id}?redirect=false"
    )
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"] and len(query["X-Amz-Date"][0]) == 16
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restGET(f"/evaluation/submission/{submission.id}/file/1?redirect=false")
    assert status_of(error) == 404
    assert f"Submission {submission.id} does not contain the requested FileHandle 1" in str(
        error.value
    )
    denied = participant_syn.restPOST(
        "/fileHandle/batch",
        json.dumps(
            {
                "requestedFiles": [
                    {
                        "fileHandleId": handle_id,
                        "associateObjectId": submission.id,
                        "associateObjectType": "SubmissionAttachment",
                    }
                ],
                "includePreSignedURLs": True,
            }
        ),
        endpoint=participant_syn.fileHandleEndpoint,
    )
    assert denied["requestedFiles"][0]["failureCode"] == "UNAUTHORIZED"
