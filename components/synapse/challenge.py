"""Synapse Challenge object: ties the live project to its participant team."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

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
        body = {"projectId": props["project_id"], "participantTeamId": props["participant_team_id"]}
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

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        challenge = self.fetch(self.session(props), id_)
        if challenge is None:
            return ReadResult("", {})
        seen = {
            "project_id": challenge.get("projectId"),
            "participant_team_id": str(challenge.get("participantTeamId")),
        }
        return ReadResult(id_, self.outputs({**props, **seen}))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.server_changes(olds, news):
            body = {
                "projectId": news["project_id"],
                "participantTeamId": news["participant_team_id"],
            }
            self.write(self.session(news), id_, body)
        return UpdateResult(self.outputs(news))


def _challenge_of(session: SynapseSession, project_id: str) -> dict[str, Any] | None:
    return session.get(f"/entity/{project_id}/challenge", object_id=project_id, missing_ok=True)


class Challenge(SynapseResource, provider=ChallengeProvider):
    """The challenge object of a project; ``id`` is the challenge's numeric ID."""

    project_id: pulumi.Output[str]
    participant_team_id: pulumi.Output[str]
