"""Commits of unmanaged Docker repositories: ``POST dockerCommit`` and ``GET dockerTag``.

Behaviour from Synapse's DockerManagerImpl (services/repository-managers) and
https://rest-docs.synapse.org/rest/GET/entity/id/dockerTag.html.
"""

from __future__ import annotations

from typing import Any

from .app import Request, Response, paginated, route
from .entities import readable_entity
from .errors import bad_request
from .state import DOCKER_REPOSITORY, now_iso

SORT_KEYS = {"TAG": "tag", "CREATED_ON": "createdOn"}
SORT_ENUM = "org.sagebionetworks.repo.model.docker.DockerCommitSortBy"


def docker_repository(req: Request, entity_id: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    if entity["concreteType"] != DOCKER_REPOSITORY:
        raise bad_request("Only Docker reposiory entities have commits.")  # sic, Synapse's text
    return entity


@route("POST", "repo", "/entity/{entity_id}/dockerCommit")
def add_commit(req: Request, entity_id: str) -> Response:
    user = req.require_user()
    entity = docker_repository(req, entity_id)
    body = req.json()
    if not body.get("digest"):
        raise bad_request("digest is required.")
    req.state.require_entity_access(user, entity["id"], "UPDATE")
    commit = {"digest": str(body["digest"]), "createdOn": now_iso()}
    if body.get("tag"):
        commit["tag"] = str(body["tag"])
    req.state.docker_commits.setdefault(entity["id"], []).append(commit)
    req.state.touch_entity(entity, user)
    return Response(201)


@route("GET", "repo", "/entity/{entity_id}/dockerTag", auth=False)
def list_tags(req: Request, entity_id: str) -> dict[str, Any]:
    """The latest commit of each tag; sorted by ``sort`` (TAG or CREATED_ON), newest first."""
    entity = docker_repository(req, entity_id)
    sort = req.param("sort") or "CREATED_ON"
    if sort not in SORT_KEYS:
        raise bad_request(f"No enum constant {SORT_ENUM}.{sort}")
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for order, commit in enumerate(req.state.docker_commits.get(entity["id"], [])):
        latest[commit.get("tag", "")] = (order, commit)
    # commits made in the same millisecond keep the order they were made in
    ranked = sorted(
        latest.values(),
        key=lambda item: (item[1].get(SORT_KEYS[sort], ""), item[0]),
        reverse=not req.bool_param("ascending"),
    )
    tags = [commit for _, commit in ranked]
    return paginated(tags, req, default_limit=20, max_limit=200)


def has_digest(state: Any, entity_id: str, digest: str) -> bool:
    return any(c["digest"] == digest for c in state.docker_commits.get(entity_id, []))
