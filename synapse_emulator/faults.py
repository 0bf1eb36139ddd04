"""Fault injection and request counting, settable while the server runs."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass

from .errors import EmulatorConfigError

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class _Rule:
    kind: str  # "burst" or "drop"
    remaining: int
    status: int
    method: str | None
    path_regex: re.Pattern[str] | None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path_regex is None or self.path_regex.search(path) is not None


@dataclass(frozen=True)
class Decision:
    """What to do with one request: sleep, answer with an error instead, or drop the answer."""

    latency_seconds: float
    error_status: int | None
    drop_after_commit: bool


class Faults:
    """Faults for the next requests. Rules apply in the order they were added, each ``count`` times.

    Paths are matched with ``re.search`` against the URL path without the query string,
    e.g. ``/repo/v1/entity``; control requests under ``/_emulator`` are never faulted.
    ``injected`` counts the faults fired so far by kind (``"burst"``, ``"drop"``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency_seconds = 0.0
        self._rules: list[_Rule] = []
        self.injected: Counter[str] = Counter()

    def latency(self, seconds: float) -> None:
        """Delay every request by ``seconds`` (0 turns it off)."""
        if seconds < 0:
            raise EmulatorConfigError(f"latency seconds must be >= 0, got {seconds}")
        with self._lock:
            self._latency_seconds = float(seconds)

    def burst(
        self,
        status: int = 503,
        count: int = 1,
        method: str | None = None,
        path_regex: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` without executing them."""
        if status not in RETRYABLE_STATUSES:
            raise EmulatorConfigError(
                f"burst status must be one of {sorted(RETRYABLE_STATUSES)}, got {status}"
            )
        if count < 1:
            raise EmulatorConfigError(f"burst count must be >= 1, got {count}")
        self._add(_Rule("burst", count, status, _method(method), _regex(path_regex)))

    def drop_after_commit(
        self, method: str | None = None, path_regex: str | None = None, count: int = 1
    ) -> None:
        """Execute the next ``count`` matching requests, then close the connection unanswered."""
        if count < 1:
            raise EmulatorConfigError(f"drop count must be >= 1, got {count}")
        self._add(_Rule("drop", count, 0, _method(method), _regex(path_regex)))

    def clear(self) -> None:
        """Remove every pending rule and the latency."""
        with self._lock:
            self._rules.clear()
            self._latency_seconds = 0.0

    def pending(self) -> list[dict[str, object]]:
        """The rules not used up yet, for inspection."""
        with self._lock:
            return [
                {
                    "kind": r.kind,
                    "remaining": r.remaining,
                    "status": r.status or None,
                    "method": r.method,
                    "path_regex": r.path_regex.pattern if r.path_regex else None,
                }
                for r in self._rules
            ]

    def configure(self, spec: dict[str, object]) -> None:
        """Apply a JSON spec (control endpoint, CLI): ``latency_seconds``, ``burst``, ``drop``."""
        unknown = set(spec) - {"latency_seconds", "burst", "drop_after_commit"}
        if unknown:
            raise EmulatorConfigError(
                f"unknown fault settings {sorted(unknown)}; "
                "allowed: latency_seconds, burst, drop_after_commit"
            )
        if "latency_seconds" in spec:
            self.latency(float(spec["latency_seconds"]))  # type: ignore[arg-type]
        if "burst" in spec:
            self.burst(
                **_rule_spec("burst", spec["burst"], {"status", "count", "method", "path_regex"})
            )
        if "drop_after_commit" in spec:
            self.drop_after_commit(
                **_rule_spec(
                    "drop_after_commit",
                    spec["drop_after_commit"],
                    {"count", "method", "path_regex"},
                )
            )

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            error_status = None
            drop = False
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    if rule.kind == "burst":
                        error_status = rule.status
                    else:
                        drop = True
                    self.injected[rule.kind] += 1
                    break
            self._rules = [r for r in self._rules if r.remaining > 0]
            return Decision(self._latency_seconds, error_status, drop)

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)


def _rule_spec(name: str, value: object, allowed: set[str]) -> dict:
    if not isinstance(value, dict) or set(value) - allowed:
        raise EmulatorConfigError(
            f"fault setting {name} must be an object with keys among {sorted(allowed)}"
        )
    return value


def _method(method: str | None) -> str | None:
    return method.upper() if method else None


def _regex(path_regex: str | None) -> re.Pattern[str] | None:
    try:
        return re.compile(path_regex) if path_regex else None
    except re.error as exc:
        raise EmulatorConfigError(
            f"path_regex {path_regex!r} is not a valid regular expression: {exc}"
        ) from exc


class RequestCounter:
    """Requests received per (method, route template), faulted ones included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, method: str, template: str) -> None:
        with self._lock:
            self._counts[(method, template)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
