"""Synapse Project: the live site and the staging project of a challenge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, site_url

from ._entity import NAME_PROP, PROJECT, EntityProvider
from ._resource import SynapseResource
from .common import owned_props

CONFLICT_HINT = (
    "Project names are unique across Synapse: choose another challenge name, or rename or "
    "delete the existing project."
)


class ProjectProvider(EntityProvider):
    """Create, rename and (unless retained) trash a project; adopts its own half-created one."""

    KIND = "project"
    CONCRETE_TYPE = PROJECT
    PROPS = owned_props(NAME_PROP, retain=True)
    OUTPUTS = ("site_url",)

    def conflict_hint(self, props: Mapping[str, Any]) -> str:
        return CONFLICT_HINT

    def computed(self, props: Mapping[str, Any], id_: str) -> dict[str, Any]:
        endpoint = props.get("synapse_endpoint") or DEFAULT_SYNAPSE_ENDPOINT
        return {"site_url": site_url(endpoint, id_)}


class Project(SynapseResource, provider=ProjectProvider):
    """A Synapse project; ``id`` is its ``syn`` ID."""

    name: pulumi.Output[str]
    site_url: pulumi.Output[str]
