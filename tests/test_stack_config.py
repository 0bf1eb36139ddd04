"""The stack file contract: the dev stack validates; bad stacks fail naming the key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from stackconfig import ConfigError, load_stack, parse_config, read_stack_file
from stackconfig.model import SECRET_KEYS, STACK_KEYS, ChallengeSpec
from stackconfig.schema import project_config_declarations, pulumi_yaml, readme_table, untyped_keys
from tests.fixtures.cli import run_module

ROOT = Path(__file__).resolve().parent.parent


def dev_config() -> dict:
    return copy.deepcopy(read_stack_file("dev"))


def problems_for(changes: dict) -> list[str]:
    raw = dev_config()
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    with pytest.raises(ConfigError) as caught:
        parse_config("t", raw, env={})
    return caught.value.problems


def test_dev_stack_is_valid_and_matches_the_issue_workload():
    config = load_stack("dev", env={})
    spec = config.spec
    assert spec.kind == "model-to-data"
    assert len(spec.queues) == 2
    assert spec.per_submission_memory_gib == 10
    assert spec.max_concurrent_submissions == 4
    assert spec.docker_image_gib == 4
    assert spec.input_data_gib == 50
    assert config.region == "us-east-1"
    assert config.secrets_missing == (
        "challenge:synapseAuthToken",
        "challenge:orchestratorAuthToken",
    )


def test_dev_stack_file_holds_no_secret_values():
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    for key in SECRET_KEYS:
        assert f"challenge:{key}:" not in text


INVALID = [
    ("missing name", {"challenge:name": None}, "challenge:name: required"),
    (
        "negative memory",
        {"challenge:perSubmissionMemoryGiB": -1},
        "challenge:perSubmissionMemoryGiB: -1 must be greater than 0",
    ),
    (
        "zero concurrency",
        {"challenge:maxConcurrentSubmissions": 0},
        "challenge:maxConcurrentSubmissions: 0 is out of range 1..100",
    ),
    (
        "too much concurrency",
        {"challenge:maxConcurrentSubmissions": 101},
        "challenge:maxConcurrentSubmissions: 101 is out of range 1..100",
    ),
    (
        "non-zip archive",
        {"challenge:workflowArchiveUrl": "https://github.com/o/r/archive/main.tar.gz"},
        "challenge:workflowArchiveUrl: 'https://github.com/o/r/archive/main.tar.gz' must be an "
        "https URL whose path ends in .zip",
    ),
    (
        "http archive",
        {"challenge:workflowArchiveUrl": "http://example.org/w.zip"},
        "challenge:workflowArchiveUrl: 'http://example.org/w.zip' must be an https URL",
    ),
    ("empty queue list", {"challenge:queues": []}, "challenge:queues: needs at least 1 item(s)"),
    (
        "duplicate queue names",
        {"challenge:queues": [{"name": "Task 1"}, {"name": "task 1"}]},
        "challenge:queues: ",
    ),
    (
        "queue without name",
        {"challenge:queues": [{"description": "x"}]},
        "challenge:queues[0].name: required",
    ),
    (
        "unknown key",
        {"challenge:maxConcurrentSubmision": 3},
        "challenge:maxConcurrentSubmision: unknown key (did you mean challenge:maxConcurrentSubmissions?)",
    ),
    (
        "unknown queue key",
        {"challenge:queues": [{"name": "A", "quota": 3}]},
        "challenge:queues[0].quota: unknown key",
    ),
    (
        "memory not a number",
        {"challenge:perSubmissionMemoryGiB": "ten"},
        "challenge:perSubmissionMemoryGiB: 'ten' is not a whole number",
    ),
    (
        "fractional image size",
        {"challenge:dockerImageGiB": 2.5},
        "challenge:dockerImageGiB: 2.5 is not a whole number",
    ),
    (
        "unknown kind",
        {"challenge:kind": "code-to-data"},
        "challenge:kind: 'code-to-data' is not one of",
    ),
    (
        "boolean as text",
        {"challenge:shareResultsImmediately": "sometimes"},
        "challenge:shareResultsImmediately: 'sometimes' is not true or false",
    ),
    (
        "absolute root template",
        {"challenge:rootTemplate": "/workflow.cwl"},
        "challenge:rootTemplate: '/workflow.cwl' must be a relative path",
    ),
    (
        "negative input data",
        {"challenge:inputDataGiB": -5},
        "challenge:inputDataGiB: -5 is out of range 0..16384",
    ),
    (
        "bad instance type",
        {"challenge:instanceType": "large"},
        "challenge:instanceType: 'large' does not match",
    ),
    (
        "name with a slash",
        {"challenge:name": "A/B challenge"},
        "challenge:name: 'A/B challenge' does not match",
    ),
    (
        "toil workDir",
        {"challenge:toilCliOptions": "--workDir /tmp"},
        "challenge:toilCliOptions: '--workDir /tmp' must not contain --workDir",
    ),
    (
        "end date without zone",
        {"challenge:endDate": "2027-06-30T23:59:00"},
        "challenge:endDate: '2027-06-30T23:59:00' needs a time zone",
    ),
    (
        "round ends before start",
        {
            "challenge:queues": [
                {
                    "name": "A",
                    "rounds": [{"start": "2027-02-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}],
                }
            ]
        },
        "challenge:queues[0].rounds[0]: ",
    ),
    (
        "zero daily limit",
        {
            "challenge:queues": [
                {
                    "name": "A",
                    "rounds": [
                        {
                            "start": "2027-01-01T00:00:00Z",
                            "end": "2027-02-01T00:00:00Z",
                            "limits": {"daily": 0},
                        }
                    ],
                }
            ]
        },
        "challenge:queues[0].rounds[0].limits.daily: 0 must be at least 1",
    ),
    ("queues not a list", {"challenge:queues": "Task 1"}, "challenge:queues: "),
    ("no region", {"aws:region": None}, "aws:region: required"),
    (
        "existing team id not numeric",
        {"challenge:existingTeamIds": {"admin": "Admins"}},
        "challenge:existingTeamIds.admin: 'Admins' does not match",
    ),
    (
        "missing username",
        {"challenge:orchestratorSynapseUsername": None},
        "challenge:orchestratorSynapseUsername: required",
    ),
    (
        "unsupported AMI",
        {
            "challenge:amiSsmParameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        },
        "challenge:amiSsmParameter: ",
    ),
]


@pytest.mark.parametrize(("case", "changes", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_stack_fails_naming_the_key(case, changes, expected):
    problems = problems_for(changes)
    assert any(p.startswith(expected) for p in problems), f"{case}: {problems}"


def test_every_problem_is_reported_at_once():
    problems = problems_for(
        {
            "challenge:maxConcurrentSubmissions": 0,
            "challenge:perSubmissionMemoryGiB": 0,
            "challenge:kind": "other",
            "challenge:typo": 1,
        }
    )
    keys = {p.split(":", 2)[1] for p in problems}
    assert {"maxConcurrentSubmissions", "perSubmissionMemoryGiB", "kind", "typo"} <= keys


def test_values_as_pulumi_hands_them_over_are_accepted():
    """At `pulumi up` every value is text and lists arrive as JSON."""
    raw = {
        "aws:region": "eu-west-1",
        "challenge:name": "Text Challenge",
        "challenge:queues": '[{"name": "Only queue"}]',
        "challenge:workflowArchiveUrl": "https://example.org/w.zip",
        "challenge:rootTemplate": "w-main/workflow.cwl",
        "challenge:orchestratorSynapseUsername": "bot",
        "challenge:perSubmissionMemoryGiB": "8",
        "challenge:maxConcurrentSubmissions": "3",
        "challenge:shareResultsImmediately": "false",
        "challenge:instanceType": "",
        "challenge:orchestratorAuthToken": "secret-value",
    }
    config = parse_config("t", raw, env={}, secret_keys={"challenge:orchestratorAuthToken"})
    assert config.spec.per_submission_memory_gib == 8
    assert config.spec.max_concurrent_submissions == 3
    assert config.spec.share_results_immediately is False
    assert config.spec.instance_type is None
    assert config.spec.queues[0].name == "Only queue"
    assert config.secrets_set == {"orchestratorAuthToken"}
    assert "secret-value" not in repr(config)


def test_synapse_token_from_environment_counts_as_set():
    config = parse_config("t", dev_config(), env={"SYNAPSE_AUTH_TOKEN": "x"})
    assert config.secrets_missing == ("challenge:orchestratorAuthToken",)


def test_project_file_declares_every_typable_key_as_the_model_does():
    text = (ROOT / "Pulumi.yaml").read_text()
    assert text == pulumi_yaml(), (
        "Pulumi.yaml is stale: python -m stackconfig pulumi-yaml > Pulumi.yaml"
    )
    project = yaml.safe_load(text)
    assert project["name"] == "challenge"
    assert project["runtime"]["name"] == "python"
    assert project["config"] == project_config_declarations()
    comments = (ROOT / "Pulumi.yaml").read_text()
    for key in untyped_keys():
        assert f"#   challenge:{key}: " in comments, f"{key} is not declared in Pulumi.yaml"


def test_project_defaults_are_valid_values():
    """Pulumi applies Pulumi.yaml defaults before the program runs: they must pass the model."""
    raw = dev_config()
    for key, declaration in project_config_declarations().items():
        if "default" in declaration and f"challenge:{key}" not in raw:
            raw[f"challenge:{key}"] = (
                str(declaration["default"]).lower()
                if isinstance(declaration["default"], bool)
                else str(declaration["default"])
            )
    parse_config("t", raw, env={})


def test_every_key_has_a_description_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for alias, name in STACK_KEYS.items():
        assert ChallengeSpec.model_fields[name].description, f"{alias} has no description"
    assert readme_table() in readme, "README key table is stale: python -m stackconfig table"


def test_make_check_fails_with_every_error(tmp_path):
    bad = dev_config()
    bad["challenge:maxConcurrentSubmissions"] = 0
    bad["challenge:workflowArchiveUrl"] = "https://example.org/workflow.tar"
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": bad}))
    result = run_module("preview", "--stack", "bad", "--project-dir", str(tmp_path))
    assert result.returncode == 1
    assert "challenge:maxConcurrentSubmissions: 0 is out of range 1..100" in result.stderr
    assert "challenge:workflowArchiveUrl:" in result.stderr
    assert re.search(r"invalid, 2 problem", result.stderr)
