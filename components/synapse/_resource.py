"""Base of the Pulumi resource classes: each Synapse object type registers itself once.

A type is one class, ``class Project(SynapseResource, provider=ProjectProvider)``: that gives
its type token (``pulumi-python:dynamic/synapse:Project``), its keyword inputs (the provider's
``PROPS``, declared once) and its entry in the registry that the plan, the local engine and the
preview look types up in.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from components.sdk_internals import plain_pickler
from synapse_client.ownership import owner_key

from .common import SynapseProvider

DYNAMIC_TYPE_PREFIX = "pulumi-python:"
SYNAPSE_MODULE = "synapse"
_TYPES: dict[str, type[SynapseResource]] = {}
"""Type token -> class of each Synapse object type (module ``synapse``; not the drain guard),
filled as each type's module is imported."""


class SynapseResource(pulumi.dynamic.Resource):
    """A dynamic resource served by its type's provider; inputs are the provider's ``PROPS``.

    ``owner_key`` is filled from the project, stack and resource name when the type has one.
    """

    PROVIDER: ClassVar[type[SynapseProvider]]
    TYPE_TOKEN: ClassVar[str]

    def __init_subclass__(
        cls, *, provider: type[SynapseProvider], module: str = SYNAPSE_MODULE, **kwargs: Any
    ) -> None:
        super().__init_subclass__(module=module, name=cls.__name__, **kwargs)
        cls.PROVIDER = provider
        cls.TYPE_TOKEN = DYNAMIC_TYPE_PREFIX + cls._resource_type_name
        if module == SYNAPSE_MODULE:
            _TYPES[cls.TYPE_TOKEN] = cls

    def __init__(
        self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **inputs: Any
    ) -> None:
        props = self.inputs_of(resource_name, inputs)
        with plain_pickler():
            super().__init__(self.PROVIDER(), resource_name, props, opts)

    @classmethod
    def inputs_of(cls, resource_name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The registered properties: the given inputs, the owner key, None for the rest."""
        provider = cls.PROVIDER
        names = [p.name for p in provider.PROPS]
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise TypeError(f"{cls.__name__} has no input {unknown}; its inputs: {names}")
        missing = [
            p.name
            for p in provider.PROPS
            if p.required and p.name != "owner_key" and p.name not in inputs
        ]
        if missing:
            raise TypeError(f"{cls.__name__} needs the inputs {missing}")
        props = {k: v for k, v in inputs.items() if v is not None}
        if "owner_key" in names and "owner_key" not in props:
            props["owner_key"] = owner_key(pulumi.get_project(), pulumi.get_stack(), resource_name)
        for name in sorted({*names, *provider.OUTPUTS}):
            props.setdefault(name, None)
        return props


def object_type(kind: str | type[SynapseResource]) -> type[SynapseResource]:
    """A registered type from its class, its type token or its name (``"Project"``)."""
    if isinstance(kind, type):
        return kind
    found = _TYPES.get(kind) or next((t for t in _TYPES.values() if t.__name__ == kind), None)
    if found is None:
        raise KeyError(f"no Synapse object type {kind!r}; known: {sorted(registered_types())}")
    return found


def registered_types() -> dict[str, type[SynapseResource]]:
    """Every registered type by name (``"Project"``)."""
    return {t.__name__: t for t in _TYPES.values()}


def type_of_token(type_token: str) -> type[SynapseResource] | None:
    """The registered type behind a resource type token, or None (not one of ours)."""
    return _TYPES.get(type_token)
