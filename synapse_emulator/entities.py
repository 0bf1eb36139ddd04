"""Entities: projects, folders, files, views; child look-up, versions, annotations, ACLs, trash."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from .acls import replace_acl, validated_resource_access
from .app import Request, paginated, route
from .errors import (
    SynapseApiError,
    bad_request,
    conflict,
    forbidden,
    not_found,
    precondition_failed,
)
from .state import (
    CONTAINER_TYPES,
    DOCKER_REPOSITORY,
    ENTITY_ADMIN,
    ENTITY_TYPES,
    FILE,
    PROJECT,
    ROOT_ENTITY_ID,
    SUBMISSION_VIEW,
    TRASH_FOLDER_ID,
    VERSIONABLE_TYPES,
    State,
    TrashedEntity,
    User,
    new_etag,
    normalize_syn_id,
    now_iso,
)

# Synapse's ModelConstants.VALID_ENTITY_NAME_REGEX; commas are allowed although its message
# (NameValidation.INVALID_NAME_TEMPLATE) does not list them.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9 _\-.+'(),]+$")
ANNOTATION_TYPES = {"STRING", "DOUBLE", "LONG", "TIMESTAMP_MS", "BOOLEAN"}
SERVER_OWNED = {
    "id",
    "etag",
    "createdOn",
    "createdBy",
    "modifiedOn",
    "modifiedBy",
    "versionNumber",
    "isLatestVersion",
}

# Docker repository names, as Synapse's DockerNameUtil (adapted from docker/distribution's
# reference/regexp.go): an optional registry host, then lower-case path components.
_DOCKER_HOST = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOCKER_HOST = rf"{_DOCKER_HOST}(?:\.{_DOCKER_HOST})*(?::[0-9]+)?"
_DOCKER_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-*)[a-z0-9]+)*"
_DOCKER_PATH = rf"{_DOCKER_COMPONENT}(?:/{_DOCKER_COMPONENT})*"
DOCKER_NAME = re.compile(rf"^(?:(?P<host>{_DOCKER_HOST})/)?{_DOCKER_PATH}$")
DOCKER_PATH = re.compile(rf"^{_DOCKER_PATH}$")
SYNAPSE_DOCKER_REGISTRIES = {"docker.synapse.org"}


# ----- helpers used by other modules ------------------------------------------------------------
def entity_header(state: State, entity: dict[str, Any]) -> dict[str, Any]:
    header = {
        "id": entity["id"],
        "name": entity["name"],
        "type": entity["concreteType"],
        "benefactorId": int(state.benefactor_of(entity["id"])[3:]),
        "createdOn": entity["createdOn"],
        "modifiedOn": entity["modifiedOn"],
        "createdBy": entity["createdBy"],
        "modifiedBy": entity["modifiedBy"],
        "isLatestVersion": True,
    }
    if "versionNumber" in entity:
        header["versionNumber"] = entity["versionNumber"]
        header["versionLabel"] = entity.get("versionLabel", str(entity["versionNumber"]))
    return header


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Entity name cannot be null or empty")
    if len(name) > 256:
        raise bad_request("Name must be 256 characters or less")
    if not NAME_PATTERN.match(name):
        raise bad_request(
            f"Invalid Name: '{name}'. Names may only contain: letters, numbers, spaces, "
            "underscores, hyphens, periods, plus signs, apostrophes, and parentheses"
        )
    return name


def check_name_free(state: State, name: str, parent_id: str, exclude: str | None = None) -> None:
    siblings = (
        [e for e in state.entities.values() if e["concreteType"] == PROJECT]
        if parent_id == ROOT_ENTITY_ID
        else state.children_of(parent_id)
    )
    for sibling in siblings:
        if (
            sibling["id"] != exclude
            and sibling["name"] == name
            and sibling["id"] not in state.trash
        ):
            raise conflict(
                f"An entity with the name: {name} already exists with a parentId: {parent_id}"
            )


def user_entity_permissions(state: State, user: User | None, entity_id: str) -> dict[str, Any]:
    access = state.entity_access(user, entity_id)
    entity = state.entities[entity_id]
    public = state.entity_access(None, entity_id)
    return {
        "canView": "READ" in access,
        "canEdit": "UPDATE" in access,
        "canMove": "UPDATE" in access,
        "canAddChild": "CREATE" in access,
        "canCertifiedUserEdit": "UPDATE" in access,
        "canCertifiedUserAddChild": "CREATE" in access,
        "isCertifiedUser": False,
        "canChangePermissions": "CHANGE_PERMISSIONS" in access,
        # EntityPermissionsManagerImpl.canChangeSettings: the creator always may
        "canChangeSettings": "CHANGE_SETTINGS" in access
        or (user is not None and entity["createdBy"] == str(user.principal_id)),
        "canDelete": "DELETE" in access,
        "canDownload": "DOWNLOAD" in access,
        "canUpload": "CREATE" in access,
        "canEnableInheritance": "CHANGE_PERMISSIONS" in access
        and entity["concreteType"] != PROJECT,
        "ownerPrincipalId": int(entity["createdBy"]),
        "canPublicRead": "READ" in public,
        "canModerate": "MODERATE" in access,
        "isCertificationRequired": False,
        "isEntityOpenData": False,
        "isDataContributor": False,
    }


def inheritance_error(state: State, entity_id: str) -> SynapseApiError:
    benefactor = state.benefactor_of(entity_id)
    return not_found(
        "The requested ACL does not exist. This entity inherits its permissions from: " + benefactor
    )


def readable_entity(req: Request, entity_id: str) -> dict[str, Any]:
    entity = req.state.authorized("entity", entity_id, req.user, "READ")
    return entity


def file_handle_for_entity(state: State, entity: dict[str, Any]) -> dict[str, Any] | None:
    handle_id = entity.get("dataFileHandleId")
    return state.file_handles.get(str(handle_id)) if handle_id else None


def create_entity(state: State, user: User, body: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Entity must be a JSON object")
    concrete_type = body.get("concreteType")
    if concrete_type not in ENTITY_TYPES:
        raise bad_request(f"Unsupported or missing concreteType: {concrete_type}")
    entity = {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_OWNED}
    entity_id = state.next_entity_id()
    if concrete_type == PROJECT:
        parent_id = ROOT_ENTITY_ID
    else:
        if not body.get("parentId"):
            raise bad_request("Entity.parentId cannot be null")
        parent = state.entity(body["parentId"])
        parent_id = parent["id"]
        if parent["concreteType"] not in CONTAINER_TYPES:
            raise bad_request(
                f"Entity {parent_id} of type {parent['concreteType']} cannot have children"
            )
        state.require_entity_access(user, parent_id, "CREATE")
    if concrete_type == FILE:
        handle_id = str(body.get("dataFileHandleId") or "")
        handle = state.file_handles.get(handle_id)
        if handle is None:
            raise (
                bad_request("FileEntity.dataFileHandleId cannot be null")
                if not handle_id
                else not_found(f"FileHandle {handle_id} does not exist")
            )
        if handle["createdBy"] != str(user.principal_id):
            raise forbidden(
                "Only the creator of a FileHandle can assign it to an Entity. "
                f"FileHandleId: {handle_id}"
            )
        entity["dataFileHandleId"] = handle_id
        entity.setdefault("name", handle["fileName"])
    if concrete_type == SUBMISSION_VIEW:
        validate_submission_view_scope(entity.get("scopeIds"))
    if concrete_type == DOCKER_REPOSITORY:
        validate_docker_repository(state, entity, parent_id)
    entity["name"] = validate_name(entity.get("name") or entity_id)
    check_name_free(state, entity["name"], parent_id)
    stamp = now_iso()
    entity.update(
        id=entity_id,
        parentId=parent_id,
        etag=new_etag(),
        createdOn=stamp,
        modifiedOn=stamp,
        createdBy=str(user.principal_id),
        modifiedBy=str(user.principal_id),
    )
    if concrete_type in VERSIONABLE_TYPES:
        entity.update(
            versionNumber=1, versionLabel=str(body.get("versionLabel") or "1"), isLatestVersion=True
        )
        if concrete_type != FILE:
            entity["versionLabel"] = "in progress"
    state.entities[entity_id] = entity
    state.annotations[entity_id] = {}
    if concrete_type in VERSIONABLE_TYPES:
        state.versions[entity_id] = {1: copy.deepcopy(entity)}
    if concrete_type == PROJECT:
        state.entity_acls[entity_id] = state.new_acl(entity_id, user.principal_id, ENTITY_ADMIN)
    return entity


def validate_docker_repository(state: State, entity: dict[str, Any], parent_id: str) -> None:
    """An unmanaged (external) repository in a project, as Synapse's DockerRepositoryValidator."""
    name = entity.get("repositoryName")
    found = DOCKER_NAME.match(name) if isinstance(name, str) else None
    if found is None or not isinstance(name, str):
        raise bad_request(f"Invalid repository name: {name}")
    host = None if DOCKER_PATH.match(name) else found.group("host")
    if host in SYNAPSE_DOCKER_REGISTRIES:
        raise bad_request("Cannot create or update a managed Docker repository.")
    if state.entities[parent_id]["concreteType"] != PROJECT:
        raise bad_request("Parent must be a project.")
    entity["isManaged"] = False


