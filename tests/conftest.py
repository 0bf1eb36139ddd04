"""Shared fixtures: the program under mocks with a stack file's config, and the Synapse server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from preview import ProgramRun, run_program
from preview.engine import PreviewMocks
from stackconfig import read_stack_file
from tests.fixtures.stacks import TEST_SECRETS

pytest_plugins = ["tests.fixtures.synapse", "tests.fixtures.host"]


@pytest.fixture(autouse=True)
def restore_event_loop() -> Iterator[None]:
    """synapseclient's models end with `asyncio.run`, which leaves the main thread without an
    event loop; the Pulumi mocks of any later test need one."""
    yield
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


@pytest.fixture
def run_stack() -> Callable[..., ProgramRun]:
    """Run `__main__.py` under mocks with `Pulumi.<stack>.yaml` plus overrides and test secrets.

    Overrides use short keys (`maxConcurrentSubmissions`) for the `challenge:` namespace, or
    full `ns:key` keys; a value of None removes the key. `mocks` (a PreviewMocks) keeps what
    was registered even when the run fails.
    """

    def run(
        stack: str = "dev",
        overrides: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        mocks: PreviewMocks | None = None,
    ) -> ProgramRun:
        config = dict(read_stack_file(stack))
        for key, value in (overrides or {}).items():
            full = key if ":" in key else f"challenge:{key}"
            if value is None:
                config.pop(full, None)
            else:
                config[full] = value
        return run_program(
            config,
            stack=stack,
            secret_values=TEST_SECRETS if secrets is None else secrets,
            mocks=mocks,
        )

    return run
