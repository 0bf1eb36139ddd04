"""ChallengeSite under the Pulumi SDK's mocks: the resources it registers, their inputs and
wiring, its outputs, that no credential reaches any input, and that bad settings fail first.

The same site driven through the real providers against the Synapse-compatible server is in
test_challenge_site_lifecycle.py.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pulumi
import pytest

from components.challenge_site import ChallengeSite, ChallengeSiteArgs, QueueSpec, SubmissionRound
from components.synapse import Folder
from components.synapse._resource import object_type, registered_types, type_of_token
from components.synapse.site_plan import plan_site, resolve_inputs, retained_on_destroy
from components.synapse.submission_view import SubmissionView
from synapse_client import AUTH_TOKEN_ENV_VAR, SynapseProvisioningError
from tests.fixtures.mocks import RecordingMocks, install_mocks
from tests.fixtures.synapse import TEAM_ROLES, team_names

SENTINEL_TOKEN = "sentinel-synapse-token-4f1d2c"

ARGS = ChallengeSiteArgs(
    name="Demo Challenge",
    queues=(
        QueueSpec(
            "Demo Task 1",
            "Predict the thing",
            key="task-1",
            rounds=(
                SubmissionRound(
                    "2030-01-01T00:00:00Z", "2030-03-01T00:00:00Z", daily_submissions=2
                ),
            ),
        ),
        QueueSpec("Demo Writeup"),
    ),
    workflow_archive_url="https://github.com/org/demo-workflow/archive/refs/heads/main.zip",
    root_template="demo-workflow-main/workflow.cwl",
    orchestrator_synapse_username="demo-orchestrator",
    synapse_endpoint="http://127.0.0.1:8080",
)


@pytest.fixture
def mocks(monkeypatch: pytest.MonkeyPatch) -> RecordingMocks:
    monkeypatch.setenv(AUTH_TOKEN_ENV_VAR, SENTINEL_TOKEN)
    return install_mocks(SENTINEL_TOKEN, {"Permissions": {"grantee_id": "3401234"}})


def by_name(mocks: RecordingMocks) -> dict[str, pulumi.runtime.MockResourceArgs]:
    return {r.name: r for r in mocks.resources}


@pulumi.runtime.test
def test_registers_one_resource_per_planned_object_with_the_planned_inputs(mocks):
    site = ChallengeSite("site", ARGS)
    plan = plan_site(ARGS)

    def check(_: Any) -> None:
        registered = by_name(mocks)
        custom = {n: r for n, r in registered.items() if r.custom}
        assert set(custom) == {f"site-{p.key}" for p in plan}
        for planned in plan:
            resource = custom[f"site-{planned.key}"]
            assert resource.typ == planned.kind.TYPE_TOKEN, resource.name
            for key, value in planned.inputs.items():
                if not hasattr(value, "resource"):
                    assert resource.inputs[key] == value, f"{resource.name}.{key}"
        component = [r for r in mocks.resources if not r.custom]
        assert [(r.typ, r.name) for r in component] == [("challenge:index:ChallengeSite", "site")]

    return pulumi.Output.all(*(r.id for r in site.resources.values())).apply(check)


@pulumi.runtime.test
def test_wiring_between_objects_follows_the_wiki(mocks):
    site = ChallengeSite("site", ARGS)

    def check(_: Any) -> None:
        r = {name: args.inputs for name, args in by_name(mocks).items()}
        assert r["site-live-project"]["name"] == "Demo Challenge"
        assert r["site-staging-project"]["name"] == "Demo Challenge - staging"
        teams = {n: r[f"site-team-{n}"] for n in TEAM_ROLES}
        assert {n: t["name"] for n, t in teams.items()} == team_names("Demo Challenge")
        assert {n for n, t in teams.items() if t["can_public_join"]} == {
            "participants",
            "preregistrants",
        }
        assert r["site-challenge"]["project_id"] == "site-live-project-id"
        assert r["site-challenge"]["participant_team_id"] == "site-team-participants-id"
        assert r["site-logs-folder"] == {
            **r["site-logs-folder"],
            "name": "Logs",
            "parent_id": "site-live-project-id",
        }
        wf = r["site-workflow-file"]
        assert wf["parent_id"] == "site-staging-project-id" and wf["name"] == "main.zip"
        assert wf["annotations"] == {"ROOT_TEMPLATE": "demo-workflow-main/workflow.cwl"}
        assert r["site-queue-task-1"]["content_source"] == "site-live-project-id"
        assert r["site-queue-task-1"]["rounds"] == [
            {"start": "2030-01-01T00:00:00Z", "end": "2030-03-01T00:00:00Z", "daily_submissions": 2}
        ]
        assert r["site-queue-demo-writeup"]["name"] == "Demo Writeup"
        grants = {
            (
                g["entity_id"] if "entity_id" in g else g["evaluation_id"],
                g.get("principal_id") or g.get("principal_username"),
                g["access"],
            )
            for n, g in r.items()
            if n.endswith("-access")
        }
        assert grants == {
            ("site-live-project-id", "site-team-admin-id", "admin"),
            ("site-live-project-id", "site-team-organizers-id", "moderate"),
            ("site-staging-project-id", "site-team-admin-id", "admin"),
            ("site-staging-project-id", "site-team-organizers-id", "edit"),
            ("site-logs-folder-id", "demo-orchestrator", "edit"),
            ("site-workflow-file-id", "demo-orchestrator", "download"),
            ("site-queue-task-1-id", "site-team-admin-id", "admin"),
            ("site-queue-task-1-id", "demo-orchestrator", "score"),
            ("site-queue-demo-writeup-id", "site-team-admin-id", "admin"),
            ("site-queue-demo-writeup-id", "demo-orchestrator", "score"),
        }, "participants get nothing before launch"
        assert r["site-live-project"]["owner_key"] == "challenge/dev/site-live-project"
        assert all(
            v["synapse_endpoint"] == "http://127.0.0.1:8080" for n, v in r.items() if n != "site"
        )

    return pulumi.Output.all(*(x.id for x in site.resources.values())).apply(check)


@pulumi.runtime.test
def test_data_is_retained_by_default_and_deletable_on_request(mocks):
    keep = ChallengeSite("keep", ARGS)
    drop = ChallengeSite(
        "drop", dataclasses.replace(ARGS, name="Other", delete_data_on_destroy=True)
    )
    ids = [r.id for site in (keep, drop) for r in site.resources.values()]

    def check(_: Any) -> None:
        r = {a.name: a.inputs for a in mocks.resources if a.custom}
        kept = {
            n.removeprefix("keep-")
            for n, v in r.items()
            if n.startswith("keep-") and v["retain_on_delete"]
        }
        all_keep = {n.removeprefix("keep-") for n in r if n.startswith("keep-")}
        assert all_keep - kept == {"workflow-file", "workflow-file-orchestrator-access"}
        assert not any(v["retain_on_delete"] for n, v in r.items() if n.startswith("drop-"))

        assert drop.retained_on_destroy == []

    return pulumi.Output.all(*ids).apply(check)


@pulumi.runtime.test
def test_outputs_feed_the_orchestrator_env(mocks):
    site = ChallengeSite("site", ARGS)

    def check(values: list[Any]) -> None:
        templates, logs, url, queue_ids, teams, principal = values
        assert templates == {
            "site-queue-task-1-id": "site-workflow-file-id",
            "site-queue-demo-writeup-id": "site-workflow-file-id",
        }
        assert logs == "site-logs-folder-id"
        assert url == "http://127.0.0.1:8080/Synapse:site-live-project-id"
        assert queue_ids == {
            "task-1": "site-queue-task-1-id",
            "demo-writeup": "site-queue-demo-writeup-id",
        }
        assert teams["admin"] == "site-team-admin-id"
        assert principal == "3401234"
        assert site.retained_on_destroy == retained_on_destroy(ARGS, plan_site(ARGS))
        assert "Project Demo Challenge" in site.retained_on_destroy

    return pulumi.Output.all(
        site.evaluation_templates,
        site.logs_folder_id,
        site.live_site_url,
        site.queue_ids,
        site.team_ids,
        site.orchestrator_principal_id,
    ).apply(check)


@pulumi.runtime.test
def test_existing_teams_are_referenced_not_created(mocks):
    args = dataclasses.replace(
        ARGS, existing_team_ids={"participants": "3333", "organizers": "4444"}
    )
    site = ChallengeSite("site", args)

    def check(values: list[Any]) -> None:
        teams = values[0]
        r = by_name(mocks)
        assert "site-team-participants" not in r and "site-team-organizers" not in r
        assert "site-team-admin" in r
        assert r["site-challenge"].inputs["participant_team_id"] == "3333"
        assert r["site-live-project-organizers-access"].inputs["principal_id"] == "4444"
        assert teams["participants"] == "3333" and teams["organizers"] == "4444"

    ids = [r.id for r in site.resources.values()]
    return pulumi.Output.all(site.team_ids, *ids).apply(check)


@pulumi.runtime.test
def test_no_credential_in_any_input_or_the_pickled_providers(mocks):
    site = ChallengeSite("site", ARGS)

    def check(_: Any) -> None:
        assert mocks.resources
        for resource in mocks.resources:
            blob = resource.inputs.get("__provider")
            if isinstance(blob, dict):  # the serialized provider is a secret
                blob = blob["value"]
            plain = json.dumps({k: v for k, v in resource.inputs.items() if k != "__provider"})
            assert SENTINEL_TOKEN not in plain, resource.name
            if resource.custom:
                assert isinstance(blob, str), resource.name
                assert SENTINEL_TOKEN.encode() not in base64.b64decode(blob), resource.name
            assert "auth_token" not in plain and "synapseAuthToken" not in plain

    return pulumi.Output.all(*(r.id for r in site.resources.values())).apply(check)


# ----- bad settings fail before anything is registered ----------------------------------------


@pytest.mark.parametrize(
    ("change", "setting", "words"),
    [
        (
            {"workflow_archive_url": "http://github.com/o/r/archive/main.zip"},
            "workflow_archive_url",
            "https",
        ),
        (
            {"workflow_archive_url": "https://github.com/o/r/archive/main.tar.gz"},
            "workflow_archive_url",
            ".zip",
        ),
        ({"root_template": " "}, "root_template", "entry file"),
        ({"name": ""}, "name", "non-empty"),
        ({"name": "Demo: the sequel"}, "name", "may contain only letters"),
        (
            {"workflow_archive_url": "https://example.org/a/v1%3A2.zip"},
            "workflow_archive_url",
            "file name may contain only",
        ),
        ({"queues": ()}, "queues", "at least one"),
        ({"queues": (QueueSpec("A", key="x"), QueueSpec("B", key="x"))}, "queues[1].key", "unique"),
        (
            {"queues": (QueueSpec("Same"), QueueSpec("same", key="other"))},
            "queues[1].name",
            "two queues",
        ),
        ({"queues": (QueueSpec("A", key="Bad Key"),)}, "queues[0].key", "lower-case"),
        (
            {
                "queues": (
                    QueueSpec(
                        "A", rounds=(SubmissionRound("2030-02-01T00:00Z", "2030-01-01T00:00Z"),)
                    ),
                )
            },
            "queues[0].rounds",
            "before it starts",
        ),
        ({"existing_team_ids": {"judges": "1"}}, "existing_team_ids", "unknown role 'judges'"),
        ({"existing_team_ids": {"admin": "abc"}}, "existing_team_ids.admin", "numeric"),
        (
            {"existing_team_ids": {"participants": "12", "admin": "12"}},
            "existing_team_ids",
            "participants and admin name the same team 12",
        ),
        (
            {"workflow_archive_url": "https://u:ghp_secret@github.com/o/r/archive/main.zip"},
            "workflow_archive_url",
            "has user info",
        ),
        ({"root_template": "w/$(reboot).cwl"}, "root_template", "must be a relative path"),
        ({"synapse_endpoint": "http://synapse.example.org"}, "synapse_endpoint", "loopback"),
        ({"orchestrator_synapse_username": ""}, "orchestrator_synapse_username", "user name"),
    ],
)
def test_bad_setting_is_named_before_any_resource_exists(mocks, change, setting, words):
    with pytest.raises(SynapseProvisioningError) as error:
        ChallengeSite("site", dataclasses.replace(ARGS, **change))
    assert f"`{setting}`" in str(error.value) and words in str(error.value)
    assert mocks.resources == []


def test_queue_key_defaults_to_a_slug_of_the_name():
    assert QueueSpec("Demo Task #2 (final)").stable_key == "demo-task-2-final"
    assert QueueSpec("Renamed", key="task-2").stable_key == "task-2"


def test_every_args_field_is_documented():
    import inspect

    from components.synapse import site_plan

    source = inspect.getsource(site_plan)
    for cls in (ChallengeSiteArgs, QueueSpec, SubmissionRound):
        for f in dataclasses.fields(cls):
            declaration = source.index(f"    {f.name}: ", source.index(f"class {cls.__name__}"))
            following = source[declaration:].split("\n", 2)
            assert following[1].strip().startswith('"""') or following[2].strip().startswith(
                '"""'
            ), f"{cls.__name__}.{f.name} has no docstring"