def validate_submission_view_scope(scope_ids: Any) -> None:
    """Scope IDs that parse as Synapse keys, nothing more: Synapse's
    SubmissionViewMetadataProvider.validateEntity asks EvaluationPermissionsManager.hasAccess
    (READ_PRIVATE_SUBMISSION) and ignores the answer, so neither existence nor access is
    enforced (synapseclient's own integration tests scope a SubmissionView by a project); an
    unparseable ID fails in KeyFactory.stringToKey. An empty scope is allowed."""
    if not isinstance(scope_ids, list):
        raise bad_request("SubmissionView.scopeIds must be a list of evaluation IDs")
    for scope_id in scope_ids:
        key = str(scope_id).strip().lower().removeprefix("syn")
        if not key.isdigit():
            raise bad_request(f"{scope_id} is not a valid Synapse ID.")


def update_entity(
    state: State, user: User, entity_id: str, body: dict[str, Any], *, new_version: bool
) -> dict[str, Any]:
    entity = state.entity(entity_id)
    if not isinstance(body, dict):
        raise bad_request("Entity must be a JSON object")
    if body.get("id") and normalize_syn_id(body["id"]) != entity["id"]:
        raise bad_request(f"The ID in the body ({body['id']}) does not match the URL ({entity_id})")
    state.require_entity_access(user, entity["id"], "UPDATE")
    if not body.get("etag"):
        raise bad_request("The etag of the entity is required for an update")
    if body["etag"] != entity["etag"]:
        raise precondition_failed(entity["id"])
    if body.get("concreteType") and body["concreteType"] != entity["concreteType"]:
        raise bad_request("The concreteType of an entity cannot be changed")
    name = validate_name(body.get("name") or entity["name"])
    parent_id = entity["parentId"]
    if (
        entity["concreteType"] == PROJECT
        and body.get("parentId")
        and normalize_syn_id(body["parentId"]) != ROOT_ENTITY_ID
    ):
        raise bad_request("A Project's parent must be the root (syn4489): projects cannot be moved")
    if entity["concreteType"] != PROJECT and body.get("parentId"):
        new_parent = state.entity(body["parentId"])
        if new_parent["id"] != parent_id:
            if new_parent["concreteType"] not in CONTAINER_TYPES:
                raise bad_request(f"Entity {new_parent['id']} cannot have children")
            state.require_entity_access(user, new_parent["id"], "CREATE")
            parent_id = new_parent["id"]
    check_name_free(state, name, parent_id, exclude=entity["id"])
    if entity["concreteType"] == FILE:
        handle_id = str(body.get("dataFileHandleId") or entity["dataFileHandleId"])
        if handle_id != entity["dataFileHandleId"]:
            handle = state.file_handles.get(handle_id)
            if handle is None:
                raise not_found(f"FileHandle {handle_id} does not exist")
            if handle["createdBy"] != str(user.principal_id):
                raise forbidden(
                    "Only the creator of a FileHandle can assign it to an Entity. "
                    f"FileHandleId: {handle_id}"
                )
            new_version = True
        body = {**body, "dataFileHandleId": handle_id}
    if entity["concreteType"] == SUBMISSION_VIEW and "scopeIds" in body:
        validate_submission_view_scope(body["scopeIds"])
    updated = {k: copy.deepcopy(v) for k, v in body.items() if k not in SERVER_OWNED}
    if entity["concreteType"] == DOCKER_REPOSITORY:
        updated.setdefault("repositoryName", entity.get("repositoryName"))
        validate_docker_repository(state, updated, parent_id)
    for key in SERVER_OWNED:
        if key in entity:
            updated[key] = entity[key]
    updated.update(name=name, parentId=parent_id, concreteType=entity["concreteType"])
    if entity["concreteType"] in VERSIONABLE_TYPES:
        if new_version:
            state.version_annotations[(entity["id"], entity["versionNumber"])] = copy.deepcopy(
                state.annotations.get(entity["id"], {})
            )
            updated["versionNumber"] = entity["versionNumber"] + 1
            label = body.get("versionLabel")
            updated["versionLabel"] = (
                str(label)
                if label and label != entity.get("versionLabel")
                else str(updated["versionNumber"])
            )
            if entity["concreteType"] != FILE:
                updated["versionLabel"] = "in progress"
        else:
            updated["versionLabel"] = str(body.get("versionLabel") or entity.get("versionLabel"))
    state.touch_entity(updated, user)
    state.entities[entity["id"]] = updated
    if entity["concreteType"] in VERSIONABLE_TYPES:
        state.versions[entity["id"]][updated["versionNumber"]] = copy.deepcopy(updated)
    return updated


