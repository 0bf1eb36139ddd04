"""Teams (with an eventually consistent name index), memberships, invitations and challenges."""

from __future__ import annotations

import time
from typing import Any

from .acls import replace_acl_named_in_body
from .app import Request, paginated, route
from .errors import (
    SynapseApiError,
    bad_request,
    conflict,
    forbidden,
    not_found,
    precondition_failed,
)
from .state import (
    AUTHENTICATED_USERS,
    PROJECT,
    TEAM_ADMIN,
    State,
    User,
    found_or_404,
    new_etag,
    now_iso,
)
from .users import user_group_header


def index_team(state: State, team: dict[str, Any]) -> None:
    """Make the team findable by name after the configured delay, as Synapse's search index does."""
    state.team_indexed_at[team["id"]] = (
        time.monotonic() + state.team_index_delay_seconds,
        team["name"],
    )


def team_member(state: State, team_id: str, principal_id: int) -> dict[str, Any]:
    return {
        "teamId": team_id,
        "member": user_group_header(state, principal_id),
        "isAdmin": state.team_members[team_id].get(principal_id, False),
    }


def sync_admins(state: State, team_id: str) -> None:
    """Team admins are the members the team ACL grants TEAM_MEMBERSHIP_UPDATE."""
    acl = state.team_acls[team_id]
    admins = {
        int(entry["principalId"])
        for entry in acl["resourceAccess"]
        if "TEAM_MEMBERSHIP_UPDATE" in entry.get("accessType", [])
    }
    members = state.team_members[team_id]
    for principal_id in members:
        members[principal_id] = principal_id in admins


