"""Synapse Folder, e.g. the Logs folder of the live project where the orchestrator writes."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from synapse_client.names import entity_name_problem, syn_id_problem

from . import _entity
from ._resource import SynapseResource
from .common import (
    DESCRIPTION_PROP,
    ENDPOINT_PROP,
    OWNER_KEY_PROP,
    Prop,
    SynapseProvider,
    retain_prop,
)


class FolderProvider(SynapseProvider):
    """Create, rename, move and (unless retained) trash a folder."""

    KIND = "folder"
    PROPS = (
        Prop("name", str, validate=entity_name_problem),
        Prop("parent_id", str, validate=syn_id_problem),
        DESCRIPTION_PROP,
        OWNER_KEY_PROP,
        ENDPOINT_PROP,
        retain_prop(True),
    )
    DELETE_BEFORE_REPLACE = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        wanted = self._wanted(props)
        hint = (
            f"A folder of that name already exists in {props['parent_id']}: rename or delete it, "
            "or choose another folder name."
        )
        body = {**wanted, "concreteType": _entity.FOLDER}
        entity, adopted = _entity.create_or_adopt(
            session, self.KIND, body, props["owner_key"], hint
        )
        if adopted and _entity.needs_update(entity, wanted):
            _entity.update_entity(session, entity["id"], wanted, first=entity)
        return CreateResult(entity["id"], self.outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        entity = _entity.read_entity(self.session(props), id_)
        if entity is None:
            return ReadResult("", {})
        seen = {**_entity.observed(entity), "parent_id": entity.get("parentId")}
        return ReadResult(id_, self.outputs({**props, **seen}))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.server_changes(olds, news):
            _entity.update_entity(self.session(news), id_, self._wanted(news))
        return UpdateResult(self.outputs(news))

    def delete_object(self, session: Any, id_: str, props: dict[str, Any]) -> None:
        _entity.delete_entity(session, id_)

    @staticmethod
    def _wanted(props: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": props["name"],
            "parentId": props["parent_id"],
            "description": _entity.described(props),
        }


class Folder(SynapseResource, provider=FolderProvider):
    """A Synapse folder; ``id`` is its ``syn`` ID."""

    name: pulumi.Output[str]
    parent_id: pulumi.Output[str]
