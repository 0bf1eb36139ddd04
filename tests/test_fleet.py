"""A fleet of orchestrator hosts (`challenge:hosts`) under the SDK's mocks: the dev stack upgrades
with its resource URNs unchanged, each host has its own resources sized for its own queues, and
changing one host touches no other."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from preview import run_program
from tests.fixtures.stacks import TEST_SECRETS, dev_config, stack_with
from userdata import write_files_of

ROOT = Path(__file__).resolve().parent.parent
#: `sorted(r.urn for r in run_program(dev).resources)` on main before host groups existed.
DEV_URNS = ROOT / "tests" / "data" / "dev-stack-urns.txt"

QUEUES = [
    {"name": "Light Board", "key": "light"},
    {"name": "Heavy Task", "key": "heavy", "splitByExecutionStage": True},
    {"name": "Other Task", "key": "other"},
]
FLEET = [
    {"key": "default", "queues": ["light", "other"], "kind": "data-to-model", "inputDataGiB": 0},
    {
        "key": "check",
        "queues": ["heavy"],
        "executionStage": "VALIDATION",
        "maxConcurrentSubmissions": 2,
    },
    {
        "key": "gpu",
        "queues": ["heavy"],
        "executionStage": "EXECUTION",
        "perSubmissionMemoryGiB": 32,
    },
]


def run(changes: dict[str, Any] | None = None):
    raw = stack_with(changes) if changes else dev_config()
    return run_program(raw, stack="dev", secret_values=TEST_SECRETS)


def by_urn(program_run) -> dict[str, Any]:
    return {r.urn: r for r in program_run.resources}


def custom_inputs(program_run) -> dict[str, Any]:
    """Every custom resource's inputs by URN, less the pickled dynamic provider (code, not
    settings), user data decoded, and each ID the mocks made up (in registration order, which
    varies between runs) written as the URN of its resource."""
    made_up = {
        str(r.id): f"<{r.name}>"
        for r in program_run.resources
        if r.custom and r.id and r.id != r.inputs.get("name")
    }
    pattern = re.compile("|".join(sorted(map(re.escape, made_up), key=len, reverse=True)))

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, str):
            return pattern.sub(lambda m: made_up[m[0]], value)
        return value

    found = {}
    for r in program_run.resources:
        if not r.custom:
            continue
        inputs = {k: v for k, v in r.inputs.items() if k != "__provider"}
        if "userData" in inputs:
            inputs["userData"] = shipped(inputs["userData"])
        found[r.urn] = plain(inputs)
    return found


def shipped(user_data: str) -> str:
    """Every file the user data writes, decoded, in one text."""
    return "\n".join(entry["content"] for entry in write_files_of(user_data).values())


@pytest.fixture(scope="module")
def dev_run():
    return run()


@pytest.fixture(scope="module")
def fleet_run():
    return run({"queues": QUEUES, "hosts": FLEET})


def test_the_dev_stack_keeps_every_resource_urn_of_before_host_groups(dev_run):
    """No `hosts` key: one host under the old names, so `pulumi up` replaces nothing."""
    assert sorted(r.urn for r in dev_run.resources) == DEV_URNS.read_text().split()


def test_hosts_with_one_default_group_is_the_same_stack_as_none(dev_run):
    keys = ["example-m2d-2027-task-1", "example-m2d-2027-task-2"]
    explicit = run({"hosts": [{"key": "default", "queues": keys}]})
    assert custom_inputs(explicit) == custom_inputs(dev_run)
    assert explicit.outputs.keys() == dev_run.outputs.keys()


def test_each_host_has_its_own_parameter_role_group_instance_and_guard(fleet_run):
    kinds = {
        "aws:ssm/parameter:Parameter": "token",
        "aws:iam/role:Role": "role",
        "aws:ec2/securityGroup:SecurityGroup": "sg",
        "aws:ec2/instance:Instance": "instance",
        "DrainGuard": "drain",
    }
    for kind, suffix in kinds.items():
        names = sorted(r.name for r in fleet_run.of_type(kind))
        assert names == sorted(
            [f"orchestrator-{suffix}", f"orchestrator-check-{suffix}", f"orchestrator-gpu-{suffix}"]
        ), kind
    parameters = sorted(r.inputs["name"] for r in fleet_run.of_type("aws:ssm/parameter:Parameter"))
    assert parameters == [
        "/challenge/example-model-to-data-challenge-2027/dev/check/orchestrator-token",
        "/challenge/example-model-to-data-challenge-2027/dev/gpu/orchestrator-token",
        "/challenge/example-model-to-data-challenge-2027/dev/orchestrator-token",
    ]


def test_each_guard_drains_only_its_queues_on_its_stages_running_status(fleet_run):
    queue_ids = fleet_run.outputs["queueIds"]
    guards = {r.name: r.inputs for r in fleet_run.of_type("DrainGuard")}
    assert guards["orchestrator-drain"]["evaluation_ids"] == [
        queue_ids["light"],
        queue_ids["other"],
    ]
    assert "in_progress_status" not in guards["orchestrator-drain"]
    assert guards["orchestrator-check-drain"]["evaluation_ids"] == [queue_ids["heavy"]]
    assert guards["orchestrator-check-drain"]["in_progress_status"] == "OPEN"
    assert guards["orchestrator-gpu-drain"]["evaluation_ids"] == [queue_ids["heavy"]]
    assert "in_progress_status" not in guards["orchestrator-gpu-drain"]
    hosts = fleet_run.outputs["hosts"]
    assert {k: (h["queues"], h["executionStage"]) for k, h in hosts.items()} == {
        "default": (["light", "other"], "ALL"),
        "check": (["heavy"], "VALIDATION"),
        "gpu": (["heavy"], "EXECUTION"),
    }


def test_each_host_is_sized_and_configured_for_its_own_queues(fleet_run):
    instances = {r.name: r.inputs for r in fleet_run.of_type("aws:ec2/instance:Instance")}
    hosts = fleet_run.outputs["hosts"]
    for key, name in (
        ("default", "orchestrator"),
        ("check", "orchestrator-check"),
        ("gpu", "orchestrator-gpu"),
    ):
        assert instances[f"{name}-instance"]["instanceType"] == hosts[key]["instanceType"]
    assert hosts["gpu"]["monthlyCost"]["total_usd"] > hosts["check"]["monthlyCost"]["total_usd"]
    total = sum(h["monthlyCost"]["total_usd"] for h in hosts.values())
    assert fleet_run.outputs["estimatedMonthlyCostUsd"] == pytest.approx(total)
    queue_ids = fleet_run.outputs["queueIds"]
    check = shipped(instances["orchestrator-check-instance"]["userData"])
    assert "EXECUTION_STAGE='VALIDATION'" in check
    assert queue_ids["heavy"] in check and queue_ids["light"] not in check
    default = shipped(instances["orchestrator-instance"]["userData"])
    assert "EXECUTION_STAGE='VALIDATION'" not in default
    assert queue_ids["light"] in default and queue_ids["heavy"] not in default


def test_changing_one_hosts_instance_type_changes_only_that_hosts_resources(fleet_run):
    fleet = [dict(group) for group in FLEET]
    fleet[2]["instanceType"] = "r7i.8xlarge"
    changed = run({"queues": QUEUES, "hosts": fleet})
    before, after = custom_inputs(fleet_run), custom_inputs(changed)
    assert before.keys() == after.keys()
    differ = sorted(urn.rsplit("::", 1)[1] for urn in before if before[urn] != after[urn])
    assert differ == ["orchestrator-gpu-instance"]
    assert (
        by_urn(changed)[next(u for u in after if u.endswith("::orchestrator-gpu-instance"))].inputs[
            "instanceType"
        ]
        == "r7i.8xlarge"
    )


def test_the_budget_holds_for_the_fleets_total():
    from program import fleet
    from stackconfig import parse_config

    config = parse_config("dev", stack_with({"queues": QUEUES, "hosts": FLEET}))
    total = sum(h.estimate.monthly_cost_usd for h in fleet(config))
    cheapest = min(h.estimate.monthly_cost_usd for h in fleet(config))
    ok = stack_with({"queues": QUEUES, "hosts": FLEET, "monthlyBudgetUsd": int(total) + 1})
    assert len(fleet(parse_config("dev", ok))) == 3
    # Each host alone is under this budget; together they are not.
    tight = stack_with({"queues": QUEUES, "hosts": FLEET, "monthlyBudgetUsd": int(cheapest) + 1})
    import sizing

    with pytest.raises(sizing.SizingError, match=r"^challenge:monthlyBudgetUsd: the 3 hosts cost"):
        fleet(parse_config("dev", tight))


def test_a_hosts_own_sizing_problem_names_its_key_in_hosts():
    from preview.checks import check_stack

    fleet = [dict(group) for group in FLEET]
    fleet[1]["instanceType"] = "t3.nano"
    problems = check_stack("dev", stack_with({"queues": QUEUES, "hosts": fleet}), env={}).problems
    assert any(p.startswith("challenge:hosts[1].instanceType t3.nano:") for p in problems), problems


def test_self_hosted_fleet_writes_one_bootstrap_per_host():
    fleet_run = run({"queues": QUEUES, "hosts": FLEET, "host": "self-hosted"})
    documents = fleet_run.outputs["selfHostedBootstrap"]
    files = fleet_run.outputs["selfHostedBootstrapFile"]
    assert sorted(documents) == ["check", "default", "gpu"]
    assert files == {
        "default": "out/dev-bootstrap.yaml",
        "check": "out/dev-check-bootstrap.yaml",
        "gpu": "out/dev-gpu-bootstrap.yaml",
    }
    assert "EXECUTION_STAGE='VALIDATION'" in shipped(documents["check"])
    assert "EXECUTION_STAGE='VALIDATION'" not in shipped(documents["default"])
    assert not fleet_run.of_type("aws:ec2/instance:Instance")


def test_userdata_render_of_a_host_is_what_the_program_ships(fleet_run, tmp_path, capsys):
    """`python -m userdata render --host KEY` renders that host's user data, byte for byte what
    `pulumi up` gives its instance; without --host a fleet is an error naming the hosts."""
    from userdata.cli import cli

    raw = stack_with({"queues": QUEUES, "hosts": FLEET})
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": raw}))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(fleet_run.outputs, default=str))
    instances = {r.name: r.inputs for r in fleet_run.of_type("aws:ec2/instance:Instance")}
    for key, name in (("check", "orchestrator-check"), ("default", "orchestrator")):
        out = tmp_path / f"{key}.yaml"
        argv = ["render", "--stack", "dev", "--project-dir", str(tmp_path), "--host", key]
        assert cli([*argv, "--outputs-file", str(outputs), "--out", str(out)]) == 0
        assert out.read_text() == instances[f"{name}-instance"]["userData"], key
    assert cli(["render", "--stack", "dev", "--project-dir", str(tmp_path)]) != 0
    assert "--host: give one of the stack's hosts (default, check, gpu)" in capsys.readouterr().err


def test_make_check_shows_each_hosts_cost_and_sizing_and_the_fleets_total(tmp_path, capsys):
    from preview.__main__ import main

    raw = stack_with({"queues": QUEUES, "hosts": FLEET})
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": raw}))
    assert main(["--stack", "dev", "--project-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    costs = [line for line in lines[1:5] if line.startswith("Host ")]
    assert [line.split(":")[0] for line in costs] == [
        "Host default (ALL; queues light, other)",
        "Host check (VALIDATION; queues heavy)",
        "Host gpu (EXECUTION; queues heavy)",
    ]
    figures = [float(line.split("$")[1].split("/")[0].replace(",", "")) for line in costs]
    total = next(line for line in lines if line.startswith("Fleet of 3 hosts: $"))
    assert float(total.split("$")[1].split()[0].replace(",", "")) == pytest.approx(sum(figures))
    sizing_titles = [line for line in lines if line.endswith(" sizing:")]
    assert sizing_titles == [f"{line.split(':')[0]} sizing:" for line in costs]


def test_each_host_has_its_own_docker_hub_password_parameter():
    secrets = {**TEST_SECRETS, "challenge:dockerhubPassword": "dckr_pat_fleet-test-0123456789"}
    raw = stack_with({"queues": QUEUES, "hosts": FLEET, "dockerhubUsername": "examplebot"})
    program_run = run_program(raw, stack="dev", secret_values=secrets)
    names = sorted(
        p.inputs["name"]
        for p in program_run.of_type("aws:ssm/parameter:Parameter")
        if "dockerhub" in p.inputs["name"]
    )
    assert names == [
        "/challenge/example-model-to-data-challenge-2027/dev/check/dockerhub-password",
        "/challenge/example-model-to-data-challenge-2027/dev/dockerhub-password",
        "/challenge/example-model-to-data-challenge-2027/dev/gpu/dockerhub-password",
    ]


def test_the_user_data_limit_holds_per_host_and_names_the_host():
    """1000 queues do not fit one host's 16 KB (the dev host takes about 860); split over two
    hosts they do."""
    from preview.checks import check_stack

    queues = [{"name": f"Queue {i:04d}", "key": f"q{i:04d}"} for i in range(1000)]
    keys = [q["key"] for q in queues]
    one = check_stack(
        "dev", stack_with({"queues": queues, "hosts": [{"key": "big", "queues": keys}]}), env={}
    )
    assert any(
        p.startswith("challenge:hosts[0] ('big'): challenge:queues: rendered user data is")
        for p in one.problems
    ), one.problems
    split = [{"key": "a", "queues": keys[:500]}, {"key": "b", "queues": keys[500:]}]
    assert check_stack("dev", stack_with({"queues": queues, "hosts": split}), env={}).problems == ()


def test_a_fleet_over_budget_names_the_cheapest_fit_of_a_dear_override():
    """`pulumi up` (the program under mocks) and `make check` both name, for the host whose
    instanceType is not its cheapest fit, that type and its figure, and the fleet's total."""
    from preview.checks import check_stack
    from preview.engine import PreviewMocks
    from program import fleet
    from stackconfig import parse_config

    sized = {
        h.group.key: h.estimate
        for h in fleet(parse_config("dev", stack_with({"queues": QUEUES, "hosts": FLEET})))
    }
    dear = [dict(group) for group in FLEET]
    dear[0]["instanceType"] = "m7i.24xlarge"
    raw = stack_with({"queues": QUEUES, "hosts": dear, "monthlyBudgetUsd": 3000})
    cheapest = sized["default"]
    with_it = round(sum(e.monthly_cost_usd for e in sized.values()), 2)
    assert cheapest.instance_type != "m7i.24xlarge" and with_it <= 3000
    expected = (
        f"the cheapest type that fits host default is {cheapest.instance_type} at "
        f"${cheapest.monthly_cost_usd:,.2f} a month (challenge:hosts[0].instanceType is "
        f"m7i.24xlarge); with it the fleet would cost ${with_it:,.2f} a month, within the budget "
        "(leave challenge:hosts[0].instanceType empty to get it)"
    )
    mocks = PreviewMocks("us-east-1")
    with pytest.raises(Exception, match="challenge:monthlyBudgetUsd: the 3 hosts cost") as caught:
        run_program(raw, stack="dev", secret_values=TEST_SECRETS, mocks=mocks)
    assert expected in str(caught.value)
    assert "default m7i.24xlarge $" in str(caught.value)
    assert mocks.resources == [], "registered before the budget check"
    problems = check_stack("dev", raw, env={}).problems
    budget = [p for p in problems if p.startswith("challenge:monthlyBudgetUsd:")]
    assert len(budget) == 1 and expected in budget[0], problems


def test_a_host_with_every_optional_file_still_has_room_for_60_queues():
    """The end date's timer and script, the Docker Hub helper and the S3 input sync all ship in
    the same 16 KB: with all of them a host still lists 60 queues (about 75 fit; before the
    rationale comments left the user data, such a stack did not fit at all)."""
    from preview.checks import check_stack

    queues = [{"name": f"Queue {i:03d}", "key": f"q{i:03d}"} for i in range(60)]
    everything = {
        "queues": queues,
        "endDate": "2027-12-31T00:00:00Z",
        "dockerhubUsername": "examplebot",
        "dockerhubPassword": {"secure": "v1:AAAABBBBCCCC"},
        "inputDataS3Uri": "s3://example-challenge-data/input",
    }
    problems = check_stack("dev", stack_with(everything), env={}).problems
    assert problems == (), problems
