"""Launch day against the Synapse-compatible server, through the real providers.

Going live grants exactly the Participants team's submit access and the live project's public
view, going back to staging removes exactly those entries; the wiki is copied once (tree,
titles, markdown, attachments, links) and later only changed, matched pages are mirrored; the
SubmissionView provider creates, updates, reads and deletes its view.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import synapseclient
from synapseclient import models
from synapseclient.core.exceptions import SynapseHTTPError

from components.challenge_launch import ChallengeLaunchArgs, plan_launch
from components.challenge_site import ChallengeSiteArgs, QueueSpec
from components.synapse.local_engine import LocalEngine
from components.synapse.site_plan import plan_site
from components.synapse.submission_view import SUBMISSION_VIEW, SubmissionViewProvider
from components.synapse.wiki_copy import WikiCopyProvider
from synapse_client.access import AUTHENTICATED_USERS_PRINCIPAL_ID, PUBLIC_PRINCIPAL_ID
from synapse_emulator import SynapseEmulator
from tests.fixtures.synapse import checked, configured

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SYNAPSE_RETRY_ATTEMPTS = 4
"""Attempts per Synapse call (the fault tests count on it)."""


PROJECT = "org.sagebionetworks.repo.model.Project"


def acl_entries(syn: synapseclient.Synapse, uri: str) -> set[tuple[int, frozenset[str]]]:
    acl = syn.restGET(uri)
    return {(int(e["principalId"]), frozenset(e["accessType"])) for e in acl["resourceAccess"]}


@pytest.fixture
def site(synapse_emulator: SynapseEmulator) -> dict[str, Any]:
    """A challenge site made by the ChallengeSite plan: two queues, teams, projects."""
    args = ChallengeSiteArgs(
        name="Launch Demo",
        queues=(QueueSpec("Launch Demo Task 1", key="task-1"), QueueSpec("Launch Demo Task 2")),
        workflow_archive_url="https://github.com/org/demo-workflow/archive/refs/heads/main.zip",
        root_template="demo-workflow-main/workflow.cwl",
        orchestrator_synapse_username="orchestrator",
        synapse_endpoint=synapse_emulator.base_url,
    )
    engine = LocalEngine(synapse_emulator.token("organiser"))
    engine.up(plan_site(args))
    return {
        "queues": {
            "task-1": engine.state["queue-task-1"].id,
            "launch-demo-task-2": engine.state["queue-launch-demo-task-2"].id,
        },
        "participants": engine.state["team-participants"].id,
        "live": engine.state["live-project"].id,
        "staging": engine.state["staging-project"].id,
    }


def launch_args(emu: SynapseEmulator, site: dict[str, Any], phase: str) -> ChallengeLaunchArgs:
    return ChallengeLaunchArgs(
        phase=phase,
        queue_ids=site["queues"],
        participants_team_id=site["participants"],
        live_project_id=site["live"],
        staging_project_id=site["staging"],
        synapse_endpoint=emu.base_url,
    )


def test_going_live_grants_exactly_submit_and_view_and_staging_revokes_exactly_them(
    synapse_emulator, organiser_syn, participant_syn, site
):
    emu = synapse_emulator
    queues = list(site["queues"].values())
    live = site["live"]
    team = int(site["participants"])
    before = {q: acl_entries(organiser_syn, f"/evaluation/{q}/acl") for q in queues}
    project_before = acl_entries(organiser_syn, f"/entity/{live}/acl")
    participant_id = emu.principal_id("participant")
    participant_syn.restPUT(f"/team/{team}/member/{participant_id}")
    work = models.Project(name="Participant Work").store(synapse_client=participant_syn)
    entry = models.File(
        path="https://example.org/model.txt", synapse_store=False, parent_id=work.id
    ).store(synapse_client=participant_syn)
    anonymous_read = f"{emu.repo_endpoint}/entity/{live}"

    with pytest.raises(SynapseHTTPError):
        participant_syn.submit(queues[0], entry.id)
    assert requests.get(anonymous_read, timeout=10).status_code == 403

    engine = LocalEngine(emu.token("organiser"), name_prefix="launch")
    actions = engine.up(plan_launch(launch_args(emu, site, "live")))
    assert sorted(actions) == [
        "live-project-public-view",
        "live-project-registered-view",
        "submit-launch-demo-task-2",
        "submit-task-1",
        "wiki-copy",  # the staging project has no wiki yet: nothing copied
    ]
    for q in queues:
        added = acl_entries(organiser_syn, f"/evaluation/{q}/acl") - before[q]
        removed = before[q] - acl_entries(organiser_syn, f"/evaluation/{q}/acl")
        assert (added, removed) == ({(team, frozenset({"READ", "SUBMIT"}))}, set()), q
    project_after = acl_entries(organiser_syn, f"/entity/{live}/acl")
    assert project_after - project_before == {
        (int(PUBLIC_PRINCIPAL_ID), frozenset({"READ"})),
        (int(AUTHENTICATED_USERS_PRINCIPAL_ID), frozenset({"READ"})),
    }
    assert project_before <= project_after
    assert participant_syn.submit(queues[0], entry.id).evaluationId == queues[0]
    assert requests.get(anonymous_read, timeout=10).status_code == 200

    assert engine.up(plan_launch(launch_args(emu, site, "staging"))) == dict.fromkeys(
        actions, "delete"
    )
    for q in queues:
        assert acl_entries(organiser_syn, f"/evaluation/{q}/acl") == before[q], q
    assert acl_entries(organiser_syn, f"/entity/{live}/acl") == project_before
    with pytest.raises(SynapseHTTPError) as refused:
        participant_syn.submit(queues[1], entry.id)
    assert refused.value.response.status_code == 403
    assert requests.get(anonymous_read, timeout=10).status_code == 403


# --- wiki copy and mirror ------------------------------------------------------------------------


def new_project(syn: synapseclient.Synapse, name: str) -> str:
    return syn.restPOST("/entity", json.dumps({"name": name, "concreteType": PROJECT}))["id"]


def new_page(syn: synapseclient.Synapse, owner: str, **body: Any) -> dict[str, Any]:
    return syn.restPOST(f"/entity/{owner}/wiki", json.dumps(body))


def external_handle(syn: synapseclient.Synapse, url: str, name: str) -> str:
    body = {"externalURL": url, "fileName": name, "contentType": "image/png"}
    return syn.restPOST("/externalFileHandle", json.dumps(body), endpoint=syn.fileHandleEndpoint)[
        "id"
    ]


def tree(syn: synapseclient.Synapse, owner: str) -> dict[str, dict[str, Any]]:
    """Title -> page (v1, with parent title) of every page of the owner's wiki."""
    headers = syn.restGET(f"/entity/{owner}/wikiheadertree")["results"]
    titles = {h["id"]: h["title"] for h in headers}
    pages = {}
    for header in headers:
        page = syn.restGET(f"/entity/{owner}/wiki/{header['id']}")
        page["parent_title"] = titles.get(header.get("parentId"))
        pages[header["title"]] = page
    return pages


