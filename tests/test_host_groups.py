"""`challenge:hosts`: every queue served by exactly one host (or split by stage on request), each
problem named in the stack's words, and each group's spec the stack's with its own keys."""

from __future__ import annotations

import pytest

from stackconfig import ConfigError, parse_config
from stackconfig.hosts import DEFAULT_HOST_KEY, host_groups
from tests.fixtures.stacks import stack_with

QUEUES = [
    {"name": "Light Board", "key": "light"},
    {"name": "Heavy Task", "key": "heavy", "splitByExecutionStage": True},
    {"name": "Other Task"},
]


def problems(changes: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config("dev", stack_with(changes))
    return caught.value.problems


def test_without_hosts_one_default_group_serves_every_queue_with_the_stacks_spec():
    config = parse_config("dev", stack_with({}))
    (group,) = host_groups(config.spec)
    assert (group.key, group.resource_name, group.index) == (DEFAULT_HOST_KEY, "orchestrator", None)
    assert group.queue_keys == ("example-m2d-2027-task-1", "example-m2d-2027-task-2")
    assert group.spec == config.spec and group.execution_stage == "ALL"


def test_each_group_gets_its_queues_and_its_overrides_on_top_of_the_stack():
    config = parse_config(
        "dev",
        stack_with(
            {
                "queues": QUEUES,
                "hosts": [
                    {"key": "default", "queues": ["light", "other-task"], "kind": "data-to-model"},
                    {"key": "check", "queues": ["heavy"], "executionStage": "VALIDATION"},
                    {
                        "key": "gpu",
                        "queues": ["heavy"],
                        "executionStage": "EXECUTION",
                        "perSubmissionMemoryGiB": 64,
                        "maxConcurrentSubmissions": 2,
                    },
                ],
            }
        ),
    )
    light, check, gpu = host_groups(config.spec)
    assert [g.resource_name for g in (light, check, gpu)] == [
        "orchestrator",
        "orchestrator-check",
        "orchestrator-gpu",
    ]
    assert [q.key or q.name for q in light.spec.queues] == ["light", "Other Task"]
    assert light.spec.kind == "data-to-model" and gpu.spec.kind == config.spec.kind
    assert (gpu.spec.per_submission_memory_gib, gpu.spec.max_concurrent_submissions) == (64, 2)
    assert check.spec.per_submission_memory_gib == config.spec.per_submission_memory_gib
    assert (check.execution_stage, gpu.execution_stage) == ("VALIDATION", "EXECUTION")
    assert all(g.spec.hosts == () for g in (light, check, gpu))


def test_a_queue_in_two_hosts_or_in_none_is_an_error_naming_it():
    found = problems(
        {
            "queues": QUEUES,
            "hosts": [
                {"key": "a", "queues": ["light", "heavy"]},
                {"key": "b", "queues": ["light"]},
            ],
        }
    )
    assert any(
        p.startswith("challenge:hosts[1].queues: 'light' is also served by hosts[0] ('a')")
        for p in found
    ), found
    assert (
        "challenge:hosts: queue 'other-task' is served by no host; add it to the queues of one host"
        in found
    )
    assert any(
        p.startswith("challenge:hosts[0].queues: 'heavy' sets splitByExecutionStage") for p in found
    ), found


def test_a_split_needs_the_queues_consent_and_both_stages():
    found = problems(
        {
            "queues": QUEUES,
            "hosts": [
                {"key": "a", "queues": ["light", "other-task"], "executionStage": "VALIDATION"},
                {
                    "key": "b",
                    "queues": ["light", "other-task", "heavy"],
                    "executionStage": "EXECUTION",
                },
            ],
        }
    )
    assert (
        "challenge:hosts[0].queues: 'light' is served by an executionStage VALIDATION host but "
        "the queue does not set splitByExecutionStage: true"
    ) in found
    assert any(
        p.startswith("challenge:hosts[1].queues: 'heavy' sets splitByExecutionStage") for p in found
    )
    alone = problems({"queues": QUEUES})
    assert any(p.startswith("challenge:queues: 'heavy' has splitByExecutionStage") for p in alone)


def test_group_keys_unknown_queues_and_bad_overrides_are_named():
    found = problems(
        {
            "hosts": [
                {"key": "a", "queues": ["example-m2d-2027-task-1", "nope"]},
                {"key": "a", "queues": ["example-m2d-2027-task-2"]},
            ]
        }
    )
    assert any(
        p.startswith("challenge:hosts[0].queues[1]: 'nope' is not a queue key") for p in found
    )
    assert any(
        p.startswith("challenge:hosts[1].key: 'a' is also the key of hosts[0]") for p in found
    )
    bad = problems(
        {
            "hosts": [
                {"key": "a", "queues": ["example-m2d-2027-task-1"], "perSubmissionMemoryGiB": 0}
            ]
        }
    )
    assert bad == ["challenge:hosts[0].perSubmissionMemoryGiB: 0 must be greater than 0"]
    unknown = problems({"hosts": [{"key": "a", "queues": ["x"], "orchestratorImage": "x:1"}]})
    assert any(p.startswith("challenge:hosts[0].orchestratorImage: unknown key") for p in unknown)
