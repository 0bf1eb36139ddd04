"""Launch-day wiki: copy the staging project's wiki to the live project, then mirror changes.

Create copies the staging page tree (copyWiki semantics: tree, titles, markdown, attachments
through file handle copies, links to the staging project rewritten to the live project). Pages
are matched by title (root to root) first, so a retried create finishes a half-done copy
instead of duplicating pages. Afterwards (mirror-wiki semantics) ``diff`` notices staging pages
whose etag changed since the last sync and ``update`` writes them onto the live page of the same
title; staging pages without a live page of that title are reported, never created. Delete
leaves the live wiki alone: it is the public face of the challenge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, UpdateResult

from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import syn_id_problem
from synapse_client.session import LOG, SynapseSession, read_modify_write

from ._resource import SynapseResource
from .common import ENDPOINT_PROP, REPLACE, Prop, SynapseProvider, is_unknown

WIKI_ATTACHMENT = "WikiAttachment"
HEADER_PAGE_LIMIT = 1000


@dataclass(frozen=True)
class WikiHeader:
    """One page of a wiki tree; ``parent_id`` is None for the root page."""

    id: str
    title: str
    parent_id: str | None


# --- pure helpers ------------------------------------------------------------------------------


def rewrite_links(
    markdown: str, source_project: str, target_project: str, page_map: Mapping[str, str]
) -> str:
    """Point links at the target project: `<source>/wiki/<page>` to the copied page, then every
    other mention of the source project's ID (e.g. `#!Synapse:syn1`) to the target's."""
    source = re.escape(source_project)

    def wiki_link(found: re.Match[str]) -> str:
        return f"{target_project}/wiki/{page_map.get(found.group(1), found.group(1))}"

    text = re.sub(rf"\b{source}/wiki/([0-9]+)\b", wiki_link, markdown, flags=re.IGNORECASE)
    return re.sub(rf"\b{source}\b", target_project, text, flags=re.IGNORECASE)


def match_pages(source: Sequence[WikiHeader], target: Sequence[WikiHeader]) -> dict[str, str]:
    """Source page ID -> target page ID: root to root, other pages by equal title.

    Several pages with one title pair up in page-ID order.
    """
    matched: dict[str, str] = {}
    source_root = next((h for h in source if h.parent_id is None), None)
    target_root = next((h for h in target if h.parent_id is None), None)
    if source_root and target_root:
        matched[source_root.id] = target_root.id
    by_title: dict[str, list[WikiHeader]] = {}
    for header in sorted(target, key=lambda h: int(h.id)):
        if header.parent_id is not None:
            by_title.setdefault(header.title, []).append(header)
    for header in sorted(source, key=lambda h: int(h.id)):
        if header.parent_id is not None and by_title.get(header.title):
            matched[header.id] = by_title[header.title].pop(0).id
    return matched


def parents_first(headers: Sequence[WikiHeader]) -> list[WikiHeader]:
    """The pages ordered so every page comes after its parent (orphans last)."""
    known = {h.id for h in headers}
    ordered: list[WikiHeader] = []
    placed: set[str] = set()
    pending = sorted(headers, key=lambda h: int(h.id))
    while pending:
        ready = [h for h in pending if h.parent_id in placed or h.parent_id not in known]
        if not ready:
            ready = pending
        ordered.extend(ready)
        placed.update(h.id for h in ready)
        pending = [h for h in pending if h.id not in placed]
    return ordered


def attachment_signature(handles: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """What makes two attachment lists the same: file names and contents (MD5 or size)."""
    return sorted(
        (str(h.get("fileName")), str(h.get("contentMd5") or h.get("contentSize") or ""))
        for h in handles
    )


# --- REST --------------------------------------------------------------------------------------


def wiki_headers(session: SynapseSession, owner_id: str) -> list[WikiHeader]:
    """The owner's page tree; empty when it has no wiki (404)."""
    headers: list[WikiHeader] = []
    offset = 0
    while True:
        uri = f"/entity/{owner_id}/wikiheadertree?limit={HEADER_PAGE_LIMIT}&offset={offset}"
        page = session.get(uri, object_id=owner_id, missing_ok=offset == 0)
        if page is None:
            return []
        results = page.get("results") or []
        headers.extend(
            WikiHeader(
                str(r["id"]),
                r.get("title") or "",
                str(r["parentId"]) if r.get("parentId") else None,
            )
            for r in results
        )
        offset += len(results)
        if len(results) < HEADER_PAGE_LIMIT:
            return headers


def get_page(session: SynapseSession, owner_id: str, wiki_id: str) -> dict[str, Any]:
    return session.get(f"/entity/{owner_id}/wiki/{wiki_id}", object_id=owner_id)


