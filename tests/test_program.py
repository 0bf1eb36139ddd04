"""The whole program (`__main__.py`) under the SDK's mocks, with the dev stack's config."""

from __future__ import annotations

import asyncio
import datetime
import json
import signal
from pathlib import Path

import pytest
import yaml
from pulumi.runtime import rpc

import sizing
from preview.engine import PreviewMocks
from program import workload
from stackconfig import load_stack
from tests.fixtures.cli import run_module
from tests.fixtures.stacks import TEST_SECRETS, run_make_check
from userdata import BOOTSTRAP_PATH, write_files_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dev_run():
    from preview import run_program
    from stackconfig import read_stack_file

    return run_program(read_stack_file("dev"), stack="dev", secret_values=TEST_SECRETS)


def _kinds(run) -> list[str]:
    return [r.provider_class or r.type for r in run.resources if r.custom]


def test_dev_stack_registers_the_synapse_side_and_the_host(dev_run):
    kinds = _kinds(dev_run)
    assert kinds.count("Project") == 2
    assert kinds.count("Team") == 4
    assert kinds.count("Challenge") == 1
    assert kinds.count("EvaluationQueue") == 2
    assert kinds.count("Folder") == 1
    assert kinds.count("ExternalLinkFile") == 1
    assert kinds.count("aws:ec2/instance:Instance") == 1
    assert kinds.count("aws:ssm/parameter:Parameter") == 1
    components = {r.type for r in dev_run.resources if not r.custom}
    assert {"challenge:index:ChallengeSite", "challenge:index:OrchestratorHost"} <= components


def test_host_size_is_the_sizing_result(dev_run):
    estimate = sizing.estimate_host(
        workload(load_stack("dev", env={}).spec), sizing.load_catalog("us-east-1")
    )
    instance = dev_run.one("aws:ec2/instance:Instance")
    assert instance.inputs["instanceType"] == estimate.instance_type
    assert instance.inputs["rootBlockDevice"]["volumeSize"] == estimate.root_volume_gib
    assert dev_run.outputs["instanceType"] == estimate.instance_type
    assert dev_run.outputs["rootVolumeGiB"] == estimate.root_volume_gib


def test_host_env_is_wired_to_the_synapse_objects(dev_run):
    """The .env in the user data names the Logs folder and queues that the program created."""
    logs = dev_run.one("Folder")
    workflow = dev_run.one("ExternalLinkFile")
    queue_ids = sorted(q.id for q in dev_run.of_type("EvaluationQueue"))
    document = dev_run.one("aws:ec2/instance:Instance").inputs["userData"]
    user_data = write_files_of(document)[BOOTSTRAP_PATH]["content"]
    assert f"WORKFLOW_OUTPUT_ROOT_ENTITY_ID='{logs.id}'" in user_data
    templates = json.dumps({q: workflow.id for q in queue_ids}, separators=(",", ":"))
    assert dev_run.outputs["evaluationTemplates"] == {q: workflow.id for q in queue_ids}
    assert templates in user_data or all(f'"{q}":"{workflow.id}"' in user_data for q in queue_ids)
    assert "MAX_CONCURRENT_WORKFLOWS='4'" in user_data


def test_no_token_outside_secrets(dev_run):
    tokens = list(TEST_SECRETS.values())
    for resource in dev_run.resources:
        for key, value in resource.inputs.items():
            if resource.type == "aws:ssm/parameter:Parameter" and key == "value":
                continue  # the one place the orchestrator token belongs, as a secret
            text = json.dumps(value, default=str)
            assert not any(t in text for t in tokens), f"token in {resource.label}.{key}"
    for key, value in dev_run.outputs.items():
        assert not any(t in json.dumps(value, default=str) for t in tokens), key
    for _level, message in dev_run.logs:
        assert not any(t in message for t in tokens)


def test_token_parameter_holds_the_orchestrator_token(dev_run):
    parameter = dev_run.one("aws:ssm/parameter:Parameter")
    assert parameter.inputs["type"] == "SecureString"
    # The engine receives it wrapped as a secret, so state stores it encrypted.
    assert parameter.inputs["value"] == {
        rpc._special_sig_key: rpc._special_secret_sig,
        "value": TEST_SECRETS["challenge:orchestratorAuthToken"],
    }


def test_outputs_are_known_and_not_secret(dev_run):
    assert not dev_run.unknown_outputs
    assert not dev_run.secret_outputs
    assert dev_run.outputs["liveSiteUrl"].endswith(dev_run.outputs["liveProjectId"])


