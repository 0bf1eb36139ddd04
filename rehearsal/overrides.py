"""What the rehearsal changes in the stack before running the program, as plain functions.

- `synapseEndpoint`: the rehearsal's own server.
- `phase: live`: the participant must be able to submit.
- `host: self-hosted`: no AWS in a rehearsal; the program writes the bootstrap a server would
  boot (`--with-host` boots it in a local VM), and `synapseEndpoint` on loopback is refused for
  an EC2 host anyway.
- Round dates: Synapse refuses submissions outside a queue's rounds, and a stack rehearsed weeks
  before launch has none open. Every round moves by one offset, fixed at the first run (so a
  second run sees the same dates and changes nothing), that opens the earliest round a minute
  before that run. A stack with a round open now, or without rounds, is not moved.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

NAMESPACE = "challenge"
QUEUES_KEY = f"{NAMESPACE}:queues"
OPEN_MARGIN_S = 60.0


def _instant(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _rounds(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for q in raw.get(QUEUES_KEY) or [] for r in q.get("rounds") or []]


def round_shift_s(raw: Mapping[str, Any], now: dt.datetime) -> float:
    """Seconds to add to every round so that one is open at `now` (0 if one already is)."""
    rounds = _rounds(raw)
    if not rounds or any(_instant(r["start"]) <= now < _instant(r["end"]) for r in rounds):
        return 0.0
    earliest = min(_instant(r["start"]) for r in rounds)
    return (now - earliest).total_seconds() - OPEN_MARGIN_S


def rehearsal_config(raw: Mapping[str, Any], *, endpoint: str, shift_s: float) -> dict[str, Any]:
    """The stack's raw config with the rehearsal's overrides (see the module docstring)."""
    config = copy.deepcopy(dict(raw))
    config[f"{NAMESPACE}:synapseEndpoint"] = endpoint
    config[f"{NAMESPACE}:phase"] = "live"
    config[f"{NAMESPACE}:host"] = "self-hosted"
    if shift_s:
        delta = dt.timedelta(seconds=shift_s)
        for round_ in _rounds(config):
            for edge in ("start", "end"):
                moved = _instant(round_[edge]) + delta
                round_[edge] = moved.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return config
