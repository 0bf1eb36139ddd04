"""What Project, Folder, ExternalLinkFile and SubmissionView share: create-or-adopt by name and
the entity provider base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pulumi.dynamic import CreateResult

from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import entity_name_problem, syn_id_problem
from synapse_client.session import SynapseSession

from .common import Prop, SynapseProvider, described, observed

NAME_PROP = Prop("name", str, validate=entity_name_problem)
PARENT_PROP = Prop("parent_id", str, validate=syn_id_problem)
PROJECT = "org.sagebionetworks.repo.model.Project"
FOLDER = "org.sagebionetworks.repo.model.Folder"
FILE = "org.sagebionetworks.repo.model.FileEntity"


def find_child(session: SynapseSession, parent_id: str | None, name: str) -> str | None:
    """The ID of the entity called ``name`` under ``parent_id`` (projects: no parent), or None."""
    body: dict[str, Any] = {"entityName": name}
    if parent_id:
        body["parentId"] = parent_id
    try:
        return str(session.post("/entity/child", body)["id"])
    except SynapseProvisioningError as exc:
        if exc.gone:
            return None
        raise


class EntityProvider(SynapseProvider):
    """Project, folder, file or view: create (adopting this stack's half-made entity), read,
    rename or move in place, and move to the trash can unless retained.

    A subclass gives its ``CONCRETE_TYPE``, ``PROPS`` and ``conflict_hint``; ``wanted``,
    ``observe`` and ``computed`` cover fields beyond name, parent and description.
    """

    URI = "/entity/{id}"
    CONCRETE_TYPE: ClassVar[str]
    DELETE_BEFORE_REPLACE = True

    def conflict_hint(self, props: Mapping[str, Any]) -> str:
        return (
            f"A file or folder of that name already exists in {props['parent_id']}: rename or "
            f"delete it, or choose another {self.KIND} name."
        )

    def wanted(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The entity fields the inputs set."""
        fields = {"name": props["name"], "description": described(props)}
        if "parent_id" in props:
            fields["parentId"] = props["parent_id"]
        return fields

    def new_fields(self, session: SynapseSession, props: Mapping[str, Any]) -> dict[str, Any]:
        """Fields only a new entity gets (e.g. a view's columns)."""
        return {}

    def find_existing(
        self, session: SynapseSession, props: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        existing_id = find_child(session, body.get("parentId"), body["name"])
        if existing_id is None:
            return None
        return session.get(f"/entity/{existing_id}", object_id=existing_id)

    def observe(self, session: SynapseSession, found: Mapping[str, Any]) -> dict[str, Any]:
        seen = observed(found)
        if any(p.name == "parent_id" for p in self.PROPS):
            seen["parent_id"] = found.get("parentId")
        return seen

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        wanted = self.wanted(props)
        body = {**wanted, **self.new_fields(session, props), "concreteType": self.CONCRETE_TYPE}
        entity, adopted = self.create_or_adopt(session, "/entity", body, props)
        if adopted:
            self.settle(session, entity, wanted)
        return CreateResult(entity["id"], self.outputs(props, **self.computed(props, entity["id"])))
