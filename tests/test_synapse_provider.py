"""The Synapse dynamic providers against the Synapse-compatible server, one object type at a time.

Each provider is called the way the Pulumi engine calls it (check, create, read, diff, update,
delete), after a dill round trip and ``configure`` with the stack config. Drift is made with
synapseclient as another tool would, behind the provider's back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dill
import pytest
import synapseclient
from pulumi.dynamic import Config, ConfigureRequest

from components.sdk_internals import serialize_provider
from components.synapse.challenge import ChallengeProvider
from components.synapse.common import SynapseProvider
from components.synapse.entity_permissions import EntityPermissionsProvider
from components.synapse.evaluation_permissions import EvaluationPermissionsProvider
from components.synapse.evaluation_queue import EvaluationQueueProvider
from components.synapse.external_link_file import ExternalLinkFileProvider
from components.synapse.folder import FolderProvider
from components.synapse.project import ProjectProvider
from components.synapse.team import TeamProvider
from synapse_client import DEFAULT_SYNAPSE_ENDPOINT, AccessLevel, open_session, split_owner_marker
from synapse_client.access import ENTITY_GRANT, EVALUATION_GRANT
from synapse_client.errors import SynapseProvisioningError
from synapse_client.session import AUTH_TOKEN_CONFIG_KEY, AUTH_TOKEN_ENV_VAR
from synapse_emulator import SynapseEmulator
from tests.fixtures.synapse import (
    ORGANISER_TOKEN,
    checked,
    configured,
    entry,
    gone,
    make,
    project,
    queue,
    rest,
    team,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ----- one case per object type --------------------------------------------------------------


@dataclass
class Case:
    """How to exercise one provider: inputs, an in-place change, drift and server views."""

    provider: type[SynapseProvider]
    inputs: Callable[[SynapseEmulator], dict[str, Any]]
    change: dict[str, Any]
    """An update Synapse applies in place."""
    observe: Callable[[synapseclient.Synapse, str, dict[str, Any]], dict[str, Any]]
    """The server's view of the changed properties, in input form."""
    tamper: Callable[[synapseclient.Synapse, str], dict[str, Any]]
    """Change the object behind the provider's back; returns the drifted input values."""
    exists: Callable[[synapseclient.Synapse, str], bool]


def _rename_entity(syn: synapseclient.Synapse, id_: str) -> dict[str, Any]:
    entity = rest(syn, "GET", f"/entity/{id_}")
    rest(syn, "PUT", f"/entity/{id_}", {**entity, "name": "renamed by hand"})
    return {"name": "renamed by hand"}


def _entity_view(syn: synapseclient.Synapse, id_: str, _props: dict[str, Any]) -> dict[str, Any]:
    entity = rest(syn, "GET", f"/entity/{id_}")
    return {
        "name": entity["name"],
        "description": split_owner_marker(entity["description"])[0],
    }


def _entity_exists(syn: synapseclient.Synapse, id_: str) -> bool:
    return not gone(syn, f"/entity/{id_}")


def _team_view(syn: synapseclient.Synapse, id_: str, _props: dict[str, Any]) -> dict[str, Any]:
    found = rest(syn, "GET", f"/team/{id_}")
    return {"name": found["name"], "can_public_join": found["canPublicJoin"]}


def _rename_team(syn: synapseclient.Synapse, id_: str) -> dict[str, Any]:
    found = rest(syn, "GET", f"/team/{id_}")
    rest(syn, "PUT", "/team", {**found, "name": "Renamed Team"})
    return {"name": "Renamed Team"}


def _queue_view(syn: synapseclient.Synapse, id_: str, _props: dict[str, Any]) -> dict[str, Any]:
    found = rest(syn, "GET", f"/evaluation/{id_}")
    rounds = rest(syn, "POST", f"/evaluation/{id_}/round/list", {})["page"]
    limits = [{lim["limitType"]: lim["maximumSubmissions"] for lim in r["limits"]} for r in rounds]
    return {"name": found["name"], "rounds": limits}


