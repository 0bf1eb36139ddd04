"""Wiki pages (v1 with inline markdown, v2 with a gzipped markdown file handle), one store."""

from __future__ import annotations

import copy
import gzip
from typing import Any

from .app import Request, Response, paginated, route
from .errors import bad_request, conflict, forbidden, not_found, precondition_failed
from .files import download_url, store_bytes
from .state import State, User, new_etag, now_iso

OWNER_PATHS = {"entity": "ENTITY", "evaluation": "EVALUATION"}


# ----- helpers shared with files.py and entities.py --------------------------------------------
def root_wiki_id(state: State, owner_type: str, owner_id: str) -> str | None:
    for wiki in state.wikis.values():
        if (
            wiki["ownerType"] == owner_type
            and wiki["ownerId"] == owner_id
            and not wiki["parentWikiId"]
        ):
            return wiki["id"]
    return None


def delete_wikis_of(state: State, owner_type: str, owner_id: str) -> None:
    for wiki_id in [
        w
        for w, v in state.wikis.items()
        if v["ownerType"] == owner_type and v["ownerId"] == owner_id
    ]:
        del state.wikis[wiki_id]


def wiki_handle_ids(state: State, wiki_id: str) -> set[str]:
    wiki = state.wikis.get(wiki_id)
    if wiki is None:
        return set()
    ids = set()
    for version in wiki["versions"]:
        ids.add(version["markdownFileHandleId"])
        ids.update(version["attachmentFileHandleIds"])
    return ids


def wiki_owner_readable(req: Request, wiki_id: str) -> bool:
    wiki = req.state.wikis.get(wiki_id)
    if wiki is None:
        return False
    try:
        check_owner_access(req, wiki["ownerType"], wiki["ownerId"], "READ")
    except Exception:
        return False
    return True


def owner(req: Request, owner_kind: str, owner_id: str) -> tuple[str, str]:
    owner_type = OWNER_PATHS[owner_kind]
    if owner_type == "ENTITY":
        return owner_type, req.state.entity(owner_id)["id"]
    return owner_type, req.state.evaluation(owner_id)["id"]


def check_owner_access(req: Request, owner_type: str, owner_id: str, access: str) -> None:
    if owner_type == "ENTITY":
        req.state.require_entity_access(req.user, owner_id, access)
    else:
        req.state.require_evaluation_access(
            req.user, owner_id, "READ" if access == "READ" else "UPDATE"
        )


def markdown_text(state: State, handle_id: str) -> str:
    data = state.file_contents.get(str(handle_id))
    if data is None:
        raise bad_request(f"Markdown file handle {handle_id} has no stored content")
    return gunzipped(data).decode("utf-8")


def gunzipped(data: bytes) -> bytes:
    """Stored markdown and attachments may be gzipped; anything else is returned as is."""
    try:
        return gzip.decompress(data)
    except OSError:
        return data


def markdown_handle(state: State, user: User, markdown: str) -> str:
    handle = store_bytes(
        state, user, "markdown.txt.gz", "application/x-gzip", gzip.compress(markdown.encode())
    )
    return handle["id"]


def check_handles(state: State, user: User, handle_ids: list[Any], previous: set[str]) -> list[str]:
    cleaned = []
    for handle_id in handle_ids:
        handle = state.file_handles.get(str(handle_id))
        if handle is None:
            raise not_found(f"FileHandle {handle_id} does not exist")
        if str(handle_id) not in previous and handle["createdBy"] != str(user.principal_id):
            raise forbidden(f"Only the creator of FileHandle {handle_id} may attach it to a wiki")
        cleaned.append(str(handle_id))
    return cleaned


def v1_json(state: State, wiki: dict[str, Any]) -> dict[str, Any]:
    body = v2_json(wiki)
    del body["markdownFileHandleId"]
    body["markdown"] = wiki["markdown"]
    return body


def v2_json(wiki: dict[str, Any], version: dict[str, Any] | None = None) -> dict[str, Any]:
    source = version or wiki
    body = {
        "id": wiki["id"],
        "etag": wiki["etag"],
        "createdOn": wiki["createdOn"],
        "createdBy": wiki["createdBy"],
        "modifiedOn": source["modifiedOn"],
        "modifiedBy": source["modifiedBy"],
        "title": source["title"],
        "markdownFileHandleId": source["markdownFileHandleId"],
        "attachmentFileHandleIds": list(source["attachmentFileHandleIds"]),
    }
    if wiki["parentWikiId"]:
        body["parentWikiId"] = wiki["parentWikiId"]
    return body


