"""Storage locations and project settings, kept as records.

Synapse (StorageLocationController, ProjectSettingsManagerImpl;
https://rest-docs.synapse.org/rest/POST/storageLocation.html) checks that an external bucket
names the caller in ``owner.txt``; the emulator cannot reach buckets, so it accepts the
setting and keeps uploading to its own store (storage location 1).
"""

from __future__ import annotations

import copy
from typing import Any

from .app import Request, route
from .errors import bad_request, conflict, forbidden, not_found, precondition_failed
from .state import CONTAINER_TYPES, found_or_404, new_etag, now_iso

SETTINGS = "org.sagebionetworks.repo.model.project."
STORAGE_TYPES = {
    SETTINGS + name: upload
    for name, upload in (
        ("S3StorageLocationSetting", "S3"),
        ("ExternalS3StorageLocationSetting", "S3"),
        ("ExternalGoogleCloudStorageLocationSetting", "GOOGLECLOUDSTORAGE"),
        ("ExternalStorageLocationSetting", "HTTPS"),
        ("ExternalObjectStorageLocationSetting", "HTTPS"),
        ("ProxyStorageLocationSettings", "HTTPS"),
    )
}
SETTINGS_TYPES = {"upload", "external_sync", "requester_pays", "certification"}


@route("POST", "repo", "/storageLocation")
def create_storage_location(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    kind = body.get("concreteType")
    if kind not in STORAGE_TYPES:
        raise bad_request(f"Unsupported StorageLocationSetting concreteType: {kind}")
    setting = {k: copy.deepcopy(v) for k, v in body.items() if k != "storageLocationId"}
    setting.update(
        storageLocationId=int(req.state.next_small_id()),
        createdBy=int(user.principal_id),
        createdOn=now_iso(),
        etag=new_etag(),
    )
    setting.setdefault("uploadType", STORAGE_TYPES[kind])
    req.state.storage_locations[str(setting["storageLocationId"])] = setting
    return setting


@route("GET", "repo", "/storageLocation/{location_id}")
def get_storage_location(req: Request, location_id: str) -> dict[str, Any]:
    user = req.require_user()
    setting = found_or_404(req.state.storage_locations, location_id, "StorageLocationSetting")
    if setting["createdBy"] != user.principal_id:
        raise forbidden("Only the creator can access storage location settings")
    return setting


@route("GET", "repo", "/storageLocation")
def my_storage_locations(req: Request) -> list[dict[str, Any]]:
    user = req.require_user()
    return [s for s in req.state.storage_locations.values() if s["createdBy"] == user.principal_id]


def require_change_settings(req: Request, container: dict[str, Any]) -> None:
    """EntityPermissionsManagerImpl.canChangeSettings: the creator, or CHANGE_SETTINGS."""
    user = req.require_user()
    if container["createdBy"] != str(user.principal_id):
        req.state.require_entity_access(user, container["id"], "CHANGE_SETTINGS")


def checked_setting(req: Request, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not body.get("projectId"):
        raise bad_request("ProjectSetting.projectId is required")
    if body.get("settingsType") not in SETTINGS_TYPES:
        raise bad_request(f"ProjectSetting.settingsType must be one of {sorted(SETTINGS_TYPES)}")
    container = req.state.entity(body["projectId"])
    if container["concreteType"] not in CONTAINER_TYPES:
        raise bad_request("Project settings can only be set on a project or folder")
    require_change_settings(req, container)
    for location in body.get("locations") or []:
        if str(location) != "1" and str(location) not in req.state.storage_locations:
            raise not_found(f"StorageLocationSetting {location} does not exist")
    return {**copy.deepcopy(body), "projectId": container["id"]}


@route("POST", "repo", "/projectSettings")
def create_project_setting(req: Request) -> dict[str, Any]:
    setting = checked_setting(req, req.json())
    key = (setting["projectId"], setting["settingsType"])
    if any((s["projectId"], s["settingsType"]) == key for s in req.state.project_settings.values()):
        raise conflict(f"A {key[1]} setting already exists for {key[0]}")
    setting.update(id=req.state.next_small_id(), etag=new_etag())
    req.state.project_settings[setting["id"]] = setting
    return setting


@route("GET", "repo", "/projectSettings/{entity_id}/type/{settings_type}")
def get_project_setting(req: Request, entity_id: str, settings_type: str) -> Any:
    container = req.state.authorized("entity", entity_id, req.user, "READ")
    for setting in req.state.project_settings.values():
        if setting["projectId"] == container["id"] and setting["settingsType"] == settings_type:
            return setting
    return None


@route("PUT", "repo", "/projectSettings")
def update_project_setting(req: Request) -> None:
    body = req.json()
    current = found_or_404(req.state.project_settings, body.get("id"), "ProjectSetting")
    if body.get("etag") != current["etag"]:
        raise precondition_failed(current["id"])
    current.update(checked_setting(req, body), etag=new_etag())


@route("DELETE", "repo", "/projectSettings/{setting_id}")
def delete_project_setting(req: Request, setting_id: str) -> None:
    current = found_or_404(req.state.project_settings, setting_id, "ProjectSetting")
    require_change_settings(req, req.state.entities[current["projectId"]])
    del req.state.project_settings[setting_id]
