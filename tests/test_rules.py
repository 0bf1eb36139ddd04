"""Each value rule is stated once (rules.py): the config model, the host settings, sizing and the
components agree on the cases where their separate copies used to disagree."""

from __future__ import annotations

from typing import Any

import pytest

import rules
from components.drain_guard import _region_problem
from sizing import SizingError, Workload
from stackconfig import ConfigError, parse_config, read_stack_file
from userdata import UserDataError, host_settings


def _stack(**overrides: Any):
    raw = {**read_stack_file("dev"), **{f"challenge:{k}": v for k, v in overrides.items()}}
    return parse_config("dev", raw, env={})


@pytest.mark.parametrize("days", [0, -1, 366])
def test_job_retention_below_one_day_is_refused_by_the_model_and_by_sizing(days: int):
    with pytest.raises(ConfigError, match="challenge:jobRetentionDays"):
        _stack(jobRetentionDays=days)
    with pytest.raises(SizingError, match="jobRetentionDays"):
        Workload(per_submission_memory_gib=1, max_concurrent_submissions=1, job_retention_days=days)


@pytest.mark.parametrize(
    ("image", "well_formed", "pinned"),
    [
        ("registry.example.org:5000/team/engine:1.2.0", True, True),
        ("registry.example.org:5000/team/engine:1.2", True, False),
        ("ghcr.io/sage-bionetworks/synapseworkfloworchestrator@sha256:" + "0" * 64, True, True),
        ("docker.io/library/python:3.12-slim", True, True),
        ("ghcr.io/sage-bionetworks/synapseworkfloworchestrator", True, False),
        ("python:latest", True, False),
        ("localhost:5000/engine:master", True, False),
        ("a//b:1", False, None),
        ("UPPER/case:1", False, None),
        ("repo:tag with space", False, None),
    ],
)
def test_one_docker_image_rule_for_the_stack_and_the_host(
    image: str, well_formed: bool, pinned: bool | None
):
    assert (rules.problem(rules.DockerImage, image) is None) == well_formed
    for allow_moving in (False, True):
        try:
            config = _stack(
                orchestratorImage=image,
                workflowEngineImage=image,
                allowMovingImageTags=allow_moving,
            )
        except ConfigError as exc:
            assert not well_formed or (not pinned and not allow_moving), exc.problems
            assert all("challenge:" in p for p in exc.problems)
        else:
            assert well_formed and (pinned or allow_moving)
            host_settings(config)  # the host takes what the stack took


@pytest.mark.parametrize(
    ("region", "ok"),
    [("us-east-1", True), ("us-gov-west-1", True), ("ap-southeast-10", True), ("Europe", False)],
)
def test_one_region_rule_for_the_host_and_the_drain_guard(region: str, ok: bool):
    assert (_region_problem(region) is None) == ok
    assert (rules.problem(rules.AwsRegion, region) is None) == ok


def test_queue_names_differing_only_in_case_are_duplicates_everywhere():
    queues = [{"name": "Main Task"}, {"name": "main task"}]
    with pytest.raises(ConfigError, match="duplicate queue names"):
        _stack(queues=queues)
    assert rules.duplicate_names(["Main Task", "main task", "Other"]) == ["Main Task", "main task"]


def test_the_smallest_root_volume_is_one_number():
    from sizing import MIN_ROOT_VOLUME_GIB

    assert MIN_ROOT_VOLUME_GIB == rules.MIN_ROOT_VOLUME_GIB == 20
    assert rules.problem(rules.RootVolumeGiB, 19)
    assert rules.problem(rules.RootVolumeGiB, 20) is None


def test_a_yaml_boolean_is_not_a_whole_number():
    with pytest.raises(ConfigError, match="challenge:maxConcurrentSubmissions"):
        _stack(maxConcurrentSubmissions=True)
    settings = host_settings(_stack())
    with pytest.raises(UserDataError, match="max_concurrent_submissions"):
        type(settings)(**{**dict(settings), "max_concurrent_submissions": True})


#: Upstream's own TRS example (SynapseWorkflowOrchestrator WorkflowURLDownloaderTest.java).
UPSTREAM_TRS_URL = (
    "https://dockstore.org/api/api/ga4gh/v2/tools/"
    "%23workflow%2Fgithub.com%2FBarski-lab%2Fga4gh_challenge/versions/v0.0.4/CWL"
)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (UPSTREAM_TRS_URL, True),
        ("https://example.org/w.Zip", True),
        ("https://example.org/w.zip?download=1&version=2", True),
        ("https://example.org/w.zip/", False),  # the path no longer ends in .zip
        ("https://example.org/w.tar.gz?x=.zip", False),  # the query is not the path
        ("https://example.org/w.zip?Token=x", False),
        ("https://example.org/w.zip?x-goog-signature=x", False),
        ("https://example.org/w.zip?AWSAccessKeyId=x&Expires=1", False),
        ("https://example.org/w.zip?a=<b>", False),
        ("https://[::1]/w.zip", False),
    ],
)
def test_the_archive_url_rule_follows_what_the_orchestrator_fetches(url: str, ok: bool):
    assert (rules.workflow_archive_url_problem(url) is None) is ok


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("~/.aws/config", True),
        ("$HOME/.aws/credentials", True),
        ("/root/.aws/credentials", True),
        ("/Users/alice/.aws/config", True),
        (".aws/config", False),  # relative: the repository's own .aws folder
        ("~/.aws", False),
        ("~/.aws/profiles/config", False),
        ("/home/alice/../bob/.aws/config", False),
        ("/home/alice/repo/.aws/config", False),
        (["~/.aws/config"], False),
    ],
)
def test_aws_shared_files_live_in_a_home_aws_folder(path: Any, ok: bool):
    assert (rules.aws_shared_file_problem(path) is None) is ok


def test_one_team_for_every_role_names_each_role_that_must_not_share_it():
    problems = rules.shared_team_problems(
        {"participants": "9", "admin": "9", "organizers": "9", "preregistrants": "9"}
    )
    assert problems == [
        "participants, admin, organizers and preregistrants name the same team 9: the "
        "participants and preregistrants would get the rights of admin and organizers on the "
        "projects and queues; give admin and organizers a team each (only participants and "
        "preregistrants may share one)"
    ]
    assert rules.shared_team_problems({"participants": "9", "preregistrants": "9"}) == []