def snapshot(wiki: dict[str, Any]) -> None:
    wiki["versions"].append(
        {
            "version": str(len(wiki["versions"])),
            "title": wiki["title"],
            "markdown": wiki["markdown"],
            "markdownFileHandleId": wiki["markdownFileHandleId"],
            "attachmentFileHandleIds": list(wiki["attachmentFileHandleIds"]),
            "modifiedOn": wiki["modifiedOn"],
            "modifiedBy": wiki["modifiedBy"],
        }
    )


def existing_wiki(req: Request, owner_type: str, owner_id: str, wiki_id: str) -> dict[str, Any]:
    wiki = req.state.wikis.get(wiki_id)
    if wiki is None or wiki["ownerType"] != owner_type or wiki["ownerId"] != owner_id:
        raise not_found(f"WikiPage {wiki_id} of {owner_type} {owner_id} does not exist")
    return wiki


def create_wiki(
    req: Request, owner_kind: str, owner_id: str, body: dict[str, Any], *, v2: bool
) -> dict:
    user = req.require_user()
    state = req.state
    owner_type, owner_id = owner(req, owner_kind, owner_id)
    parent = body.get("parentWikiId")
    if parent:
        existing_wiki(req, owner_type, owner_id, str(parent))
        check_owner_access(
            req, owner_type, owner_id, "CREATE" if owner_type == "ENTITY" else "UPDATE"
        )
    else:
        check_owner_access(
            req, owner_type, owner_id, "CREATE" if owner_type == "ENTITY" else "UPDATE"
        )
        if root_wiki_id(state, owner_type, owner_id):
            raise conflict(f"A root wiki already exists for {owner_type} {owner_id}")
    if v2:
        if not body.get("markdownFileHandleId"):
            raise bad_request("V2WikiPage.markdownFileHandleId is required")
        handle_id = check_handles(state, user, [body["markdownFileHandleId"]], set())[0]
        markdown = markdown_text(state, handle_id)
    else:
        markdown = body.get("markdown") or ""
        handle_id = markdown_handle(state, user, markdown)
    stamp = now_iso()
    wiki_id = state.next_wiki_id()
    wiki = {
        "id": wiki_id,
        "ownerType": owner_type,
        "ownerId": owner_id,
        "parentWikiId": str(parent) if parent else None,
        "title": body.get("title") or "",
        "markdown": markdown,
        "markdownFileHandleId": handle_id,
        "attachmentFileHandleIds": check_handles(
            state, user, body.get("attachmentFileHandleIds") or [], set()
        ),
        "etag": new_etag(),
        "createdOn": stamp,
        "createdBy": str(user.principal_id),
        "modifiedOn": stamp,
        "modifiedBy": str(user.principal_id),
        "versions": [],
    }
    snapshot(wiki)
    state.wikis[wiki_id] = wiki
    return wiki


def update_wiki(
    req: Request, owner_kind: str, owner_id: str, wiki_id: str, body: dict[str, Any], *, v2: bool
) -> dict[str, Any]:
    user = req.require_user()
    state = req.state
    owner_type, owner_id = owner(req, owner_kind, owner_id)
    wiki = existing_wiki(req, owner_type, owner_id, wiki_id)
    check_owner_access(req, owner_type, owner_id, "UPDATE")
    if str(body.get("id", wiki_id)) != wiki_id:
        raise bad_request("WikiPage.id does not match the URL")
    if body.get("etag") != wiki["etag"]:
        raise precondition_failed(wiki_id)
    previous = wiki_handle_ids(state, wiki_id)
    if v2:
        handle_id = str(body.get("markdownFileHandleId") or wiki["markdownFileHandleId"])
        if handle_id != wiki["markdownFileHandleId"]:
            check_handles(state, user, [handle_id], previous)
            wiki["markdown"] = markdown_text(state, handle_id)
            wiki["markdownFileHandleId"] = handle_id
    elif "markdown" in body and (body["markdown"] or "") != wiki["markdown"]:
        wiki["markdown"] = body["markdown"] or ""
        wiki["markdownFileHandleId"] = markdown_handle(state, user, wiki["markdown"])
    if "attachmentFileHandleIds" in body:
        wiki["attachmentFileHandleIds"] = check_handles(
            state, user, body["attachmentFileHandleIds"] or [], previous
        )
    if "title" in body:
        wiki["title"] = body["title"] or ""
    if "parentWikiId" in body and body["parentWikiId"] != wiki["parentWikiId"]:
        if not wiki["parentWikiId"] or not body["parentWikiId"]:
            raise bad_request(
                "The root wiki page cannot be moved and a subpage cannot become the root"
            )
        existing_wiki(req, owner_type, owner_id, str(body["parentWikiId"]))
        wiki["parentWikiId"] = str(body["parentWikiId"])
    wiki.update(etag=new_etag(), modifiedOn=now_iso(), modifiedBy=str(user.principal_id))
    snapshot(wiki)
    return wiki


