"""DrainGuard: the engine-facing contract (diff says "replace" when the instance ID becomes
unknown, so a delete-before-replace host deletes the guard first; settings changes never
drain), credentials and live config kept out of state, and its delete draining for real
against moto (SSM, EC2), the sandboxed host and the Synapse-compatible server."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import dill
import pulumi
import pytest

import components.drain_guard as drain_guard_module
from components.drain_guard import (
    DRAIN_TIMEOUT_CONFIG_KEY,
    FORCE_REPLACE_CONFIG_KEY,
    DrainGuard,
    DrainGuardArgs,
    DrainGuardProvider,
)
from components.sdk_internals import UNKNOWN, serialize_provider
from components.synapse import _resource
from lifecycle import DrainTimeout
from synapse_client.session import AUTH_TOKEN_CONFIG_KEY
from tests.fixtures.host import sent_commands
from tests.fixtures.synapse import (
    SubmissionQueues,
    checked,
)
from tests.fixtures.synapse import configured as configured_provider

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SYNAPSE_RETRY_ATTEMPTS = 2
"""Attempts per Synapse call (the fault tests count on it)."""

SENTINEL = "sentinel-token-8c1e"


def configured(config: dict[str, str]) -> DrainGuardProvider:
    """As the engine runs it: unpickled from state, configured with the stack config."""
    return configured_provider(DrainGuardProvider, token=None, config=config)


def inputs(**changes: Any) -> dict[str, Any]:
    base = {
        "instance_id": "i-0123456789abcdef0",
        "region": "us-east-1",
        "evaluation_ids": ["9614001", "9614002"],
        "synapse_endpoint": "http://127.0.0.1:8080",
        "drain_timeout_minutes": 120,
        "force_replace": False,
    }
    return {**base, **changes}


def test_an_unknown_instance_id_means_replace_first_so_the_drain_runs_before_the_old_host_goes():
    provider = configured({})
    olds = checked(provider, inputs())
    diff = provider.diff("guard", olds, {**olds, "instance_id": UNKNOWN})
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (
        True,
        ["instance_id"],
        True,
    )
    new_host = provider.diff("guard", olds, {**olds, "instance_id": "i-0fedcba9876543210"})
    assert new_host.replaces == ["instance_id"]


def test_settings_changes_update_in_place_and_never_drain():
    provider = configured({})
    olds = checked(provider, inputs())
    for change in (
        {"drain_timeout_minutes": 5},
        {"force_replace": True},
        {"evaluation_ids": ["9614001"]},
        {"synapse_endpoint": "https://repo-prod.prod.sagebase.org"},
    ):
        diff = provider.diff("guard", olds, checked(provider, inputs(**change)))
        assert diff.changes and diff.replaces == [], change
    assert not provider.diff("guard", olds, checked(provider, inputs())).changes
    assert (
        provider.update("guard", olds, checked(provider, inputs(drain_timeout_minutes=5))).outs[
            "drain_timeout_minutes"
        ]
        == 5
    )


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"instance_id": "host-1"}, "instance_id"),
        ({"region": "Virginia"}, "region"),
        ({"evaluation_ids": []}, "evaluation_ids"),
        ({"evaluation_ids": ["syn1"]}, "evaluation_ids"),
        ({"drain_timeout_minutes": -1}, "drain_timeout_minutes"),
    ],
)
def test_bad_inputs_are_named(change, prop):
    result = configured({}).check({}, inputs(**change))
    assert [f.property for f in result.failures] == [prop]


def test_neither_the_token_nor_the_live_config_is_pickled_into_state():
    provider = configured(
        {
            AUTH_TOKEN_CONFIG_KEY: SENTINEL,
            FORCE_REPLACE_CONFIG_KEY: "true",
            "aws:profile": "profile-7f3a",
        }
    )
    assert provider.settings(inputs()) == (True, 120)
    blob = base64.b64decode(serialize_provider(provider))
    assert SENTINEL.encode() not in blob and b"profile-7f3a" not in blob
    restored = dill.loads(blob)
    assert restored.settings(inputs()) == (False, 120)


@pytest.mark.parametrize(
    ("config", "state", "expected"),
    [
        ({}, {"force_replace": True, "drain_timeout_minutes": 7}, (True, 7)),
        ({FORCE_REPLACE_CONFIG_KEY: "false"}, {"force_replace": True}, (False, 120)),
        ({DRAIN_TIMEOUT_CONFIG_KEY: "0"}, {}, (False, 0)),
        ({DRAIN_TIMEOUT_CONFIG_KEY: "soon", FORCE_REPLACE_CONFIG_KEY: "maybe"}, {}, (False, 120)),
    ],
)
def test_the_stack_config_at_delete_time_wins_over_the_recorded_settings(config, state, expected):
    assert configured(config).settings(inputs(**state)) == expected


def test_every_args_field_is_documented():
    for spec in dataclasses.fields(DrainGuardArgs):
        assert spec.metadata.get("description"), spec.name


@pulumi.runtime.test
def test_the_resource_is_replaced_on_a_new_instance_and_keeps_the_callers_options(monkeypatch):
    seen: dict[str, Any] = {}
    original = _resource.SynapseResource.__init__

    def record(self, name, opts=None, **inputs):  # type: ignore[no-untyped-def]
        seen.update(provider=self.PROVIDER(), props=self.inputs_of(name, inputs), opts=opts)
        original(self, name, opts, **inputs)

    monkeypatch.setattr(_resource.SynapseResource, "__init__", record)

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):  # type: ignore[no-untyped-def]
            seen["typ"] = args.typ
            return "guard-id", dict(args.inputs)

        def call(self, args):  # type: ignore[no-untyped-def]
            return {}, None

    pulumi.runtime.set_mocks(Mocks(), project="challenge", stack="dev", preview=False)
    other = pulumi.ComponentResource("test:index:Site", "site")
    guard = DrainGuard(
        "guard",
        DrainGuardArgs(
            instance_id=pulumi.Output.from_input("i-0123456789abcdef0"),
            region="us-east-1",
            evaluation_ids=["9614001"],
            synapse_endpoint="http://127.0.0.1:8080",
        ),
        opts=pulumi.ResourceOptions(depends_on=[other]),
    )

    def check(_: Any) -> None:
        opts = seen["opts"]
        assert seen["typ"] == "pulumi-python:dynamic/lifecycle:DrainGuard"
        assert opts.replace_on_changes == ["instance_id"]
        assert opts.delete_before_replace is True
        assert opts.depends_on == [other]
        assert isinstance(seen["provider"], DrainGuardProvider)
        assert seen["props"]["drain_timeout_minutes"] == 120

    return guard.id.apply(check)


# --- delete drains for real ----------------------------------------------------------------------


@pytest.fixture
def guard_state(synapse_emulator, aws, instance_id, ssm_runs_in, monkeypatch) -> dict[str, Any]:
    monkeypatch.setattr(drain_guard_module, "POLL_SECONDS", 1)
    challenge = SubmissionQueues(synapse_emulator)

    def create(**changes: Any) -> dict[str, Any]:
        provider = configured({})
        props = checked(
            provider,
            inputs(
                instance_id=instance_id,
                evaluation_ids=challenge.queues,
                synapse_endpoint=synapse_emulator.base_url,
                **changes,
            ),
        )
        created = provider.create(props)
        return {"challenge": challenge, "outs": created.outs, "id": created.id, "aws": aws}

    return {**create(), "create": create}


def delete_with(state: dict[str, Any], config: dict[str, str]) -> None:
    token = state["challenge"].emu.token("organiser")
    provider = configured({AUTH_TOKEN_CONFIG_KEY: token, **config})
    provider.delete(state["id"], dict(state["outs"]))


def test_delete_with_nothing_running_drains_at_once(guard_state, ssm_runs_in, capsys):
    delete_with(guard_state, {})
    err = capsys.readouterr().err
    instance = guard_state["outs"]["instance_id"]
    assert f"drain {instance}: host {instance} stopped taking new submissions" in err
    assert f"drain {instance}: drained: no submission in progress on 2 queue(s)" in err
    assert ssm_runs_in.accept_value() == "'false'"
    assert [c["Comment"] for c in sent_commands(guard_state["aws"])] == [
        "challenge: stop new submissions"
    ]


def test_delete_waits_for_the_running_submission_to_finish(
    guard_state, ssm_runs_in, capsys, monkeypatch
):
    challenge = guard_state["challenge"]
    running = challenge.submit(challenge.queues[0], "EVALUATION_IN_PROGRESS")
    real_drain = drain_guard_module.drain_host

    def drain_host(**kwargs: Any) -> Any:
        """The orchestrator finishes the submission once the drain has reported waiting."""
        wait = kwargs["wait"]

        def progress(message: str) -> None:
            wait.progress(message)
            if "waiting for 1 submission(s)" in message:
                challenge.set_status(running, "ACCEPTED")

        return real_drain(**{**kwargs, "wait": dataclasses.replace(wait, progress=progress)})

    monkeypatch.setattr(drain_guard_module, "drain_host", drain_host)
    delete_with(guard_state, {})
    err = capsys.readouterr().err
    assert f"waiting for 1 submission(s) in progress: {running}" in err
    assert "drained: no submission in progress" in err


def test_delete_fails_on_timeout_naming_the_submission_and_resumes_the_host(
    guard_state, ssm_runs_in
):
    challenge = guard_state["challenge"]
    running = challenge.submit(challenge.queues[1], "EVALUATION_IN_PROGRESS")
    with pytest.raises(DrainTimeout) as error:
        delete_with(guard_state, {DRAIN_TIMEOUT_CONFIG_KEY: "0"})
    assert f"{running} (queue {challenge.queues[1]})" in str(error.value)
    assert ssm_runs_in.accept_value() == "''"


def test_force_replace_in_the_stack_config_lets_the_delete_go_on(guard_state, ssm_runs_in, capsys):
    challenge = guard_state["challenge"]
    running = challenge.submit(challenge.queues[1], "EVALUATION_IN_PROGRESS")
    delete_with(guard_state, {DRAIN_TIMEOUT_CONFIG_KEY: "0", FORCE_REPLACE_CONFIG_KEY: "true"})
    err = capsys.readouterr().err
    assert "(forceReplace: will go on after that)" in err
    assert "WARNING: forceReplace is set: going on with 1 submission(s)" in err and running in err
    assert ssm_runs_in.accept_value() == "'false'"


def test_a_validation_hosts_guard_waits_on_open_not_on_in_progress(
    guard_state, ssm_runs_in, capsys
):
    """The stage the guard was created with reaches the drain from state (EvaluationUtils: a
    VALIDATION orchestrator holds its submissions OPEN), so an in-progress one of the execution
    host does not hold it, and an OPEN one times it out naming that submission."""
    challenge = guard_state["challenge"]
    validating = guard_state["create"](in_progress_status="OPEN")
    assert validating["outs"]["in_progress_status"] == "OPEN"
    challenge.submit(challenge.queues[0], "EVALUATION_IN_PROGRESS")
    delete_with(validating, {DRAIN_TIMEOUT_CONFIG_KEY: "0"})
    assert "drained: no submission in progress on 2 queue(s)" in capsys.readouterr().err
    open_one = challenge.submit(challenge.queues[1], "OPEN")
    with pytest.raises(DrainTimeout) as error:
        delete_with(validating, {DRAIN_TIMEOUT_CONFIG_KEY: "0"})
    assert f"{open_one} (queue {challenge.queues[1]})" in str(error.value)
    assert "OPEN" in str(error.value)
