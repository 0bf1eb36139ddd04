"""Base of the Pulumi resource classes: fills the owner key and declares computed outputs."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic

from synapse_client.ownership import owner_key

from .common import SynapseProvider

#: The SDK's provider serialization wraps `pickle._Pickler._batch_setitems` in a sorting wrapper
#: and never unwraps it, so every dynamic resource adds one call level: a few hundred Synapse
#: objects in one program end in RecursionError. Each registration restores the plain method.
_PLAIN_BATCH_SETITEMS = pickle._Pickler._batch_setitems


class SynapseResource(pulumi.dynamic.Resource):
    """A dynamic resource served by one of this package's providers.

    Subclasses pass ``module="synapse", name="<Type>"`` so each object type gets its own type
    token (``pulumi-python:dynamic/synapse:<Type>``).
    """

    def __init__(
        self,
        provider: SynapseProvider,
        resource_name: str,
        inputs: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        props: dict[str, Any] = {k: v for k, v in inputs.items() if v is not None}
        prop_names = {p.name for p in provider.PROPS}
        if "owner_key" in prop_names and "owner_key" not in props:
            props["owner_key"] = owner_key(pulumi.get_project(), pulumi.get_stack(), resource_name)
        for name in sorted(prop_names | set(provider.OUTPUTS)):
            props.setdefault(name, None)
        try:
            super().__init__(provider, resource_name, props, opts)
        finally:
            pickle._Pickler._batch_setitems = _PLAIN_BATCH_SETITEMS
