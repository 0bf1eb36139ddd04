"""The rehearsal's state between runs: `.rehearsal/<stack>/` (gitignored).

Two halves, like a real deployment: the Synapse server's data (`synapse.pickle`, the emulator's
whole `State`, so IDs, etags and submissions survive) and the engine's record of what it made
(`engine.json`, the `LocalEngine` state, playing the Pulumi backend's part). `rehearsal.json`
keeps the server's port (the endpoint is part of every object's inputs, so it must not change)
and the accounts' user names; the folder is private to its owner (0700).
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from synapse_emulator.state import State

DEFAULT_ROOT = Path(".rehearsal")
ORGANISER = "organiser"
PARTICIPANT = "rehearsal-participant"
_COUNT = re.compile(r"^count\((-?\d+)\)$")


@dataclass(frozen=True)
class RehearsalPaths:
    root: Path

    @classmethod
    def for_stack(cls, stack: str, base: Path = DEFAULT_ROOT) -> RehearsalPaths:
        return cls((base / stack).absolute())

    @property
    def synapse(self) -> Path:
        return self.root / "synapse.pickle"

    @property
    def engine(self) -> Path:
        return self.root / "engine.json"

    @property
    def settings(self) -> Path:
        return self.root / "rehearsal.json"

    @property
    def bootstrap(self) -> Path:
        return self.root / "bootstrap.yaml"

    def exists(self) -> bool:
        return self.settings.exists()

    def make(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)


@dataclass
class RehearsalSettings:
    """What must stay the same from one run to the next."""

    port: int = 0
    tokens: dict[str, str] | None = None
    """User name -> the emulator account's token (made up here, valid only on this server)."""
    round_shift_s: float | None = None
    """Seconds added to every round's start and end, fixed at the first run (see ``shift``)."""

    def token_for(self, user: str) -> str:
        self.tokens = self.tokens or {}
        if user not in self.tokens:
            self.tokens[user] = f"rehearsal-{secrets.token_urlsafe(24)}"
        return self.tokens[user]

    @classmethod
    def load(cls, path: Path) -> RehearsalSettings:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(
            port=int(raw.get("port", 0)),
            tokens=dict(raw.get("tokens") or {}),
            round_shift_s=raw.get("round_shift_s"),
        )

    def save(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=1)


def save_synapse_state(state: State, path: Path) -> None:
    """Pickle every attribute of the server's state; ID counters as their next value."""
    values: dict[str, Any] = {}
    counters: dict[str, int] = {}
    with state.lock:
        for name, value in vars(state).items():
            if name == "lock":
                continue
            if isinstance(value, itertools.count):
                match = _COUNT.match(repr(value))
                if not match:
                    raise ValueError(f"cannot read the emulator's ID counter {name}: {value!r}")
                counters[name] = int(match.group(1))
            else:
                values[name] = value
        blob = pickle.dumps({"values": values, "counters": counters})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)


def load_synapse_state(path: Path) -> State:
    """The state `save_synapse_state` wrote (the rehearsal's own file, never a download)."""
    saved = pickle.loads(path.read_bytes())
    state = State()
    for name, value in saved["values"].items():
        setattr(state, name, value)
    for name, start in saved["counters"].items():
        setattr(state, name, itertools.count(start))
    return state