def _rename_queue(syn: synapseclient.Synapse, id_: str) -> dict[str, Any]:
    found = rest(syn, "GET", f"/evaluation/{id_}")
    rest(syn, "PUT", f"/evaluation/{id_}", {**found, "name": "Renamed Queue"})
    return {"name": "Renamed Queue"}


def _challenge_view(syn: synapseclient.Synapse, id_: str, _props: dict[str, Any]) -> dict[str, Any]:
    return {"participant_team_id": str(rest(syn, "GET", f"/challenge/{id_}")["participantTeamId"])}


def _retarget_challenge(syn: synapseclient.Synapse, id_: str) -> dict[str, Any]:
    other = rest(syn, "POST", "/team", {"name": "Hand-made team"})
    found = rest(syn, "GET", f"/challenge/{id_}")
    rest(syn, "PUT", f"/challenge/{id_}", {**found, "participantTeamId": other["id"]})
    return {"participant_team_id": str(other["id"])}


def _file_view(syn: synapseclient.Synapse, id_: str, _props: dict[str, Any]) -> dict[str, Any]:
    entity = rest(syn, "GET", f"/entity/{id_}")
    handle = rest(
        syn, "GET", f"/fileHandle/{entity['dataFileHandleId']}", endpoint=syn.fileHandleEndpoint
    )
    annotations = rest(syn, "GET", f"/entity/{id_}/annotations2")["annotations"]
    return {
        "external_url": handle["externalURL"],
        "annotations": {k: v["value"] for k, v in annotations.items()},
    }


def _reannotate(syn: synapseclient.Synapse, id_: str) -> dict[str, Any]:
    current = rest(syn, "GET", f"/entity/{id_}/annotations2")
    current["annotations"]["ROOT_TEMPLATE"] = {"type": "STRING", "value": ["hand/edited.cwl"]}
    rest(syn, "PUT", f"/entity/{id_}/annotations2", current)
    return {"annotations": {"ROOT_TEMPLATE": ["hand/edited.cwl"]}}