def test_more_queues_add_queue_resources_only(run_stack):
    queues = [{"name": f"Extra Queue {i}"} for i in range(5)]
    run = run_stack(overrides={"queues": queues})
    assert _kinds(run).count("EvaluationQueue") == 5
    assert _kinds(run).count("aws:ec2/instance:Instance") == 1


def test_user_data_over_16_kb_fails_before_any_resource(run_stack):
    """Caught with stand-in IDs before the Synapse side exists, not after it was created."""
    from preview.engine import PreviewMocks

    created = []
    original = PreviewMocks.new_resource

    def recording(self, args):
        created.append(args.name)
        return original(self, args)

    PreviewMocks.new_resource = recording
    try:
        with pytest.raises(Exception, match="16 KB") as caught:
            run_stack(overrides={"queues": [{"name": f"Queue {i:03d}"} for i in range(1000)]})
    finally:
        PreviewMocks.new_resource = original
    assert "1000 evaluation queues" in str(caught.value)
    assert not [name for name in created if name != "challenge"], created


def test_instance_type_override_that_does_not_fit_fails_before_any_resource(run_stack):
    mocks = PreviewMocks("us-east-1")
    with pytest.raises(Exception, match="instanceType") as caught:
        run_stack(overrides={"instanceType": "m5.large"}, mocks=mocks)
    assert "m5.large" in str(caught.value)
    assert mocks.resources == []


def test_stack_outputs_carry_the_monthly_cost_with_its_parts_and_price_date(dev_run):
    estimate = sizing.estimate_host(
        workload(load_stack("dev", env={}).spec), sizing.load_catalog("us-east-1")
    )
    outputs = dev_run.outputs
    assert outputs["estimatedMonthlyCostUsd"] == estimate.monthly_cost_usd
    cost = outputs["monthlyCost"]
    assert cost["total_usd"] == pytest.approx(sum(i["usd_per_month"] for i in cost["items"]))
    assert [i["item"] for i in cost["items"]] == ["instance", "root volume", "public IPv4"]
    assert cost["prices_as_of"] == estimate.prices_as_of and cost["estimated"] is False


def test_monthly_budget_below_the_estimate_fails_before_any_resource(run_stack):
    cheapest = sizing.estimate_host(
        workload(load_stack("dev", env={}).spec), sizing.load_catalog("us-east-1")
    )
    mocks = PreviewMocks("us-east-1")
    with pytest.raises(Exception, match="challenge:monthlyBudgetUsd") as caught:
        run_stack(overrides={"monthlyBudgetUsd": 100}, mocks=mocks)
    assert mocks.resources == [], "registered before the budget check"
    message = str(caught.value)
    assert "$100.00" in message and f"${cheapest.monthly_cost_usd:,.2f}" in message
    assert cheapest.instance_type in message
    run = run_stack(overrides={"monthlyBudgetUsd": 1000})
    assert run.outputs["estimatedMonthlyCostUsd"] <= 1000


def test_monthly_budget_names_the_cheapest_alternative_to_a_dear_override(run_stack):
    cheapest = sizing.estimate_host(
        workload(load_stack("dev", env={}).spec), sizing.load_catalog("us-east-1")
    )
    mocks = PreviewMocks("us-east-1")
    with pytest.raises(Exception, match="monthlyBudgetUsd") as caught:
        run_stack(overrides={"monthlyBudgetUsd": 400, "instanceType": "m5zn.3xlarge"}, mocks=mocks)
    message = str(caught.value)
    assert "m5zn.3xlarge" in message
    assert f"cheapest type that fits is {cheapest.instance_type}" in message
    assert mocks.resources == []


def _fitting(region: str, keep) -> str:
    """The cheapest type of `region`'s catalog that the dev stack fits and `keep` accepts."""
    dev = workload(load_stack("dev", env={}).spec)
    catalog = sizing.load_catalog(region)
    for candidate in sorted(catalog.instance_types, key=sizing.chooser.price_order):
        if keep(candidate):
            try:
                return sizing.estimate_host(dev, catalog, candidate.instance_type).instance_type
            except sizing.SizingError:
                continue
    raise AssertionError(f"no such type in {region}")


