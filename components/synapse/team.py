"""Synapse Team: Participants, Admin, Organizers and Preregistrants of a challenge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult

from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import validate_name
from synapse_client.session import SynapseSession, quote, sleep, wait_seconds

from ._resource import SynapseResource
from .common import (
    Prop,
    SynapseProvider,
    described,
    observed,
    owned_props,
)

CONFLICT_HINT = (
    "Team names are unique across Synapse. To use an existing team instead, give its ID in the "
    "stack config `existingTeamIds` (keys: participants, admin, organizers, preregistrants); "
    "otherwise choose another challenge name."
)
TEAM_INDEX_ATTEMPTS = 4
"""Synapse fills its team-name index asynchronously: a just-created team may not be found yet."""
PAGE = 50
MAX_MEMBERSHIP_PAGES = 20


class TeamProvider(SynapseProvider):
    """Create, rename and (unless retained) delete a team; adopts its own half-created one."""

    KIND = "team"
    ID_KIND = "numeric"
    URI = "/team/{id}"
    PUT_URI = "/team"
    PROPS = owned_props(
        Prop("name", str, validate=validate_name),
        Prop("can_public_join", bool, required=False, default=False),
        retain=True,
    )
    DELETE_BEFORE_REPLACE = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props)
        team, _ = self.create_owned(session, "/team", props)
        return CreateResult(str(team["id"]), self.outputs(props))

    def observe(self, session: SynapseSession, found: Mapping[str, Any]) -> dict[str, Any]:
        return {**observed(found), "can_public_join": bool(found.get("canPublicJoin", False))}

    def wanted(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "name": props["name"],
            "description": described(props),
            "canPublicJoin": bool(props.get("can_public_join")),
        }

    def conflict_hint(self, props: Mapping[str, Any]) -> str:
        return CONFLICT_HINT

    def find_existing(
        self, session: SynapseSession, props: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return _find_team(session, props["name"])


def _find_team(session: SynapseSession, name: str) -> dict[str, Any] | None:
    """The team called ``name``: first among the caller's teams, then in the name index."""
    try:
        for page in range(MAX_MEMBERSHIP_PAGES):
            uri = f"/user/{session.owner_id}/team?offset={page * PAGE}&limit={PAGE}"
            results = session.get(uri).get("results", [])
            for team in results:
                if team.get("name") == name:
                    return team
            if len(results) < PAGE:
                break
    except SynapseProvisioningError as exc:
        if exc.status not in (400, 404, 405):
            raise
    for attempt in range(TEAM_INDEX_ATTEMPTS):
        results = session.get(f"/teams?fragment={quote(name)}&offset=0&limit={PAGE}")
        for team in results.get("results", []):
            if team.get("name") == name:
                return team
        if attempt + 1 < TEAM_INDEX_ATTEMPTS:
            sleep(wait_seconds(attempt))
    return None


class Team(SynapseResource, provider=TeamProvider):
    """A Synapse team; ``id`` is its numeric ID."""

    name: pulumi.Output[str]
