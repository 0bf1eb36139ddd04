"""Column models and schema-change transactions, enough to create and update a SubmissionView."""

from __future__ import annotations

import copy
import json
from typing import Any

from .app import Request, route
from .errors import bad_request, not_found
from .state import State, new_etag, now_iso

TABLE_MODEL = "org.sagebionetworks.repo.model.table."
MAX_STRING_SIZE = 1000
COLUMN_TYPES = {
    "STRING",
    "DOUBLE",
    "INTEGER",
    "BOOLEAN",
    "DATE",
    "FILEHANDLEID",
    "ENTITYID",
    "SUBMISSIONID",
    "EVALUATIONID",
    "LINK",
    "MEDIUMTEXT",
    "LARGETEXT",
    "USERID",
    "STRING_LIST",
    "INTEGER_LIST",
    "BOOLEAN_LIST",
    "DATE_LIST",
    "ENTITYID_LIST",
    "USERID_LIST",
    "JSON",
}
SUBMISSION_VIEW_DEFAULTS = [
    ("id", "SUBMISSIONID", None),
    ("name", "STRING", 256),
    ("createdOn", "DATE", None),
    ("createdBy", "USERID", None),
    ("etag", "STRING", 36),
    ("modifiedOn", "DATE", None),
    ("modifiedBy", "USERID", None),
    ("projectId", "ENTITYID", None),
    ("evaluationid", "EVALUATIONID", None),
    ("evaluationroundid", "INTEGER", None),
    ("submitterid", "USERID", None),
    ("submitteralias", "STRING", 256),
    ("entityid", "ENTITYID", None),
    ("entityversion", "INTEGER", None),
    ("dockerrepositoryname", "STRING", 256),
    ("dockerdigest", "STRING", 256),
    ("status", "STRING", 20),
]
ENTITY_VIEW_DEFAULTS = [
    ("id", "ENTITYID", None),
    ("name", "STRING", 256),
    ("createdOn", "DATE", None),
    ("createdBy", "USERID", None),
    ("etag", "STRING", 36),
    ("type", "STRING", 20),
    ("currentVersion", "INTEGER", None),
    ("parentId", "ENTITYID", None),
    ("benefactorId", "ENTITYID", None),
    ("projectId", "ENTITYID", None),
    ("modifiedOn", "DATE", None),
    ("modifiedBy", "USERID", None),
    ("dataFileHandleId", "FILEHANDLEID", None),
]


def column_key(column: dict[str, Any]) -> str:
    fields = {k: v for k, v in column.items() if k not in ("id", "concreteType") and v is not None}
    return json.dumps(fields, sort_keys=True)


def store_column(state: State, column: dict[str, Any]) -> dict[str, Any]:
    """Column models are immutable and shared: the same definition always gets the same ID."""
    if not column.get("name"):
        raise bad_request("ColumnModel.name is required")
    if column.get("columnType") not in COLUMN_TYPES:
        raise bad_request(f"ColumnModel.columnType must be one of {sorted(COLUMN_TYPES)}")
    cleaned = {k: copy.deepcopy(v) for k, v in column.items() if k != "id" and v is not None}
    cleaned.setdefault("concreteType", TABLE_MODEL + "ColumnModel")
    if cleaned["columnType"] == "STRING":
        cleaned.setdefault("maximumSize", 50)
        if int(cleaned["maximumSize"]) > MAX_STRING_SIZE:
            # ColumnModelManagerImpl's text
            raise bad_request(f"ColumnModel.maxSize for a STRING cannot exceed: {MAX_STRING_SIZE}")
    key = column_key(cleaned)
    for existing in state.columns.values():
        if column_key(existing) == key:
            return existing
    cleaned["id"] = state.next_small_id()
    state.columns[cleaned["id"]] = cleaned
    return cleaned


def defaults(state: State, spec: list[tuple[str, str, int | None]]) -> list[dict[str, Any]]:
    columns = []
    for name, column_type, size in spec:
        column: dict[str, Any] = {"name": name, "columnType": column_type}
        if size:
            column["maximumSize"] = size
        columns.append(store_column(state, column))
    return columns


