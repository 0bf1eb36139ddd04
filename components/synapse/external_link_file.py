"""Synapse file entity that links to an external URL, with string annotations.

Used for the workflow archive in the staging project, annotated with ``ROOT_TEMPLATE``.
"""

from __future__ import annotations

import mimetypes
import posixpath
import urllib.parse
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from synapse_client.errors import SynapseProvisioningError
from synapse_client.session import SynapseSession, read_modify_write

from ._entity import FILE, NAME_PROP, PARENT_PROP, EntityProvider
from ._resource import SynapseResource
from .common import Prop, owned_props

EXTERNAL_FILE_HANDLE = "org.sagebionetworks.repo.model.file.ExternalFileHandle"


def url_problem(value: str) -> str | None:
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        return f"must be an http(s) URL, got {value!r}"
    return None


def annotations_problem(value: Mapping[str, Any]) -> str | None:
    for key, item in value.items():
        values = item if isinstance(item, list) else [item]
        if not key or not all(isinstance(v, str) for v in values):
            return f"must map names to a string or a list of strings; {key!r} is {item!r}"
    return None


def normalize_annotations(value: Mapping[str, Any]) -> dict[str, list[str]]:
    return {k: list(v) if isinstance(v, list) else [v] for k, v in sorted(value.items())}


class ExternalLinkFileProvider(EntityProvider):
    """A FileEntity pointing at an external URL; URL, name, place and annotations update in place.

    Only the annotation keys given here are managed; others on the file are left alone.
    """

    KIND = "file"
    CONCRETE_TYPE = FILE
    PROPS = owned_props(
        NAME_PROP,
        PARENT_PROP,
        Prop("external_url", str, validate=url_problem),
        Prop("content_type", str, required=False, default=""),
        Prop(
            "annotations",
            dict,
            required=False,
            default={},
            validate=annotations_problem,
            normalize=normalize_annotations,
        ),
        retain=False,
    )
    OUTPUTS = ("data_file_handle_id",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        wanted = {**self.wanted(props), "dataFileHandleId": _new_handle(session, props)}
        body = {**wanted, "concreteType": FILE}
        entity, adopted = self.create_or_adopt(session, "/entity", body, props)
        if adopted:
            if _linked_url(session, entity) == props["external_url"]:
                wanted["dataFileHandleId"] = entity.get("dataFileHandleId")
            self.settle(session, entity, wanted)
        _put_annotations(session, entity["id"], props["annotations"], set())
        return CreateResult(
            entity["id"], self.outputs(props, data_file_handle_id=str(wanted["dataFileHandleId"]))
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        session = self.session(props)
        entity = self.fetch(session, id_)
        if entity is None:
            return ReadResult("", {})
        handle_id = str(entity.get("dataFileHandleId"))
        url = props.get("external_url")
        if handle_id != str(props.get("data_file_handle_id")):
            url = _linked_url(session, entity) or ""
        stored = _get_annotations(session, id_)["annotations"]
        managed = {
            k: [str(v) for v in stored[k]["value"]]
            for k in (props.get("annotations") or {})
            if k in stored
        }
        seen = {**self.observe(session, entity), "external_url": url, "annotations": managed}
        return ReadResult(id_, self.outputs({**props, **seen}, data_file_handle_id=handle_id))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        changed = self.server_changes(olds, news)
        session = self.session(news)
        handle_id = str(olds.get("data_file_handle_id"))
        if changed & {"external_url", "content_type"}:
            handle_id = _new_handle(session, news)
        if changed - {"annotations"}:
            self.write(session, id_, {**self.wanted(news), "dataFileHandleId": handle_id})
        if "annotations" in changed:
            removed = set(olds.get("annotations") or {}) - set(news["annotations"])
            _put_annotations(session, id_, news["annotations"], removed)
        return UpdateResult(self.outputs(news, data_file_handle_id=handle_id))


def _new_handle(session: SynapseSession, props: Mapping[str, Any]) -> str:
    url = props["external_url"]
    file_name = posixpath.basename(urllib.parse.urlparse(url).path) or props["name"]
    content_type = props.get("content_type") or (
        mimetypes.guess_type(file_name, strict=False)[0] or "application/octet-stream"
    )
    body = {
        "concreteType": EXTERNAL_FILE_HANDLE,
        "externalURL": url,
        "fileName": file_name,
        "contentType": content_type,
    }
    return str(session.post("/externalFileHandle", body, service="file")["id"])


def _linked_url(session: SynapseSession, entity: Mapping[str, Any]) -> str | None:
    """The external URL of the entity's file handle, if this account may read the handle."""
    handle_id = entity.get("dataFileHandleId")
    if not handle_id:
        return None
    uri = f"/fileHandle/{handle_id}"
    try:
        handle = session.get(uri, object_id=entity["id"], service="file", missing_ok=True)
    except SynapseProvisioningError as exc:
        # Only a handle's creator may read it (403): then the URL is unknown, not gone.
        if exc.status == 403:
            return None
        raise
    return handle.get("externalURL") if handle else None


def _get_annotations(session: SynapseSession, entity_id: str) -> dict[str, Any]:
    return session.get(f"/entity/{entity_id}/annotations2", object_id=entity_id)


def _put_annotations(
    session: SynapseSession,
    entity_id: str,
    wanted: Mapping[str, list[str]],
    removed: set[str],
) -> None:
    if not wanted and not removed:
        return

    def modify(current: dict[str, Any]) -> dict[str, Any]:
        annotations = dict(current.get("annotations") or {})
        for key in removed:
            annotations.pop(key, None)
        for key, values in wanted.items():
            annotations[key] = {"type": "STRING", "value": list(values)}
        return {**current, "annotations": annotations}

    read_modify_write(
        lambda: _get_annotations(session, entity_id),
        modify,
        lambda body: session.put(f"/entity/{entity_id}/annotations2", body, object_id=entity_id),
        f"annotations of {entity_id}",
    )


class ExternalLinkFile(SynapseResource, provider=ExternalLinkFileProvider):
    """A Synapse file linking to ``external_url``; ``id`` is its ``syn`` ID."""

    name: pulumi.Output[str]
    data_file_handle_id: pulumi.Output[str]
