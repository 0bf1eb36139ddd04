"""Provenance: activities (``/activity``) and the activity that generated an entity version.

Behaviour from Synapse's ActivityManagerImpl and DBOActivityDAOImpl (only the creator changes or
deletes an activity; an activity still generating entities cannot be deleted) and
https://rest-docs.synapse.org/rest/#org.sagebionetworks.repo.web.controller.ActivityController.
"""

from __future__ import annotations

import copy
from typing import Any

from .app import Request, route
from .entities import readable_entity, versioned
from .errors import bad_request, forbidden, not_found, precondition_failed
from .state import State, User, found_or_404, new_etag, now_iso

USED_ENTITY = "org.sagebionetworks.repo.model.provenance.UsedEntity"
USED_URL = "org.sagebionetworks.repo.model.provenance.UsedURL"


def validated_used(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_request("Activity.used must be a list")
    cleaned = []
    for item in raw:
        kind = item.get("concreteType") if isinstance(item, dict) else None
        if kind == USED_ENTITY:
            reference = item.get("reference") or {}
            if not reference.get("targetId"):
                raise bad_request("UsedEntity.reference.targetId is required")
        elif kind == USED_URL:
            if not item.get("url"):
                raise bad_request("UsedURL.url is required")
        else:
            raise bad_request(f"Unknown Used concreteType: {kind}")
        cleaned.append(copy.deepcopy(item))
    return cleaned


def activity_fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Activity must be a JSON object")
    fields: dict[str, Any] = {"used": validated_used(body.get("used"))}
    for key in ("name", "description"):
        if body.get(key) is not None:
            fields[key] = str(body[key])
    return fields


def existing_activity(state: State, activity_id: str) -> dict[str, Any]:
    return found_or_404(state.activities, activity_id, "Activity")


def owned_activity(state: State, user: User, activity_id: str) -> dict[str, Any]:
    activity = existing_activity(state, activity_id)
    if activity["createdBy"] != str(user.principal_id):
        raise forbidden(f"{user.name} lacks change access to the requested object.")
    return activity


def generating(state: State, activity_id: str) -> list[tuple[str, int]]:
    return [key for key, value in state.generated_by.items() if value == activity_id]


def version_key(entity: dict[str, Any]) -> tuple[str, int]:
    return entity["id"], int(entity.get("versionNumber", 1))


@route("POST", "repo", "/activity")
def create_activity(req: Request) -> dict[str, Any]:
    user = req.require_user()
    stamp = now_iso()
    activity = {
        **activity_fields(req.json()),
        "id": req.state.next_small_id(),
        "etag": new_etag(),
        "createdOn": stamp,
        "modifiedOn": stamp,
        "createdBy": str(user.principal_id),
        "modifiedBy": str(user.principal_id),
    }
    req.state.activities[activity["id"]] = activity
    return activity


@route("GET", "repo", "/activity/{activity_id}", auth=False)
def get_activity(req: Request, activity_id: str) -> dict[str, Any]:
    """The creator, or anyone who may read an entity the activity generated."""
    state = req.state
    activity = existing_activity(state, activity_id)
    readable = any(
        entity_id in state.entities and "READ" in state.entity_access(req.user, entity_id)
        for entity_id, _ in generating(state, activity["id"])
    )
    if not readable and (req.user is None or activity["createdBy"] != str(req.user.principal_id)):
        raise forbidden("You lack READ access to the requested object.")
    return activity


@route("PUT", "repo", "/activity/{activity_id}")
def update_activity(req: Request, activity_id: str) -> dict[str, Any]:
    user = req.require_user()
    activity = owned_activity(req.state, user, activity_id)
    body = req.json()
    if str(body.get("id", activity_id)) != activity["id"]:
        raise bad_request("Activity.id does not match the URL")
    if body.get("etag") != activity["etag"]:
        raise precondition_failed(activity["id"])
    for key in ("name", "description"):
        activity.pop(key, None)
    activity.update(
        activity_fields(body),
        etag=new_etag(),
        modifiedOn=now_iso(),
        modifiedBy=str(user.principal_id),
    )
    return activity


@route("DELETE", "repo", "/activity/{activity_id}")
def delete_activity(req: Request, activity_id: str) -> None:
    user = req.require_user()
    activity = owned_activity(req.state, user, activity_id)
    if generating(req.state, activity["id"]):
        raise bad_request(
            "If you wish to delete this activity, please first delete all Entities generated "
            "by this Activity."
        )
    del req.state.activities[activity["id"]]


def activity_of(req: Request, entity: dict[str, Any]) -> dict[str, Any]:
    activity_id = req.state.generated_by.get(version_key(entity))
    if activity_id is None or activity_id not in req.state.activities:
        raise not_found(
            f"No activity exists for entity {entity['id']} version {entity.get('versionNumber', 1)}"
        )
    return req.state.activities[activity_id]


@route("GET", "repo", "/entity/{entity_id}/generatedBy", auth=False)
def generated_by(req: Request, entity_id: str) -> dict[str, Any]:
    return activity_of(req, readable_entity(req, entity_id))


@route("GET", "repo", "/entity/{entity_id}/version/{version}/generatedBy", auth=False)
def version_generated_by(req: Request, entity_id: str, version: str) -> dict[str, Any]:
    return activity_of(req, versioned(req, entity_id, version))


@route("PUT", "repo", "/entity/{entity_id}/generatedBy")
def set_generated_by(req: Request, entity_id: str) -> dict[str, Any]:
    """Link the current version to an existing activity; the entity gets a new etag."""
    user, entity = req.authorized("entity", entity_id, "UPDATE")
    state = req.state
    activity_id = req.param("generatedBy")
    if not activity_id:
        raise bad_request("generatedBy is required")
    activity = existing_activity(state, activity_id)
    state.generated_by[version_key(entity)] = activity["id"]
    state.touch_entity(entity, user)
    return activity


@route("DELETE", "repo", "/entity/{entity_id}/generatedBy")
def delete_generated_by(req: Request, entity_id: str) -> None:
    user, entity = req.authorized("entity", entity_id, "UPDATE")
    state = req.state
    if state.generated_by.pop(version_key(entity), None) is not None:
        state.touch_entity(entity, user)
