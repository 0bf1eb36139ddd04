"""File handles on the file service: external links, multipart uploads, downloads and copies."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode, urlparse

from .app import Request, Response, route
from .errors import bad_request, forbidden, not_found
from .state import State, User, new_etag, now_iso

EXTERNAL = "org.sagebionetworks.repo.model.file.ExternalFileHandle"
S3 = "org.sagebionetworks.repo.model.file.S3FileHandle"
EXTERNAL_SCHEMES = {"http", "https", "ftp", "sftp", "s3", "gs", "file"}


def new_file_handle(state: State, user: User, fields: dict[str, Any]) -> dict[str, Any]:
    handle_id = state.next_file_handle_id()
    handle = {
        "id": handle_id,
        "etag": new_etag(),
        "createdBy": str(user.principal_id),
        "createdOn": now_iso(),
        "modifiedOn": now_iso(),
        "isPreview": False,
        "status": "AVAILABLE",
        **fields,
    }
    state.file_handles[handle_id] = handle
    return handle


def store_bytes(
    state: State, user: User, file_name: str, content_type: str, data: bytes
) -> dict[str, Any]:
    """Create an S3-like file handle holding ``data`` (wiki markdown, attachments, uploads)."""
    handle = new_file_handle(
        state,
        user,
        {
            "concreteType": S3,
            "fileName": file_name,
            "contentType": content_type,
            "contentSize": len(data),
            "contentMd5": hashlib.md5(data).hexdigest(),
            "bucketName": "emulator-bucket",
            "key": f"{user.principal_id}/{file_name}",
            "storageLocationId": 1,
        },
    )
    state.file_contents[handle["id"]] = data
    return handle


PRESIGNED_URL_SECONDS = 900


def download_url(req: Request, handle_id: str) -> str:
    """A URL shaped like S3's presigned ones: synapseclient reads X-Amz-Date and X-Amz-Expires
    to decide whether a URL it holds is still fresh (core/download/download_functions.py)."""
    signed_at = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    query = urlencode(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Date": signed_at,
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Expires": PRESIGNED_URL_SECONDS,
            "X-Amz-Credential": f"EMULATOR/{signed_at[:8]}/us-east-1/s3/aws4_request",
            "X-Amz-Signature": hashlib.sha256(f"{handle_id}{signed_at}".encode()).hexdigest(),
        }
    )
    return f"{req.base_url}/_emulator/files/{handle_id}?{query}"


def handle_url(req: Request, handle: dict[str, Any]) -> str:
    if handle["concreteType"] == EXTERNAL:
        return handle["externalURL"]
    return download_url(req, handle["id"])


@route("POST", "file", "/externalFileHandle")
def post_external_file_handle(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    url = body.get("externalURL")
    if not url:
        raise bad_request("ExternalFileHandle.externalURL is required")
    scheme = urlparse(str(url)).scheme.lower()
    if scheme not in EXTERNAL_SCHEMES:
        raise bad_request(f"The externalURL is not a valid url: {url}")
    fields = {
        "concreteType": EXTERNAL,
        "externalURL": url,
        "fileName": body.get("fileName") or urlparse(url).path.rsplit("/", 1)[-1] or "NOT_SET",
        "contentType": body.get("contentType") or "application/octet-stream",
    }
    for optional in ("contentMd5", "contentSize", "storageLocationId"):
        if body.get(optional) is not None:
            fields[optional] = body[optional]
    return new_file_handle(req.state, user, fields)


@route("GET", "file", "/fileHandle/{handle_id}")
def get_file_handle(req: Request, handle_id: str) -> dict[str, Any]:
    user = req.require_user()
    handle = req.state.file_handles.get(handle_id)
    if handle is None:
        raise not_found(f"FileHandle {handle_id} does not exist")
    if handle["createdBy"] != str(user.principal_id):
        raise forbidden("Only the creator of a FileHandle can access it directly")
    return handle


@route("GET", "file", "/fileHandle/{handle_id}/url")
def get_file_handle_url(req: Request, handle_id: str) -> Any:
    handle = get_file_handle(req, handle_id)
    url = handle_url(req, handle)
    if req.bool_param("redirect", True):
        return Response(307, "", "text/plain", {"Location": url})
    return Response(200, url, "text/plain")


def associated_readable(req: Request, object_type: str, object_id: str) -> bool:
    """Whether the caller may download handles associated with this object."""
    from .wikis import wiki_owner_readable

    state = req.state
    if object_type in ("FileEntity", "TableEntity"):
        try:
            entity = state.entity(object_id)
        except Exception:
            return False
        return "DOWNLOAD" in state.entity_access(req.user, entity["id"])
    if object_type == "WikiAttachment" or object_type == "WikiMarkdown":
        return wiki_owner_readable(req, object_id)
    if object_type == "SubmissionAttachment":
        # Synapse authorises a submission's files on its queue with READ_PRIVATE_SUBMISSION.
        submission = state.submissions.get(object_id)
        return submission is not None and "READ_PRIVATE_SUBMISSION" in state.evaluation_access(
            req.user, submission["evaluationId"]
        )
    return False


def associated_handle_ids(req: Request, object_type: str, object_id: str) -> set[str]:
    from .wikis import wiki_handle_ids

    state = req.state
    if object_type == "FileEntity":
        try:
            entity = state.entity(object_id)
        except Exception:
            return set()
        versions = state.versions.get(entity["id"], {})
        return {str(v.get("dataFileHandleId")) for v in versions.values()}
    if object_type in ("WikiAttachment", "WikiMarkdown"):
        return wiki_handle_ids(state, object_id)
    if object_type == "SubmissionAttachment":
        return submission_handle_ids(state, object_id)
    return set()


def submission_handle_ids(state: State, submission_id: str) -> set[str]:
    """The file handles of the entity bundle captured when the submission was made."""
    submission = state.submissions.get(submission_id)
    if submission is None:
        return set()
    bundle = json.loads(submission["entityBundleJSON"])
    return {str(h["id"]) for h in bundle.get("fileHandles", [])}


def associated_handle(
    req: Request, association: dict[str, Any], id_key: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A batch call's result for one FileHandleAssociation (the handle ID under ``id_key``), and
    the handle it names; or None, with the result's ``failureCode``: NOT_FOUND (no such handle
    on that object), then UNAUTHORIZED."""
    handle_id = str(association.get("fileHandleId"))
    object_type = association.get("associateObjectType", "")
    object_id = str(association.get("associateObjectId", ""))
    result: dict[str, Any] = {id_key: handle_id}
    handle = req.state.file_handles.get(handle_id)
    if handle is None or handle_id not in associated_handle_ids(req, object_type, object_id):
        result["failureCode"] = "NOT_FOUND"
    elif not associated_readable(req, object_type, object_id):
        result["failureCode"] = "UNAUTHORIZED"
    return result, None if "failureCode" in result else handle