def test_pulumi_up_warns_of_stale_and_estimated_prices(run_stack):
    """eu-west-1's prices are of 2025-04-04 (more than 180 days old); an estimated type."""
    estimated = _fitting("eu-west-1", lambda t: t.price_estimated)
    run = run_stack(overrides={"aws:region": "eu-west-1", "instanceType": estimated})
    warnings = [message for level, message in run.logs if level == "warning"]
    stale = [w for w in warnings if w.startswith("the eu-west-1 prices are as of 2025-04-04")]
    assert len(stale) == 1 and "days old (more than 180)" in stale[0]
    assert "python -m sizing catalog --region eu-west-1" in stale[0]
    assert any(
        w.startswith(f"the {estimated} price is estimated: eu-west-1 has no price of its own")
        for w in warnings
    ), warnings
    assert run.outputs["monthlyCost"]["estimated"] is True
    dev_warnings = [m for level, m in run_stack(overrides={"aws:region": "us-east-1"}).logs]
    assert not [w for w in dev_warnings if "prices" in w or "estimated" in w], dev_warnings


def test_pulumi_up_warns_that_an_unpriced_override_has_an_unknown_monthly_cost(run_stack):
    unpriced = _fitting("eu-west-1", lambda t: t.hourly_price_usd is None)
    run = run_stack(overrides={"aws:region": "eu-west-1", "instanceType": unpriced})
    warnings = [message for level, message in run.logs if level == "warning"]
    assert (
        f"instanceType {unpriced} has no on-demand price in the eu-west-1 catalog, so its monthly "
        "cost is unknown (leave instanceType empty for the cheapest type with a price)"
    ) in warnings
    assert run.outputs["instanceType"] == unpriced
    assert run.outputs["monthlyCost"]["total_usd"] is None


def test_make_check_warns_of_stale_prices_with_the_refresh_command(tmp_path, capsys):
    code, out, _ = run_make_check(tmp_path, {"aws:region": "us-west-2"}, capsys)
    assert code == 0
    age = (datetime.date.today() - datetime.date(2025, 4, 4)).days
    assert (
        f"warning: the us-west-2 prices are as of 2025-04-04, {age} days old (more than 180); "
        "refresh them: `python -m sizing catalog --region us-west-2 --out "
        "sizing/catalogs/us-west-2.json`"
    ) in out