@route("POST", "repo", "/team")
def create_team(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    state = req.state
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Team.name is required")
    if any(t["name"] == name for t in state.teams.values()):
        raise conflict(f"Name {name} is already used.")
    team_id = str(state.next_principal_id())
    stamp = now_iso()
    team = {
        "id": team_id,
        "name": name,
        "description": body.get("description"),
        "icon": body.get("icon"),
        "canPublicJoin": bool(body.get("canPublicJoin", False)),
        "canRequestMembership": bool(body.get("canRequestMembership", True)),
        "etag": new_etag(),
        "createdOn": stamp,
        "modifiedOn": stamp,
        "createdBy": str(user.principal_id),
        "modifiedBy": str(user.principal_id),
    }
    team = {k: v for k, v in team.items() if v is not None}
    state.teams[team_id] = team
    state.team_members[team_id] = {user.principal_id: True}
    # TeamManagerImpl.createInitialAcl: the creator manages; members and signed-in users may
    # send the team messages.
    acl = state.new_acl(team_id, user.principal_id, TEAM_ADMIN)
    acl["resourceAccess"] += [
        {"principalId": int(team_id), "accessType": ["SEND_MESSAGE"]},
        {"principalId": AUTHENTICATED_USERS, "accessType": ["SEND_MESSAGE"]},
    ]
    state.team_acls[team_id] = acl
    index_team(state, team)
    return team


@route("GET", "repo", "/team/{team_id}", auth=False)
def get_team(req: Request, team_id: str) -> dict[str, Any]:
    return req.state.team(team_id)


@route("PUT", "repo", "/team")
def update_team(req: Request) -> dict[str, Any]:
    user, body, team = req.authorized_by_body("team", "id", "UPDATE")
    state = req.state
    if body.get("etag") != team["etag"]:
        raise precondition_failed(team["id"])
    name = body.get("name") or team["name"]
    if any(t["name"] == name and t["id"] != team["id"] for t in state.teams.values()):
        raise conflict(f"Name {name} is already used.")
    for key in ("description", "icon", "canPublicJoin", "canRequestMembership"):
        if key in body:
            team[key] = body[key]
    team.update(name=name, etag=new_etag(), modifiedOn=now_iso(), modifiedBy=str(user.principal_id))
    index_team(state, team)
    return team


@route("DELETE", "repo", "/team/{team_id}")
def delete_team(req: Request, team_id: str) -> None:
    _, team = req.authorized("team", team_id, "DELETE")
    state = req.state
    if team_referenced(state, team["id"]):
        raise bad_request(
            f"Can't delete the team {team['name']} (ID: {team['id']}) because it is referenced by "
            "a challenge or a submission, or an entity or evaluation is shared with it. Remove "
            "the reference or unshare the entity to delete the team."
        )
    del state.teams[team["id"]]
    del state.team_members[team["id"]]
    del state.team_acls[team["id"]]
    state.team_indexed_at.pop(team["id"], None)
    for store in (state.invitations, state.membership_requests):
        for item_id, item in list(store.items()):
            if item["teamId"] == team["id"]:
                del store[item_id]


def team_referenced(state: State, team_id: str) -> bool:
    """Synapse refuses to delete a team that a challenge, submission or any ACL still names."""
    principal = int(team_id)
    acls = [*state.entity_acls.values(), *state.evaluation_acls.values()]
    return (
        any(c["participantTeamId"] == team_id for c in state.challenges.values())
        or any(s.get("teamId") == team_id for s in state.submissions.values())
        or any(int(e["principalId"]) == principal for a in acls for e in a["resourceAccess"])
    )


@route("GET", "repo", "/teams", auth=False)
def search_teams(req: Request) -> dict[str, Any]:
    fragment = (req.param("fragment") or "").lower()
    state = req.state
    moment = time.monotonic()
    found = []
    for team_id, (visible_from, indexed_name) in state.team_indexed_at.items():
        if moment < visible_from or team_id not in state.teams:
            continue
        words = [indexed_name.lower(), *indexed_name.lower().split()]
        if not fragment or any(w.startswith(fragment) for w in words):
            found.append(state.teams[team_id])
    found.sort(key=lambda t: t["name"])
    return paginated(found, req)


@route("POST", "repo", "/teamList", auth=False)
def team_list(req: Request) -> dict[str, Any]:
    ids = [str(i) for i in req.json().get("list", [])]
    return {"list": [req.state.teams[i] for i in ids if i in req.state.teams]}


@route("GET", "repo", "/teamMembers/{team_id}", auth=False)
def team_members(req: Request, team_id: str) -> dict[str, Any]:
    state = req.state
    team = state.team(team_id)
    fragment = (req.param("fragment") or "").lower()
    members = [team_member(state, team["id"], p) for p in state.team_members[team["id"]]]
    if fragment:
        members = [m for m in members if m["member"]["userName"].lower().startswith(fragment)]
    member_type = req.param("memberType")
    if member_type == "ADMIN":
        members = [m for m in members if m["isAdmin"]]
    elif member_type == "MEMBER":
        members = [m for m in members if not m["isAdmin"]]
    return paginated(members, req)


@route("GET", "repo", "/teamMembers/count/{team_id}", auth=False)
def team_member_count(req: Request, team_id: str) -> dict[str, Any]:
    team = req.state.team(team_id)
    return {"count": len(req.state.team_members[team["id"]])}


@route("GET", "repo", "/team/{team_id}/member/{principal_id}", auth=False)
def get_team_member(req: Request, team_id: str, principal_id: str) -> dict[str, Any]:
    team = req.state.team(team_id)
    if int(principal_id) not in req.state.team_members[team["id"]]:
        raise not_found(f"User {principal_id} is not a member of team {team_id}")
    return team_member(req.state, team["id"], int(principal_id))


@route("GET", "repo", "/user/{user_id}/team", auth=False)
def teams_of_user(req: Request, user_id: str) -> dict[str, Any]:
    state = req.state
    teams = [state.teams[t] for t, m in state.team_members.items() if int(user_id) in m]
    return paginated(teams, req)


def open_invitation(state: State, team_id: str, principal_id: int) -> dict[str, Any] | None:
    for invitation in state.invitations.values():
        if invitation["teamId"] == team_id and invitation.get("inviteeId") == str(principal_id):
            return invitation
    return None


def open_request(state: State, team_id: str, principal_id: int) -> dict[str, Any] | None:
    for request in state.membership_requests.values():
        if request["teamId"] == team_id and request["userId"] == str(principal_id):
            return request
    return None


def is_team_admin(state: State, user: User | None, team_id: str) -> bool:
    return "TEAM_MEMBERSHIP_UPDATE" in state.team_access(user, team_id)


def can_add_member(state: State, caller: User, team: dict[str, Any], principal_id: int) -> bool:
    """TeamManagerImpl.canAddTeamMember: yourself when admin, open team, already a member or
    invited; someone else only as an admin, for a member or someone who asked to join."""
    already = principal_id in state.team_members[team["id"]]
    admin = is_team_admin(state, caller, team["id"])
    if principal_id == caller.principal_id:
        return (
            admin
            or bool(team.get("canPublicJoin"))
            or already
            or open_invitation(state, team["id"], principal_id) is not None
        )
    return admin and (already or open_request(state, team["id"], principal_id) is not None)


@route("GET", "repo", "/team/{team_id}/member/{principal_id}/membershipStatus")
def membership_status(req: Request, team_id: str, principal_id: str) -> dict[str, Any]:
    """TeamManagerImpl.getTeamMembershipStatus, field by field."""
    user = req.require_user()
    state = req.state
    team = state.team(team_id)
    pid = int(principal_id)
    principal = state.users.get(pid)
    if principal is None:
        raise not_found(f"User {principal_id} does not exist")
    return {
        "teamId": team["id"],
        "userId": principal_id,
        "isMember": pid in state.team_members[team["id"]],
        "hasOpenInvitation": open_invitation(state, team["id"], pid) is not None,
        "hasOpenRequest": open_request(state, team["id"], pid) is not None,
        "canJoin": can_add_member(state, user, team, pid),
        "membershipApprovalRequired": not is_team_admin(state, principal, team["id"])
        and not team.get("canPublicJoin", False),
        "hasUnmetAccessRequirement": False,
        "canSendEmail": "SEND_MESSAGE" in state.team_access(principal, team["id"]),
    }


@route("PUT", "repo", "/team/{team_id}/member/{principal_id}")
def add_member(req: Request, team_id: str, principal_id: str) -> None:
    user = req.require_user()
    state = req.state
    team = state.team(team_id)
    pid = int(principal_id)
    if pid not in state.users:
        raise not_found(f"User {principal_id} does not exist")
    if not can_add_member(state, user, team, pid):
        raise forbidden("Cannot add member to Team.")
    state.team_members[team["id"]].setdefault(pid, False)
    for store, key in ((state.invitations, "inviteeId"), (state.membership_requests, "userId")):
        for item_id, item in list(store.items()):
            if item["teamId"] == team["id"] and item.get(key) == str(pid):
                del store[item_id]


@route("DELETE", "repo", "/team/{team_id}/member/{principal_id}")
def remove_member(req: Request, team_id: str, principal_id: str) -> None:
    """TeamManagerImpl.removeMember: yourself or as an admin; never the last member or the
    last manager."""
    user = req.require_user()
    state = req.state
    team = state.team(team_id)
    pid = int(principal_id)
    if pid != user.principal_id and not is_team_admin(state, user, team["id"]):
        raise forbidden("Cannot remove member from Team.")
    members = state.team_members[team["id"]]
    if pid not in members:
        return
    if len(members) == 1:
        raise forbidden("Cannot remove the last member of a Team.")
    acl = state.team_acls[team["id"]]
    remaining = [e for e in acl["resourceAccess"] if int(e["principalId"]) != pid]
    if not any("TEAM_MEMBERSHIP_UPDATE" in e["accessType"] for e in remaining):
        raise bad_request("Team must have at least one team manager.")
    acl.update(resourceAccess=remaining, etag=new_etag())
    del members[pid]


@route("GET", "repo", "/team/{team_id}/acl")
def get_team_acl(req: Request, team_id: str) -> dict[str, Any]:
    _, team = req.authorized("team", team_id, "READ")
    return req.state.team_acls[team["id"]]


@route("PUT", "repo", "/team/acl")
def put_team_acl(req: Request) -> dict[str, Any]:
    acl = replace_acl_named_in_body(req, "team", "UPDATE", req.state.team_acls, "createdBy")
    sync_admins(req.state, acl["id"])
    return acl


def membership_record(
    state: State, user: User, team: dict[str, Any], body: Any, **fields: Any
) -> dict[str, Any]:
    """A new invitation or membership request as Synapse returns it: unset fields left out."""
    record = {
        "id": state.next_small_id(),
        "teamId": team["id"],
        **fields,
        "message": body.get("message"),
        "createdOn": now_iso(),
        "createdBy": str(user.principal_id),
        "expiresOn": body.get("expiresOn"),
    }
    return {k: v for k, v in record.items() if v is not None}


@route("POST", "repo", "/membershipInvitation")
def invite(req: Request) -> dict[str, Any]:
    user, body, team = req.authorized_by_body("team", "teamId", "TEAM_MEMBERSHIP_UPDATE")
    state = req.state
    invitee = body.get("inviteeId")
    if not invitee and not body.get("inviteeEmail"):
        raise bad_request("MembershipInvitation needs inviteeId or inviteeEmail")
    if invitee and int(invitee) not in state.users:
        raise not_found(f"User {invitee} does not exist")
    invitation = membership_record(
        state,
        user,
        team,
        body,
        inviteeId=str(invitee) if invitee else None,
        inviteeEmail=body.get("inviteeEmail"),
    )
    state.invitations[invitation["id"]] = invitation
    return invitation


@route("GET", "repo", "/membershipInvitation/{invitation_id}")
def get_invitation(req: Request, invitation_id: str) -> dict[str, Any]:
    req.require_user()
    invitation = req.state.invitations.get(invitation_id)
    if invitation is None:
        raise not_found(f"MembershipInvitation {invitation_id} does not exist")
    return invitation


@route("DELETE", "repo", "/membershipInvitation/{invitation_id}")
def delete_invitation(req: Request, invitation_id: str) -> None:
    user = req.require_user()
    invitation = req.state.invitations.get(invitation_id)
    if invitation is None:
        raise not_found(f"MembershipInvitation {invitation_id} does not exist")
    req.state.require_team_access(user, invitation["teamId"], "TEAM_MEMBERSHIP_UPDATE")
    del req.state.invitations[invitation_id]


@route("GET", "repo", "/team/{team_id}/openInvitation")
def team_open_invitations(req: Request, team_id: str) -> dict[str, Any]:
    _, team = req.authorized("team", team_id, "TEAM_MEMBERSHIP_UPDATE")
    found = [i for i in req.state.invitations.values() if i["teamId"] == team["id"]]
    return paginated(found, req)


@route("GET", "repo", "/user/{user_id}/openInvitation")
def user_open_invitations(req: Request, user_id: str) -> dict[str, Any]:
    req.require_user()
    found = [i for i in req.state.invitations.values() if i.get("inviteeId") == user_id]
    return paginated(found, req)


# ----- challenges --------------------------------------------------------------------------------
def challenge_project(req: Request, user: User, project_id: Any, access: str) -> dict[str, Any]:
    if not project_id:
        raise bad_request("Project ID is required.")
    project = req.state.entity(str(project_id))
    if project["concreteType"] != PROJECT:
        raise bad_request(f"Challenge.projectId {project['id']} is not a project")
    req.state.require_entity_access(user, project["id"], access)
    return project


@route("POST", "repo", "/challenge")
def create_challenge(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    state = req.state
    team_id = str(body.get("participantTeamId") or "")
    if not team_id:
        raise bad_request("Participant Team ID is required.")
    project = challenge_project(req, user, body.get("projectId"), "CREATE")
    state.team(team_id)
    if state.challenge_for_project(project["id"]):
        # DBOChallengeDAOImpl.create
        raise bad_request("The specified project may already have a challenge.")
    challenge_id = state.next_small_id()
    challenge = {
        "id": challenge_id,
        "projectId": project["id"],
        "participantTeamId": team_id,
        "etag": new_etag(),
    }
    state.challenges[challenge_id] = challenge
    return challenge


def existing_challenge(req: Request, challenge_id: str) -> dict[str, Any]:
    challenge = req.state.challenges.get(challenge_id)
    if challenge is None or req.state.in_trash(challenge["projectId"]):
        raise not_found(f"Challenge {challenge_id} does not exist")
    return challenge


@route("GET", "repo", "/challenge/{challenge_id}", auth=False)
def get_challenge(req: Request, challenge_id: str) -> dict[str, Any]:
    challenge = existing_challenge(req, challenge_id)
    req.state.require_entity_access(req.user, challenge["projectId"], "READ")
    return challenge


@route("GET", "repo", "/entity/{entity_id}/challenge", auth=False)
def get_project_challenge(req: Request, entity_id: str) -> dict[str, Any]:
    project = req.state.authorized("entity", entity_id, req.user, "READ")
    for challenge in req.state.challenges.values():
        if challenge["projectId"] == project["id"]:
            return challenge
    raise not_found(f"Cannot find the Challenge for project {project['id']}")


@route("PUT", "repo", "/challenge/{challenge_id}")
def update_challenge(req: Request, challenge_id: str) -> dict[str, Any]:
    """ChallengeManagerImpl.updateChallenge then DBOChallengeDAOImpl.update: UPDATE on the
    body's project, the project may not change, then the etag."""
    user, body = req.caller_and_body()
    state = req.state
    if str(body.get("id") or "") != challenge_id:
        raise (
            bad_request("ID is required.")
            if not body.get("id")
            else bad_request("Challenge.id does not match the URL")
        )
    if not body.get("projectId"):
        raise bad_request("Project ID is required.")
    if not body.get("participantTeamId"):
        raise bad_request("Participant Team ID is required.")
    project = challenge_project(req, user, body["projectId"], "UPDATE")
    challenge = existing_challenge(req, challenge_id)
    if project["id"] != challenge["projectId"]:
        raise bad_request("You cannot change the challenge Project ID.")
    if body.get("etag") != challenge["etag"]:
        raise SynapseApiError(
            412,
            "Challenge was updated since you last fetched it.  Retrieve it again and reapply "
            "the update.",
        )
    team_id = str(body["participantTeamId"])
    state.team(team_id)
    challenge.update(participantTeamId=team_id, etag=new_etag())
    return challenge


@route("DELETE", "repo", "/challenge/{challenge_id}")
def delete_challenge(req: Request, challenge_id: str) -> None:
    user = req.require_user()
    challenge = existing_challenge(req, challenge_id)
    challenge_project(req, user, challenge["projectId"], "DELETE")
    del req.state.challenges[challenge_id]
    for registration_id, registration in list(req.state.challenge_teams.items()):
        if registration["challengeId"] == challenge_id:
            del req.state.challenge_teams[registration_id]


@route("GET", "repo", "/challenge/{challenge_id}/participant", auth=False)
def challenge_participants(req: Request, challenge_id: str) -> dict[str, Any]:
    challenge = existing_challenge(req, challenge_id)
    members = req.state.team_members.get(challenge["participantTeamId"], {})
    return paginated([str(p) for p in members], req)


@route("GET", "repo", "/challenge", auth=False)
def challenges_of_participant(req: Request) -> dict[str, Any]:
    """Challenges whose participant team holds ``participantId``, of projects the caller reads."""
    participant = req.param("participantId")
    if not participant or not participant.isdigit():
        raise bad_request("participantId is required.")
    state = req.state
    found = [
        c
        for c in sorted(state.challenges.values(), key=lambda c: int(c["id"]))
        if int(participant) in state.team_members.get(c["participantTeamId"], {})
        and not state.in_trash(c["projectId"])
        and "READ" in state.entity_access(req.user, c["projectId"])
    ]
    return paginated(found, req)


# ----- teams registered for a challenge (ChallengeManagerImpl) ---------------------------------
def check_challenge_team_admin(req: Request, user: User, challenge_team: dict[str, Any]) -> None:
    """Registered for the challenge and an admin of the team being registered."""
    state = req.state
    challenge = existing_challenge(req, str(challenge_team["challengeId"]))
    if user.principal_id not in state.team_members.get(challenge["participantTeamId"], {}):
        raise forbidden("You must be a Challenge participant for this operation.")
    team_id = str(challenge_team["teamId"])
    if team_id not in state.team_acls or not set(TEAM_ADMIN) <= state.team_access(user, team_id):
        raise forbidden("You must be a Team manager for this operation.")


def validated_challenge_team(body: Any, challenge_id: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("ChallengeTeam must be a JSON object")
    if str(body.get("challengeId") or challenge_id) != challenge_id:
        raise bad_request("Challenge ID in the body does not match the URL.")
    if not body.get("teamId"):
        raise bad_request("Team ID is required.")
    message = body.get("message")
    if message is not None and len(str(message)) > 500:
        raise bad_request("Message may not exceed 500 characters in length.")
    return {"challengeId": challenge_id, "teamId": str(body["teamId"]), "message": message}


@route("POST", "repo", "/challenge/{challenge_id}/challengeTeam")
def register_challenge_team(req: Request, challenge_id: str) -> dict[str, Any]:
    user = req.require_user()
    state = req.state
    registration = validated_challenge_team(req.json(), challenge_id)
    state.team(registration["teamId"])
    check_challenge_team_admin(req, user, registration)
    if any(
        t["challengeId"] == challenge_id and t["teamId"] == registration["teamId"]
        for t in state.challenge_teams.values()
    ):
        raise conflict(f"Team {registration['teamId']} is already registered for the challenge.")
    registration = {k: v for k, v in registration.items() if v is not None}
    registration.update(id=state.next_small_id(), etag=new_etag())
    state.challenge_teams[registration["id"]] = registration
    return registration


@route("GET", "repo", "/challenge/{challenge_id}/challengeTeam", auth=False)
def list_challenge_teams(req: Request, challenge_id: str) -> dict[str, Any]:
    challenge = existing_challenge(req, challenge_id)
    req.state.require_entity_access(req.user, challenge["projectId"], "READ")
    found = [t for t in req.state.challenge_teams.values() if t["challengeId"] == challenge_id]
    return paginated(sorted(found, key=lambda t: int(t["id"])), req)


@route("PUT", "repo", "/challenge/{challenge_id}/challengeTeam/{challenge_team_id}")
def update_challenge_team(req: Request, challenge_id: str, challenge_team_id: str) -> dict:
    user = req.require_user()
    current = existing_challenge_team(req, challenge_team_id)
    body = req.json()
    registration = validated_challenge_team(body, challenge_id)
    check_challenge_team_admin(req, user, registration)
    if body.get("etag") != current["etag"]:
        raise precondition_failed(challenge_team_id)
    current.update(registration, etag=new_etag())
    return {k: v for k, v in current.items() if v is not None}


@route("DELETE", "repo", "/challengeTeam/{challenge_team_id}")
def delete_challenge_team(req: Request, challenge_team_id: str) -> None:
    user = req.require_user()
    current = existing_challenge_team(req, challenge_team_id)
    check_challenge_team_admin(req, user, current)
    del req.state.challenge_teams[challenge_team_id]


def existing_challenge_team(req: Request, challenge_team_id: str) -> dict[str, Any]:
    return found_or_404(req.state.challenge_teams, challenge_team_id, "ChallengeTeam")


# ----- membership requests (MembershipRequestManagerImpl) ----------------------------------------
@route("POST", "repo", "/membershipRequest")
def request_membership(req: Request) -> dict[str, Any]:
    """A user asks to join a team; its managers accept by adding the user."""
    user = req.require_user()
    state = req.state
    body = req.json()
    if not body.get("teamId"):
        raise bad_request("teamId is required.")
    team = state.team(str(body["teamId"]))
    requester = str(body.get("userId") or user.principal_id)
    if requester != str(user.principal_id):
        raise forbidden("You may not request membership on another user's behalf.")
    if user.principal_id in state.team_members[team["id"]]:
        raise bad_request(f"User {user.principal_id} is already a member of team {team['id']}")
    created = membership_record(state, user, team, body, userId=requester)
    state.membership_requests[created["id"]] = created
    return created


def existing_request(req: Request, request_id: str) -> dict[str, Any]:
    return found_or_404(req.state.membership_requests, request_id, "MembershipRequest")


@route("GET", "repo", "/membershipRequest/{request_id}")
def get_membership_request(req: Request, request_id: str) -> dict[str, Any]:
    user = req.require_user()
    found = existing_request(req, request_id)
    if found["userId"] != str(user.principal_id) and not is_team_admin(
        req.state, user, found["teamId"]
    ):
        raise forbidden("You may only see your own requests or those to a team you manage.")
    return found


@route("DELETE", "repo", "/membershipRequest/{request_id}")
def delete_membership_request(req: Request, request_id: str) -> None:
    user = req.require_user()
    found = existing_request(req, request_id)
    if found["userId"] != str(user.principal_id):
        raise forbidden("Only the requester may delete a membership request.")
    del req.state.membership_requests[request_id]


@route("GET", "repo", "/team/{team_id}/openRequest")
def team_open_requests(req: Request, team_id: str) -> dict[str, Any]:
    _, team = req.authorized("team", team_id, "TEAM_MEMBERSHIP_UPDATE")
    requester = req.param("requestorId")
    found = [
        r
        for r in req.state.membership_requests.values()
        if r["teamId"] == team["id"] and (requester is None or r["userId"] == requester)
    ]
    return paginated(found, req)


@route("GET", "repo", "/user/{user_id}/openRequest")
def user_open_requests(req: Request, user_id: str) -> dict[str, Any]:
    user = req.require_user()
    if user_id != str(user.principal_id):
        raise forbidden("You may only list your own membership requests.")
    found = [r for r in req.state.membership_requests.values() if r["userId"] == user_id]
    return paginated(found, req)
