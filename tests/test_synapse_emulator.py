"""The Synapse emulator driven by synapseclient 4.14: auth, entities, annotations, ACLs, trash, teams.

Evaluation queues, submissions and wikis are in test_synapse_emulator_evaluations.py and
test_synapse_emulator_wikis.py; faults, counting and the CLI in test_synapse_emulator_faults.py.
"""

from __future__ import annotations

import json
import time

import pytest
import synapseclient
from synapseclient import models
from synapseclient.core.exceptions import SynapseAuthenticationError, SynapseHTTPError

from synapse_emulator import SynapseEmulator
from tests.fixtures.synapse import status_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AUTHENTICATED_USERS = 273948
PROJECT = "org.sagebionetworks.repo.model.Project"
FOLDER = "org.sagebionetworks.repo.model.Folder"


# ----- authentication and profiles -----------------------------------------------------------------
def test_login_reads_the_profile_of_the_token_owner(synapse_emulator, organiser_syn):
    profile = organiser_syn.getUserProfile()
    assert profile["userName"] == "organiser"
    assert int(profile["ownerId"]) == synapse_emulator.principal_id("organiser")
    assert organiser_syn.credentials.owner_id == profile["ownerId"]


def test_each_user_has_its_own_principal_id(synapse_emulator):
    ids = {synapse_emulator.principal_id(n) for n in ("organiser", "orchestrator", "participant")}
    assert len(ids) == 3


def test_unknown_token_gets_401(synapse_emulator):
    syn = synapseclient.Synapse(**synapse_emulator.client_kwargs(), cache_client=False)
    with pytest.raises(SynapseAuthenticationError) as error:
        syn.login(authToken="not-a-token", silent=True)
    cause = error.value.__cause__
    assert isinstance(cause, SynapseHTTPError) and cause.response.status_code == 401
    organiser = synapse_emulator.client("organiser")
    organiser.credentials._token = "revoked"
    with pytest.raises(SynapseHTTPError) as http_error:
        organiser.restGET("/userProfile")
    assert status_of(http_error) == 401


def test_anonymous_cannot_create(synapse_emulator):
    syn = synapseclient.Synapse(**synapse_emulator.client_kwargs(), cache_client=False)
    assert syn.restGET("/userProfile")["userName"] == "anonymous"
    with pytest.raises(SynapseAuthenticationError) as error:
        syn.restPOST("/entity", json.dumps({"name": "x", "concreteType": PROJECT}))
    cause = error.value.__cause__
    assert isinstance(cause, SynapseHTTPError) and cause.response.status_code == 401


def test_user_added_while_running_can_log_in(synapse_emulator):
    principal = synapse_emulator.add_user("latecomer", "tok-late")
    syn = synapse_emulator.client("latecomer")
    assert int(syn.getUserProfile()["ownerId"]) == principal


def test_user_group_headers_find_users_by_prefix(synapse_emulator, organiser_syn):
    found = organiser_syn.restGET("/userGroupHeaders?prefix=orch")["children"]
    assert [h["userName"] for h in found] == ["orchestrator"]
    assert organiser_syn._getUserbyPrincipalIdOrName(
        "orchestrator"
    ) == synapse_emulator.principal_id("orchestrator")


# ----- entities --------------------------------------------------------------------------------
def test_project_folder_and_external_file_with_models(organiser_syn):
    project = models.Project(name="Demo", description="live site").store(
        synapse_client=organiser_syn
    )
    assert project.id.startswith("syn") and project.etag
    folder = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    stored = models.File(
        path="https://example.org/workflow.zip",
        synapse_store=False,
        name="workflow",
        parent_id=project.id,
        annotations={"ROOT_TEMPLATE": ["workflow/main.cwl"]},
    ).store(synapse_client=organiser_syn)

    fetched = models.File(id=stored.id, download_file=False).get(synapse_client=organiser_syn)
    assert fetched.external_url == "https://example.org/workflow.zip"
    assert fetched.annotations == {"ROOT_TEMPLATE": ["workflow/main.cwl"]}
    assert fetched.parent_id == project.id
    assert fetched.version_number == 1
    assert models.Folder(id=folder.id).get(synapse_client=organiser_syn).name == "Logs"
    assert (
        models.Project(id=project.id).get(synapse_client=organiser_syn).description == "live site"
    )


