"""Synapse Folder, e.g. the Logs folder of the live project where the orchestrator writes."""

from __future__ import annotations

import pulumi

from ._entity import FOLDER, NAME_PROP, PARENT_PROP, EntityProvider
from ._resource import SynapseResource
from .common import owned_props


class FolderProvider(EntityProvider):
    """Create, rename, move and (unless retained) trash a folder."""

    KIND = "folder"
    CONCRETE_TYPE = FOLDER
    PROPS = owned_props(NAME_PROP, PARENT_PROP, retain=True)


class Folder(SynapseResource, provider=FolderProvider):
    """A Synapse folder; ``id`` is its ``syn`` ID."""

    name: pulumi.Output[str]
    parent_id: pulumi.Output[str]
