"""Pytest fixtures for the Synapse emulator (register with ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import synapseclient

from synapse_emulator import SynapseEmulator

SYNAPSE_USERS = {
    "organiser": "tok-organiser",
    "orchestrator": "tok-orchestrator",
    "participant": "tok-participant",
}
"""User name -> personal access token of the accounts every emulator fixture defines."""


@pytest.fixture
def synapse_emulator() -> Iterator[SynapseEmulator]:
    """A fresh emulator per test with users organiser, orchestrator and participant."""
    with SynapseEmulator(users=SYNAPSE_USERS) as emulator:
        yield emulator


@pytest.fixture
def organiser_syn(synapse_emulator: SynapseEmulator) -> synapseclient.Synapse:
    """synapseclient logged in as the organiser (owner of projects, teams and queues)."""
    return synapse_emulator.client("organiser")


@pytest.fixture
def orchestrator_syn(synapse_emulator: SynapseEmulator) -> synapseclient.Synapse:
    """synapseclient logged in as the orchestrator's account (scores submissions)."""
    return synapse_emulator.client("orchestrator")


@pytest.fixture
def participant_syn(synapse_emulator: SynapseEmulator) -> synapseclient.Synapse:
    """synapseclient logged in as a challenge participant."""
    return synapse_emulator.client("participant")


@pytest.fixture
def synapse_env(
    synapse_emulator: SynapseEmulator, monkeypatch: pytest.MonkeyPatch
) -> SynapseEmulator:
    """Point code that reads ``SYNAPSE_AUTH_TOKEN`` at the emulator as the organiser."""
    monkeypatch.setenv("SYNAPSE_AUTH_TOKEN", synapse_emulator.token("organiser"))
    return synapse_emulator
