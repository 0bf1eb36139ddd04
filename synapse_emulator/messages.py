"""Messages between users (``POST /message``): the workflow's notification step sends these.

Synapse keeps the body in a file handle the sender uploaded
(https://rest-docs.synapse.org/rest/POST/message.html, MessageManagerImpl); teams are
recipients when the sender may SEND_MESSAGE to them. Nothing is e-mailed:
``GET /_emulator/messages`` shows what was sent.
"""

from __future__ import annotations

from typing import Any

from .app import Request, Response, paginated, route
from .errors import bad_request, forbidden, not_found
from .files import download_url
from .state import State, User, found_or_404, now_iso
from .wikis import markdown_text

OPTIONAL_FIELDS = (
    "subject",
    "inReplyTo",
    "cc",
    "bcc",
    "withUnsubscribeLink",
    "isNotificationMessage",
)


def recipients_of(state: State, sender: User, raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("Recipients cannot be empty")
    recipients = []
    for value in raw:
        principal = str(value)
        if principal.isdigit() and int(principal) in state.users:
            recipients.append(principal)
        elif principal in state.teams:
            if "SEND_MESSAGE" not in state.team_access(sender, principal):
                raise forbidden(f"You are not allowed to send messages to team {principal}")
            recipients.append(principal)
        else:
            raise not_found(f"Principal {principal} does not exist")
    return recipients


@route("POST", "repo", "/message")
def send_message(req: Request) -> dict[str, Any]:
    user = req.require_user()
    state = req.state
    body = req.json()
    handle_id = str(body.get("fileHandleId") or "")
    if not handle_id:
        raise bad_request("File handle ID is required")
    handle = state.file_handles.get(handle_id)
    if handle is None:
        raise not_found(f"FileHandle {handle_id} does not exist")
    if handle["createdBy"] != str(user.principal_id):
        raise forbidden("Only the creator of a FileHandle may send it as a message")
    message = {key: body[key] for key in OPTIONAL_FIELDS if body.get(key) is not None}
    message.update(
        id=state.next_small_id(),
        createdBy=str(user.principal_id),
        createdOn=now_iso(),
        fileHandleId=handle_id,
        recipients=recipients_of(state, user, body.get("recipients")),
    )
    state.messages[message["id"]] = message
    return message


def delivered_to(state: State, user: User, message: dict[str, Any]) -> bool:
    groups = {str(g) for g in state.groups_of(user)}
    return bool(groups & set(message["recipients"]))


def visible_message(req: Request, message_id: str) -> dict[str, Any]:
    user = req.require_user()
    message = found_or_404(req.state.messages, message_id, "Message")
    if message["createdBy"] != str(user.principal_id) and not delivered_to(
        req.state, user, message
    ):
        raise forbidden("You may only read messages you sent or received")
    return message


@route("GET", "repo", "/message/{message_id}")
def get_message(req: Request, message_id: str) -> dict[str, Any]:
    return visible_message(req, message_id)


@route("GET", "repo", "/message/{message_id}/file")
def message_file(req: Request, message_id: str) -> Response:
    url = download_url(req, visible_message(req, message_id)["fileHandleId"])
    if req.bool_param("redirect", True):
        return Response(307, "", "text/plain", {"Location": url})
    return Response(200, url, "text/plain")


@route("GET", "repo", "/message/inbox")
def inbox(req: Request) -> dict[str, Any]:
    user = req.require_user()
    found = [
        {"id": m["id"], "recipientId": str(user.principal_id), "status": "UNREAD", **m}
        for m in req.state.messages.values()
        if delivered_to(req.state, user, m)
    ]
    return paginated(found, req)


@route("GET", "repo", "/message/outbox")
def outbox(req: Request) -> dict[str, Any]:
    user = req.require_user()
    found = [m for m in req.state.messages.values() if m["createdBy"] == str(user.principal_id)]
    return paginated(found, req)


@route("GET", "", "/_emulator/messages", auth=False)
def sent_messages(req: Request) -> dict[str, Any]:
    """Every message sent, with its body, for rehearsals and tests (the stand-in for e-mail)."""
    return {
        "messages": [
            {**m, "body": markdown_text(req.state, m["fileHandleId"])}
            for m in sorted(req.state.messages.values(), key=lambda m: int(m["id"]))
        ]
    }
