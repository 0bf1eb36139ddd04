"""The threaded HTTP server: authentication, fault injection, counting, dispatch to routes."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import (  # noqa: F401  (importing a module registers its routes)
    control,
    docker,
    entities,
    evaluations,
    files,
    messages,
    provenance,
    storage,
    submission_query,
    tables,
    teams,
    users,
    wikis,
)
from .app import MethodNotAllowed, Request, Response, match, parse_query, template_for
from .errors import SynapseApiError
from .faults import Faults, RequestCounter
from .state import State

CONTROL_PREFIX = "/_emulator/"
UNFAULTED_PREFIXES = (CONTROL_PREFIX,)


class EmulatorServer(ThreadingHTTPServer):
    """Serves one ``State``; ``faults`` and ``counter`` are shared with the test process."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, state: State, *, log_requests: bool = False) -> None:
        super().__init__((host, port), _Handler)
        self.state = state
        self.faults = Faults()
        self.counter = RequestCounter()
        self.log_requests = log_requests
        self.unhandled: list[tuple[str, str]] = []
        self._unhandled_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def note_unhandled(self, method: str, path: str) -> None:
        with self._unhandled_lock:
            self.unhandled.append((method, path))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: EmulatorServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"[synapse-emulator] {format % args}\n")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        server = self.server
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        body = self._read_body()
        route_method = "GET" if method == "HEAD" else method
        controlled = not path.startswith(UNFAULTED_PREFIXES)
        if controlled:
            server.counter.add(method, template_for(route_method, path))
            decision = server.faults.decide(method, path)
            if decision.latency_seconds:
                time.sleep(decision.latency_seconds)
            if decision.error_status is not None:
                self._send(
                    Response(
                        decision.error_status, {"reason": _fault_reason(decision.error_status)}
                    ),
                    method,
                )
                return
            drop = decision.drop_after_commit
        else:
            drop = False
        try:
            response = self._dispatch(route_method, path, parts.query, body)
        except SynapseApiError as exc:
            response = Response(exc.status, {"reason": exc.reason})
        except Exception as exc:  # a bug in the emulator: answer 500 and show it
            traceback.print_exc(file=sys.stderr)
            response = Response(500, {"reason": f"Emulator error: {exc!r}"})
        if drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response, method)

    def _dispatch(self, method: str, path: str, query: str, body: bytes) -> Response:
        server = self.server
        state = server.state
        user = None
        authorization = self.headers.get("Authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            with state.lock:
                user = (
                    state.users_by_token.get(token.strip()) if scheme.lower() == "bearer" else None
                )
            if user is None:
                raise SynapseApiError(401, "Invalid access token")
        request = Request(
            method=method,
            path=path,
            query=parse_query(query),
            headers={k: v for k, v in self.headers.items()},
            raw_body=body,
            user=user,
            base_url=server.base_url,
            state=state,
            server=server,
        )
        with state.lock:
            try:
                found = match(method, path)
            except MethodNotAllowed:
                server.note_unhandled(method, path)
                raise
            if found is None:
                server.note_unhandled(method, path)
                raise SynapseApiError(404, f"The emulator does not serve {method} {path}")
            matched, params = found
            if matched.auth:
                request.require_user()
            result = matched.handler(request, **params)
        if isinstance(result, Response):
            return result
        return Response(200, result)

    def _send(self, response: Response, method: str) -> None:
        if response.body is None:
            payload = b""
        elif isinstance(response.body, bytes):
            payload = response.body
        elif isinstance(response.body, str) and response.content_type != "application/json":
            payload = response.body.encode()
        else:
            payload = json.dumps(response.body).encode()
        # Synapse sends no reason phrase; synapseclient shows "404 Client Error: \n<reason>"
        self.send_response(response.status, "")
        content_type = response.content_type
        if content_type == "application/json":
            content_type = "application/json;charset=UTF-8"
        if payload or response.content_type != "application/json":
            self.send_header("Content-Type", content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)


def _fault_reason(status: int) -> str:
    if status == 429:
        return "Too many concurrent requests. Please slow down. (injected by the emulator)"
    return f"Service unavailable (status {status} injected by the emulator)"
