"""The real program (`__main__.py`) with its Synapse objects sent to the real providers.

The Pulumi SDK's mock monitor runs the program exactly as `make check` does; each Synapse
resource registration goes to `LocalEngine.apply` (check, diff, create/update/replace, state kept
between runs) instead of a stand-in, and what the program no longer declares is deleted after the
run, as `pulumi up` does. Everything else (the AWS stand-ins, a self-hosted stack has none) is the
preview's. The stack outputs are the program's own exports.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.sdk_internals import mocks as pulumi_mocks
from components.synapse._resource import type_of_token
from components.synapse.local_engine import LocalEngine
from preview.engine import PreviewMocks, ProgramRun, run_program

#: The SDK's dynamic providers carry themselves in this input; the engine strips it too.
PROVIDER_INPUT = "__provider"


def _resource_name(urn: str) -> str:
    """`urn:pulumi:dev::challenge::a$b::challenge-live-project` -> `challenge-live-project`."""
    return urn.rsplit("::", 1)[-1]


class RehearsalMocks(PreviewMocks):
    """The preview's mocks, except that Synapse objects are made for real through `engine`."""

    def __init__(self, region: str, engine: LocalEngine) -> None:
        super().__init__(region)
        self.engine = engine
        self.actions: dict[str, str] = {}
        self._actions_lock = threading.Lock()

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        registered = type_of_token(args.typ)
        if not args.custom or registered is None:
            return super().new_resource(args)
        kind = registered.__name__
        inputs = {k: v for k, v in dict(args.inputs).items() if k != PROVIDER_INPUT}
        options = self.registration_options.get((args.typ, args.name), {})
        dependencies = {_resource_name(urn) for urn in options.get("dependencies", [])}
        action, entry = self.engine.apply(args.name, kind, inputs, dependencies)
        with self._actions_lock:
            self.actions[args.name] = action
        return entry.id, dict(entry.outs)


@dataclass(frozen=True)
class RehearsalRun:
    """The program's run and what happened to each Synapse object (resource name -> action)."""

    program: ProgramRun
    actions: Mapping[str, str]

    def counts(self) -> Counter[str]:
        return Counter(self.actions.values())

    def summary(self) -> str:
        """`pulumi up`'s closing line, in its words: unchanged, updated, created, ..."""
        counts = self.counts()
        words = (
            ("create", "created"),
            ("update", "updated"),
            ("replace", "replaced"),
            ("delete", "deleted"),
            ("same", "unchanged"),
        )
        parts = [f"{counts[action]} {word}" for action, word in words]
        return f"Synapse objects: {', '.join(parts)} ({len(self.actions)} in all)"


def rehearse_program(
    config: Mapping[str, Any],
    *,
    stack: str,
    engine: LocalEngine,
    secret_values: Mapping[str, str],
    workdir: Path,
) -> RehearsalRun:
    """One `pulumi up` of the program against the Synapse server `config` names; files the
    program writes (a self-hosted bootstrap) land under `workdir`."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:  # synapseclient's `asyncio.run` leaves the main thread without one
        asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = RehearsalMocks(str(config.get("aws:region", "us-east-1")), engine)
    program = run_program(
        config, stack=stack, secret_values=secret_values, mocks=mocks, workdir=workdir
    )
    actions = dict(mocks.actions)
    actions.update(engine.prune(set(mocks.actions)))
    return RehearsalRun(program, actions)