def test_legacy_store_get_and_update(organiser_syn):
    project = organiser_syn.store(synapseclient.Project("Legacy"))
    assert project.parentId == "syn4489"
    file = organiser_syn.store(
        synapseclient.File(
            "https://example.org/a.cwl", parent=project, synapseStore=False, name="wf"
        )
    )
    fetched = organiser_syn.get(file.id, downloadFile=False)
    assert fetched.externalURL == "https://example.org/a.cwl"
    fetched.description = "changed"
    updated = organiser_syn.store(fetched)
    assert updated.etag != file.etag
    assert organiser_syn.get(file.id, downloadFile=False).description == "changed"


def test_new_file_handle_makes_a_new_version(organiser_syn):
    project = models.Project(name="Versions").store(synapse_client=organiser_syn)
    first = models.File(
        path="https://example.org/v1.zip", synapse_store=False, name="f", parent_id=project.id
    ).store(synapse_client=organiser_syn)
    handle = organiser_syn.restPOST(
        "/externalFileHandle",
        json.dumps(
            {
                "concreteType": "org.sagebionetworks.repo.model.file.ExternalFileHandle",
                "externalURL": "https://example.org/v2.zip",
            }
        ),
        endpoint=organiser_syn.fileHandleEndpoint,
    )
    entity = organiser_syn.restGET(f"/entity/{first.id}")
    entity["dataFileHandleId"] = handle["id"]
    second = organiser_syn.restPUT(f"/entity/{first.id}", json.dumps(entity))
    assert second["versionNumber"] == 2
    old = organiser_syn.restGET(f"/entity/{first.id}/version/1")
    assert old["dataFileHandleId"] == first.data_file_handle_id
    assert old["isLatestVersion"] is False


def test_child_lookup_finds_by_name_and_404s_otherwise(organiser_syn):
    project = models.Project(name="Lookup").store(synapse_client=organiser_syn)
    folder = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    body = {"parentId": project.id, "entityName": "Logs"}
    assert organiser_syn.restPOST("/entity/child", json.dumps(body))["id"] == folder.id
    assert organiser_syn.findEntityId("Lookup") == project.id
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST("/entity/child", json.dumps({**body, "entityName": "Nope"}))
    assert status_of(error) == 404


def test_children_listing_pages_and_filters_types(organiser_syn):
    project = models.Project(name="Children").store(synapse_client=organiser_syn)
    for index in range(55):
        organiser_syn.restPOST(
            "/entity",
            json.dumps(
                {
                    "name": f"folder {index:02d}",
                    "parentId": project.id,
                    "concreteType": FOLDER,
                }
            ),
        )
    names = [c["name"] for c in organiser_syn.getChildren(project.id, includeTypes=["folder"])]
    assert names == [f"folder {i:02d}" for i in range(55)]
    assert list(organiser_syn.getChildren(project.id, includeTypes=["file"])) == []


