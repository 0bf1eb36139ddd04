"""User profiles, principal look-ups and the auth service."""

from __future__ import annotations

from typing import Any

from .app import Request, route
from .errors import bad_request, not_found
from .state import ANONYMOUS, AUTHENTICATED_USERS, PUBLIC, State, User

GROUP_NAMES = {
    AUTHENTICATED_USERS: "AUTHENTICATED_USERS",
    PUBLIC: "PUBLIC",
    ANONYMOUS: "anonymous",
}


def profile(user: User, *, private: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ownerId": str(user.principal_id),
        "etag": user.etag,
        "userName": user.name,
        "firstName": user.name.capitalize(),
        "lastName": "Emulated",
        "displayName": f"{user.name.capitalize()} Emulated",
        "createdOn": "2020-01-01T00:00:00.000Z",
    }
    if private:
        body["emails"] = [user.email]
        body["email"] = user.email
    return body


def anonymous_profile() -> dict[str, Any]:
    return {"ownerId": str(ANONYMOUS), "userName": "anonymous", "etag": "anonymous"}


def user_group_header(state: State, principal_id: int) -> dict[str, Any]:
    if principal_id in state.users:
        user = state.users[principal_id]
        return {
            "ownerId": str(principal_id),
            "userName": user.name,
            "firstName": user.name.capitalize(),
            "lastName": "Emulated",
            "displayName": f"{user.name.capitalize()} Emulated",
            "email": user.email,
            "isIndividual": True,
        }
    if str(principal_id) in state.teams:
        return {
            "ownerId": str(principal_id),
            "userName": state.teams[str(principal_id)]["name"],
            "isIndividual": False,
        }
    if principal_id in GROUP_NAMES:
        return {
            "ownerId": str(principal_id),
            "userName": GROUP_NAMES[principal_id],
            "isIndividual": principal_id == ANONYMOUS,
        }
    raise not_found(f"Principal {principal_id} does not exist")


@route("GET", "repo", "/userProfile", auth=False)
def get_my_profile(req: Request) -> dict[str, Any]:
    return anonymous_profile() if req.user is None else profile(req.user, private=True)


@route("GET", "repo", "/userProfile/{owner_id}", auth=False)
def get_profile(req: Request, owner_id: str) -> dict[str, Any]:
    user = req.state.users.get(int(owner_id)) if owner_id.isdigit() else None
    if user is None:
        raise not_found(f"UserProfile cannot be found for: {owner_id}")
    return profile(user, private=req.user is user)


@route("PUT", "repo", "/userProfile")
def put_profile(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    if str(body.get("ownerId")) != str(user.principal_id):
        raise bad_request("You may only update your own profile")
    return profile(user, private=True)


@route("GET", "repo", "/user/{user_id}/bundle", auth=False)
def user_bundle(req: Request, user_id: str) -> dict[str, Any]:
    user = req.state.users.get(int(user_id)) if user_id.isdigit() else None
    if user is None:
        raise not_found(f"User {user_id} does not exist")
    return {
        "userId": str(user.principal_id),
        "userProfile": profile(user, private=req.user is user),
        "isCertified": False,
        "isVerified": False,
        "isACTMember": False,
        "isARReviewer": False,
    }


@route("GET", "repo", "/userGroupHeaders", auth=False)
def user_group_headers(req: Request) -> dict[str, Any]:
    prefix = (req.param("prefix") or "").lower()
    state = req.state
    ids = list(state.users) + [int(t) for t in state.teams]
    matches = []
    for principal_id in ids:
        header = user_group_header(state, principal_id)
        names = [header["userName"], header.get("displayName", ""), str(principal_id)]
        if any(n.lower().startswith(prefix) for n in names if n):
            matches.append(header)
    limit = req.int_param("limit", 10)
    offset = req.int_param("offset", 0)
    return {
        "prefixFilter": req.param("prefix") or "",
        "children": matches[offset : offset + limit],
        "totalNumberOfResults": len(matches),
    }


@route("GET", "repo", "/userGroupHeaders/batch", auth=False)
def user_group_headers_batch(req: Request) -> dict[str, Any]:
    raw = ",".join(req.params("ids"))
    headers = []
    for part in filter(None, raw.split(",")):
        try:
            headers.append(user_group_header(req.state, int(part)))
        except Exception:
            continue
    return {"children": headers}


@route("POST", "repo", "/principal/alias", auth=False)
def principal_alias(req: Request) -> dict[str, Any]:
    body = req.json()
    alias = str(body.get("alias", ""))
    for user in req.state.users.values():
        if alias.lower() in (user.name.lower(), user.email.lower()):
            return {"principalId": user.principal_id}
    for team in req.state.teams.values():
        if team["name"] == alias:
            return {"principalId": int(team["id"])}
    raise not_found(f"Principal alias {alias} does not exist")


@route("GET", "repo", "/user/{user_id}/certifiedUserPassingRecord", auth=False)
def certified_record(req: Request, user_id: str) -> dict[str, Any]:
    """Emulated accounts have not taken the certification quiz: Synapse answers 404, which
    synapseclient's is_certified reads as "not certified". The emulator does not require
    certification to create content (as a project that turns the requirement off)."""
    if int(user_id) not in req.state.users:
        raise not_found(f"User {user_id} does not exist")
    raise not_found(f"No passing record found for user {user_id}")


@route("GET", "repo", "/version", auth=False)
def repo_version(req: Request) -> dict[str, Any]:
    return {"version": "emulator"}


@route("GET", "auth", "/version", auth=False)
def auth_version(req: Request) -> dict[str, Any]:
    return {"version": "emulator"}


@route("GET", "file", "/version", auth=False)
def file_version(req: Request) -> dict[str, Any]:
    return {"version": "emulator"}


@route("GET", "repo", "/termsOfUse2/status")
def terms_status(req: Request) -> dict[str, Any]:
    user = req.require_user()
    return {"userId": str(user.principal_id), "usersCurrentTermsOfServiceStatus": "UP_TO_DATE"}