@route("GET", "repo", "/column/tableview/defaults", auth=False)
def default_columns(req: Request) -> dict[str, Any]:
    view_type = (req.param("viewEntityType") or "").lower()
    spec = SUBMISSION_VIEW_DEFAULTS if view_type == "submissionview" else ENTITY_VIEW_DEFAULTS
    return {
        "concreteType": "org.sagebionetworks.repo.model.ListWrapper",
        "list": defaults(req.state, spec),
    }


@route("POST", "repo", "/column/batch")
def create_columns(req: Request) -> dict[str, Any]:
    body = req.json()
    stored = [store_column(req.state, c) for c in body.get("list") or []]
    return {"concreteType": "org.sagebionetworks.repo.model.ListWrapper", "list": stored}


@route("POST", "repo", "/column")
def create_column(req: Request) -> dict[str, Any]:
    return store_column(req.state, req.json())


@route("GET", "repo", "/column/{column_id}", auth=False)
def get_column(req: Request, column_id: str) -> dict[str, Any]:
    column = req.state.columns.get(column_id)
    if column is None:
        raise not_found(f"ColumnModel {column_id} does not exist")
    return column


@route("GET", "repo", "/entity/{entity_id}/column", auth=False)
def entity_columns(req: Request, entity_id: str) -> dict[str, Any]:
    entity = req.state.authorized("entity", entity_id, req.user, "READ")
    columns = [
        req.state.columns[c] for c in entity.get("columnIds") or [] if c in req.state.columns
    ]
    return {"results": columns, "totalNumberOfResults": len(columns)}


def apply_schema_change(
    req: Request, entity: dict[str, Any], change: dict[str, Any]
) -> dict[str, Any]:
    column_ids = list(entity.get("columnIds") or [])
    for item in change.get("changes") or []:
        old, new = item.get("oldColumnId"), item.get("newColumnId")
        for column_id in (old, new):
            if column_id and str(column_id) not in req.state.columns:
                raise bad_request(f"ColumnModel {column_id} does not exist")
        if old and str(old) in column_ids:
            index = column_ids.index(str(old))
            if new:
                column_ids[index] = str(new)
            else:
                column_ids.pop(index)
        elif new and str(new) not in column_ids:
            column_ids.append(str(new))
    if change.get("orderedColumnIds") is not None:
        column_ids = [str(c) for c in change["orderedColumnIds"]]
    entity["columnIds"] = column_ids
    return {
        "concreteType": TABLE_MODEL + "TableSchemaChangeResponse",
        "schema": [req.state.columns[c] for c in column_ids],
    }


@route("POST", "repo", "/entity/{entity_id}/table/transaction/async/start")
def start_transaction(req: Request, entity_id: str) -> dict[str, Any]:
    user, entity = req.authorized("entity", entity_id, "UPDATE")
    state = req.state
    body = req.json()
    token = state.next_small_id()
    job: dict[str, Any] = {
        "jobId": token,
        "jobState": "COMPLETE",
        "requestBody": body,
        "startedByUserId": user.principal_id,
        "startedOn": now_iso(),
        "changedOn": now_iso(),
        "etag": new_etag(),
        "runtimeMs": 1,
    }
    try:
        results = []
        for change in body.get("changes") or []:
            if change.get("concreteType") != TABLE_MODEL + "TableSchemaChangeRequest":
                raise bad_request(
                    "The emulator only applies TableSchemaChangeRequest, not "
                    f"{change.get('concreteType')}"
                )
            results.append(apply_schema_change(req, entity, change))
        state.touch_entity(entity, user)
        job["responseBody"] = {
            "concreteType": TABLE_MODEL + "TableUpdateTransactionResponse",
            "results": results,
        }
    except Exception as exc:
        job.update(jobState="FAILED", errorMessage=str(exc), errorDetails=repr(exc))
    state.async_jobs[token] = job
    return {"token": token}


@route("GET", "repo", "/entity/{entity_id}/table/transaction/async/get/{token}")
def get_transaction(req: Request, entity_id: str, token: str) -> dict[str, Any]:
    req.require_user()
    job = req.state.async_jobs.get(token)
    if job is None:
        raise not_found(f"Asynchronous job {token} does not exist")
    if job["jobState"] == "COMPLETE":
        return job["responseBody"]
    return job
