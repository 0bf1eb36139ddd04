"""The emulator's wikis (v1, v2, header tree, attachments, file handle copies) via synapseclient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import synapseclient
import synapseutils
from synapseclient import models
from synapseclient.core.exceptions import SynapseHTTPError

from tests.fixtures.synapse import status_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def staging(organiser_syn):
    return models.Project(name="Wiki Staging").store(synapse_client=organiser_syn)


def test_legacy_wiki_create_read_update(organiser_syn, staging):
    root = organiser_syn.store(synapseclient.Wiki(owner=staging.id, title="Home", markdown="# Hi"))
    child = organiser_syn.store(
        synapseclient.Wiki(
            owner=staging.id, title="Rules", markdown="no cheating", parentWikiId=root.id
        )
    )
    fetched = organiser_syn.getWiki(staging.id)
    assert (fetched.id, fetched.title, fetched.markdown) == (root.id, "Home", "# Hi")
    assert organiser_syn.getWiki(staging.id, child.id).markdown == "no cheating"
    headers = organiser_syn.getWikiHeaders(staging.id)
    assert [(h.id, h.title, h.get("parentId")) for h in headers] == [
        (root.id, "Home", None),
        (child.id, "Rules", root.id),
    ]
    fetched.markdown = "# Welcome"
    updated = organiser_syn.store(fetched)
    assert updated.etag != root.etag
    assert organiser_syn.getWiki(staging.id).markdown == "# Welcome"
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPUT(
            f"/entity/{staging.id}/wiki/{root.id}", json.dumps({**root, "title": "x"})
        )
    assert status_of(error) == 412


def test_second_root_wiki_is_409_and_missing_wiki_is_404(organiser_syn, staging):
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restGET(f"/entity/{staging.id}/wiki2")
    assert status_of(error) == 404
    organiser_syn.restPOST(
        f"/entity/{staging.id}/wiki", json.dumps({"title": "Home", "markdown": "a"})
    )
    with pytest.raises(SynapseHTTPError) as error:
        organiser_syn.restPOST(
            f"/entity/{staging.id}/wiki", json.dumps({"title": "Home 2", "markdown": "b"})
        )
    assert status_of(error) == 409


def test_models_wiki_pages_headers_history_and_markdown(organiser_syn, staging, tmp_path):
    root = models.WikiPage(owner_id=staging.id, title="Home", markdown="# Welcome").store(
        synapse_client=organiser_syn
    )
    child = models.WikiPage(
        owner_id=staging.id, title="Data", markdown="the data", parent_id=root.id
    ).store(synapse_client=organiser_syn)
    assert child.parent_id == root.id
    fetched = models.WikiPage(owner_id=staging.id, id=root.id).get(synapse_client=organiser_syn)
    assert fetched.title == "Home" and fetched.markdown_file_handle_id
    markdown = models.WikiPage(owner_id=staging.id, id=root.id).get_markdown_file(
        download_file=True,
        download_location=str(tmp_path),
        synapse_client=organiser_syn,
    )
    assert Path(markdown).read_text() == "# Welcome"
    headers = list(models.WikiHeader.get(owner_id=staging.id, synapse_client=organiser_syn))
    assert [(h.id, h.title, h.parent_id) for h in headers] == [
        (root.id, "Home", None),
        (child.id, "Data", root.id),
    ]
    updated = models.WikiPage(owner_id=staging.id, id=root.id, title="Home", markdown="# v2").store(
        synapse_client=organiser_syn
    )
    assert updated.etag != root.etag
    assert organiser_syn.getWiki(staging.id).markdown == "# v2"
    history = list(
        models.WikiHistorySnapshot.get(
            owner_id=staging.id, id=root.id, synapse_client=organiser_syn
        )
    )
    assert len(history) == 2
    models.WikiPage(owner_id=staging.id, id=child.id).delete(synapse_client=organiser_syn)
    assert [
        h.id for h in models.WikiHeader.get(owner_id=staging.id, synapse_client=organiser_syn)
    ] == [root.id]


def test_models_wiki_attachments(organiser_syn, staging, tmp_path):
    attachment = tmp_path / "logo.txt"
    attachment.write_text("logo bytes")
    page = models.WikiPage(
        owner_id=staging.id, title="Home", markdown="see attachment", attachments=[str(attachment)]
    ).store(synapse_client=organiser_syn)
    handles = models.WikiPage(owner_id=staging.id, id=page.id).get_attachment_handles(
        synapse_client=organiser_syn
    )
    assert [h["fileName"] for h in handles["list"]] == ["logo.txt.gz"]
    url = models.WikiPage(owner_id=staging.id, id=page.id).get_attachment(
        file_name="logo.txt.gz", download_file=False, synapse_client=organiser_syn
    )
    assert url.startswith(organiser_syn.repoEndpoint.rsplit("/repo/v1", 1)[0])


def test_wikis_follow_the_owner_permissions(organiser_syn, participant_syn, staging):
    organiser_syn.store(synapseclient.Wiki(owner=staging.id, title="Home", markdown="secret"))
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.getWiki(staging.id)
    assert status_of(error) == 403
    with pytest.raises(SynapseHTTPError) as error:
        participant_syn.restPOST(
            f"/entity/{staging.id}/wiki", json.dumps({"title": "x", "markdown": "y"})
        )
    assert status_of(error) == 403


def test_copy_wiki_with_synapseutils_copies_tree_and_attachments(organiser_syn, staging, tmp_path):
    attachment = tmp_path / "figure.txt"
    attachment.write_text("figure")
    root = organiser_syn.store(
        synapseclient.Wiki(
            owner=staging.id,
            title="Home",
            markdown=f"[rules](#!Synapse:{staging.id}/wiki/)",
            attachments=[str(attachment)],
        )
    )
    organiser_syn.store(
        synapseclient.Wiki(
            owner=staging.id, title="Rules", markdown="be nice", parentWikiId=root.id
        )
    )
    live = models.Project(name="Wiki Live").store(synapse_client=organiser_syn)
    mapping = synapseutils.copyWiki(organiser_syn, staging.id, live.id)
    assert len(mapping) == 2
    live_headers = organiser_syn.getWikiHeaders(live.id)
    assert [h.title for h in live_headers] == ["Home", "Rules"]
    live_root = organiser_syn.getWiki(live.id)
    assert live.id in live_root.markdown and staging.id not in live_root.markdown
    copied = organiser_syn.restGET(f"/entity/{live.id}/wiki2/{live_root.id}/attachmenthandles")
    original = organiser_syn.restGET(f"/entity/{staging.id}/wiki2/{root.id}/attachmenthandles")
    assert [h["fileName"] for h in copied["list"]] == [h["fileName"] for h in original["list"]]
    assert copied["list"][0]["id"] != original["list"][0]["id"]


def test_file_handle_copy_needs_access_to_the_associated_object(
    organiser_syn, participant_syn, staging, tmp_path
):
    attachment = tmp_path / "private.txt"
    attachment.write_text("private")
    wiki = organiser_syn.store(
        synapseclient.Wiki(
            owner=staging.id, title="Home", markdown="x", attachments=[str(attachment)]
        )
    )
    handle_id = wiki.attachmentFileHandleIds[0]
    request = {
        "copyRequests": [
            {
                "originalFile": {
                    "fileHandleId": handle_id,
                    "associateObjectId": wiki.id,
                    "associateObjectType": "WikiAttachment",
                }
            }
        ]
    }
    mine = organiser_syn.restPOST(
        "/filehandles/copy", json.dumps(request), endpoint=organiser_syn.fileHandleEndpoint
    )
    assert (
        mine["copyResults"][0]["newFileHandle"]["createdBy"] == organiser_syn.credentials.owner_id
    )
    theirs = participant_syn.restPOST(
        "/filehandles/copy", json.dumps(request), endpoint=participant_syn.fileHandleEndpoint
    )
    assert theirs["copyResults"][0]["failureCode"] == "UNAUTHORIZED"


def test_evaluation_wiki(organiser_syn, staging):
    evaluation = models.Evaluation(
        name="Wiki queue", description="q", content_source=staging.id
    ).store(synapse_client=organiser_syn)
    page = organiser_syn.restPOST(
        f"/evaluation/{evaluation.id}/wiki", json.dumps({"title": "Queue", "markdown": "about"})
    )
    assert organiser_syn.restGET(f"/evaluation/{evaluation.id}/wiki")["id"] == page["id"]