def test_make_check_warns_that_an_unpriced_override_has_an_unknown_monthly_cost(tmp_path, capsys):
    unpriced = _fitting("eu-west-1", lambda t: t.hourly_price_usd is None)
    changes = {"aws:region": "eu-west-1", "instanceType": unpriced}
    code, out, _ = run_make_check(tmp_path, changes, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith(f"Host: {unpriced}, ")
    assert lines[1].endswith(
        f"unknown: no price for the instance ({unpriced} has no on-demand price in the catalog)"
    )
    assert (
        f"warning: instanceType {unpriced} has no on-demand price in the eu-west-1 catalog, so "
        "its monthly cost is unknown"
    ) in out


def test_make_check_fails_over_budget_naming_the_key(tmp_path, capsys):
    from preview.__main__ import main

    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["challenge:monthlyBudgetUsd"] = 50
    (tmp_path / "Pulumi.tight.yaml").write_text(yaml.safe_dump(stack))
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    assert main(["--stack", "tight", "--project-dir", str(tmp_path)]) == 1
    assert "challenge:monthlyBudgetUsd is $50.00 a month" in capsys.readouterr().err


def test_make_check_shows_resources_and_sizing_without_secrets():
    result = run_module("preview", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Stack dev: valid" in out
    assert "challenge:orchestratorAuthToken is not set" in out
    instance_type = sizing.estimate_host(
        workload(load_stack("dev", env={}).spec), sizing.load_catalog("us-east-1")
    ).instance_type
    assert instance_type in out
    assert "Monthly   $" in out and "prices as of 2026-07-20" in out
    assert "EvaluationQueue" in out and "aws:ec2/instance:Instance" in out
    assert "preview-placeholder" not in out


def test_dev_stack_file_is_what_the_issue_describes():
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert len(config["challenge:queues"]) == 2
    assert config["challenge:perSubmissionMemoryGiB"] == 10


def test_host_is_deleted_before_its_replacement_and_keeps_its_ami(dev_run):
    """Two orchestrators on the same queues mark each other's submissions INVALID."""
    instance = dev_run.one("aws:ec2/instance:Instance")
    assert instance.options["delete_before_replace"] is True
    assert "ami" in instance.options["ignore_changes"]


def test_many_synapse_objects_do_not_nest_the_pickler(run_stack):
    """The SDK wraps the pickler once per dynamic resource unless we restore it (RecursionError
    after a few hundred Synapse objects in one program)."""
    import pickle

    from components.sdk_internals import PLAIN_BATCH_SETITEMS

    run = run_stack(overrides={"queues": [{"name": f"Queue {i:03d}"} for i in range(100)]})
    assert _kinds(run).count("EvaluationQueue") == 100
    assert pickle._Pickler._batch_setitems is PLAIN_BATCH_SETITEMS


def test_instance_type_changes_replace_the_host_through_the_drain_guard(dev_run):
    instance = dev_run.one("aws:ec2/instance:Instance")
    assert "instanceType" in instance.options["replace_on_changes"]
    guard = dev_run.one("DrainGuard")
    assert guard.inputs["instance_id"] == instance.id
    assert sorted(guard.inputs["evaluation_ids"]) == sorted(
        q.id for q in dev_run.of_type("EvaluationQueue")
    )
    assert guard.options["delete_before_replace"] is True


def test_staging_phase_grants_participants_nothing(dev_run):
    team = next(t for t in dev_run.of_type("Team") if t.inputs["name"].endswith("Participants"))
    grants = [
        g
        for g in dev_run.of_type("EvaluationPermissions")
        if g.inputs.get("principal_id") == team.id
    ]
    assert grants == []
    assert dev_run.of_type("WikiCopy") == []


def test_live_phase_opens_every_queue_to_participants_and_copies_the_wiki(run_stack):
    run = run_stack(overrides={"phase": "live"})
    team = next(t for t in run.of_type("Team") if t.inputs["name"].endswith("Participants"))
    submit = [
        g
        for g in run.of_type("EvaluationPermissions")
        if g.inputs.get("principal_id") == team.id and g.inputs["access"] == "submit"
    ]
    assert sorted(g.inputs["evaluation_id"] for g in submit) == sorted(
        q.id for q in run.of_type("EvaluationQueue")
    )
    assert len(run.of_type("WikiCopy")) == 1
    assert run.outputs["phase"] == "live"


def test_submission_view_covers_every_queue(run_stack):
    run = run_stack(overrides={"submissionView": True})
    view = run.one("SubmissionView")
    assert sorted(view.inputs["scope_ids"]) == sorted(q.id for q in run.of_type("EvaluationQueue"))
    assert view.inputs["parent_id"] == run.outputs["stagingProjectId"]


def test_end_date_reaches_the_host(run_stack):
    run = run_stack(overrides={"endDate": "2027-06-30T23:59:00Z", "stopHostAfterEnd": False})
    document = run.one("aws:ec2/instance:Instance").inputs["userData"]
    user_data = "\n".join(f["content"] for f in write_files_of(document).values())
    assert "challenge-end-date.timer" in user_data
    end = datetime.datetime(2027, 6, 30, 23, 59, tzinfo=datetime.UTC)
    assert f"CHALLENGE_END_EPOCH={int(end.timestamp())}" in user_data
    assert "CHALLENGE_STOP_HOST_AFTER_END=false" in user_data


def test_monthly_budget_applies_to_the_ec2_host_only():
    from program import host_estimate
    from stackconfig import parse_config, read_stack_file

    raw = {**read_stack_file("dev"), "challenge:monthlyBudgetUsd": 1}
    with pytest.raises(sizing.SizingError, match="challenge:monthlyBudgetUsd"):
        host_estimate(parse_config("dev", raw))
    self_hosted = host_estimate(parse_config("dev", {**raw, "challenge:host": "self-hosted"}))
    assert self_hosted.monthly_cost_usd > 1  # computed, but no AWS bill to hold to the budget


def test_orchestrator_settings_and_dockerhub_password_travel_like_the_token(run_stack):
    """The password: Pulumi secret -> its own SSM SecureString the host role alone may read ->
    fetched at boot; never in user data or plain state."""
    password = "dckr_pat_program-test-0123456789"
    run = run_stack(
        overrides={
            "runWorkflowContainerInPrivilegedMode": True,
            "executionStage": "EXECUTION",
            "rwVolumes": ["/data/scratch:/scratch"],
            "dockerhubUsername": "examplebot",
        },
        secrets={**TEST_SECRETS, "challenge:dockerhubPassword": password},
    )
    parameters = {p.inputs["name"]: p for p in run.of_type("aws:ssm/parameter:Parameter")}
    stored = parameters["/challenge/example-model-to-data-challenge-2027/dev/dockerhub-password"]
    assert stored.inputs["type"] == "SecureString"
    document = run.one("aws:ec2/instance:Instance").inputs["userData"]
    assert password not in document
    files = write_files_of(document)
    env = files[BOOTSTRAP_PATH]["content"]
    for line in (
        "RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE='true'",
        "EXECUTION_STAGE='EXECUTION'",
        "RW_VOLUMES='/data/scratch:/scratch'",
        "DOCKERHUB_USERNAME='examplebot'",
    ):
        assert line in env, line
    assert (
        "dockerhub-password"
        in files["/usr/local/sbin/challenge-fetch-dockerhub-password"]["content"]
    )
    policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Action"] == "ssm:GetParameter")
    assert len(read["Resource"]) == 2 and any("dockerhub-password" in r for r in read["Resource"])


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"dockerhubUsername": "examplebot"}, "challenge:dockerhubPassword"),
        ({}, "challenge:orchestratorAuthToken"),
    ],
)
def test_a_secret_the_stack_needs_fails_pulumi_up_before_any_resource(overrides, missing):
    """`make check` only warns (so `make secrets` can still run), `pulumi up` refuses at once."""
    from preview import run_program
    from preview.checks import check_stack
    from preview.engine import PreviewMocks
    from stackconfig import read_stack_file

    config = {**read_stack_file("dev"), **{f"challenge:{k}": v for k, v in overrides.items()}}
    secrets = {k: v for k, v in TEST_SECRETS.items() if k != missing}
    mocks = PreviewMocks("us-east-1")
    with pytest.raises(Exception, match=f"{missing}: not set; `pulumi up` needs it") as caught:
        run_program(config, stack="dev", secret_values=secrets, mocks=mocks)
    assert f"pulumi config set --secret {missing} --stack dev" in str(caught.value)
    assert mocks.resources == [], "registered before the missing secret was found"
    assert check_stack("dev", config, env={}).problems == ()


