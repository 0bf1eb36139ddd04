"""Control endpoints under ``/_emulator`` for processes that cannot use the Python API."""

from __future__ import annotations

from typing import Any

from .app import Request, route
from .errors import EmulatorConfigError, bad_request


@route("GET", "", "/_emulator/counts", auth=False)
def get_counts(req: Request) -> dict[str, Any]:
    counts = req.server.counter.snapshot()
    return {
        "counts": [
            {"method": method, "path": path, "count": count}
            for (method, path), count in sorted(counts.items())
        ],
        "total": sum(counts.values()),
    }


@route("DELETE", "", "/_emulator/counts", auth=False)
def reset_counts(req: Request) -> None:
    req.server.counter.reset()


@route("GET", "", "/_emulator/faults", auth=False)
def get_faults(req: Request) -> dict[str, Any]:
    return {"pending": req.server.faults.pending()}


@route("POST", "", "/_emulator/faults", auth=False)
def set_faults(req: Request) -> dict[str, Any]:
    try:
        req.server.faults.configure(req.json())
    except (TypeError, ValueError) as exc:
        raise bad_request(str(exc)) from exc
    return {"pending": req.server.faults.pending()}


@route("DELETE", "", "/_emulator/faults", auth=False)
def clear_faults(req: Request) -> None:
    req.server.faults.clear()


@route("GET", "", "/_emulator/users", auth=False)
def list_users(req: Request) -> dict[str, Any]:
    return {
        "users": [{"name": u.name, "principalId": u.principal_id} for u in req.state.users.values()]
    }


@route("POST", "", "/_emulator/users", auth=False)
def add_user(req: Request) -> dict[str, Any]:
    body = req.json()
    name, token = body.get("name"), body.get("token")
    if not name or not token:
        raise bad_request("POST /_emulator/users needs a JSON body with name and token")
    try:
        user = req.state.add_user(str(name), str(token))
    except EmulatorConfigError as exc:
        raise bad_request(str(exc)) from exc
    return {"name": user.name, "principalId": user.principal_id}


@route("GET", "", "/_emulator/unhandled", auth=False)
def unhandled(req: Request) -> dict[str, Any]:
    return {"requests": [{"method": m, "path": p} for m, p in req.server.unhandled]}
