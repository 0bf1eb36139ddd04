"""The Pulumi SDK internals this project touches, in one place (SDK pinned in requirements.txt).

None of these is the SDK's public API: after an SDK upgrade, this module is what to re-read
against pulumi/pulumi's `sdk/python/lib/pulumi` (paths below) and what to fix.
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dill
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, settings
from pulumi.runtime.rpc import UNKNOWN
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await as sync_await

__all__ = [
    "UNKNOWN",
    "engine_config",
    "mocks",
    "plain_pickler",
    "round_trip",
    "run_fresh",
    "serialize_provider",
    "settings",
    "sync_await",
]

#: `dynamic/dynamic.py` (`serialize_provider`) wraps `pickle._Pickler._batch_setitems` in a
#: sorting wrapper and never unwraps it, so every dynamic resource adds one call level: a few
#: hundred Synapse objects in one program end in RecursionError.
PLAIN_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


@contextmanager
def plain_pickler() -> Iterator[None]:
    """Register a dynamic resource inside this block: the plain pickler method is put back."""
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems = PLAIN_BATCH_SETITEMS  # type: ignore[attr-defined]


def run_fresh(program: Callable[[], None]) -> None:
    """Runs `program` to completion under the configured mocks, after forgetting the RPCs and
    output tasks an earlier program left unfinished, as the SDK's own `runtime/mocks.py` `test`
    does: they live in the module-level `settings.SETTINGS`, and `stack.py` `wait_for_rpcs`
    would wait on them forever (a component that raised mid-registration leaves some)."""
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    sync_await(run_pulumi_func(program))


def round_trip(provider: Any) -> Any:
    """The provider as the engine's provider process gets it: serialized by the SDK into the
    `__provider` input (base64 of dill), then loaded (`dynamic/__main__.py`)."""
    return dill.loads(base64.b64decode(serialize_provider(provider)))


def engine_config() -> tuple[dict[str, str], set[str]]:
    """The whole stack configuration the engine handed the program (every namespace; the
    public `pulumi.Config` reads one namespace at a time) and which keys are secret
    (`runtime/config.py`)."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {key for key in raw if runtime_config.is_config_secret(key)}
    secret_keys.update(runtime_config.get_config_secret_keys_env())
    return raw, secret_keys
