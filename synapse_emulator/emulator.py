"""``SynapseEmulator``: start the server in a thread and hand out logged-in clients."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .faults import Faults
from .server import EmulatorServer
from .state import State

if TYPE_CHECKING:
    import synapseclient


class SynapseEmulator:
    """A Synapse-compatible server on loopback for one test or one rehearsal.

    ``users`` maps a user name to its personal access token. Use as a context manager or call
    ``start()``/``stop()``.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        team_index_delay_seconds: float = 0.0,
        log_requests: bool = False,
    ) -> None:
        self.state = State(team_index_delay_seconds=team_index_delay_seconds)
        for name, token in (users or {}).items():
            self.state.add_user(name, token)
        self._host = host
        self._port = port
        self._log_requests = log_requests
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._cache_root: Path | None = None

    # ----- lifecycle --------------------------------------------------------------------------
    def start(self) -> SynapseEmulator:
        if self._server is not None:
            return self
        self._server = EmulatorServer(
            self._host, self._port, self.state, log_requests=self._log_requests
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="synapse-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._cache_root is not None:
            shutil.rmtree(self._cache_root, ignore_errors=True)
            self._cache_root = None

    def __enter__(self) -> SynapseEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- addresses ---------------------------------------------------------------------------
    @property
    def server(self) -> EmulatorServer:
        if self._server is None:
            raise RuntimeError("the Synapse emulator is not running; call start() first")
        return self._server

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def repo_endpoint(self) -> str:
        return f"{self.base_url}/repo/v1"

    # ----- users, faults, counts ---------------------------------------------------------------
    def add_user(self, name: str, token: str) -> int:
        """Define another account; returns its principal ID."""
        return self.state.add_user(name, token).principal_id

    def principal_id(self, name: str) -> int:
        with self.state.lock:
            return self.state.user_by_name(name).principal_id

    def token(self, name: str) -> str:
        with self.state.lock:
            return self.state.user_by_name(name).token

    @property
    def faults(self) -> Faults:
        return self.server.faults

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Requests received per (method, path template), e.g. ``("POST", "/repo/v1/entity")``."""
        return self.server.counter.snapshot()

    def reset_counts(self) -> None:
        self.server.counter.reset()

    def unhandled_requests(self) -> list[tuple[str, str]]:
        """Requests no emulated endpoint matched (answered 404), to spot gaps."""
        return list(self.server.unhandled)

    # ----- clients -----------------------------------------------------------------------------
    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``synapseclient.Synapse`` pointing at this server.

        They skip the version and endpoint checks and keep the cache and config out of ``~``
        (a temp dir removed by ``stop()``).
        """
        if self._cache_root is None:
            self._cache_root = Path(tempfile.mkdtemp(prefix="synapse-emulator-"))
        return {
            "repoEndpoint": self.repo_endpoint,
            "authEndpoint": f"{self.base_url}/auth/v1",
            "fileHandleEndpoint": f"{self.base_url}/file/v1",
            "portalEndpoint": f"{self.base_url}/",
            "skip_checks": True,
            "silent": True,
            "configPath": str(self._cache_root / "no-synapseConfig"),
            "cache_root_dir": str(self._cache_root / "cache"),
        }

    def client(self, name: str, *, cache_client: bool = False) -> synapseclient.Synapse:
        """A ``synapseclient.Synapse`` logged in as ``name``, caching under a private temp dir.

        With ``cache_client=False`` (default) the client is not registered as synapseclient's
        global default, so pass it as ``synapse_client=`` to ``synapseclient.models`` calls.
        """
        import synapseclient

        kwargs = self.client_kwargs()
        assert self._cache_root is not None
        kwargs["cache_root_dir"] = str(self._cache_root / f"cache-{name}")
        syn = synapseclient.Synapse(**kwargs, cache_client=cache_client)
        syn.login(authToken=self.token(name), silent=True)
        return syn