def restore_wiki(
    req: Request, owner_kind: str, owner_id: str, wiki_id: str, version: str
) -> dict[str, Any]:
    """V2WikiManagerImpl.restoreWikiPage: the old version's title, markdown and attachments
    become a new version (https://rest-docs.synapse.org/rest/PUT/entity/ownerId/wiki2/wikiId/wikiVersion.html)."""
    user = req.require_user()
    owner_type, owner_id = owner(req, owner_kind, owner_id)
    wiki = existing_wiki(req, owner_type, owner_id, wiki_id)
    check_owner_access(req, owner_type, owner_id, "UPDATE")
    old = find_version(wiki, version)
    wiki.update(
        title=old["title"],
        markdown=old["markdown"],
        markdownFileHandleId=old["markdownFileHandleId"],
        attachmentFileHandleIds=list(old["attachmentFileHandleIds"]),
        etag=new_etag(),
        modifiedOn=now_iso(),
        modifiedBy=str(user.principal_id),
    )
    snapshot(wiki)
    return wiki


def delete_wiki(req: Request, owner_kind: str, owner_id: str, wiki_id: str) -> None:
    req.require_user()
    owner_type, owner_id = owner(req, owner_kind, owner_id)
    existing_wiki(req, owner_type, owner_id, wiki_id)
    check_owner_access(req, owner_type, owner_id, "DELETE" if owner_type == "ENTITY" else "UPDATE")
    pending = [wiki_id]
    while pending:
        current = pending.pop()
        pending.extend(w for w, v in req.state.wikis.items() if v["parentWikiId"] == current)
        req.state.wikis.pop(current, None)


def readable_wiki(
    req: Request, owner_kind: str, owner_id: str, wiki_id: str | None
) -> dict[str, Any]:
    owner_type, owner_id = owner(req, owner_kind, owner_id)
    check_owner_access(req, owner_type, owner_id, "READ")
    if wiki_id is None:
        wiki_id = root_wiki_id(req.state, owner_type, owner_id)
        if wiki_id is None:
            raise not_found(f"No root wiki exists for {owner_type} {owner_id}")
    return existing_wiki(req, owner_type, owner_id, wiki_id)


def header_tree(req: Request, owner_kind: str, owner_id: str) -> dict[str, Any]:
    owner_type, owner_id = owner(req, owner_kind, owner_id)
    check_owner_access(req, owner_type, owner_id, "READ")
    pages = sorted(
        (
            w
            for w in req.state.wikis.values()
            if w["ownerType"] == owner_type and w["ownerId"] == owner_id
        ),
        key=lambda w: int(w["id"]),
    )
    if not pages:
        raise not_found(f"No wiki exists for {owner_type} {owner_id}")
    headers = []
    for page in pages:
        header = {"id": page["id"], "title": page["title"]}
        if page["parentWikiId"]:
            header["parentId"] = page["parentWikiId"]
        headers.append(header)
    return paginated(headers, req, default_limit=1000, max_limit=1000)


def attachment_handles(req: Request, wiki: dict[str, Any]) -> dict[str, Any]:
    return {"list": [req.state.file_handles[h] for h in wiki["attachmentFileHandleIds"]]}


def url_response(req: Request, url: str) -> Response:
    if req.bool_param("redirect", True):
        return Response(307, "", "text/plain", {"Location": url})
    return Response(200, url, "text/plain")