@pytest.fixture
def wikis(syn) -> dict[str, Any]:
    """A staging wiki of four pages (links, an attachment) and an empty live project."""
    staging, live = new_project(syn, "Wiki Staging"), new_project(syn, "Wiki Live")

    def page(title: str, parent: dict[str, Any] | None, markdown: str, **body: Any) -> Any:
        if parent:
            body["parentWikiId"] = parent["id"]
        return new_page(syn, staging, title=title, markdown=markdown, **body)

    home = page("Home", None, f"Welcome to #!Synapse:{staging} !")
    task = page(
        "Task 1", home, f"Back [home](#!Synapse:{staging}/wiki/{home['id']}); not syn{staging[3:]}0"
    )
    figure = external_handle(syn, "https://example.org/f.png", "figure.png")
    data = page("Data", home, "${image?fileName=figure.png}", attachmentFileHandleIds=[figure])
    details = page("Details", task, f"[data](#!Synapse:{staging}/wiki/{data['id']})")
    return {
        "staging": staging,
        "live": live,
        "pages": {"Home": home, "Task 1": task, "Data": data, "Details": details},
    }


@pytest.fixture
def wiki_copy(synapse_emulator: SynapseEmulator, wikis: dict) -> tuple[Any, dict[str, Any]]:
    """The wiki copy's provider as the engine runs it, and its checked inputs."""
    provider = configured(WikiCopyProvider, synapse_emulator.token("organiser"))
    inputs = {
        "staging_project_id": wikis["staging"],
        "live_project_id": wikis["live"],
        "synapse_endpoint": synapse_emulator.base_url,
    }
    return provider, checked(provider, inputs)


@pytest.fixture
def created(wiki_copy: tuple[Any, dict[str, Any]]) -> Any:
    """The first copy of the staging wiki to the live project (``create``)."""
    provider, props = wiki_copy
    return provider.create(props)


def writes(emu: SynapseEmulator) -> dict[tuple[str, str], int]:
    return {k: n for k, n in emu.request_counts().items() if k[0] in ("POST", "PUT", "DELETE")}


