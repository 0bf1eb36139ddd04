"""Fault injection, request counting, control endpoints and the command line of the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from synapseclient import models
from synapseclient.core.exceptions import SynapseHTTPError

from synapse_emulator import SynapseEmulator
from tests.fixtures.cli import run_module, stop_process

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_latency_delays_every_request(synapse_emulator, organiser_syn):
    synapse_emulator.faults.latency(0.05)
    started = time.monotonic()
    for _ in range(4):
        organiser_syn.restGET("/userProfile")
    assert time.monotonic() - started >= 0.2
    synapse_emulator.faults.latency(0)


def test_429_burst_is_retried_by_the_async_client(synapse_emulator, organiser_syn):
    synapse_emulator.faults.burst(status=429, count=2, method="POST", path_regex=r"/entity$")
    synapse_emulator.reset_counts()
    project = models.Project(name="Throttled").store(synapse_client=organiser_syn)
    assert project.id
    counts = synapse_emulator.request_counts()
    assert counts[("POST", "/repo/v1/entity")] == 3
    assert synapse_emulator.faults.pending() == []
    assert organiser_syn.findEntityId("Throttled") == project.id


def test_5xx_burst_only_hits_matching_requests(synapse_emulator, organiser_syn):
    synapse_emulator.faults.burst(status=503, count=1, method="GET", path_regex=r"/team/\d+$")
    team = organiser_syn.restPOST("/team", json.dumps({"name": "Flaky"}))
    assert synapse_emulator.faults.pending()[0]["remaining"] == 1
    assert organiser_syn.restGET(f"/team/{team['id']}")["name"] == "Flaky"
    assert synapse_emulator.request_counts()[("GET", "/repo/v1/team/{team_id}")] == 2


def test_error_body_of_an_injected_fault(synapse_emulator):
    synapse_emulator.faults.burst(status=500, count=1)
    response = requests.get(f"{synapse_emulator.repo_endpoint}/version", timeout=5)
    assert response.status_code == 500
    assert "injected" in response.json()["reason"]
    assert requests.get(f"{synapse_emulator.repo_endpoint}/version", timeout=5).status_code == 200


def test_dropped_answer_after_commit_then_retry_sees_409(synapse_emulator, organiser_syn):
    project = models.Project(name="Drop").store(synapse_client=organiser_syn)
    synapse_emulator.faults.drop_after_commit(method="POST", path_regex=r"/evaluation$")
    with pytest.raises(SynapseHTTPError) as error:
        models.Evaluation(name="Drop queue", description="d", content_source=project.id).store(
            synapse_client=organiser_syn
        )
    assert error.value.response.status_code == 409
    created = organiser_syn.restGET("/evaluation/name/Drop%20queue")
    assert created["contentSource"] == project.id
    assert synapse_emulator.request_counts()[("POST", "/repo/v1/evaluation")] == 2


def test_dropped_answer_with_the_legacy_client(synapse_emulator, organiser_syn):
    synapse_emulator.faults.drop_after_commit(method="POST", path_regex=r"/team$")
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST("/team", json.dumps({"name": "Dropped team"}))
    assert error.value.response.status_code == 409
    found = organiser_syn.restGET("/teams?fragment=Dropped")["results"]
    assert [t["name"] for t in found] == ["Dropped team"]


def test_fault_settings_are_validated(synapse_emulator):
    with pytest.raises(ValueError, match="burst status"):
        synapse_emulator.faults.burst(status=404)
    with pytest.raises(ValueError, match="count"):
        synapse_emulator.faults.drop_after_commit(count=0)
    with pytest.raises(ValueError, match="latency"):
        synapse_emulator.faults.latency(-1)


def test_control_endpoints(synapse_emulator, organiser_syn):
    base = f"{synapse_emulator.base_url}/_emulator"
    response = requests.post(
        f"{base}/faults",
        json={"burst": {"status": 502, "count": 1, "method": "GET", "path_regex": "/userProfile$"}},
        timeout=5,
    )
    assert response.json()["pending"][0]["status"] == 502
    assert requests.post(f"{base}/faults", json={"nonsense": 1}, timeout=5).status_code == 400
    organiser_syn.restGET("/userProfile")
    counts = requests.get(f"{base}/counts", timeout=5).json()
    profile_calls = [c for c in counts["counts"] if c["path"] == "/repo/v1/userProfile"]
    assert profile_calls == [{"method": "GET", "path": "/repo/v1/userProfile", "count": 3}]
    requests.delete(f"{base}/counts", timeout=5)
    assert requests.get(f"{base}/counts", timeout=5).json()["total"] == 0
    added = requests.post(f"{base}/users", json={"name": "extra", "token": "tok-x"}, timeout=5)
    assert added.json()["principalId"] == synapse_emulator.principal_id("extra")
    requests.post(f"{base}/faults", json={"latency_seconds": 0.01}, timeout=5)
    requests.delete(f"{base}/faults", timeout=5)
    assert requests.get(f"{base}/faults", timeout=5).json()["pending"] == []


def test_unhandled_requests_are_404_and_recorded(synapse_emulator, organiser_syn):
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET("/no/such/thing")
    assert error.value.response.status_code == 404
    assert synapse_emulator.unhandled_requests() == [("GET", "/repo/v1/no/such/thing")]


def test_cli_prints_base_url_first_and_serves_users(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synapse_emulator",
            "--port",
            "0",
            "--user",
            "alice=tok-alice",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        profile = requests.get(
            f"{base_url}/repo/v1/userProfile",
            headers={"Authorization": "Bearer tok-alice"},
            timeout=5,
        )
        assert profile.json()["userName"] == "alice"
        rejected = requests.get(
            f"{base_url}/repo/v1/userProfile", headers={"Authorization": "Bearer nope"}, timeout=5
        )
        assert rejected.status_code == 401
        assert rejected.json() == {"reason": "Invalid access token"}
    finally:
        stop_process(process)


def test_cli_rejects_a_malformed_user_in_one_line():
    result = run_module("synapse_emulator", "--user", "alice", timeout_s=30)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "--user must be NAME=TOKEN" in result.stderr


def test_two_emulators_are_independent():
    with (
        SynapseEmulator(users={"a": "tok-a"}) as first,
        SynapseEmulator(users={"a": "tok-a"}) as second,
    ):
        first.client("a").restPOST("/team", json.dumps({"name": "Only here"}))
        assert second.client("a").restGET("/teams?fragment=Only")["results"] == []
        assert first.base_url != second.base_url