def descendants(state: State, entity_id: str) -> list[str]:
    found = []
    pending = [entity_id]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(e["id"] for e in state.entities.values() if e.get("parentId") == current)
    return found


def purge(state: State, entity_id: str) -> None:
    from .wikis import delete_wikis_of  # wikis import entities; avoid a cycle at load time

    for victim in descendants(state, entity_id):
        state.entities.pop(victim, None)
        state.versions.pop(victim, None)
        state.annotations.pop(victim, None)
        for key in [k for k in state.version_annotations if k[0] == victim]:
            del state.version_annotations[key]
        state.entity_acls.pop(victim, None)
        state.docker_commits.pop(victim, None)
        for key in [k for k in state.generated_by if k[0] == victim]:
            del state.generated_by[key]
        state.trash.pop(victim, None)
        delete_wikis_of(state, "ENTITY", victim)
        for challenge_id, challenge in list(state.challenges.items()):
            if challenge["projectId"] == victim:
                del state.challenges[challenge_id]


# ----- routes -------------------------------------------------------------------------------------
@route("POST", "repo", "/entity")
def post_entity(req: Request) -> dict[str, Any]:
    return create_entity(req.state, req.require_user(), req.json())


@route("GET", "repo", "/entity/{entity_id}", auth=False)
def get_entity(req: Request, entity_id: str) -> dict[str, Any]:
    return readable_entity(req, entity_id)