def test_wiki_copy_reproduces_the_staging_tree_once_with_links_and_attachments(
    emu, syn, wikis, wiki_copy, created
):
    staging, live = wikis["staging"], wikis["live"]
    provider, props = wiki_copy

    copied = tree(syn, live)
    source = tree(syn, staging)
    assert {t: p["parent_title"] for t, p in copied.items()} == {
        t: p["parent_title"] for t, p in source.items()
    }
    page_map = created.outs["page_map"]
    assert page_map == {source[t]["id"]: copied[t]["id"] for t in source}
    assert copied["Home"]["markdown"] == f"Welcome to #!Synapse:{live} !"
    assert copied["Task 1"]["markdown"] == (
        f"Back [home](#!Synapse:{live}/wiki/{copied['Home']['id']}); not syn{staging[3:]}0"
    )
    assert copied["Details"]["markdown"] == f"[data](#!Synapse:{live}/wiki/{copied['Data']['id']})"
    staging_handle = source["Data"]["attachmentFileHandleIds"]
    live_handle = copied["Data"]["attachmentFileHandleIds"]
    assert len(live_handle) == 1 and live_handle != staging_handle
    handles = syn.restGET(f"/entity/{live}/wiki/{copied['Data']['id']}/attachmenthandles")["list"]
    assert [(h["fileName"], h["externalURL"]) for h in handles] == [
        ("figure.png", "https://example.org/f.png")
    ]
    assert created.outs["unmatched_staging_pages"] == []

    emu.reset_counts()
    diff = provider.diff(created.id, created.outs, props)
    assert not diff.changes
    assert writes(emu) == {}


def test_mirroring_updates_only_changed_matched_pages_and_reports_new_ones(
    emu, syn, wikis, wiki_copy, created
):
    staging, live = wikis["staging"], wikis["live"]
    provider, props = wiki_copy
    live_before = tree(syn, live)

    task = wikis["pages"]["Task 1"]
    current = syn.restGET(f"/entity/{staging}/wiki/{task['id']}")
    current["markdown"] = f"Rules changed, see #!Synapse:{staging}/wiki/{task['id']}"
    syn.restPUT(f"/entity/{staging}/wiki/{task['id']}", json.dumps(current))
    new_page(syn, staging, title="Leaderboard", parentWikiId=wikis["pages"]["Home"]["id"])

    diff = provider.diff(created.id, created.outs, props)
    assert diff.changes and not diff.replaces
    emu.reset_counts()
    updated = provider.update(created.id, created.outs, props)
    assert writes(emu) == {("PUT", "/repo/v1/entity/{owner_id}/wiki/{wiki_id}"): 1}
    live_after = tree(syn, live)
    assert "Leaderboard" not in live_after
    assert updated.outs["unmatched_staging_pages"] == ["Leaderboard"]
    assert live_after["Task 1"]["markdown"] == (
        f"Rules changed, see #!Synapse:{live}/wiki/{live_after['Task 1']['id']}"
    )
    for title in ("Home", "Data", "Details"):
        assert live_after[title]["etag"] == live_before[title]["etag"], title

    emu.reset_counts()
    assert not provider.diff(created.id, updated.outs, props).changes
    assert writes(emu) == {}


def test_mirroring_leaves_live_only_edits_until_the_staging_page_changes(
    syn, wikis, wiki_copy, created
):
    staging, live = wikis["staging"], wikis["live"]
    provider, props = wiki_copy
    data_live = tree(syn, live)["Data"]
    data_live["markdown"] = "edited on the live site"
    syn.restPUT(f"/entity/{live}/wiki/{data_live['id']}", json.dumps(data_live))
    assert not provider.diff(created.id, created.outs, props).changes

    home = syn.restGET(f"/entity/{staging}/wiki/{wikis['pages']['Home']['id']}")
    home["markdown"] = "New welcome"
    syn.restPUT(f"/entity/{staging}/wiki/{home['id']}", json.dumps(home))
    updated = provider.update(created.id, created.outs, props)
    assert updated.outs["pages_written"] == 1
    after = tree(syn, live)
    assert (after["Home"]["markdown"], after["Data"]["markdown"]) == (
        "New welcome",
        "edited on the live site",
    )


def test_a_retried_root_post_is_adopted(emu, syn, wikis, wiki_copy):
    provider, props = wiki_copy
    # The root POST commits but its answer is lost; the retry gets 409 (a root exists).
    emu.faults.drop_after_commit(method="POST", path_regex=r"/entity/[^/]+/wiki$", count=1)
    created = provider.create(props)
    live_tree = tree(syn, wikis["live"])
    assert sorted(live_tree) == ["Data", "Details", "Home", "Task 1"]
    assert created.outs["page_map"] == {
        wikis["pages"][t]["id"]: live_tree[t]["id"] for t in wikis["pages"]
    }
    assert emu.faults.injected["drop"] == 1