def test_entity_name_conflicts_are_409(organiser_syn, participant_syn):
    project = models.Project(name="Taken").store(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST(
            "/entity",
            json.dumps({"name": "Taken", "concreteType": PROJECT}),
        )
    assert status_of(error) == 409
    folder = {
        "name": "Logs",
        "parentId": project.id,
        "concreteType": FOLDER,
    }
    organiser_syn.restPOST("/entity", json.dumps(folder))
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST("/entity", json.dumps(folder))
    assert status_of(error) == 409


def test_invalid_entity_name_is_400(organiser_syn):
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST(
            "/entity",
            json.dumps({"name": "a/b", "concreteType": PROJECT}),
        )
    assert status_of(error) == 400
    assert "Invalid Name" in str(error.value)


def test_stale_etag_update_is_412(organiser_syn):
    project = organiser_syn.restPOST(
        "/entity",
        json.dumps({"name": "Etags", "concreteType": PROJECT}),
    )
    renamed = organiser_syn.restPUT(
        f"/entity/{project['id']}", json.dumps({**project, "name": "Etags 2"})
    )
    assert renamed["etag"] != project["etag"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(
            f"/entity/{project['id']}", json.dumps({**project, "name": "Etags 3"})
        )
    assert status_of(error) == 412
    assert organiser_syn.restGET(f"/entity/{project['id']}")["name"] == "Etags 2"


def test_rename_into_an_existing_name_is_409(organiser_syn):
    project = models.Project(name="Renames").store(synapse_client=organiser_syn)
    models.Folder(name="A", parent_id=project.id).store(synapse_client=organiser_syn)
    b = organiser_syn.restPOST(
        "/entity",
        json.dumps({"name": "B", "parentId": project.id, "concreteType": FOLDER}),
    )
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(f"/entity/{b['id']}", json.dumps({**b, "name": "A"}))
    assert status_of(error) == 409


# ----- annotations -----------------------------------------------------------------------------
def test_annotations_round_trip_with_types_and_etags(organiser_syn):
    project = models.Project(name="Annotated").store(synapse_client=organiser_syn)
    current = organiser_syn.restGET(f"/entity/{project.id}/annotations2")
    assert current["annotations"] == {}
    body = {
        "id": project.id,
        "etag": current["etag"],
        "annotations": {
            "ROOT_TEMPLATE": {"type": "STRING", "value": ["main.cwl"]},
            "limit": {"type": "LONG", "value": ["3"]},
        },
    }
    saved = organiser_syn.restPUT(f"/entity/{project.id}/annotations2", json.dumps(body))
    assert saved["etag"] != current["etag"]
    assert organiser_syn.restGET(f"/entity/{project.id}")["etag"] == saved["etag"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(f"/entity/{project.id}/annotations2", json.dumps(body))
    assert status_of(error) == 412
    bad = {**saved, "annotations": {"limit": {"type": "LONG", "value": ["three"]}}}
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(f"/entity/{project.id}/annotations2", json.dumps(bad))
    assert status_of(error) == 400


def test_annotations_with_models_and_legacy(organiser_syn):
    folder_project = models.Project(name="Annotations").store(synapse_client=organiser_syn)
    folder = models.Folder(
        name="F", parent_id=folder_project.id, annotations={"score": [0.5], "ok": [True]}
    ).store(synapse_client=organiser_syn)
    legacy = organiser_syn.get_annotations(folder.id)
    assert legacy["score"] == [0.5] and legacy["ok"] == [True]
    fetched = models.Folder(id=folder.id).get(synapse_client=organiser_syn)
    assert fetched.annotations == {"score": [0.5], "ok": [True]}


# ----- ACLs ------------------------------------------------------------------------------------
def test_project_creator_is_admin_and_children_inherit(synapse_emulator, organiser_syn):
    project = models.Project(name="ACLs").store(synapse_client=organiser_syn)
    folder = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    acl = organiser_syn.restGET(f"/entity/{project.id}/acl")
    organiser = synapse_emulator.principal_id("organiser")
    assert [(e["principalId"], sorted(e["accessType"])) for e in acl["resourceAccess"]] == [
        (
            organiser,
            sorted(
                [
                    "CHANGE_PERMISSIONS",
                    "CHANGE_SETTINGS",
                    "CREATE",
                    "DELETE",
                    "DOWNLOAD",
                    "MODERATE",
                    "READ",
                    "UPDATE",
                ]
            ),
        )
    ]
    assert organiser_syn.restGET(f"/entity/{folder.id}/benefactor")["id"] == project.id
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/entity/{folder.id}/acl")
    assert status_of(error) == 404
    assert f"inherits its permissions from: {project.id}" in str(error.value)


def test_permissions_are_enforced_through_the_benefactor(
    synapse_emulator, organiser_syn, orchestrator_syn
):
    project = models.Project(name="Private").store(synapse_client=organiser_syn)
    folder = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restGET(f"/entity/{folder.id}")
    assert status_of(error) == 403

    orchestrator = synapse_emulator.principal_id("orchestrator")
    organiser_syn.setPermissions(folder.id, orchestrator, ["READ", "DOWNLOAD", "CREATE", "UPDATE"])
    assert organiser_syn.restGET(f"/entity/{folder.id}/benefactor")["id"] == folder.id
    assert orchestrator_syn.restGET(f"/entity/{folder.id}")["name"] == "Logs"
    log = models.Folder(name="run-1", parent_id=folder.id).store(synapse_client=orchestrator_syn)
    assert log.parent_id == folder.id
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restGET(f"/entity/{project.id}")
    assert status_of(error) == 403
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restDELETE(f"/entity/{log.id}")
    assert status_of(error) == 403

    organiser_syn.restDELETE(f"/entity/{folder.id}/acl")
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restGET(f"/entity/{log.id}")
    assert status_of(error) == 403


def test_legacy_get_permissions_and_team_grants(synapse_emulator, organiser_syn, orchestrator_syn):
    project = organiser_syn.store(synapseclient.Project("Team grants"))
    team = organiser_syn.store(synapseclient.Team(name="Grants Admin"))
    organiser_syn.setPermissions(project, team.id, ["READ", "DOWNLOAD"])
    assert sorted(organiser_syn.getPermissions(project, team.id)) == ["DOWNLOAD", "READ"]
    with pytest.raises(SynapseHTTPError):
        orchestrator_syn.restGET(f"/entity/{project.id}")
    orchestrator = synapse_emulator.principal_id("orchestrator")
    organiser_syn.restPOST(
        "/membershipInvitation", json.dumps({"teamId": team.id, "inviteeId": str(orchestrator)})
    )
    orchestrator_syn.restPUT(f"/team/{team.id}/member/{orchestrator}")
    assert orchestrator_syn.restGET(f"/entity/{project.id}")["name"] == "Team grants"


def test_models_acl_methods(synapse_emulator, organiser_syn, orchestrator_syn):
    project = models.Project(name="Model ACLs").store(synapse_client=organiser_syn)
    folder = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    orchestrator = synapse_emulator.principal_id("orchestrator")
    folder.set_permissions(
        principal_id=orchestrator,
        access_type=["READ", "DOWNLOAD", "CREATE", "UPDATE"],
        synapse_client=organiser_syn,
    )
    assert sorted(folder.get_acl(principal_id=orchestrator, synapse_client=organiser_syn)) == [
        "CREATE",
        "DOWNLOAD",
        "READ",
        "UPDATE",
    ]
    permissions = folder.get_permissions(synapse_client=orchestrator_syn)
    assert sorted(permissions.access_types) == ["CREATE", "DOWNLOAD", "READ", "UPDATE"]
    folder.delete_permissions(synapse_client=organiser_syn)
    assert folder.get_acl(principal_id=orchestrator, synapse_client=organiser_syn) == []


def test_acl_update_with_stale_etag_is_412_and_project_acl_cannot_be_deleted(organiser_syn):
    project = models.Project(name="ACL etags").store(synapse_client=organiser_syn)
    acl = organiser_syn.restGET(f"/entity/{project.id}/acl")
    public_read = {"principalId": AUTHENTICATED_USERS, "accessType": ["READ"]}
    updated = organiser_syn.restPUT(
        f"/entity/{project.id}/acl",
        json.dumps({**acl, "resourceAccess": [*acl["resourceAccess"], public_read]}),
    )
    assert updated["etag"] != acl["etag"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(f"/entity/{project.id}/acl", json.dumps(acl))
    assert status_of(error) == 412
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restDELETE(f"/entity/{project.id}/acl")
    assert status_of(error) == 403


def test_authenticated_users_grant_applies_to_everyone_logged_in(organiser_syn, participant_syn):
    project = models.Project(name="Open").store(synapse_client=organiser_syn)
    organiser_syn.setPermissions(project.id, AUTHENTICATED_USERS, ["READ"])
    assert participant_syn.restGET(f"/entity/{project.id}")["name"] == "Open"
    permissions = participant_syn.restGET(f"/entity/{project.id}/permissions")
    assert permissions["canView"] is True and permissions["canEdit"] is False


# ----- delete and trash can -------------------------------------------------------------------
def test_delete_moves_to_trash_and_frees_the_name(organiser_syn):
    project = models.Project(name="Trash").store(synapse_client=organiser_syn)
    folder = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    child = models.Folder(name="inner", parent_id=folder.id).store(synapse_client=organiser_syn)
    organiser_syn.delete(folder.id)
    for gone in (folder.id, child.id):
        with pytest.raises(SynapseHTTPError) as error:
            organiser_syn.restGET(f"/entity/{gone}")
        assert status_of(error) == 404
    assert "trash can" in str(error.value)
    trash = organiser_syn.restGET("/trashcan/view")["results"]
    assert [(t["entityId"], t["entityName"], t["originalParentId"]) for t in trash] == [
        (folder.id, "Logs", project.id)
    ]
    again = models.Folder(name="Logs", parent_id=project.id).store(synapse_client=organiser_syn)
    assert again.id != folder.id

    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(f"/trashcan/restore/{folder.id}")
    assert status_of(error) == 409
    organiser_syn.delete(again.id)
    organiser_syn.restPUT(f"/trashcan/restore/{folder.id}")
    assert organiser_syn.restGET(f"/entity/{child.id}")["parentId"] == folder.id


def test_delete_project_with_models_frees_the_global_name(organiser_syn, participant_syn):
    project = models.Project(name="Reusable").store(synapse_client=organiser_syn)
    project.delete(synapse_client=organiser_syn)
    mine = models.Project(name="Reusable").store(synapse_client=participant_syn)
    assert mine.id != project.id


def test_skip_trash_can_deletes_for_good(organiser_syn):
    project = models.Project(name="Purge").store(synapse_client=organiser_syn)
    organiser_syn.restDELETE(f"/entity/{project.id}?skipTrashCan=true")
    assert organiser_syn.restGET("/trashcan/view")["results"] == []
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/entity/{project.id}")
    assert "does not exist" in str(error.value)


def test_purge_from_trash(organiser_syn):
    project = models.Project(name="Purge later").store(synapse_client=organiser_syn)
    organiser_syn.delete(project.id)
    organiser_syn.restPUT(f"/trashcan/purge/{project.id}")
    assert organiser_syn.restGET("/trashcan/view")["totalNumberOfResults"] == 0


# ----- teams -----------------------------------------------------------------------------------
def test_team_with_models_create_get_members_invite(synapse_emulator, organiser_syn):
    team = models.Team(name="Demo Admin", description="admins", can_public_join=False).create(
        synapse_client=organiser_syn
    )
    assert models.Team(id=team.id).get(synapse_client=organiser_syn).name == "Demo Admin"
    assert models.Team.from_name(name="Demo Admin", synapse_client=organiser_syn).id == team.id
    members = team.members(synapse_client=organiser_syn)
    assert [(m.member.user_name, m.is_admin) for m in members] == [("organiser", True)]
    participant = synapse_emulator.principal_id("participant")
    team.invite(user=participant, message="join us", synapse_client=organiser_syn)
    status = team.get_user_membership_status(user_id=participant, synapse_client=organiser_syn)
    assert status.has_open_invitation is True and status.is_member is False
    assert len(team.open_invitations(synapse_client=organiser_syn)) == 1


def test_team_name_conflict_update_and_delete(organiser_syn):
    team = organiser_syn.restPOST("/team", json.dumps({"name": "Demo Participants"}))
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST("/team", json.dumps({"name": "Demo Participants"}))
    assert status_of(error) == 409
    renamed = organiser_syn.restPUT("/team", json.dumps({**team, "description": "who submits"}))
    assert renamed["etag"] != team["etag"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT("/team", json.dumps(team))
    assert status_of(error) == 412
    models.Team(id=int(team["id"])).delete(synapse_client=organiser_syn)
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/team/{team['id']}")
    assert status_of(error) == 404


def test_only_team_admins_change_a_team(organiser_syn, participant_syn):
    team = organiser_syn.restPOST("/team", json.dumps({"name": "Guarded", "canPublicJoin": True}))
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPUT("/team", json.dumps({**team, "name": "Hijacked"}))
    assert status_of(error) == 403
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restDELETE(f"/team/{team['id']}")
    assert status_of(error) == 403


def test_public_join_and_invitation_rules(synapse_emulator, organiser_syn, participant_syn):
    participant = synapse_emulator.principal_id("participant")
    closed = organiser_syn.restPOST("/team", json.dumps({"name": "Closed"}))
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPUT(f"/team/{closed['id']}/member/{participant}")
    assert status_of(error) == 403
    open_team = organiser_syn.restPOST("/team", json.dumps({"name": "Open", "canPublicJoin": True}))
    participant_syn.restPUT(f"/team/{open_team['id']}/member/{participant}")
    members = organiser_syn.restGET(f"/teamMembers/{open_team['id']}")["results"]
    assert {m["member"]["userName"] for m in members} == {"organiser", "participant"}


def test_team_name_index_is_eventually_consistent():
    with SynapseEmulator(users={"organiser": "tok"}, team_index_delay_seconds=0.3) as emulator:
        syn = emulator.client("organiser")
        team = syn.restPOST("/team", json.dumps({"name": "Slow Index"}))
        assert syn.restGET("/teams?fragment=Slow")["results"] == []
        assert syn.restGET(f"/team/{team['id']}")["name"] == "Slow Index"
        time.sleep(0.35)
        assert [t["id"] for t in syn.restGET("/teams?fragment=Slow")["results"]] == [team["id"]]


def test_team_referenced_by_an_acl_cannot_be_deleted(organiser_syn):
    project = models.Project(name="Shared").store(synapse_client=organiser_syn)
    team = organiser_syn.restPOST("/team", json.dumps({"name": "Shared Admin"}))
    organiser_syn.setPermissions(project.id, int(team["id"]), ["READ"])
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restDELETE(f"/team/{team['id']}")
    assert status_of(error) == 400
    organiser_syn.setPermissions(project.id, int(team["id"]), [])
    organiser_syn.restDELETE(f"/team/{team['id']}")


# ----- challenges ------------------------------------------------------------------------------
def test_challenge_lifecycle(organiser_syn, participant_syn):
    project = models.Project(name="Challenge").store(synapse_client=organiser_syn)
    team = organiser_syn.restPOST("/team", json.dumps({"name": "Challenge Participants"}))
    body = {"projectId": project.id, "participantTeamId": team["id"]}
    challenge = organiser_syn.restPOST("/challenge", json.dumps(body))
    assert organiser_syn.restGET(f"/entity/{project.id}/challenge")["id"] == challenge["id"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST("/challenge", json.dumps(body))
    assert status_of(error) == 400
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST("/challenge", json.dumps(body))
    assert status_of(error) == 403
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restDELETE(f"/team/{team['id']}")
    assert status_of(error) == 400

    other = organiser_syn.restPOST("/team", json.dumps({"name": "Other Participants"}))
    moved = organiser_syn.restPUT(
        f"/challenge/{challenge['id']}", json.dumps({**challenge, "participantTeamId": other["id"]})
    )
    assert moved["participantTeamId"] == other["id"]
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(f"/challenge/{challenge['id']}", json.dumps(challenge))
    assert status_of(error) == 412
    organiser_syn.restDELETE(f"/challenge/{challenge['id']}")
    organiser_syn.restDELETE(f"/team/{other['id']}")
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/entity/{project.id}/challenge")
    assert status_of(error) == 404


# ----- concurrency -----------------------------------------------------------------------------
def test_concurrent_creates_from_threads_get_distinct_ids(synapse_emulator, organiser_syn):
    from concurrent.futures import ThreadPoolExecutor

    project = models.Project(name="Concurrent").store(synapse_client=organiser_syn)

    def create(index: int) -> str:
        body = {
            "name": f"f{index}",
            "parentId": project.id,
            "concreteType": FOLDER,
        }
        return organiser_syn.restPOST("/entity", json.dumps(body))["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(40)))
    assert len(set(ids)) == 40
    counts = synapse_emulator.request_counts()
    assert counts[("POST", "/repo/v1/entity")] >= 41


def test_acl_content_rules(synapse_emulator, organiser_syn, orchestrator_syn):
    project = models.Project(name="ACL rules").store(synapse_client=organiser_syn)
    acl = organiser_syn.restGET(f"/entity/{project.id}/acl")
    public_download = {"principalId": 273949, "accessType": ["READ", "DOWNLOAD"]}
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(
            f"/entity/{project.id}/acl",
            json.dumps({**acl, "resourceAccess": [*acl["resourceAccess"], public_download]}),
        )
    assert "Only READ permissions can be assigned to the public group" in str(error.value)

    orchestrator = synapse_emulator.principal_id("orchestrator")
    handover = [{"principalId": orchestrator, "accessType": ["READ", "CHANGE_PERMISSIONS"]}]
    organiser_syn.restPUT(
        f"/entity/{project.id}/acl", json.dumps({**acl, "resourceAccess": handover})
    )
    current = orchestrator_syn.restGET(f"/entity/{project.id}/acl")
    with pytest.raises(SynapseHTTPError) as error:
        orchestrator_syn.restPUT(
            f"/entity/{project.id}/acl",
            json.dumps(
                {
                    **current,
                    "resourceAccess": [{"principalId": orchestrator, "accessType": ["READ"]}],
                }
            ),
        )
    assert status_of(error) == 400
    assert "revoke their own ACL editing permissions" in str(error.value)