@route("PUT", "repo", "/entity/{entity_id}")
def put_entity(req: Request, entity_id: str) -> dict[str, Any]:
    return update_entity(
        req.state,
        req.require_user(),
        entity_id,
        req.json(),
        new_version=req.bool_param("newVersion"),
    )


@route("DELETE", "repo", "/entity/{entity_id}")
def delete_entity(req: Request, entity_id: str) -> None:
    user, entity = req.authorized("entity", entity_id, "DELETE")
    state = req.state
    if req.bool_param("skipTrashCan"):
        purge(state, entity["id"])
        return None
    state.trash[entity["id"]] = TrashedEntity(
        entity_id=entity["id"],
        name=entity["name"],
        original_parent_id=entity["parentId"],
        deleted_by=user.principal_id,
        deleted_on=now_iso(),
    )
    entity["name"] = str(uuid.uuid4())
    entity["parentId"] = TRASH_FOLDER_ID
    state.touch_entity(entity, user)
    return None


@route("GET", "repo", "/entity/{entity_id}/version", auth=False)
def list_versions(req: Request, entity_id: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    versions = req.state.versions.get(entity["id"], {})
    infos = [
        {
            "id": entity["id"],
            "versionNumber": number,
            "versionLabel": v.get("versionLabel"),
            "versionComment": v.get("versionComment"),
            "modifiedBy": v["modifiedBy"],
            "modifiedOn": v["modifiedOn"],
            "isLatestVersion": number == entity.get("versionNumber"),
        }
        for number, v in sorted(versions.items(), reverse=True)
    ]
    return paginated(infos, req)


def versioned(req: Request, entity_id: str, version: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    versions = req.state.versions.get(entity["id"])
    if not version.isdigit() or versions is None or int(version) not in versions:
        # the text of Synapse's NodeDAO, which synapseclient's own tests match
        raise not_found(f"Cannot find a node with id {entity['id']} and version {version}")
    found = copy.deepcopy(versions[int(version)])
    found["isLatestVersion"] = int(version) == entity["versionNumber"]
    # the etag is the node's, not the revision's (NodeDAOImpl keeps ETAG in the NODE table), so
    # every version reads the current one; syn.submit of an older version sends it back
    found["etag"] = entity["etag"]
    return found


@route("GET", "repo", "/entity/{entity_id}/version/{version}", auth=False)
def get_entity_version(req: Request, entity_id: str, version: str) -> dict[str, Any]:
    return versioned(req, entity_id, version)


@route("DELETE", "repo", "/entity/{entity_id}/version/{version}")
def delete_entity_version(req: Request, entity_id: str, version: str) -> None:
    _, entity = req.authorized("entity", entity_id, "DELETE")
    versions = req.state.versions.get(entity["id"], {})
    if not version.isdigit() or int(version) not in versions:
        raise not_found(f"Entity {entity['id']} version {version} does not exist")
    if len(versions) == 1:
        raise bad_request("Cannot delete the only version of an entity; delete the entity instead")
    del versions[int(version)]
    if int(version) == entity["versionNumber"]:
        latest = copy.deepcopy(versions[max(versions)])
        latest["etag"] = new_etag()
        req.state.entities[entity["id"]] = latest


@route("GET", "repo", "/entity/{entity_id}/type", auth=False)
def get_entity_type(req: Request, entity_id: str) -> dict[str, Any]:
    return entity_header(req.state, readable_entity(req, entity_id))


@route("GET", "repo", "/entity/{entity_id}/path", auth=False)
def get_entity_path(req: Request, entity_id: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    chain = []
    current: str | None = entity["id"]
    while current and current in req.state.entities:
        chain.append(entity_header(req.state, req.state.entities[current]))
        current = req.state.entities[current].get("parentId")
    root = {"id": ROOT_ENTITY_ID, "name": "root", "type": "org.sagebionetworks.repo.model.Folder"}
    return {"path": [root, *reversed(chain)]}


@route("GET", "repo", "/entity/{entity_id}/benefactor", auth=False)
def get_benefactor(req: Request, entity_id: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    benefactor = req.state.entities[req.state.benefactor_of(entity["id"])]
    return entity_header(req.state, benefactor)


@route("GET", "repo", "/entity/{entity_id}/permissions", auth=False)
def get_permissions(req: Request, entity_id: str) -> dict[str, Any]:
    entity = req.state.entity(entity_id)
    return user_entity_permissions(req.state, req.user, entity["id"])


@route("POST", "repo", "/entity/child", auth=False)
def lookup_child(req: Request) -> dict[str, Any]:
    body = req.json()
    name = body.get("entityName")
    if not name:
        raise bad_request("EntityLookupRequest.entityName is required")
    state = req.state
    parent_id = body.get("parentId")
    if parent_id:
        parent = state.authorized("entity", parent_id, req.user, "READ")
        candidates = state.children_of(parent["id"])
    else:
        candidates = [
            e
            for e in state.entities.values()
            if e["concreteType"] == PROJECT and e["id"] not in state.trash
        ]
    for candidate in candidates:
        if candidate["name"] == name:
            return {"id": candidate["id"]}
    raise not_found("Entity not found")


@route("POST", "repo", "/entity/children", auth=False)
def list_children(req: Request) -> dict[str, Any]:
    body = req.json()
    state = req.state
    include_types = body.get("includeTypes")
    if not include_types:
        raise bad_request("EntityChildrenRequest.includeTypes must include at least one type")
    if body.get("parentId"):
        parent = state.authorized("entity", body["parentId"], req.user, "READ")
        children = state.children_of(parent["id"])
    else:
        children = [
            e
            for e in state.entities.values()
            if e["concreteType"] == PROJECT
            and e["id"] not in state.trash
            and "READ" in state.entity_access(req.user, e["id"])
        ]
    wanted = {t.lower() for t in include_types}
    children = [c for c in children if ENTITY_TYPES[c["concreteType"]] in wanted]
    sort_key = "createdOn" if body.get("sortBy") == "CREATED_ON" else "name"
    children.sort(key=lambda c: (c[sort_key], int(c["id"][3:])))
    if body.get("sortDirection") == "DESC":
        children.reverse()
    token = body.get("nextPageToken")
    limit, offset = 50, 0
    if token:
        try:
            limit_text, offset_text = token.split("a")
            limit, offset = int(limit_text), int(offset_text)
        except ValueError as exc:
            raise bad_request(f"Invalid nextPageToken: {token}") from exc
    page = children[offset : offset + limit]
    result: dict[str, Any] = {"page": [entity_header(state, c) for c in page]}
    if offset + limit < len(children):
        result["nextPageToken"] = f"{limit}a{offset + limit}"
    if body.get("includeTotalChildCount"):
        result["totalChildCount"] = len(children)
    if body.get("includeSumFileSizes"):
        total = 0
        for child in children:
            handle = file_handle_for_entity(state, child)
            total += int(handle.get("contentSize") or 0) if handle else 0
        result["sumFileSizesBytes"] = total
    return result


# ----- annotations ------------------------------------------------------------------------------
def annotations_body(state: State, entity: dict[str, Any]) -> dict[str, Any]:
    """The annotations of this entity version: the live ones for the current version, the
    copy saved when a newer version was made for an older one (Synapse keeps annotations per
    version: NodeManager.getAnnotationsForVersion, read by GET .../version/{v}/annotations2
    and by a version's bundle2)."""
    version = entity.get("versionNumber")
    if version is None or version == state.entities[entity["id"]].get("versionNumber"):
        found = state.annotations.get(entity["id"], {})
    else:
        found = state.version_annotations.get((entity["id"], int(version)), {})
    return {"id": entity["id"], "etag": entity["etag"], "annotations": copy.deepcopy(found)}


def validate_annotations(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad_request("Annotations.annotations must be a map")
    cleaned = {}
    for key, value in raw.items():
        if not isinstance(value, dict) or value.get("type") not in ANNOTATION_TYPES:
            raise bad_request(f"Annotation '{key}' needs a type, one of {sorted(ANNOTATION_TYPES)}")
        values = value.get("value")
        if not isinstance(values, list):
            raise bad_request(f"Annotation '{key}' value must be a list")
        if len(values) > 100:
            raise bad_request(f"Annotation '{key}' may have at most 100 values")
        if not values:
            continue
        for item in values:
            check_annotation_value(key, value["type"], item)
        cleaned[key] = {"type": value["type"], "value": [str(v) for v in values]}
    return cleaned


def check_annotation_value(key: str, kind: str, item: Any) -> None:
    text = str(item)
    try:
        if kind in ("LONG", "TIMESTAMP_MS"):
            int(text)
        elif kind == "DOUBLE":
            float(text)
        elif kind == "BOOLEAN" and text.lower() not in ("true", "false"):
            raise ValueError(text)
    except ValueError as exc:
        raise bad_request(f"Value '{text}' of annotation '{key}' is not a valid {kind}") from exc
    if kind == "STRING" and len(text) > 500:
        raise bad_request(f"String values of annotation '{key}' must be 500 characters or less")


def put_annotations(
    state: State, user: User, entity_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    entity = state.authorized("entity", entity_id, user, "UPDATE")
    if body.get("id") and normalize_syn_id(body["id"]) != entity["id"]:
        raise bad_request("Annotations.id does not match the URL")
    if not body.get("etag"):
        raise bad_request("Annotations.etag is required")
    if body["etag"] != entity["etag"]:
        raise precondition_failed(entity["id"])
    state.annotations[entity["id"]] = validate_annotations(body.get("annotations"))
    state.touch_entity(entity, user)
    if entity["id"] in state.versions:
        version = state.versions[entity["id"]][entity["versionNumber"]]
        version["etag"] = entity["etag"]
    return annotations_body(state, entity)


@route("GET", "repo", "/entity/{entity_id}/annotations2", auth=False)
def get_annotations(req: Request, entity_id: str) -> dict[str, Any]:
    return annotations_body(req.state, readable_entity(req, entity_id))


@route("GET", "repo", "/entity/{entity_id}/version/{version}/annotations2", auth=False)
def get_version_annotations(req: Request, entity_id: str, version: str) -> dict[str, Any]:
    return annotations_body(req.state, versioned(req, entity_id, version))


@route("PUT", "repo", "/entity/{entity_id}/annotations2")
def put_annotations_route(req: Request, entity_id: str) -> dict[str, Any]:
    return put_annotations(req.state, req.require_user(), entity_id, req.json())


# ----- ACLs ------------------------------------------------------------------------------------
@route("GET", "repo", "/entity/{entity_id}/acl", auth=False)
def get_acl(req: Request, entity_id: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    acl = req.state.entity_acls.get(entity["id"])
    if acl is None:
        raise inheritance_error(req.state, entity["id"])
    return acl


@route("POST", "repo", "/entity/{entity_id}/acl")
def create_acl(req: Request, entity_id: str) -> dict[str, Any]:
    user, entity = req.authorized("entity", entity_id, "CHANGE_PERMISSIONS")
    state = req.state
    if entity["id"] in state.entity_acls:
        raise conflict(f"Cannot create an ACL for {entity['id']}: it already has one")
    acl = {
        "id": entity["id"],
        "creationDate": now_iso(),
        "etag": new_etag(),
        "resourceAccess": validated_resource_access(state, req.json(), user, entity["createdBy"]),
    }
    state.entity_acls[entity["id"]] = acl
    state.touch_entity(entity, user)
    return acl


@route("PUT", "repo", "/entity/{entity_id}/acl")
def update_acl(req: Request, entity_id: str) -> dict[str, Any]:
    user, entity = req.authorized("entity", entity_id, "CHANGE_PERMISSIONS")
    state = req.state
    acl = state.entity_acls.get(entity["id"])
    if acl is None:
        raise inheritance_error(state, entity["id"])
    body = req.json()
    return replace_acl(state, acl, body, user, entity["createdBy"])


@route("DELETE", "repo", "/entity/{entity_id}/acl")
def delete_acl(req: Request, entity_id: str) -> None:
    user = req.require_user()
    state = req.state
    entity = state.entity(entity_id)
    # EntityPermissionsManagerImpl.restoreInheritance, same order and texts; synapseclient
    # treats the call as harmless only when it sees "Resource already inherits its permissions."
    state.require_entity_access(user, entity["id"], "CHANGE_PERMISSIONS")
    if entity["id"] not in state.entity_acls:
        raise forbidden("Resource already inherits its permissions.")
    if entity["concreteType"] == PROJECT:
        raise forbidden("Cannot restore inheritance for resource which has no parent.")
    del state.entity_acls[entity["id"]]
    state.touch_entity(entity, user)


# ----- bundles ----------------------------------------------------------------------------------
def bundle(req: Request, entity: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    state = req.state
    result: dict[str, Any] = {}
    if request.get("includeEntity"):
        result["entity"] = entity
        result["entityType"] = ENTITY_TYPES[entity["concreteType"]]
    if request.get("includeAnnotations"):
        result["annotations"] = annotations_body(state, entity)
    if request.get("includePermissions"):
        result["permissions"] = user_entity_permissions(state, req.user, entity["id"])
    if request.get("includeEntityPath"):
        result["path"] = get_entity_path(req, entity["id"])
    if request.get("includeHasChildren"):
        result["hasChildren"] = bool(state.children_of(entity["id"]))
    if request.get("includeAccessControlList") and entity["id"] in state.entity_acls:
        result["accessControlList"] = state.entity_acls[entity["id"]]
    if request.get("includeBenefactorACL"):
        result["benefactorAcl"] = state.entity_acls[state.benefactor_of(entity["id"])]
    if request.get("includeFileHandles"):
        handle = file_handle_for_entity(state, entity)
        result["fileHandles"] = [handle] if handle else []
    if request.get("includeFileName"):
        handle = file_handle_for_entity(state, entity)
        if handle:
            result["fileName"] = entity.get("fileNameOverride") or handle["fileName"]
    if request.get("includeRootWikiId"):
        from .wikis import root_wiki_id

        root = root_wiki_id(state, "ENTITY", entity["id"])
        if root:
            result["rootWikiId"] = root
    if request.get("includeRestrictionInformation"):
        result["restrictionInformation"] = {
            "objectId": int(entity["id"][3:]),
            "restrictionLevel": "OPEN",
            "hasUnmetAccessRequirement": False,
            "restrictionDetails": [],
        }
    if request.get("includeThreadCount"):
        result["threadCount"] = 0
    return result


@route("POST", "repo", "/entity/{entity_id}/bundle2", auth=False)
def post_bundle(req: Request, entity_id: str) -> dict[str, Any]:
    return bundle(req, readable_entity(req, entity_id), req.json_or_empty())


@route("POST", "repo", "/entity/{entity_id}/version/{version}/bundle2", auth=False)
def post_version_bundle(req: Request, entity_id: str, version: str) -> dict[str, Any]:
    return bundle(req, versioned(req, entity_id, version), req.json_or_empty())


BUNDLE_ALL = {
    "includeEntity": True,
    "includeAnnotations": True,
    "includeAccessControlList": True,
    "includeFileHandles": True,
}


@route("POST", "repo", "/entity/bundle2/create")
def create_bundle(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    entity = create_entity(req.state, user, body.get("entity"))
    apply_bundle_extras(req, user, entity, body)
    return bundle(req, req.state.entities[entity["id"]], BUNDLE_ALL)


@route("PUT", "repo", "/entity/{entity_id}/bundle2")
def update_bundle(req: Request, entity_id: str) -> dict[str, Any]:
    user, body = req.caller_and_body()
    entity = req.state.entity(entity_id)
    if body.get("entity"):
        entity = update_entity(req.state, user, entity_id, body["entity"], new_version=False)
    apply_bundle_extras(req, user, entity, body)
    return bundle(req, req.state.entities[entity["id"]], BUNDLE_ALL)


def apply_bundle_extras(
    req: Request, user: User, entity: dict[str, Any], body: dict[str, Any]
) -> None:
    state = req.state
    if body.get("annotations") is not None:
        annotations = dict(body["annotations"])
        annotations["etag"] = state.entities[entity["id"]]["etag"]
        put_annotations(state, user, entity["id"], annotations)
    if body.get("accessControlList"):
        resource_access = validated_resource_access(
            state, body["accessControlList"], user, entity["createdBy"]
        )
        state.entity_acls[entity["id"]] = {
            "id": entity["id"],
            "creationDate": now_iso(),
            "etag": new_etag(),
            "resourceAccess": resource_access,
        }


# ----- misc entity endpoints synapseclient touches ------------------------------------------------
@route("GET", "repo", "/entity/{entity_id}/accessRequirement", auth=False)
def access_requirements(req: Request, entity_id: str) -> dict[str, Any]:
    readable_entity(req, entity_id)
    return {"results": [], "totalNumberOfResults": 0}


@route("POST", "repo", "/restrictionInformation", auth=False)
def restriction_information(req: Request) -> dict[str, Any]:
    body = req.json()
    return {
        "objectId": body.get("objectId"),
        "restrictionLevel": "OPEN",
        "hasUnmetAccessRequirement": False,
        "restrictionDetails": [],
    }


@route("GET", "file", "/entity/{entity_id}/uploadDestination")
@route("GET", "repo", "/entity/{entity_id}/uploadDestination")
def upload_destination(req: Request, entity_id: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    return default_upload_destination(entity["id"])


@route("GET", "file", "/entity/{entity_id}/uploadDestination/{location}")
@route("GET", "repo", "/entity/{entity_id}/uploadDestination/{location}")
def upload_destination_at(req: Request, entity_id: str, location: str) -> dict[str, Any]:
    entity = readable_entity(req, entity_id)
    return default_upload_destination(entity["id"])


def default_upload_destination(entity_id: str) -> dict[str, Any]:
    return {
        "concreteType": "org.sagebionetworks.repo.model.file.S3UploadDestination",
        "storageLocationId": 1,
        "uploadType": "S3",
        "stsEnabled": False,
        "banner": None,
    }


@route("GET", "file", "/entity/{entity_id}/uploadDestinationLocations")
@route("GET", "repo", "/entity/{entity_id}/uploadDestinationLocations")
def upload_destination_locations(req: Request, entity_id: str) -> dict[str, Any]:
    readable_entity(req, entity_id)
    return {"list": [{"storageLocationId": 1, "isDefault": True}]}


# ----- trash can --------------------------------------------------------------------------------
def trashed_json(item: TrashedEntity) -> dict[str, Any]:
    return {
        "entityId": item.entity_id,
        "entityName": item.name,
        "deletedByPrincipalId": str(item.deleted_by),
        "deletedOn": item.deleted_on,
        "originalParentId": item.original_parent_id,
    }


@route("GET", "repo", "/trashcan/view")
def view_trash(req: Request) -> dict[str, Any]:
    user = req.require_user()
    items = [t for t in req.state.trash.values() if t.deleted_by == user.principal_id]
    return paginated([trashed_json(t) for t in items], req)


def trashed(req: Request, entity_id: str) -> TrashedEntity:
    user = req.require_user()
    item = req.state.trash.get(normalize_syn_id(entity_id))
    if item is None:
        raise not_found(f"The trash can does not contain entity {entity_id}")
    if item.deleted_by != user.principal_id:
        raise forbidden(f"Only the user who deleted {entity_id} can restore or purge it")
    return item


@route("PUT", "repo", "/trashcan/restore/{entity_id}")
def restore(req: Request, entity_id: str) -> None:
    item = trashed(req, entity_id)
    restore_to(req, item, item.original_parent_id)


@route("PUT", "repo", "/trashcan/restore/{entity_id}/{parent_id}")
def restore_to_parent(req: Request, entity_id: str, parent_id: str) -> None:
    item = trashed(req, entity_id)
    restore_to(req, item, req.state.entity(parent_id)["id"])


def restore_to(req: Request, item: TrashedEntity, parent_id: str) -> None:
    state = req.state
    user = req.require_user()
    if parent_id != ROOT_ENTITY_ID:
        state.entity(parent_id)
        state.require_entity_access(user, parent_id, "CREATE")
    check_name_free(state, item.name, parent_id)
    entity = state.entities[item.entity_id]
    entity.update(name=item.name, parentId=parent_id)
    state.touch_entity(entity, user)
    del state.trash[item.entity_id]


@route("PUT", "repo", "/trashcan/purge/{entity_id}")
def purge_one(req: Request, entity_id: str) -> None:
    item = trashed(req, entity_id)
    purge(req.state, item.entity_id)


@route("PUT", "repo", "/trashcan/purge")
def purge_all(req: Request) -> None:
    user = req.require_user()
    for item in list(req.state.trash.values()):
        if item.deleted_by == user.principal_id:
            purge(req.state, item.entity_id)


@route("GET", "repo", "/entity/md5/{md5}")
def entities_by_md5(req: Request, md5: str) -> dict[str, Any]:
    """Headers of the file versions the caller can read whose content has this MD5."""
    state = req.state
    found = []
    for entity_id, versions in sorted(state.versions.items()):
        if state.in_trash(entity_id) or "READ" not in state.entity_access(req.user, entity_id):
            continue
        for number, version in sorted(versions.items()):
            handle = file_handle_for_entity(state, version)
            if handle and handle.get("contentMd5") == md5.lower():
                header = entity_header(state, version)
                header.update(versionNumber=number, isLatestVersion=number == max(versions))
                found.append(header)
    return {"results": found, "totalNumberOfResults": len(found)}


def entity_file_handles(req: Request, entity: dict[str, Any]) -> dict[str, Any]:
    req.state.require_entity_access(req.user, entity["id"], "READ")
    handle = file_handle_for_entity(req.state, entity)
    return {"list": [handle] if handle else []}


@route("GET", "repo", "/entity/{entity_id}/filehandles")
def current_file_handles(req: Request, entity_id: str) -> dict[str, Any]:
    return entity_file_handles(req, readable_entity(req, entity_id))


@route("GET", "repo", "/entity/{entity_id}/version/{version}/filehandles")
def version_file_handles(req: Request, entity_id: str, version: str) -> dict[str, Any]:
    return entity_file_handles(req, versioned(req, entity_id, version))