def test_a_retried_page_post_leaves_no_duplicate(emu, syn, wikis, wiki_copy):
    live = wikis["live"]
    old_root = new_page(syn, live, title="Coming soon", markdown="placeholder")
    provider, props = wiki_copy
    # The first page POST (a child: the live root exists) commits, its answer is lost, the
    # client retries and Synapse creates a second page of that title.
    emu.faults.drop_after_commit(method="POST", path_regex=r"/entity/[^/]+/wiki$", count=1)
    created = provider.create(props)
    headers = syn.restGET(f"/entity/{live}/wikiheadertree")["results"]
    assert sorted(h["title"] for h in headers) == ["Data", "Details", "Home", "Task 1"]
    live_tree = tree(syn, live)
    assert live_tree["Home"]["id"] == old_root["id"]
    assert live_tree["Home"]["markdown"] == f"Welcome to #!Synapse:{live} !"
    assert created.outs["page_map"] == {
        wikis["pages"][t]["id"]: live_tree[t]["id"] for t in wikis["pages"]
    }
    assert emu.faults.injected["drop"] == 1


def test_wiki_copy_rejects_the_same_project_on_both_sides(synapse_emulator, wikis):
    provider = configured(WikiCopyProvider, synapse_emulator.token("organiser"))
    result = provider.check(
        {}, {"staging_project_id": wikis["staging"], "live_project_id": wikis["staging"]}
    )
    assert [f.property for f in result.failures] == ["live_project_id"]


def test_going_live_copies_the_wiki_through_the_launch_plan(synapse_emulator, organiser_syn, site):
    emu, syn = synapse_emulator, organiser_syn
    new_page(syn, site["staging"], title="Overview", markdown=f"Synapse:{site['staging']}")
    args = launch_args(emu, site, "live")
    engine = LocalEngine(emu.token("organiser"), name_prefix="launch")
    assert engine.up(plan_launch(args))["wiki-copy"] == "create"
    assert tree(syn, site["live"])["Overview"]["markdown"] == f"Synapse:{site['live']}"
    assert engine.up(plan_launch(args))["wiki-copy"] == "same"
    engine.up(plan_launch(ChallengeLaunchArgs(**{**args.__dict__, "phase": "staging"})))
    assert "Overview" in tree(syn, site["live"])


# --- submission view -----------------------------------------------------------------------------


def test_submission_view_lifecycle(synapse_emulator, organiser_syn, site):
    emu, syn = synapse_emulator, organiser_syn
    provider = configured(SubmissionViewProvider, emu.token("organiser"))
    first, second = sorted(site["queues"].values(), key=int)
    inputs = {
        "name": "Submissions",
        "parent_id": site["staging"],
        "scope_ids": [first],
        "owner_key": "challenge/test/submissions",
        "synapse_endpoint": emu.base_url,
    }
    props = provider.check({}, inputs).inputs
    created = provider.create(props)
    entity = syn.restGET(f"/entity/{created.id}")
    assert (entity["concreteType"], entity["parentId"], entity["scopeIds"]) == (
        SUBMISSION_VIEW,
        site["staging"],
        [first],
    )
    columns = {c["name"] for c in syn.restGET(f"/entity/{created.id}/column")["results"]}
    assert {"id", "status", "evaluationid", "submitterid"} <= columns

    wider = provider.check(props, {**inputs, "scope_ids": [second, first]}).inputs
    diff = provider.diff(created.id, created.outs, wider)
    assert diff.changes and not diff.replaces
    provider.update(created.id, created.outs, wider)
    assert sorted(syn.restGET(f"/entity/{created.id}")["scopeIds"]) == sorted([first, second])

    drifted = syn.restGET(f"/entity/{created.id}")
    drifted["scopeIds"] = [second]
    syn.restPUT(f"/entity/{created.id}", json.dumps(drifted))
    seen = provider.read(created.id, wider)
    assert seen.outs["scope_ids"] == [second]
    assert provider.diff(created.id, seen.outs, wider).changes

    provider.delete(created.id, wider)
    with pytest.raises(SynapseHTTPError):
        syn.restGET(f"/entity/{created.id}")


def test_submission_view_checks_its_scope(synapse_emulator, site):
    provider = configured(SubmissionViewProvider, synapse_emulator.token("organiser"))
    base = {"name": "Submissions", "parent_id": site["staging"], "owner_key": "a/b/c"}
    for scope in ([], ["syn1"], ["12", "12"]):
        result = provider.check({}, {**base, "scope_ids": scope})
        assert [f.property for f in result.failures] == ["scope_ids"], scope
    # Synapse stores a scope without checking the queues exist or are readable
    # (SubmissionViewMetadataProvider.validateEntity discards hasAccess's answer), so the
    # provider's own check above is the only one: an unknown queue makes an empty view.
    props = provider.check({}, {**base, "scope_ids": ["999999"]}).inputs
    props["synapse_endpoint"] = synapse_emulator.base_url
    created = provider.create(props)
    assert created.outs["scope_ids"] == ["999999"]
    provider.delete(created.id, created.outs)
