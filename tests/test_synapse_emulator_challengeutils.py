"""Behaviour the emulator copies from Synapse, found by running challengeutils 4.3's command line
against it (benchmarks/challengeutils_cli.py, issue 14 §3). Each test names the Synapse REST page."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
import synapseclient
from synapseclient import models
from synapseclient.core.exceptions import SynapseHTTPError

from tests.fixtures.synapse import SUBMIT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def query(syn: synapseclient.Synapse, text: str) -> dict:
    return syn.restGET(f"/evaluation/submission/query?query={quote_plus(text)}")


@pytest.fixture
def scored_queue(organiser_syn, tmp_path):
    """A queue with three of the organiser's submissions; the first two annotated as a scoring
    workflow does (old-style annotations, one private and one public key)."""
    project = models.Project(name="Query Home").store(synapse_client=organiser_syn)
    path = tmp_path / "predictions.csv"
    path.write_text("id,p\n1,0.5\n")
    entity = organiser_syn.store(synapseclient.File(str(path), parent=project.id))
    queue = organiser_syn.store(synapseclient.Evaluation(name="Query", contentSource=project.id))
    ids = [str(organiser_syn.submit(queue, entity, name=f"s{n}").id) for n in range(3)]
    for submission_id, score in zip(ids[:2], (0.5, 0.9), strict=True):
        status = organiser_syn.getSubmissionStatus(submission_id)
        status.status = "SCORED"
        status.annotations = {
            "doubleAnnos": [{"key": "score", "value": score, "isPrivate": True}],
            "stringAnnos": [{"key": "phase", "value": "live", "isPrivate": False}],
        }
        organiser_syn.store(status)
    return queue, ids


def test_submission_query_filters_orders_and_pages(organiser_syn, scored_queue):
    """GET /evaluation/submission/query
    (https://rest-docs.synapse.org/rest/GET/evaluation/submission/query.html): SELECT * gives
    the system fields and the annotations; WHERE filters joined by AND, ORDER BY, LIMIT/OFFSET;
    values are strings, totalNumberOfResults counts the matches before paging."""
    queue, ids = scored_queue
    everything = query(organiser_syn, f"select * from evaluation_{queue.id}")
    assert everything["totalNumberOfResults"] == 3
    headers = everything["headers"]
    assert {"objectId", "scopeId", "userId", "submitterId", "status", "createdOn"} <= set(headers)
    assert {"score", "phase"} <= set(headers)
    rows = [dict(zip(headers, r["values"], strict=True)) for r in everything["rows"]]
    assert [r["objectId"] for r in rows] == ids
    assert rows[0]["score"] == "0.5" and rows[2]["score"] is None
    assert rows[0]["scopeId"] == str(queue.id) and rows[0]["createdOn"].isdigit()

    best = query(
        organiser_syn,
        f"select objectId, score from evaluation_{queue.id} "
        "where status == 'SCORED' and phase == 'live' order by score DESC limit 1 offset 0",
    )
    assert best["headers"] == ["objectId", "score"]
    assert best["totalNumberOfResults"] == 2
    assert best["rows"] == [{"values": [ids[1], "0.9"]}]
    numeric = query(organiser_syn, f"select objectId from evaluation_{queue.id} where score > 0.6")
    assert numeric["rows"] == [{"values": [ids[1]]}]


def test_submission_query_needs_read_and_hides_private_annotations(
    synapse_emulator, organiser_syn, participant_syn, scored_queue
):
    """Same page: READ on the Evaluation is needed for any query; without READ_PRIVATE,
    SELECT * leaves private annotations out of the headers."""
    queue, _ = scored_queue
    text = f"select * from evaluation_{queue.id}"
    with pytest.raises(SynapseHTTPError) as error:
        query(participant_syn, text)
    assert error.value.response.status_code == 403
    participant = synapse_emulator.principal_id("participant")
    organiser_syn.setPermissions(queue, principalId=participant, accessType=SUBMIT)
    seen = query(participant_syn, text)
    assert "phase" in seen["headers"] and "score" not in seen["headers"]
    with pytest.raises(SynapseHTTPError) as error:
        query(organiser_syn, f"select * from evaluation_{queue.id} where score ~ 1")
    assert error.value.response.status_code == 400


def test_submission_bundle_names_the_entity_type(organiser_syn, scored_queue):
    """A Submission's entityBundleJSON is the entity's EntityBundle with its entityType
    (https://rest-docs.synapse.org/rest/org/sagebionetworks/repo/model/entitybundle/v2/EntityBundle.html),
    as POST /entity/{id}/bundle2 answers it; challengeutils' cheat-detection reads it."""
    _, ids = scored_queue
    submission = organiser_syn.getSubmission(ids[0], downloadFile=False)
    bundle = json.loads(submission["entityBundleJSON"])
    assert bundle["entityType"] == "file"
    assert bundle["entity"]["id"] == submission["entityId"]


def test_a_submission_quota_becomes_evaluation_rounds(organiser_syn):
    """The Evaluation page
    (https://rest-docs.synapse.org/rest/org/sagebionetworks/evaluation/model/Evaluation.html):
    "No SubmissionQuota will be returned with the Evaluation. Any SubmissionQuotas submitted will
    be instead be converted into similar EvaluationRounds" (EvaluationRoundTranslationUtil:
    N rounds of a duration, each with a TOTAL limit; a one-day duration is one DAILY round; no
    end is one round to Synapse's far future). challengeutils' set-evaluation-quota sends one."""
    project = models.Project(name="Quota Home").store(synapse_client=organiser_syn)
    queue = organiser_syn.store(synapseclient.Evaluation(name="Quota", contentSource=project.id))

    def rounds() -> list[dict]:
        body = json.dumps({"nextPageToken": None})
        return organiser_syn.restPOST(f"/evaluation/{queue.id}/round/list", body)["page"]

    queue.quota = {
        "firstRoundStart": "2030-01-01T00:00:00.000Z",
        "roundDurationMillis": 3_600_000,
        "numberOfRounds": 2,
        "submissionLimit": 3,
    }
    queue = organiser_syn.store(queue)
    assert "quota" not in organiser_syn.restGET(f"/evaluation/{queue.id}")
    assert [(r["roundStart"], r["roundEnd"], r["limits"]) for r in rounds()] == [
        (start, end, [{"limitType": "TOTAL", "maximumSubmissions": 3}])
        for start, end in (
            ("2030-01-01T00:00:00.000Z", "2030-01-01T01:00:00.000Z"),
            ("2030-01-01T01:00:00.000Z", "2030-01-01T02:00:00.000Z"),
        )
    ]
    queue.quota = {"firstRoundStart": "2031-01-01T00:00:00.000Z", "submissionLimit": 1}
    queue = organiser_syn.store(queue)
    assert rounds()[-1]["roundEnd"].startswith("4021-01-01")
    queue.quota = {
        "firstRoundStart": "2030-01-01T00:30:00.000Z",
        "roundDurationMillis": 86_400_000,
        "numberOfRounds": 1,
    }
    with pytest.raises(SynapseHTTPError) as error:  # overlaps the first converted round
        organiser_syn.store(queue)
    assert error.value.response.status_code == 400
