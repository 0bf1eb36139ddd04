"""ChallengeLaunch under the Pulumi SDK's mocks: what each phase registers, with which inputs,
and that bad settings fail before any resource exists. The same plan driven through the real
providers against the Synapse-compatible server is in test_challenge_launch_synapse.py."""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pytest

from components.challenge_launch import ChallengeLaunch, ChallengeLaunchArgs, plan_launch
from synapse_client.access import AUTHENTICATED_USERS_PRINCIPAL_ID, PUBLIC_PRINCIPAL_ID
from synapse_client.errors import SynapseProvisioningError
from tests.fixtures.mocks import RecordingMocks, install_mocks

DYNAMIC = "pulumi-python:dynamic/synapse:"
QUEUES = {"task-1": "9614001", "task-2": "9614002"}


@pytest.fixture
def mocks() -> RecordingMocks:
    wiki = {"page_map": {"1": "2"}, "unmatched_staging_pages": ["Leaderboard"]}
    return install_mocks("unused", {"WikiCopy": wiki})


def args(phase: str, **changes: Any) -> ChallengeLaunchArgs:
    base = ChallengeLaunchArgs(
        phase=phase,
        queue_ids=QUEUES,
        participants_team_id="3412345",
        live_project_id="syn100",
        staging_project_id="syn200",
        synapse_endpoint="http://127.0.0.1:8080/",
    )
    return dataclasses.replace(base, **changes)


@pulumi.runtime.test
def test_live_grants_submit_on_every_queue_publishes_the_site_and_copies_the_wiki(mocks):
    team = pulumi.Output.from_input("3412345")
    launch = ChallengeLaunch("launch", args("live", participants_team_id=team))

    def check(values: list[Any]) -> None:
        open_queues, page_map, unmatched = values[:3]
        custom = {r.name: r for r in mocks.resources if r.custom}
        assert {n: r.typ.removeprefix(DYNAMIC) for n, r in custom.items()} == {
            "launch-submit-task-1": "EvaluationPermissions",
            "launch-submit-task-2": "EvaluationPermissions",
            "launch-live-project-public-view": "EntityPermissions",
            "launch-live-project-registered-view": "EntityPermissions",
            "launch-wiki-copy": "WikiCopy",
        }
        for key, queue in QUEUES.items():
            grant = custom[f"launch-submit-{key}"].inputs
            assert (grant["evaluation_id"], grant["principal_id"], grant["access"]) == (
                queue,
                "3412345",
                "submit",
            )
            assert grant["retain_on_delete"] is False
            assert grant["synapse_endpoint"] == "http://127.0.0.1:8080"
        views = {
            custom[f"launch-live-project-{w}-view"].inputs["principal_id"]
            for w in ("public", "registered")
        }
        assert views == {PUBLIC_PRINCIPAL_ID, AUTHENTICATED_USERS_PRINCIPAL_ID}
        for who in ("public", "registered"):
            view = custom[f"launch-live-project-{who}-view"].inputs
            assert (view["entity_id"], view["access"]) == ("syn100", "view")
        wiki = custom["launch-wiki-copy"].inputs
        assert (wiki["staging_project_id"], wiki["live_project_id"]) == ("syn200", "syn100")
        components = [(r.typ, r.name) for r in mocks.resources if not r.custom]
        assert components == [("challenge:index:ChallengeLaunch", "launch")]
        assert open_queues == ["9614001", "9614002"]
        assert (page_map, unmatched) == ({"1": "2"}, ["Leaderboard"])

    # Waiting on every child's ID too: each must be registered before `check` reads the mocks.
    return pulumi.Output.all(
        launch.open_queue_ids,
        launch.wiki_page_map,
        launch.unmatched_staging_pages,
        *(child.id for child in launch.resources.values()),
    ).apply(check)


@pulumi.runtime.test
def test_staging_registers_nothing_but_the_component(mocks):
    launch = ChallengeLaunch("launch", args("staging"))

    def check(values: list[Any]) -> None:
        urn, phase, open_queues, page_map = values
        assert urn.endswith("challenge:index:ChallengeLaunch::launch")
        assert [(r.typ, r.custom) for r in mocks.resources] == [
            ("challenge:index:ChallengeLaunch", False)
        ]
        assert (phase, open_queues, page_map) == ("staging", [], None)

    return pulumi.Output.all(
        launch.urn, launch.phase, launch.open_queue_ids, launch.wiki_page_map
    ).apply(check)


def test_live_always_publishes_and_copies_the_wiki_and_staging_plans_nothing():
    keys = [p.key for p in plan_launch(args("live"))]
    assert keys == [
        "submit-task-1",
        "submit-task-2",
        "live-project-public-view",
        "live-project-registered-view",
        "wiki-copy",
    ]
    assert plan_launch(args("staging")) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phase": "launched"}, "`phase` must be one of ['staging', 'live'], got 'launched'"),
        ({"queue_ids": {}}, "`queue_ids` must name at least one evaluation queue"),
        ({"queue_ids": {"Task 1": "1"}}, "key 'Task 1' must be lower-case"),
        ({"synapse_endpoint": "http://synapse.example.org"}, "`synapse_endpoint` plain http"),
    ],
)
def test_bad_settings_fail_before_any_resource(mocks, changes, message):
    with pytest.raises(SynapseProvisioningError) as error:
        ChallengeLaunch("launch", args(**{"phase": "live", **changes}))
    assert message in str(error.value)
    assert mocks.resources == []


def test_every_args_field_is_documented():
    for spec in dataclasses.fields(ChallengeLaunchArgs):
        assert spec.metadata.get("description"), spec.name
