"""Entity calls shared by Project, Folder and ExternalLinkFile: create-or-adopt, update, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse_client.errors import SynapseProvisioningError
from synapse_client.ownership import not_ours, split_owner_marker, with_owner_marker
from synapse_client.session import SynapseSession, update_object

PROJECT = "org.sagebionetworks.repo.model.Project"
FOLDER = "org.sagebionetworks.repo.model.Folder"
FILE = "org.sagebionetworks.repo.model.FileEntity"


def find_child(session: SynapseSession, parent_id: str | None, name: str) -> str | None:
    """The ID of the entity called ``name`` under ``parent_id`` (projects: no parent), or None."""
    body: dict[str, Any] = {"entityName": name}
    if parent_id:
        body["parentId"] = parent_id
    try:
        return str(session.post("/entity/child", body)["id"])
    except SynapseProvisioningError as exc:
        if exc.gone:
            return None
        raise


def create_or_adopt(
    session: SynapseSession,
    kind: str,
    body: Mapping[str, Any],
    owner_key: str,
    hint: str,
) -> tuple[dict[str, Any], bool]:
    """POST the entity; on 409 adopt it if this stack's marker is on it, else a clear error.

    Returns the entity and whether it was adopted (then the caller re-applies the wanted state,
    since the first attempt may have been interrupted before it finished).
    """
    try:
        return session.post("/entity", dict(body)), False
    except SynapseProvisioningError as exc:
        if exc.status != 409:
            raise
    name = body["name"]
    existing_id = find_child(session, body.get("parentId"), name)
    if existing_id is None:
        raise SynapseProvisioningError(
            f"Synapse refused to create {kind} {name!r} as a name conflict but no such {kind} is "
            f"visible to this account; it may belong to someone else. {hint}",
            status=409,
        )
    entity = get_entity(session, existing_id)
    _, found_key = split_owner_marker(entity.get("description"))
    if found_key != owner_key:
        raise not_ours(kind, name, existing_id, found_key, hint)
    return entity, True


def get_entity(session: SynapseSession, entity_id: str) -> dict[str, Any]:
    return session.get(f"/entity/{entity_id}", object_id=entity_id)


def read_entity(session: SynapseSession, entity_id: str) -> dict[str, Any] | None:
    """The entity, or None when it is gone (deleted or in the trash can)."""
    return session.get(f"/entity/{entity_id}", object_id=entity_id, missing_ok=True)


def update_entity(
    session: SynapseSession,
    entity_id: str,
    fields: Mapping[str, Any],
    *,
    first: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """PUT ``fields`` onto the entity, re-reading and re-applying on a stale etag."""
    uri = f"/entity/{entity_id}"
    return update_object(
        session, uri, fields, f"entity {entity_id}", object_id=entity_id, first=first
    )


def needs_update(entity: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    return any(entity.get(k) != v for k, v in fields.items())


def delete_entity(session: SynapseSession, entity_id: str) -> None:
    """Move the entity to the trash can (Synapse's default); already gone is fine."""
    session.delete(f"/entity/{entity_id}", object_id=entity_id, missing_ok=True)


def described(props: Mapping[str, Any]) -> str:
    return with_owner_marker(props.get("description") or "", props["owner_key"])


def observed(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The input-shaped view of an entity's name, description and owner marker."""
    description, key = split_owner_marker(entity.get("description"))
    return {"name": entity.get("name"), "description": description, "owner_key": key}
