"""Synapse Challenge object: ties the live project to its participant team."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult

from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import numeric_id_problem, syn_id_problem
from synapse_client.session import SynapseSession

from ._resource import SynapseResource
from .common import ENDPOINT_PROP, REPLACE, Prop, SynapseProvider, retain_prop


class ChallengeProvider(SynapseProvider):
    """One challenge per project: a retried create finds it on the (stack-owned) project."""

    KIND = "challenge"
    ID_KIND = "numeric"
    URI = "/challenge/{id}"
    PROPS = (
        Prop("project_id", str, change=REPLACE, validate=syn_id_problem),
        Prop("participant_team_id", str, validate=numeric_id_problem),
        ENDPOINT_PROP,
        retain_prop(True),
    )

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        body = self.wanted(props)
        try:
            challenge = session.post("/challenge", body, object_id=props["project_id"])
        except SynapseProvisioningError as exc:
            if exc.status not in (400, 409):
                raise
            challenge = _challenge_of(session, props["project_id"])
            if challenge is None:
                raise
            if str(challenge.get("participantTeamId")) != props["participant_team_id"]:
                challenge = self.write(session, str(challenge["id"]), body, first=challenge)
        return CreateResult(str(challenge["id"]), self.outputs(props))

    def observe(self, session: SynapseSession, found: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "project_id": found.get("projectId"),
            "participant_team_id": str(found.get("participantTeamId")),
        }

    def wanted(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"projectId": props["project_id"], "participantTeamId": props["participant_team_id"]}


def _challenge_of(session: SynapseSession, project_id: str) -> dict[str, Any] | None:
    return session.get(f"/entity/{project_id}/challenge", object_id=project_id, missing_ok=True)


class Challenge(SynapseResource, provider=ChallengeProvider):
    """The challenge object of a project; ``id`` is the challenge's numeric ID."""

    project_id: pulumi.Output[str]
    participant_team_id: pulumi.Output[str]