def _acl_view(kind: str) -> Callable[[synapseclient.Synapse, str, dict[str, Any]], dict[str, Any]]:
    def view(syn: synapseclient.Synapse, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        target, principal = id_.split("/")
        acl = rest(syn, "GET", f"/{kind}/{target}/acl")
        table = ENTITY_GRANT.levels if kind == "entity" else EVALUATION_GRANT.levels
        found = entry(acl, principal)
        return {"access": next(lvl.value for lvl, t in table.items() if t == found)}

    return view


def _acl_tamper(
    kind: str, types: list[str], drifted: str
) -> Callable[[synapseclient.Synapse, str], dict[str, Any]]:
    def tamper(syn: synapseclient.Synapse, id_: str) -> dict[str, Any]:
        target, principal = id_.split("/")
        acl = rest(syn, "GET", f"/{kind}/{target}/acl")
        for item in acl["resourceAccess"]:
            if str(item["principalId"]) == principal:
                item["accessType"] = types
        rest(syn, "PUT", f"/{kind}/{target}/acl" if kind == "entity" else "/evaluation/acl", acl)
        return {"access": drifted}

    return tamper


def _acl_exists(kind: str) -> Callable[[synapseclient.Synapse, str], bool]:
    def exists(syn: synapseclient.Synapse, id_: str) -> bool:
        target, principal = id_.split("/")
        try:
            return entry(rest(syn, "GET", f"/{kind}/{target}/acl"), principal) is not None
        except synapseclient.core.exceptions.SynapseHTTPError:
            return False

    return exists


CASES = {
    "project": Case(
        ProjectProvider,
        lambda emu: {"name": "Site", "description": "the site", "owner_key": "t/site"},
        {"name": "Site renamed", "description": "new words"},
        _entity_view,
        _rename_entity,
        _entity_exists,
    ),
    "folder": Case(
        FolderProvider,
        lambda emu: {"name": "Logs", "parent_id": project(emu), "owner_key": "t/logs"},
        {"name": "Logs 2", "description": "where logs go"},
        _entity_view,
        _rename_entity,
        _entity_exists,
    ),
    "team": Case(
        TeamProvider,
        lambda emu: {"name": "Site Participants", "can_public_join": True, "owner_key": "t/p"},
        {"name": "Site Solvers", "can_public_join": False},
        _team_view,
        _rename_team,
        lambda syn, id_: not gone(syn, f"/team/{id_}"),
    ),
    "challenge": Case(
        ChallengeProvider,
        lambda emu: {"project_id": project(emu), "participant_team_id": team(emu)},
        {},  # filled in the test: another team
        _challenge_view,
        _retarget_challenge,
        lambda syn, id_: not gone(syn, f"/challenge/{id_}"),
    ),
    "evaluation_queue": Case(
        EvaluationQueueProvider,
        lambda emu: {
            "name": "Task 1",
            "content_source": project(emu),
            "owner_key": "t/q",
            "rounds": [
                {
                    "start": "2030-01-01T00:00:00Z",
                    "end": "2030-02-01T00:00:00Z",
                    "daily_submissions": 2,
                }
            ],
        },
        {
            "name": "Task One",
            "rounds": [
                {
                    "start": "2030-01-01T00:00:00Z",
                    "end": "2030-02-01T00:00:00Z",
                    "daily_submissions": 3,
                },
                {
                    "start": "2030-03-01T00:00:00Z",
                    "end": "2030-04-01T00:00:00Z",
                    "total_submissions": 1,
                },
            ],
        },
        _queue_view,
        _rename_queue,
        lambda syn, id_: not gone(syn, f"/evaluation/{id_}"),
    ),
    "external_link_file": Case(
        ExternalLinkFileProvider,
        lambda emu: {
            "name": "workflow.zip",
            "parent_id": project(emu),
            "external_url": "https://example.org/v1/workflow.zip",
            "annotations": {"ROOT_TEMPLATE": "wf-main/main.cwl"},
            "owner_key": "t/wf",
        },
        {
            "external_url": "https://example.org/v2/workflow.zip",
            "annotations": {"ROOT_TEMPLATE": "wf-main/v2.cwl"},
        },
        _file_view,
        _reannotate,
        _entity_exists,
    ),
    "entity_permissions": Case(
        EntityPermissionsProvider,
        lambda emu: {
            "entity_id": project(emu),
            "principal_username": "orchestrator",
            "access": "download",
        },
        {"access": "edit"},
        _acl_view("entity"),
        _acl_tamper("entity", ["READ"], "view"),
        _acl_exists("entity"),
    ),
    "evaluation_permissions": Case(
        EvaluationPermissionsProvider,
        lambda emu: {
            "evaluation_id": queue(emu, project(emu)),
            "principal_username": "orchestrator",
            "access": "score",
        },
        {"access": "admin"},
        _acl_view("evaluation"),
        _acl_tamper("evaluation", ["READ", "SUBMIT"], "submit"),
        _acl_exists("evaluation"),
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_create_read_diff_update_drift_delete(kind: str, emu: SynapseEmulator, syn) -> None:
    case = CASES[kind]
    provider = configured(case.provider)
    inputs = checked(provider, {**case.inputs(emu), "synapse_endpoint": emu.base_url})
    change = case.change
    if kind == "challenge":
        change = {"participant_team_id": team(emu, "Other Participants")}

    created = provider.create(inputs)
    assert case.exists(syn, created.id)
    outs = created.outs
    assert {k: outs[k] for k in inputs} == inputs, "state records the inputs it applied"

    read = provider.read(created.id, outs)
    assert read.id == created.id
    assert provider.diff(created.id, read.outs, inputs).changes is False, "no drift after create"

    news = checked(provider, {**inputs, **change})
    diff = provider.diff(created.id, read.outs, news)
    assert diff.changes is True and diff.replaces == [], f"{kind}: {change} updates in place"
    updated = provider.update(created.id, read.outs, news)
    view = case.observe(syn, created.id, news)
    wanted = {k: news[k] for k in view}
    if kind == "evaluation_queue":
        wanted["rounds"] = [{"DAILY": 3}, {"TOTAL": 1}]
    assert view == wanted

    drifted = case.tamper(syn, created.id)
    refreshed = provider.read(created.id, updated.outs)
    assert {k: refreshed.outs[k] for k in drifted} == drifted, "read reports the hand-made change"
    drift_diff = provider.diff(created.id, refreshed.outs, news)
    assert drift_diff.changes is True and drift_diff.replaces == []
    provider.update(created.id, refreshed.outs, news)
    assert case.observe(syn, created.id, news) == view, "update restores the declared state"
    assert (
        provider.diff(created.id, provider.read(created.id, refreshed.outs).outs, news).changes
        is False
    )

    provider.delete(created.id, {**updated.outs, "retain_on_delete": False})
    assert not case.exists(syn, created.id)
    assert provider.read(created.id, updated.outs).id == "", "read of a deleted object is empty"


@pytest.mark.parametrize("kind", ["project", "folder", "team", "evaluation_queue", "challenge"])
def test_data_bearing_objects_are_retained_on_delete_by_default(kind, emu, syn) -> None:
    case = CASES[kind]
    provider = configured(case.provider)
    inputs = checked(provider, {**case.inputs(emu), "synapse_endpoint": emu.base_url})
    assert inputs["retain_on_delete"] is True
    created = provider.create(inputs)
    provider.delete(created.id, created.outs)
    assert case.exists(syn, created.id)


STATE_PROVIDERS = {
    "entity_permissions": (
        EntityPermissionsProvider,
        "gASVXQAAAAAAAACMJWNvbXBvbmVudHMuc3luYXBzZS5lbnRpdHlfcGVybWlzc2lvbnOUjBlFbnRpdHlQZXJtaXNz"
        "aW9uc1Byb3ZpZGVylJOUKYGUfZSMC19hdXRoX3Rva2VulE5zYi4=",
    ),
    "evaluation_permissions": (
        EvaluationPermissionsProvider,
        "gASVZQAAAAAAAACMKWNvbXBvbmVudHMuc3luYXBzZS5ldmFsdWF0aW9uX3Blcm1pc3Npb25zlIwdRXZhbHVhdGlv"
        "blBlcm1pc3Npb25zUHJvdmlkZXKUk5QpgZR9lIwLX2F1dGhfdG9rZW6UTnNiLg==",
    ),
}
"""The ``__provider`` input of each grant as state holds it since before the grant targets became
data (``serialize_provider`` at main 505d0ef): dill pickles the provider by reference to its
module and class name, so those must keep resolving for ``refresh`` and ``destroy``."""


@pytest.mark.parametrize("kind", sorted(STATE_PROVIDERS))
def test_grant_provider_pickled_in_earlier_state_still_loads_and_works(kind, emu, syn) -> None:
    cls, recorded = STATE_PROVIDERS[kind]
    provider = dill.loads(base64.b64decode(recorded))  # as pulumi/dynamic/__main__.py does
    assert type(provider) is cls
    assert serialize_provider(cls()) == recorded, "new state pickles the same module and class"
    provider.configure(ConfigureRequest(Config({AUTH_TOKEN_CONFIG_KEY: ORGANISER_TOKEN}, "c")))
    case = CASES[kind]
    inputs = checked(provider, {**case.inputs(emu), "synapse_endpoint": emu.base_url})
    created = provider.create(inputs)
    assert case.exists(syn, created.id)
    assert provider.read(created.id, created.outs).outs["access"] == inputs["access"]
    provider.delete(created.id, created.outs)
    assert not case.exists(syn, created.id)


def test_changing_only_retention_makes_no_request(emu) -> None:
    provider = configured(ProjectProvider)
    inputs = checked(provider, {"name": "P", "owner_key": "t/p", "synapse_endpoint": emu.base_url})
    created = provider.create(inputs)
    emu.reset_counts()
    news = {**inputs, "retain_on_delete": False}
    assert provider.diff(created.id, created.outs, news).changes is True
    assert provider.update(created.id, created.outs, news).outs["retain_on_delete"] is False
    assert emu.request_counts() == {}


def test_new_endpoint_replaces_and_other_changes_do_not(emu) -> None:
    provider = configured(ProjectProvider)
    olds = checked(provider, {"name": "P", "owner_key": "t/p", "synapse_endpoint": emu.base_url})
    moved = provider.diff("syn1", olds, {**olds, "synapse_endpoint": "https://other.example.org"})
    assert moved.replaces == ["synapse_endpoint"] and moved.delete_before_replace is True
    queue_provider = configured(ChallengeProvider)
    challenge = {"project_id": "syn1", "participant_team_id": "1", "synapse_endpoint": emu.base_url}
    olds = checked(queue_provider, challenge)
    assert queue_provider.diff("1", olds, {**olds, "project_id": "syn2"}).replaces == ["project_id"]


def test_entity_grant_on_inheriting_folder_copies_the_inherited_acl_and_restores_it(emu, syn):
    project_id = project(emu)
    folder_id = make(FolderProvider, emu, name="Logs", parent_id=project_id, owner_key="t/logs")
    assert gone(syn, f"/entity/{folder_id}/acl"), "a new folder inherits its project's ACL"
    provider = configured(EntityPermissionsProvider)
    inputs = checked(
        provider,
        {
            "entity_id": folder_id,
            "principal_username": "orchestrator",
            "access": "edit",
            "synapse_endpoint": emu.base_url,
        },
    )
    created = provider.create(inputs)
    acl = rest(syn, "GET", f"/entity/{folder_id}/acl")
    organiser = emu.principal_id("organiser")
    assert entry(acl, emu.principal_id("orchestrator")) == {"READ", "DOWNLOAD", "CREATE", "UPDATE"}
    assert entry(acl, organiser) == entry(rest(syn, "GET", f"/entity/{project_id}/acl"), organiser)
    assert created.outs["inherited_principal_ids"] == [str(organiser)]
    assert created.outs["grantee_id"] == str(emu.principal_id("orchestrator"))
    provider.delete(created.id, created.outs)
    assert gone(syn, f"/entity/{folder_id}/acl"), "revoking the only grant restores inheritance"


def test_grants_leave_other_principals_entries_alone(emu, syn) -> None:
    project_id = project(emu)
    helpers = team(emu)
    provider = configured(EntityPermissionsProvider)
    base = {"entity_id": project_id, "synapse_endpoint": emu.base_url}
    admin = provider.create(checked(provider, {**base, "principal_id": helpers, "access": "admin"}))
    viewer = provider.create(
        checked(provider, {**base, "principal_username": "orchestrator", "access": "view"})
    )
    provider.delete(viewer.id, viewer.outs)
    acl = rest(syn, "GET", f"/entity/{project_id}/acl")
    assert entry(acl, emu.principal_id("orchestrator")) is None
    assert entry(acl, helpers) == set(provider.GRANT.levels[AccessLevel.ADMIN])
    assert "CHANGE_PERMISSIONS" in entry(acl, emu.principal_id("organiser")), "creator keeps admin"
    assert provider.read(admin.id, admin.outs).outs["access"] == "admin"


def test_unknown_user_name_is_a_clear_error(emu) -> None:
    provider = configured(EvaluationPermissionsProvider)
    inputs = checked(
        provider,
        {
            "evaluation_id": queue(emu, project(emu)),
            "principal_username": "nobody-here",
            "access": "score",
            "synapse_endpoint": emu.base_url,
        },
    )
    with pytest.raises(SynapseProvisioningError, match="no Synapse user named 'nobody-here'"):
        provider.create(inputs)


# ----- check -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider_cls", "inputs", "prop", "words"),
    [
        (ProjectProvider, {"owner_key": "k"}, "name", "name is required"),
        (ProjectProvider, {"name": " ", "owner_key": "k"}, "name", "must not be empty"),
        (ProjectProvider, {"name": "x" * 300, "owner_key": "k"}, "name", "at most 256"),
        (ProjectProvider, {"name": 5, "owner_key": "k"}, "name", "must be a string"),
        (ProjectProvider, {"name": "P", "owner_key": "k", "colour": "red"}, "colour", "unknown"),
        (
            ProjectProvider,
            {"name": "P", "owner_key": "k", "synapse_endpoint": "http://synapse.example.org"},
            "synapse_endpoint",
            "only for a local server",
        ),
        (
            ProjectProvider,
            {"name": "P", "owner_key": "k", "synapse_endpoint": "https://x.org/repo/v1"},
            "synapse_endpoint",
            "without a path",
        ),
        (FolderProvider, {"name": "L", "parent_id": "12", "owner_key": "k"}, "parent_id", "syn123"),
        (FolderProvider, {"name": "a/b", "parent_id": "syn1", "owner_key": "k"}, "name", "only"),
        (
            TeamProvider,
            {"name": "T", "owner_key": "k", "description": "x" * 801},
            "description",
            "at most 800",
        ),
        (TeamProvider, {"name": "T", "owner_key": "a]b"}, "owner_key", "must not contain"),
        (
            TeamProvider,
            {"name": "T", "owner_key": "k", "can_public_join": "yes"},
            "can_public_join",
            "true or false",
        ),
        (
            ChallengeProvider,
            {"project_id": "syn1", "participant_team_id": "team"},
            "participant_team_id",
            "numeric",
        ),
        (
            EvaluationQueueProvider,
            {
                "name": "Q",
                "content_source": "syn1",
                "owner_key": "k",
                "rounds": [
                    {"start": "2030-01-01T00:00:00Z", "end": "2030-03-01T00:00:00Z"},
                    {"start": "2030-02-01T00:00:00Z", "end": "2030-04-01T00:00:00Z"},
                ],
            },
            "rounds",
            "rounds[0] and rounds[1] overlap",
        ),
        (
            EvaluationQueueProvider,
            {
                "name": "Q",
                "content_source": "syn1",
                "owner_key": "k",
                "rounds": [{"start": "2030-01-01", "end": "2030-03-01T00:00:00Z"}],
            },
            "rounds",
            "no time zone",
        ),
        (
            EvaluationQueueProvider,
            {
                "name": "Q",
                "content_source": "syn1",
                "owner_key": "k",
                "rounds": [
                    {
                        "start": "2030-01-01T00:00Z",
                        "end": "2030-03-01T00:00Z",
                        "daily_submissions": -1,
                    }
                ],
            },
            "rounds",
            "daily_submissions must be a whole number",
        ),
        (
            ExternalLinkFileProvider,
            {"name": "f", "parent_id": "syn1", "external_url": "ftp://x/y.zip", "owner_key": "k"},
            "external_url",
            "http(s) URL",
        ),
        (
            EntityPermissionsProvider,
            {"entity_id": "syn1", "principal_id": "1", "access": "score"},
            "access",
            "must be one of",
        ),
        (
            EvaluationPermissionsProvider,
            {"evaluation_id": "9", "access": "submit"},
            "principal_id",
            "exactly one of principal_id",
        ),
    ],
)
def test_check_names_the_bad_property(provider_cls, inputs, prop, words) -> None:
    failures = provider_cls().check({}, inputs).failures
    assert failures, f"{provider_cls.__name__} accepted {inputs}"
    assert failures[0].property == prop
    assert words in failures[0].reason


def test_check_fills_defaults_and_normalizes(emu) -> None:
    provider = EvaluationQueueProvider()
    inputs = checked(
        provider,
        {
            "name": "Q",
            "content_source": "syn1",
            "owner_key": "k",
            "rounds": [
                {
                    "start": "2030-01-01T01:00:00+01:00",
                    "end": "2030-02-01T00:00:00Z",
                    "total_submissions": 5.0,
                }
            ],
        },
    )
    assert inputs["synapse_endpoint"] == DEFAULT_SYNAPSE_ENDPOINT
    assert inputs["retain_on_delete"] is True
    assert inputs["rounds"] == [
        {
            "start": "2030-01-01T00:00:00.000Z",
            "end": "2030-02-01T00:00:00.000Z",
            "total_submissions": 5,
        }
    ]


def test_check_lets_unknown_values_through_for_preview() -> None:
    from components.sdk_internals import UNKNOWN

    result = FolderProvider().check({}, {"name": "Logs", "parent_id": UNKNOWN, "owner_key": "k"})
    assert not result.failures and result.inputs["parent_id"] == UNKNOWN
    diff = FolderProvider().diff("syn2", {**result.inputs, "parent_id": "syn1"}, result.inputs)
    assert diff.changes is True


# ----- credentials ------------------------------------------------------------------------------


def test_token_from_environment_when_stack_config_has_none(emu, monkeypatch) -> None:
    provider = ProjectProvider()
    provider.configure(ConfigureRequest(Config({"challenge:other": "x"}, "challenge")))
    inputs = checked(provider, {"name": "P", "owner_key": "k", "synapse_endpoint": emu.base_url})
    with pytest.raises(SynapseProvisioningError, match=AUTH_TOKEN_CONFIG_KEY) as error:
        provider.create(inputs)
    assert AUTH_TOKEN_ENV_VAR in str(error.value)
    monkeypatch.setenv(AUTH_TOKEN_ENV_VAR, ORGANISER_TOKEN)
    assert provider.create(inputs).id.startswith("syn")


def test_rejected_token_is_named_without_being_shown(emu) -> None:
    provider = configured(ProjectProvider, token="tok-wrong-secret")
    inputs = checked(provider, {"name": "P", "owner_key": "k", "synapse_endpoint": emu.base_url})
    with pytest.raises(SynapseProvisioningError) as error:
        provider.create(inputs)
    assert error.value.status == 401
    assert "rejected the auth token" in str(error.value)
    assert "tok-wrong-secret" not in str(error.value)


def test_token_never_reaches_the_pickled_provider_or_the_state(emu) -> None:
    provider = configured(ProjectProvider)
    assert ORGANISER_TOKEN.encode() not in base64.b64decode(serialize_provider(provider))
    inputs = checked(provider, {"name": "P", "owner_key": "k", "synapse_endpoint": emu.base_url})
    created = provider.create(inputs)
    assert ORGANISER_TOKEN not in json.dumps([inputs, created.outs])


def test_description_and_owner_key_round_trip_without_drift(emu, syn) -> None:
    provider = configured(ProjectProvider)
    inputs = checked(
        provider,
        {
            "name": "Round trip",
            "description": "Words [in brackets]  \n",
            "owner_key": "challenge/dev/my site-live-project",
            "synapse_endpoint": emu.base_url,
        },
    )
    assert inputs["description"] == "Words [in brackets]"
    created = provider.create(inputs)
    stored = rest(syn, "GET", f"/entity/{created.id}")["description"]
    assert stored.endswith("[managed-by-pulumi:challenge/dev/my site-live-project]")
    assert (
        provider.diff(created.id, provider.read(created.id, created.outs).outs, inputs).changes
        is False
    )


def test_an_unreachable_endpoint_is_a_clear_error_not_a_long_retry():
    """synapseclient's login retries connection errors for minutes; the probe answers at once."""
    with pytest.raises(
        SynapseProvisioningError,
        match=r"cannot reach Synapse at http://127\.0\.0\.1:9 .*check synapseEndpoint",
    ):
        open_session("http://127.0.0.1:9", "any-token")