@route("POST", "file", "/fileHandle/batch")
def file_handle_batch(req: Request) -> dict[str, Any]:
    _, body = req.caller_and_body()
    results = []
    for item in body.get("requestedFiles", []):
        result, handle = associated_handle(req, item, "fileHandleId")
        if handle is not None:
            if body.get("includeFileHandles"):
                result["fileHandle"] = handle
            if body.get("includePreSignedURLs"):
                result["preSignedURL"] = handle_url(req, handle)
        results.append(result)
    return {"requestedFiles": results}


@route("POST", "file", "/filehandles/copy")
def copy_file_handles(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    results = []
    for item in body.get("copyRequests", []):
        result, handle = associated_handle(
            req, item.get("originalFile") or {}, "originalFileHandleId"
        )
        if handle is not None:
            fields = {
                k: v
                for k, v in handle.items()
                if k not in ("id", "etag", "createdBy", "createdOn", "modifiedOn")
            }
            if item.get("newFileName"):
                fields["fileName"] = item["newFileName"]
            if item.get("newContentType"):
                fields["contentType"] = item["newContentType"]
            copied = new_file_handle(req.state, user, fields)
            if handle["id"] in req.state.file_contents:
                req.state.file_contents[copied["id"]] = req.state.file_contents[handle["id"]]
            result["newFileHandle"] = copied
        results.append(result)
    return {"copyResults": results}


# ----- multipart upload -------------------------------------------------------------------------
@route("POST", "file", "/file/multipart")
def start_multipart(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    if not body.get("fileName"):
        raise bad_request("MultipartUploadRequest.fileName is required")
    part_size = int(body.get("partSizeBytes") or 5 * 1024 * 1024)
    size = int(body.get("fileSizeBytes") or 0)
    parts = max(1, -(-size // part_size))
    upload_id = req.state.next_small_id()
    req.state.multipart_uploads[upload_id] = {
        "request": body,
        "user": user.principal_id,
        "parts": {},
        "added": set(),
        "count": parts,
        "result": None,
    }
    return multipart_status(req.state, upload_id)


def multipart_status(state: State, upload_id: str) -> dict[str, Any]:
    upload = state.multipart_uploads[upload_id]
    done = upload["result"] is not None
    status = {
        "uploadId": upload_id,
        "startedBy": str(upload["user"]),
        "startedOn": now_iso(),
        "updatedOn": now_iso(),
        "partsState": "".join(
            "1" if n in upload["added"] else "0" for n in range(1, upload["count"] + 1)
        ),
        "state": "COMPLETED" if done else "UPLOADING",
    }
    if done:
        status["resultFileHandleId"] = upload["result"]
    return status


def owned_upload(req: Request, upload_id: str) -> dict[str, Any]:
    user = req.require_user()
    upload = req.state.multipart_uploads.get(upload_id)
    if upload is None:
        raise not_found(f"Multipart upload {upload_id} does not exist")
    if upload["user"] != user.principal_id:
        raise forbidden("Only the user who started a multipart upload may continue it")
    return upload


@route("POST", "file", "/file/multipart/{upload_id}/presigned/url/batch")
def presigned_urls(req: Request, upload_id: str) -> dict[str, Any]:
    owned_upload(req, upload_id)
    body = req.json()
    return {
        "partPresignedUrls": [
            {
                "partNumber": n,
                "uploadPresignedUrl": f"{req.base_url}/_emulator/upload/{upload_id}/{n}",
                "signedHeaders": {"Content-Type": "application/octet-stream"},
            }
            for n in body.get("partNumbers", [])
        ]
    }


@route("PUT", "", "/_emulator/upload/{upload_id}/{part}", auth=False)
def put_part(req: Request, upload_id: str, part: str) -> Response:
    upload = req.state.multipart_uploads.get(upload_id)
    if upload is None:
        raise not_found(f"Multipart upload {upload_id} does not exist")
    upload["parts"][int(part)] = req.raw_body
    return Response(200, "", "text/plain")


@route("PUT", "file", "/file/multipart/{upload_id}/add/{part}")
def add_part(req: Request, upload_id: str, part: str) -> dict[str, Any]:
    upload = owned_upload(req, upload_id)
    number = int(part)
    data = upload["parts"].get(number)
    expected = req.param("partMD5Hex")
    if data is None:
        return {
            "partNumber": number,
            "addPartState": "ADD_FAILED",
            "errorMessage": "part not uploaded",
        }
    actual = hashlib.md5(data).hexdigest()
    if expected and expected != actual:
        return {"partNumber": number, "addPartState": "ADD_FAILED", "errorMessage": "MD5 mismatch"}
    upload["added"].add(number)
    return {"partNumber": number, "addPartState": "ADD_SUCCESS"}


@route("PUT", "file", "/file/multipart/{upload_id}/complete")
def complete_multipart(req: Request, upload_id: str) -> dict[str, Any]:
    upload = owned_upload(req, upload_id)
    if upload["result"] is None:
        missing = [n for n in range(1, upload["count"] + 1) if n not in upload["added"]]
        if missing:
            raise bad_request(f"Parts {missing} have not been added")
        data = b"".join(upload["parts"][n] for n in range(1, upload["count"] + 1))
        body = upload["request"]
        handle = store_bytes(
            req.state,
            req.state.users[upload["user"]],
            body["fileName"],
            body.get("contentType") or "application/octet-stream",
            data,
        )
        upload["result"] = handle["id"]
    return multipart_status(req.state, upload_id)


@route("GET", "", "/_emulator/files/{handle_id}", auth=False)
def download(req: Request, handle_id: str) -> Response:
    data = req.state.file_contents.get(handle_id)
    if data is None:
        raise not_found(f"No content stored for file handle {handle_id}")
    handle = req.state.file_handles[handle_id]
    return Response(
        200,
        data,
        handle.get("contentType") or "application/octet-stream",
        {"Content-Disposition": f'attachment; filename="{handle["fileName"]}"'},
    )