def attachment_handles(
    session: SynapseSession, owner_id: str, page: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The page's attachment file handles, previews left out."""
    if not page.get("attachmentFileHandleIds"):
        return []
    found = session.get(
        f"/entity/{owner_id}/wiki/{page['id']}/attachmenthandles", object_id=owner_id
    )
    return [h for h in found.get("list") or [] if not h.get("isPreview")]


def copy_attachments(
    session: SynapseSession, wiki_id: str, handles: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Copies of the handles owned by the caller, so they can be attached to another page."""
    if not handles:
        return []
    body = {
        "copyRequests": [
            {
                "originalFile": {
                    "fileHandleId": str(h["id"]),
                    "associateObjectId": str(wiki_id),
                    "associateObjectType": WIKI_ATTACHMENT,
                },
                "newFileName": h.get("fileName"),
                "newContentType": h.get("contentType"),
            }
            for h in handles
        ]
    }
    results = session.post("/filehandles/copy", body, service="file").get("copyResults") or []
    failed = [r for r in results if r.get("failureCode") or not r.get("newFileHandle")]
    if failed or len(results) != len(handles):
        raise SynapseProvisioningError(
            f"copying the attachments of staging wiki page {wiki_id} failed: "
            + ", ".join(f"{r.get('originalFileHandleId')}: {r.get('failureCode')}" for r in failed)
        )
    return [str(r["newFileHandle"]["id"]) for r in results]


# --- provider ----------------------------------------------------------------------------------


class WikiCopyProvider(SynapseProvider):
    """Copy then mirror the staging wiki onto the live project (see the module docstring)."""

    KIND = "wiki copy"
    PROPS = (
        Prop("staging_project_id", str, change=REPLACE, validate=syn_id_problem),
        Prop("live_project_id", str, change=REPLACE, validate=syn_id_problem),
        ENDPOINT_PROP,
    )
    OUTPUTS = ("page_map", "synced_etags", "unmatched_staging_pages", "pages_written")

    def check_together(self, inputs: dict[str, Any]) -> list[CheckFailure]:
        staging, live = inputs.get("staging_project_id"), inputs.get("live_project_id")
        if staging == live and not is_unknown(staging):
            return [
                CheckFailure("live_project_id", f"must differ from staging_project_id ({live})")
            ]
        return []

    def create(self, props: dict[str, Any]) -> CreateResult:
        staging, live = props["staging_project_id"], props["live_project_id"]
        report = self._sync(self.session(props), staging, live, {}, create_missing=True)
        return CreateResult(f"{staging}->{live}", self.outputs(props, **report))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        inputs_diff = super().diff(id_, olds, news)
        if inputs_diff.changes:
            return inputs_diff
        changed = self._staging_changed(self.session(news), olds)
        return DiffResult(changes=changed, replaces=[], stables=[], delete_before_replace=False)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        staging, live = news["staging_project_id"], news["live_project_id"]
        synced = dict(olds.get("synced_etags") or {})
        report = self._sync(self.session(news), staging, live, synced, create_missing=False)
        return UpdateResult(self.outputs(news, **report))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, dict(props))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        LOG.warning(
            "the live wiki of %s is kept: removing the wiki copy only stops mirroring",
            props.get("live_project_id"),
        )

    # internals ------------------------------------------------------------------------------

    def _staging_changed(self, session: SynapseSession, olds: Mapping[str, Any]) -> bool:
        """Whether a synced staging page changed, vanished, or the unmatched pages differ."""
        headers = wiki_headers(session, olds["staging_project_id"])
        synced = olds.get("synced_etags") or {}
        present = {h.id for h in headers}
        if set(synced) - present:
            return True
        unmatched = sorted(h.title for h in headers if h.id not in synced)
        if unmatched != sorted(olds.get("unmatched_staging_pages") or []):
            return True
        staging = olds["staging_project_id"]
        return any(
            get_page(session, staging, h.id).get("etag") != synced[h.id]
            for h in headers
            if h.id in synced
        )

    def _sync(
        self,
        session: SynapseSession,
        staging: str,
        live: str,
        synced: Mapping[str, str],
        *,
        create_missing: bool,
    ) -> dict[str, Any]:
        source = wiki_headers(session, staging)
        if not source:
            LOG.warning("staging project %s has no wiki: nothing to copy to %s", staging, live)
            return {
                "page_map": {},
                "synced_etags": {},
                "unmatched_staging_pages": [],
                "pages_written": 0,
            }
        before = wiki_headers(session, live)
        page_map = match_pages(source, before)
        staging_pages: dict[str, dict[str, Any]] = {}
        live_pages: dict[str, dict[str, Any]] = {}
        fresh: set[str] = set()
        written = 0

        def staging_page(header: WikiHeader) -> dict[str, Any]:
            if header.id not in staging_pages:
                staging_pages[header.id] = get_page(session, staging, header.id)
            return staging_pages[header.id]

        if create_missing:
            for header in parents_first([h for h in source if h.id not in page_map]):
                page = staging_page(header)
                handles = attachment_handles(session, staging, page)
                body: dict[str, Any] = {
                    "title": page.get("title") or "",
                    "markdown": rewrite_links(page.get("markdown") or "", staging, live, page_map),
                    "attachmentFileHandleIds": copy_attachments(session, header.id, handles),
                }
                if header.parent_id is not None:
                    parent = page_map.get(header.parent_id)
                    if parent is None:
                        continue
                    body["parentWikiId"] = parent
                created, adopted = self._create_page(session, live, body)
                page_map[header.id] = str(created["id"])
                live_pages[str(created["id"])] = created
                if adopted:
                    continue
                fresh.add(header.id)
                written += 1
            if fresh:
                self._remove_retry_duplicates(session, live, before, page_map, live_pages)

        new_synced: dict[str, str] = {}
        for header in parents_first([h for h in source if h.id in page_map]):
            page = staging_page(header)
            target_id = page_map[header.id]
            if not create_missing and synced.get(header.id) == page.get("etag"):
                new_synced[header.id] = str(page.get("etag"))
                continue
            if target_id not in live_pages:
                live_pages[target_id] = get_page(session, live, target_id)
            target = live_pages[target_id]
            wanted: dict[str, Any] = {
                "title": page.get("title") or "",
                "markdown": rewrite_links(page.get("markdown") or "", staging, live, page_map),
            }
            if header.id not in fresh:
                source_handles = attachment_handles(session, staging, page)
                target_handles = attachment_handles(session, live, target)
                if attachment_signature(source_handles) != attachment_signature(target_handles):
                    wanted["attachmentFileHandleIds"] = copy_attachments(
                        session, header.id, source_handles
                    )
            if any(target.get(k) != v for k, v in wanted.items()):
                self._write_page(session, live, target_id, wanted, target)
                written += 1
            new_synced[header.id] = str(page.get("etag"))

        unmatched = sorted(h.title for h in source if h.id not in page_map)
        if unmatched:
            LOG.warning(
                "staging wiki pages without a live page of the same title are not mirrored "
                "(create them on the live project by hand): %s",
                ", ".join(repr(t) for t in unmatched),
            )
        return {
            "page_map": dict(sorted(page_map.items())),
            "synced_etags": new_synced,
            "unmatched_staging_pages": unmatched,
            "pages_written": written,
        }

    @staticmethod
    def _create_page(
        session: SynapseSession, live: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """POST the page; a root that already exists (a retried POST committed) is adopted."""
        try:
            return session.post(f"/entity/{live}/wiki", body, object_id=live), False
        except SynapseProvisioningError as exc:
            if exc.status != 409 or "parentWikiId" in body:
                raise
        return session.get(f"/entity/{live}/wiki", object_id=live), True

    @staticmethod
    def _remove_retry_duplicates(
        session: SynapseSession,
        live: str,
        before: Sequence[WikiHeader],
        page_map: Mapping[str, str],
        live_pages: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Delete pages a retried POST created twice: new since the copy began, not the page
        recorded, same title and parent as one we created."""
        existed = {h.id for h in before}
        ours = set(page_map.values())
        made = {
            (str(p.get("title") or ""), str(p["parentWikiId"]) if p.get("parentWikiId") else None)
            for p in live_pages.values()
        }
        for header in wiki_headers(session, live):
            twin = (header.title, header.parent_id) in made
            if twin and header.id not in existed and header.id not in ours:
                LOG.warning(
                    "removing wiki page %s of %s, a duplicate left by a retry", header.id, live
                )
                session.delete(f"/entity/{live}/wiki/{header.id}", object_id=live)

    @staticmethod
    def _write_page(
        session: SynapseSession,
        owner_id: str,
        wiki_id: str,
        wanted: Mapping[str, Any],
        current: dict[str, Any],
    ) -> None:
        read_modify_write(
            lambda: get_page(session, owner_id, wiki_id),
            lambda page: {**page, **wanted},
            lambda page: session.put(
                f"/entity/{owner_id}/wiki/{wiki_id}", page, object_id=owner_id
            ),
            f"wiki page {wiki_id} of {owner_id}",
            first=current,
        )


class WikiCopy(SynapseResource, provider=WikiCopyProvider):
    """The live project's wiki kept in step with the staging project's (copy once, then mirror).

    Outputs: ``page_map`` (staging page ID -> live page ID), ``unmatched_staging_pages`` (titles
    of staging pages with no live page of that title: not mirrored).
    """

    page_map: pulumi.Output[dict[str, str]]
    unmatched_staging_pages: pulumi.Output[list[str]]
