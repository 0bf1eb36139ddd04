"""Synapse Project: the live site and the staging project of a challenge."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, site_url
from synapse_client.names import entity_name_problem

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

CONFLICT_HINT = (
    "Project names are unique across Synapse: choose another challenge name, or rename or "
    "delete the existing project."
)


class ProjectProvider(SynapseProvider):
    """Create, rename and (unless retained) trash a project; adopts its own half-created one."""

    KIND = "project"
    PROPS = (
        Prop("name", str, validate=entity_name_problem),
        DESCRIPTION_PROP,
        OWNER_KEY_PROP,
        ENDPOINT_PROP,
        retain_prop(True),
    )
    OUTPUTS = ("site_url",)
    DELETE_BEFORE_REPLACE = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        wanted = {"name": props["name"], "description": _entity.described(props)}
        body = {**wanted, "concreteType": _entity.PROJECT}
        entity, adopted = _entity.create_or_adopt(
            session, self.KIND, body, props["owner_key"], CONFLICT_HINT
        )
        if adopted and _entity.needs_update(entity, wanted):
            entity = _entity.update_entity(session, entity["id"], wanted, first=entity)
        return CreateResult(entity["id"], self._outs(props, entity["id"]))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        entity = _entity.read_entity(self.session(props), id_)
        if entity is None:
            return ReadResult("", {})
        return ReadResult(id_, self._outs({**props, **_entity.observed(entity)}, id_))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.server_changes(olds, news):
            wanted = {"name": news["name"], "description": _entity.described(news)}
            _entity.update_entity(self.session(news), id_, wanted)
        return UpdateResult(self._outs(news, id_))

    def delete_object(self, session: Any, id_: str, props: dict[str, Any]) -> None:
        _entity.delete_entity(session, id_)

    def _outs(self, props: dict[str, Any], id_: str) -> dict[str, Any]:
        endpoint = props.get("synapse_endpoint") or DEFAULT_SYNAPSE_ENDPOINT
        return self.outputs(props, site_url=site_url(endpoint, id_))


class Project(SynapseResource, provider=ProjectProvider):
    """A Synapse project; ``id`` is its ``syn`` ID."""

    name: pulumi.Output[str]
    site_url: pulumi.Output[str]