def attachment_url(req: Request, wiki: dict[str, Any], *, preview: bool = False) -> Response:
    name = req.param("fileName")
    for handle_id in wiki["attachmentFileHandleIds"]:
        if req.state.file_handles[handle_id]["fileName"] == name:
            if preview:
                handle_id = preview_handle(req.state, handle_id)
            return url_response(req, download_url(req, handle_id))
    raise not_found(f"Wiki {wiki['id']} has no attachment named {name}")


PREVIEW_BYTES = 1024


def preview_handle(state: State, handle_id: str) -> str:
    """The preview Synapse's preview worker makes of a text attachment: ``preview.txt`` with
    its first lines (a gzipped file is previewed uncompressed); made once, on first request."""
    handle = state.file_handles[handle_id]
    if handle.get("previewId"):
        return handle["previewId"]
    data = gunzipped(state.file_contents.get(handle_id, b""))
    owner = state.users[int(handle["createdBy"])]
    preview = store_bytes(state, owner, "preview.txt", "text/plain", data[:PREVIEW_BYTES])
    preview["isPreview"] = True
    handle["previewId"] = preview["id"]
    return preview["id"]


# ----- routes for both owner kinds and both API versions ----------------------------------------
def register(kind: str) -> None:
    base = f"/{kind}/{{owner_id}}"

    @route("POST", "repo", f"{base}/wiki")
    def post_v1(req: Request, owner_id: str) -> dict[str, Any]:
        return v1_json(req.state, create_wiki(req, kind, owner_id, req.json(), v2=False))

    @route("POST", "repo", f"{base}/wiki2")
    def post_v2(req: Request, owner_id: str) -> dict[str, Any]:
        return v2_json(create_wiki(req, kind, owner_id, req.json(), v2=True))

    @route("GET", "repo", f"{base}/wiki", auth=False)
    def get_root_v1(req: Request, owner_id: str) -> dict[str, Any]:
        return v1_json(req.state, readable_wiki(req, kind, owner_id, None))

    @route("GET", "repo", f"{base}/wiki2", auth=False)
    def get_root_v2(req: Request, owner_id: str) -> dict[str, Any]:
        return versioned_v2(req, readable_wiki(req, kind, owner_id, None))

    @route("GET", "repo", f"{base}/wiki/{{wiki_id}}", auth=False)
    def get_v1(req: Request, owner_id: str, wiki_id: str) -> dict[str, Any]:
        return v1_json(req.state, readable_wiki(req, kind, owner_id, wiki_id))

    @route("GET", "repo", f"{base}/wiki2/{{wiki_id}}", auth=False)
    def get_v2(req: Request, owner_id: str, wiki_id: str) -> dict[str, Any]:
        return versioned_v2(req, readable_wiki(req, kind, owner_id, wiki_id))

    @route("GET", "repo", f"{base}/wiki2/{{wiki_id}}/{{version}}", auth=False)
    def get_v2_version(req: Request, owner_id: str, wiki_id: str, version: str) -> dict[str, Any]:
        wiki = readable_wiki(req, kind, owner_id, wiki_id)
        return v2_json(wiki, find_version(wiki, version))

    @route("PUT", "repo", f"{base}/wiki/{{wiki_id}}")
    def put_v1(req: Request, owner_id: str, wiki_id: str) -> dict[str, Any]:
        return v1_json(req.state, update_wiki(req, kind, owner_id, wiki_id, req.json(), v2=False))

    @route("PUT", "repo", f"{base}/wiki2/{{wiki_id}}")
    def put_v2(req: Request, owner_id: str, wiki_id: str) -> dict[str, Any]:
        return v2_json(update_wiki(req, kind, owner_id, wiki_id, req.json(), v2=True))

    @route("PUT", "repo", f"{base}/wiki2/{{wiki_id}}/{{version}}")
    def restore_v2(req: Request, owner_id: str, wiki_id: str, version: str) -> dict[str, Any]:
        return v2_json(restore_wiki(req, kind, owner_id, wiki_id, version))

    @route("DELETE", "repo", f"{base}/wiki/{{wiki_id}}")
    def delete_v1(req: Request, owner_id: str, wiki_id: str) -> None:
        delete_wiki(req, kind, owner_id, wiki_id)

    @route("DELETE", "repo", f"{base}/wiki2/{{wiki_id}}")
    def delete_v2(req: Request, owner_id: str, wiki_id: str) -> None:
        delete_wiki(req, kind, owner_id, wiki_id)

    @route("GET", "repo", f"{base}/wikiheadertree", auth=False)
    def tree_v1(req: Request, owner_id: str) -> dict[str, Any]:
        return header_tree(req, kind, owner_id)

    @route("GET", "repo", f"{base}/wikiheadertree2", auth=False)
    def tree_v2(req: Request, owner_id: str) -> dict[str, Any]:
        return header_tree(req, kind, owner_id)

    for version in ("wiki", "wiki2"):

        @route("GET", "repo", f"{base}/{version}/{{wiki_id}}/attachmenthandles", auth=False)
        def handles(req: Request, owner_id: str, wiki_id: str) -> dict[str, Any]:
            return attachment_handles(req, readable_wiki(req, kind, owner_id, wiki_id))

        @route("GET", "repo", f"{base}/{version}/{{wiki_id}}/attachment", auth=False)
        def attachment(req: Request, owner_id: str, wiki_id: str) -> Response:
            return attachment_url(req, readable_wiki(req, kind, owner_id, wiki_id))

        @route("GET", "repo", f"{base}/{version}/{{wiki_id}}/attachmentpreview", auth=False)
        def attachment_preview(req: Request, owner_id: str, wiki_id: str) -> Response:
            return attachment_url(req, readable_wiki(req, kind, owner_id, wiki_id), preview=True)

    @route("GET", "repo", f"{base}/wiki2/{{wiki_id}}/markdown", auth=False)
    def markdown(req: Request, owner_id: str, wiki_id: str) -> Response:
        wiki = readable_wiki(req, kind, owner_id, wiki_id)
        version = req.param("wikiVersion")
        handle_id = (
            find_version(wiki, version)["markdownFileHandleId"]
            if version
            else wiki["markdownFileHandleId"]
        )
        return url_response(req, download_url(req, handle_id))

    @route("GET", "repo", f"{base}/wiki2/{{wiki_id}}/wikihistory", auth=False)
    def history(req: Request, owner_id: str, wiki_id: str) -> dict[str, Any]:
        wiki = readable_wiki(req, kind, owner_id, wiki_id)
        snapshots = [
            {"version": v["version"], "modifiedOn": v["modifiedOn"], "modifiedBy": v["modifiedBy"]}
            for v in reversed(wiki["versions"])
        ]
        return paginated(snapshots, req)

    @route("GET", "repo", f"{base}/wiki2orderhint", auth=False)
    def get_order_hint(req: Request, owner_id: str) -> dict[str, Any]:
        owner_type, resolved = owner(req, kind, owner_id)
        check_owner_access(req, owner_type, resolved, "READ")
        return copy.deepcopy(order_hint(req.state, owner_type, resolved))

    @route("PUT", "repo", f"{base}/wiki2orderhint")
    def put_order_hint(req: Request, owner_id: str) -> dict[str, Any]:
        req.require_user()
        owner_type, resolved = owner(req, kind, owner_id)
        check_owner_access(req, owner_type, resolved, "UPDATE")
        hint = order_hint(req.state, owner_type, resolved)
        body = req.json()
        if body.get("etag") != hint["etag"]:
            raise precondition_failed(f"order hint of {resolved}")
        hint.update(idList=[str(i) for i in body.get("idList") or []], etag=new_etag())
        return hint


def versioned_v2(req: Request, wiki: dict[str, Any]) -> dict[str, Any]:
    version = req.param("wikiVersion")
    return v2_json(wiki, find_version(wiki, version) if version is not None else None)


def find_version(wiki: dict[str, Any], version: str) -> dict[str, Any]:
    for candidate in wiki["versions"]:
        if candidate["version"] == str(version):
            return candidate
    raise not_found(f"Wiki {wiki['id']} has no version {version}")


def order_hint(state: State, owner_type: str, owner_id: str) -> dict[str, Any]:
    return state.wiki_order_hints.setdefault(
        (owner_type, owner_id),
        {"ownerId": owner_id, "ownerObjectType": owner_type, "idList": [], "etag": new_etag()},
    )


for _kind in OWNER_PATHS:
    register(_kind)
