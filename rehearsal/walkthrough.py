"""A participant's path through the challenge, as synapseclient users take it.

Join the Participants team (it is open to join), make a project of one's own, and submit to
every queue: a prediction file for data-to-model, a Docker repository and digest for
model-to-data (the repository entity and the digest of a tagged image).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import synapseclient
from synapseclient.core.exceptions import SynapseHTTPError

PROJECT_TYPE = "org.sagebionetworks.repo.model.Project"
FILE_TYPE = "org.sagebionetworks.repo.model.FileEntity"
DOCKER_TYPE = "org.sagebionetworks.repo.model.docker.DockerRepository"
MODEL_IMAGE = "model"
MODEL_TAG = "v1"


@dataclass(frozen=True)
class Submitted:
    queue_key: str
    evaluation_id: str
    submission_id: str | None
    what: str
    refused: str | None = None
    """Synapse's reason when the queue refused it (a limit reached, no open round)."""


def _own_project(syn: synapseclient.Synapse, name: str) -> str:
    found = syn.findEntityId(name)
    if found:
        return found
    return syn.restPOST("/entity", json.dumps({"name": name, "concreteType": PROJECT_TYPE}))["id"]


def _prediction_file(syn: synapseclient.Synapse, project_id: str, workdir: Path) -> str:
    path = workdir / "predictions.csv"
    path.write_text("id,prediction\n1,0.5\n2,0.25\n")
    entity = syn.store(synapseclient.File(str(path), parent=project_id))
    return entity.id


def _docker_repository(syn: synapseclient.Synapse, project_id: str, user: str) -> str:
    """The participant's image as Synapse knows it: an (unmanaged) Docker repository entity with
    one commit, tag `MODEL_TAG` at the pushed image's digest. A `docker push` to
    docker.synapse.org makes a managed one instead; no registry runs here."""
    found = syn.findEntityId(MODEL_IMAGE, parent=project_id)
    if not found:
        body = {
            "name": MODEL_IMAGE,
            "concreteType": DOCKER_TYPE,
            "parentId": project_id,
            "repositoryName": f"docker.io/{user}/{MODEL_IMAGE}",
        }
        found = syn.restPOST("/entity", json.dumps(body))["id"]
    tags = syn.restGET(f"/entity/{found}/dockerTag")["results"]
    if not any(t.get("tag") == MODEL_TAG for t in tags):
        digest = "sha256:" + hashlib.sha256(f"rehearsal model {found}".encode()).hexdigest()
        commit = {"tag": MODEL_TAG, "digest": digest}
        syn.restPOST(f"/entity/{found}/dockerCommit", json.dumps(commit))
    return found


def walk_through(
    syn: synapseclient.Synapse,
    *,
    kind: str,
    participants_team_id: str,
    queue_ids: Mapping[str, str],
    progress: Callable[[str], None] = print,
) -> list[Submitted]:
    """Join, then one submission per queue; returns what was submitted."""
    me = syn.getUserProfile()
    syn.restPUT(f"/team/{participants_team_id}/member/{me['ownerId']}")
    progress(f"participant {me['userName']} joined team {participants_team_id}")
    project_id = _own_project(syn, f"{me['userName']} challenge work")
    done: list[Submitted] = []
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as tmp:
        if kind == "data-to-model":
            entity_id = _prediction_file(syn, project_id, Path(tmp))
            what = f"file {entity_id} (predictions.csv)"
        else:
            entity_id = _docker_repository(syn, project_id, me["userName"])
            what = f"docker {entity_id}:{MODEL_TAG}"
        for key, evaluation_id in queue_ids.items():
            name = f"rehearsal {key}"
            try:
                if kind == "data-to-model":
                    submitted = syn.submit(evaluation_id, entity_id, name=name)
                else:  # synapseclient resolves the tag to its digest (GET .../dockerTag)
                    repository = syn.get(entity_id, downloadFile=False)
                    submitted = syn.submit(
                        evaluation_id, repository, name=name, dockerTag=MODEL_TAG
                    )
                submission_id = str(submitted.id)
            except SynapseHTTPError as exc:
                reason = str(exc).splitlines()[-1]
                done.append(Submitted(key, evaluation_id, None, what, refused=reason))
                progress(f"queue {key} ({evaluation_id}) refused the submission: {reason}")
                continue
            done.append(Submitted(key, evaluation_id, submission_id, what))
            progress(f"submitted {what} to queue {key} ({evaluation_id}): {submission_id}")
    return done