def test_a_run_does_not_wait_on_work_a_failed_registration_left_behind():
    """A component that raises mid-registration outside a program leaves output tasks in the
    SDK's module-level settings, bound to an event loop no one runs again; the next program run
    waited on them forever (the suite hung once test order put such a test before this file)."""
    from components.challenge_launch import ChallengeLaunch, ChallengeLaunchArgs
    from preview import run_program
    from stackconfig import read_stack_file
    from synapse_client.errors import SynapseProvisioningError
    from tests.fixtures.mocks import install_mocks

    install_mocks("unused")
    bad = ChallengeLaunchArgs(
        phase="launched",
        queue_ids={"task-1": "9614001"},
        participants_team_id="3412345",
        live_project_id="syn100",
        staging_project_id="syn200",
        synapse_endpoint="https://repo-prod.prod.sagebase.org",
    )
    with pytest.raises(SynapseProvisioningError):
        ChallengeLaunch("launch", bad)

    asyncio.set_event_loop(asyncio.new_event_loop())  # as tests of asyncio code leave it

    def give_up(*_: object) -> None:
        raise TimeoutError("the program run was still waiting after 120 s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(120)
    try:
        run = run_program(read_stack_file("dev"), stack="dev", secret_values=TEST_SECRETS)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [r.name for r in run.resources if r.type == "aws:ec2/instance:Instance"]


@pytest.mark.parametrize(("architecture", "refused"), [("arm64", True), ("x86_64", False)])
def test_a_pinned_ami_must_be_x86_64_as_ec2_reports_it(architecture, refused):
    """At `pulumi up` EC2 says which architecture a pinned amiId is; an arm64 one would boot a
    host whose orchestrator image (amd64 only) cannot start, so nothing is created."""
    from preview import run_program
    from preview.engine import PreviewMocks
    from stackconfig import read_stack_file

    ami = "ami-0123456789abcdef0"
    config = {**read_stack_file("dev"), "challenge:amiId": ami}
    mocks = PreviewMocks("us-east-1", amis={ami: architecture})
    if not refused:
        run = run_program(config, stack="dev", secret_values=TEST_SECRETS, mocks=mocks)
        (instance,) = [r for r in run.resources if r.type == "aws:ec2/instance:Instance"]
        assert instance.inputs["ami"] == ami
        return
    with pytest.raises(Exception, match="challenge:amiId: 'ami-0123456789abcdef0' is an arm64"):
        run_program(config, stack="dev", secret_values=TEST_SECRETS, mocks=mocks)
    assert not [r for r in mocks.resources if r.name != "challenge"], "nothing was created"
