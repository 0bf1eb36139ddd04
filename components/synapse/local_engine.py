"""Drive the providers without the Pulumi engine: for tests, benchmarks and local rehearsals.

It does what the engine does with a dynamic provider: round-trips the provider through dill,
calls ``configure`` with the stack config, then check/diff/create/update/delete/read in
dependency order, independent objects concurrently (``max_workers``), and keeps the state
(ID, checked inputs, outputs) in memory. It is not a replacement for ``pulumi up``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pulumi.dynamic import Config, ConfigureRequest

from components.sdk_internals import round_trip
from synapse_client.errors import SynapseProvisioningError
from synapse_client.ownership import owner_key
from synapse_client.session import AUTH_TOKEN_CONFIG_KEY

from ._resource import SynapseResource, object_type
from .common import SynapseProvider
from .site_plan import PlannedResource, Ref, resolve_inputs

#: What ``LocalEngine.up``/``apply`` did to one object, in Pulumi's words.
ACTIONS = ("same", "update", "create", "replace", "delete")


@dataclass
class StateEntry:
    kind: str
    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]
    dependencies: frozenset[str]


class LocalEngine:
    """In-memory state plus ``up``/``refresh``/``destroy`` over a list of planned resources."""

    def __init__(
        self,
        auth_token: str,
        *,
        project: str = "challenge",
        stack: str = "local",
        name_prefix: str = "site",
        max_workers: int = 1,
    ) -> None:
        self._config = {AUTH_TOKEN_CONFIG_KEY: auth_token}
        self.project = project
        self.stack = stack
        self.name_prefix = name_prefix
        self.max_workers = max_workers
        self.state: dict[str, StateEntry] = {}
        self._lock = threading.Lock()
        self._providers: dict[str, SynapseProvider] = {}

    def provider(self, kind: str | type[SynapseResource]) -> SynapseProvider:
        """The provider of an object type (its class or name, e.g. ``"Project"``) as the engine
        gets it: unpickled from state, then configured."""
        name = object_type(kind).__name__
        if name not in self._providers:
            provider = round_trip(object_type(kind).PROVIDER())
            provider.configure(ConfigureRequest(Config(self._config, self.project)))
            self._providers[name] = provider
        return self._providers[name]

    def up(self, plan: Iterable[PlannedResource]) -> dict[str, str]:
        """Bring Synapse to the plan; returns create/update/replace/same/delete per key."""
        planned = {p.key: p for p in plan}
        actions: dict[str, str] = {}
        pending = dict(planned)
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            running: dict[Future[str], str] = {}
            failure: BaseException | None = None
            while pending or running:
                if failure is None:
                    for key in [k for k, p in pending.items() if self._ready(p, pending, running)]:
                        running[pool.submit(self._apply, pending.pop(key))] = key
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    key = running.pop(future)
                    try:
                        actions[key] = future.result()
                    except BaseException as exc:
                        failure = failure or exc
            if failure is not None:
                raise failure
        actions.update(self.prune(set(planned)))
        return actions

    def prune(self, keep: set[str]) -> dict[str, str]:
        """Delete every object not in ``keep``, dependents first (what ``pulumi up`` does with
        resources the program no longer declares)."""
        order = self._reverse_order(set(self.state) - keep)
        for key in order:
            self._delete(key)
        return dict.fromkeys(order, "delete")

    def refresh(self) -> dict[str, str]:
        """Read every object back (``pulumi refresh``); returns gone/changed/same per key."""
        result: dict[str, str] = {}
        for key, entry in list(self.state.items()):
            read = self.provider(entry.kind).read(entry.id, dict(entry.outs))
            if not read.id:
                del self.state[key]
                result[key] = "gone"
                continue
            outs = read.outs or {}
            result[key] = "same" if outs == entry.outs else "changed"
            entry.outs = outs
        return result

    def destroy(self) -> list[str]:
        """Delete everything, dependents first; returns the keys in the order deleted."""
        order = self._reverse_order(set(self.state))
        for key in order:
            self._delete(key)
        return order

    # internals ------------------------------------------------------------------------------

    def _ready(
        self, planned: PlannedResource, pending: dict[str, Any], running: dict[Any, str]
    ) -> bool:
        busy = set(pending) | set(running.values())
        return not (planned.dependencies() & busy)

    def _value(self, ref: Ref) -> Any:
        entry = self.state[ref.resource]
        return entry.id if ref.output == "id" else entry.outs[ref.output]

    def _apply(self, planned: PlannedResource) -> str:
        provider = self.provider(planned.kind)
        with self._lock:
            inputs = resolve_inputs(planned, self._value)
        if any(p.name == "owner_key" for p in provider.PROPS):
            name = f"{self.name_prefix}-{planned.key}" if self.name_prefix else planned.key
            inputs["owner_key"] = owner_key(self.project, self.stack, name)
        action, _ = self.apply(planned.key, planned.kind.__name__, inputs, planned.dependencies())
        return action

    def apply(
        self, key: str, kind: str, inputs: dict[str, Any], dependencies: Iterable[str] = ()
    ) -> tuple[str, StateEntry]:
        """Check, then create, update, replace or leave one object, as the engine does for one
        resource registration; returns the action and the object's state afterwards."""
        provider = self.provider(kind)
        with self._lock:
            old = self.state.get(key)
        checked = provider.check(old.inputs if old else {}, inputs)
        if checked.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in checked.failures)
            raise SynapseProvisioningError(f"{kind} {key}: {reasons}")
        news = checked.inputs
        deps = frozenset(dependencies)
        if old is None:
            created = provider.create(news)
            return "create", self._record(key, kind, created.id, news, created.outs or {}, deps)
        diff = provider.diff(old.id, old.outs, news)
        if not diff.changes:
            return "same", self._record(key, kind, old.id, news, old.outs, deps)
        if diff.replaces:
            if diff.delete_before_replace:
                provider.delete(old.id, old.outs)
            created = provider.create(news)
            if not diff.delete_before_replace:
                provider.delete(old.id, old.outs)
            return "replace", self._record(key, kind, created.id, news, created.outs or {}, deps)
        updated = provider.update(old.id, old.outs, news)
        return "update", self._record(key, kind, old.id, news, updated.outs or {}, deps)

    def save(self, path: Path) -> None:
        """Write the state as JSON (IDs, checked inputs, outputs; no credentials: none are
        inputs or outputs of these providers)."""
        with self._lock:
            entries = {
                key: {**asdict(entry), "dependencies": sorted(entry.dependencies)}
                for key, entry in self.state.items()
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")

    def load(self, path: Path) -> None:
        """Replace the state with what ``save`` wrote; a missing file is an empty state."""
        if not path.exists():
            self.state = {}
            return
        raw = json.loads(path.read_text())
        self.state = {
            key: StateEntry(
                entry["kind"],
                entry["id"],
                entry["inputs"],
                entry["outs"],
                frozenset(entry["dependencies"]),
            )
            for key, entry in raw.items()
        }

    def _record(
        self,
        key: str,
        kind: str,
        id_: str,
        inputs: dict[str, Any],
        outs: dict[str, Any],
        deps: frozenset[str],
    ) -> StateEntry:
        entry = StateEntry(kind, id_, inputs, outs, deps)
        with self._lock:
            self.state[key] = entry
        return entry

    def _delete(self, key: str) -> None:
        entry = self.state[key]
        self.provider(entry.kind).delete(entry.id, dict(entry.outs))
        del self.state[key]

    def _reverse_order(self, keys: set[str]) -> list[str]:
        """Dependents before what they depend on (challenge before its team)."""
        order: list[str] = []
        remaining = set(keys)
        while remaining:
            leaves = sorted(
                k
                for k in remaining
                if not any(k in self.state[o].dependencies for o in remaining if o != k)
            )
            if not leaves:
                raise SynapseProvisioningError(f"dependency cycle among {sorted(remaining)}")
            order.extend(leaves)
            remaining -= set(leaves)
        return order