def test_folder_and_file_grants_wait_for_the_project_grants_they_copy():
    plan = {p.key: p for p in plan_site(ARGS)}
    assert {"live-project-admin-access", "live-project-organizers-access"} <= plan[
        "logs-folder-orchestrator-access"
    ].dependencies()
    assert {"staging-project-admin-access", "staging-project-organizers-access"} <= plan[
        "workflow-file-orchestrator-access"
    ].dependencies()
    assert plan["challenge"].dependencies() == {"live-project", "team-participants"}


def test_submission_view_is_planned_over_every_queue_only_when_asked():
    assert "submission-view" not in {p.key for p in plan_site(ARGS)}
    plan = {p.key: p for p in plan_site(dataclasses.replace(ARGS, submission_view=True))}
    view = plan["submission-view"]
    assert view.kind is SubmissionView
    assert view.dependencies() == {"staging-project", "queue-task-1", "queue-demo-writeup"}
    resolved = resolve_inputs(view, lambda ref: f"<{ref.resource}>")
    assert resolved["scope_ids"] == ["<queue-task-1>", "<queue-demo-writeup>"]
    assert resolved["parent_id"] == "<staging-project>"


def test_every_object_type_is_registered_once_under_its_own_type_token():
    types = registered_types()
    assert set(types) >= {p.kind.__name__ for p in plan_site(ARGS)} | {"SubmissionView"}
    for name, cls in types.items():
        assert object_type(name) is cls is object_type(cls.TYPE_TOKEN)
        assert f"pulumi-python:dynamic/synapse:{name}" == cls.TYPE_TOKEN
    assert type_of_token("pulumi-python:dynamic/lifecycle:DrainGuard") is None


@pulumi.runtime.test
def test_a_misspelt_or_missing_input_is_a_type_error_naming_it(mocks):
    with pytest.raises(TypeError, match=r"Folder has no input \['parent'\]"):
        Folder("f", name="Logs", parent="syn1")
    with pytest.raises(TypeError, match=r"Folder needs the inputs \['parent_id'\]"):
        Folder("f", name="Logs")
    assert mocks.resources == []
