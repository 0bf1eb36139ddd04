"""OrchestratorHost under Pulumi's mocks: locked-down instance, least-privilege IAM, no token leak.

Each test asserts inside an `apply` over outputs of every resource it inspects and returns that
Output (so `pulumi.runtime.test` waits for it and re-raises), and checks values are known.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc

from components.orchestrator_host import (
    OrchestratorHost,
    OrchestratorHostArgs,
    OrchestratorHostError,
    bootstrap_settings,
    host_role_policy,
    instance_ignore_changes,
    tag_value,
)
from sizing import Workload, estimate_host, load_catalog
from userdata import (
    BOOTSTRAP_PATH,
    TOKEN_HELPER_PATH,
    HostSettings,
    SsmParameterToken,
    UserDataError,
    token_parameter_name,
    write_files_of,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.orchestrator-host-test-token.c2ln"
MOCK_AMI = "ami-0fedcba9876543210"
PARAMETER = "/challenge/host-test-challenge/test/orchestrator-token"
PARAMETER_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{PARAMETER}"


class HostMocks(pulumi.runtime.Mocks):
    """Answers like AWS would and records every registration and invoke."""

    def __init__(self) -> None:
        self.resources: list[tuple[str, str, dict[str, Any]]] = []
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append((args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ == "aws:ssm/parameter:Parameter":
            resource_id = state["name"]
            state["arn"] = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{state['name']}"
        elif args.typ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile"):
            state["name"] = f"{args.name}-1a2b3c"
            resource_id = state["name"]
        elif args.typ == "aws:ec2/securityGroup:SecurityGroup":
            resource_id = "sg-0a1b2c3d4e5f60718"
        elif args.typ == "aws:ec2/instance:Instance":
            resource_id = "i-0a1b2c3d4e5f60718"
            state["privateDns"] = "ip-172-31-1-2.ec2.internal"
            state["publicDns"] = "ec2-54-1-2-3.compute-1.amazonaws.com"
        return resource_id, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.invokes.append((args.token, dict(args.args)))
        return self.answer(args), []

    def answer(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:ssm/getParameter:getParameter":
            name = args.args["name"]
            return {"id": name, "name": name, "type": "String", "value": MOCK_AMI, "version": 1}
        if args.token == "aws:ec2/getVpc:getVpc":
            return {"id": "vpc-0default0000000001", "default": True, "cidrBlock": "172.31.0.0/16"}
        if args.token == "aws:ec2/getSubnets:getSubnets":
            return {"id": REGION, "ids": ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0aaaaaaaaaaaaaaaa"]}
        if args.token == "aws:ec2/getSubnet:getSubnet":
            return {"id": args.args["id"], "vpcId": "vpc-0custom000000000001"}
        raise NotImplementedError(args.token)

    def of_type(self, typ: str) -> list[dict[str, Any]]:
        return [inputs for t, _, inputs in self.resources if t == typ]


@pytest.fixture
def mocks() -> HostMocks:
    recorder = HostMocks()
    pulumi.runtime.set_mocks(recorder, project="challenge", stack="test", preview=False)
    return recorder


def make_settings(**overrides: Any) -> HostSettings:
    values: dict[str, Any] = {
        "challenge_name": "Host Test Challenge",
        "stack": "test",
        "region": REGION,
        "orchestrator_synapse_username": "host-test-bot",
        "max_concurrent_submissions": 4,
        "kind": "model-to-data",
        "orchestrator_image": "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:sha-1a2b3c4",
        "workflow_engine_image": None,
        "input_data_s3_uri": "s3://host-test-data/inputs/",
    }
    values.update(overrides)
    values.setdefault(
        "token_source",
        SsmParameterToken(
            token_parameter_name(values["challenge_name"], values["stack"]), values["region"]
        ),
    )
    return HostSettings(**values)


def make_args(**overrides: Any) -> OrchestratorHostArgs:
    """Args with test values; overrides of a host setting go to the settings."""
    settings = {k: overrides.pop(k) for k in list(overrides) if k in HostSettings.model_fields}
    values: dict[str, Any] = {
        "settings": make_settings(**settings),
        "instance_type": "r7i.2xlarge",
        "root_volume_gib": 120,
        "monthly_price_usd": 387.6,
        "orchestrator_auth_token": pulumi.Output.secret(TOKEN),
        "logs_folder_id": pulumi.Output.from_input("syn52000001"),
        "evaluation_templates": pulumi.Output.from_input({"9616001": "syn52000002"}),
    }
    values.update(overrides)
    return OrchestratorHostArgs(**values)


def every_resource(host: OrchestratorHost) -> list[pulumi.Output[Any]]:
    """Outputs that resolve only after every child resource was registered."""
    return [
        host.token_parameter.id,
        host.role.id,
        host.session_manager_policy.id,
        host.role_policy.id,
        host.instance_profile.id,
        host.security_group.id,
        host.instance.id,
    ]


def known(*values: Any) -> None:
    for value in values:
        assert value is not None and not isinstance(value, pulumi.output.Unknown), value


# --- the instance ---------------------------------------------------------------------------


@pulumi.runtime.test
def test_instance_matches_the_sizing_result_and_is_locked_down(mocks: HostMocks):
    estimate = estimate_host(
        Workload(per_submission_memory_gib=10, max_concurrent_submissions=4, input_data_gib=50),
        load_catalog(REGION),
    )
    args = make_args(
        instance_type=estimate.instance_type,
        root_volume_gib=estimate.root_volume_gib,
        monthly_price_usd=estimate.monthly_price_usd,
    )
    host = OrchestratorHost("host", args)

    def check(values: list[Any]) -> None:
        instance_type, ami = values[-2:]
        known(instance_type, ami)
        [instance] = mocks.of_type("aws:ec2/instance:Instance")
        assert instance_type == estimate.instance_type == instance["instanceType"]
        assert ami == MOCK_AMI
        assert instance["metadataOptions"]["httpTokens"] == "required"
        assert instance["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert instance["metadataOptions"]["httpEndpoint"] == "enabled"
        root = instance["rootBlockDevice"]
        assert root["volumeType"] == "gp3"
        assert root["encrypted"] is True
        assert root["volumeSize"] == estimate.root_volume_gib
        assert instance["subnetId"] == "subnet-0aaaaaaaaaaaaaaaa", "first default subnet, sorted"
        assert instance["vpcSecurityGroupIds"] == ["sg-0a1b2c3d4e5f60718"]
        assert instance["iamInstanceProfile"] == "host-profile-1a2b3c"
        assert instance["userDataReplaceOnChange"] is True
        assert instance["tags"]["challenge"] == "Host Test Challenge"
        assert instance["tags"]["stack"] == "test"
        assert (
            "aws:ssm/getParameter:getParameter",
            {"name": "/aws/service/debian/release/13/latest/amd64"},
        ) in [(t, {k: v for k, v in a.items() if k == "name"}) for t, a in mocks.invokes]

    return pulumi.Output.all(*every_resource(host), host.instance_type, host.instance.ami).apply(
        check
    )


@pulumi.runtime.test
def test_security_group_has_no_ingress(mocks: HostMocks):
    host = OrchestratorHost("host", make_args())

    def check(_: list[Any]) -> None:
        [group] = mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
        assert group["ingress"] == []
        assert group["vpcId"] == "vpc-0default0000000001"
        [egress] = group["egress"]
        assert egress["cidrBlocks"] == ["0.0.0.0/0"] and egress["protocol"] == "-1"
        kinds = {t for t, _, _ in mocks.resources}
        assert not any("ingress" in t.lower() or "securityGroupRule" in t for t in kinds), kinds

    return pulumi.Output.all(*every_resource(host)).apply(check)


@pulumi.runtime.test
def test_iam_is_scoped_to_the_one_parameter_and_the_input_prefix(mocks: HostMocks):
    host = OrchestratorHost("host", make_args())

    def check(values: list[Any]) -> None:
        policy_text, parameter_arn = values[-2:]
        known(policy_text, parameter_arn)
        assert parameter_arn == PARAMETER_ARN
        statements = {s["Sid"]: s for s in json.loads(policy_text)["Statement"]}
        assert statements["ReadOrchestratorToken"]["Action"] == "ssm:GetParameter"
        assert statements["ReadOrchestratorToken"]["Resource"] == parameter_arn
        decrypt = statements["DecryptOrchestratorToken"]
        assert decrypt["Action"] == "kms:Decrypt"
        assert decrypt["Condition"]["StringEquals"] == {
            "kms:ViaService": f"ssm.{REGION}.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": parameter_arn,
        }
        assert statements["ReadInputData"]["Resource"] == "arn:aws:s3:::host-test-data/inputs/*"
        assert statements["ListInputData"]["Condition"]["StringLike"]["s3:prefix"] == [
            "inputs",
            "inputs/*",
        ]
        for statement in statements.values():
            assert statement["Resource"] != "*"
            assert "*" not in json.dumps(statement["Action"])
        [attachment] = mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert attachment["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
        [role] = mocks.of_type("aws:iam/role:Role")
        trust = json.loads(role["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
        [profile] = mocks.of_type("aws:iam/instanceProfile:InstanceProfile")
        assert profile["role"] == "host-role-1a2b3c"

    return pulumi.Output.all(
        *every_resource(host), host.role_policy.policy, host.token_parameter.arn
    ).apply(check)


@pulumi.runtime.test
def test_without_input_data_there_is_no_s3_grant(mocks: HostMocks):
    host = OrchestratorHost("host", make_args(kind="data-to-model", input_data_s3_uri=None))

    def check(values: list[Any]) -> None:
        sids = [s["Sid"] for s in json.loads(values[-1])["Statement"]]
        assert sids == ["ReadOrchestratorToken", "DecryptOrchestratorToken"]

    return pulumi.Output.all(*every_resource(host), host.role_policy.policy).apply(check)


# --- the token ------------------------------------------------------------------------------


@pulumi.runtime.test
def test_token_is_only_in_the_secret_parameter(mocks: HostMocks):
    host = OrchestratorHost("host", make_args())
    plain_outputs = {
        "instance_id": host.instance_id,
        "private_dns": host.private_dns,
        "public_dns": host.public_dns,
        "ssm_session_command": host.ssm_session_command,
        "token_parameter_name": host.token_parameter_name,
        "instance_type": host.instance_type,
        "estimated_monthly_cost_usd": host.estimated_monthly_cost_usd,
        "user_data": host.user_data,
    }

    async def check() -> None:
        for output in every_resource(host):
            known(await output.future())
        for name, output in plain_outputs.items():
            value = await output.future()
            known(value)
            assert not await output.is_secret(), f"{name} should be a plain output"
            assert TOKEN not in str(value), name
        assert await host.token_parameter.value.is_secret()
        [parameter] = mocks.of_type("aws:ssm/parameter:Parameter")
        assert parameter["type"] == "SecureString"
        # Sent to the engine as a secret (encrypted in state), not as a plain string.
        assert parameter["value"] == {rpc._special_sig_key: rpc._special_secret_sig, "value": TOKEN}
        assert parameter["name"] == PARAMETER
        for typ, name, inputs in mocks.resources:
            if typ != "aws:ssm/parameter:Parameter":
                assert TOKEN not in json.dumps(inputs, default=str), f"{typ} {name}"

    return pulumi.Output.from_input(check())


@pulumi.runtime.test
def test_user_data_reads_the_token_at_boot_with_the_real_ids(mocks: HostMocks):
    host = OrchestratorHost("host", make_args())

    def check(values: list[Any]) -> None:
        user_data = values[-1]
        known(user_data)
        [instance] = mocks.of_type("aws:ec2/instance:Instance")
        assert instance["userData"] == user_data
        assert len(user_data.encode()) <= 16384
        files = {path: f["content"] for path, f in write_files_of(user_data).items()}
        assert f"PARAMETER = '{PARAMETER}'" in files[TOKEN_HELPER_PATH]
        assert "REGION = 'us-east-1'" in files[TOKEN_HELPER_PATH]
        bootstrap = files[BOOTSTRAP_PATH]
        assert "WORKFLOW_OUTPUT_ROOT_ENTITY_ID='syn52000001'" in bootstrap
        assert """EVALUATION_TEMPLATES='{"9616001":"syn52000002"}'""" in bootstrap
        assert "MAX_CONCURRENT_WORKFLOWS='4'" in bootstrap
        assert "PLACEHOLDER" not in user_data
        assert TOKEN not in user_data

    return pulumi.Output.all(*every_resource(host), host.user_data).apply(check)


# --- outputs and options --------------------------------------------------------------------


@pulumi.runtime.test
def test_outputs(mocks: HostMocks):
    host = OrchestratorHost("host", make_args())

    def check(values: list[Any]) -> None:
        instance_id, command, name, instance_type, cost, private_dns, public_dns = values[-7:]
        known(*values[-7:])
        assert instance_id == "i-0a1b2c3d4e5f60718"
        assert command == "aws ssm start-session --target i-0a1b2c3d4e5f60718 --region us-east-1"
        assert name == PARAMETER
        assert instance_type == "r7i.2xlarge"
        assert cost == pytest.approx(387.6)
        assert private_dns == "ip-172-31-1-2.ec2.internal"
        assert public_dns == "ec2-54-1-2-3.compute-1.amazonaws.com"

    return pulumi.Output.all(
        *every_resource(host),
        host.instance_id,
        host.ssm_session_command,
        host.token_parameter_name,
        host.instance_type,
        host.estimated_monthly_cost_usd,
        host.private_dns,
        host.public_dns,
    ).apply(check)


@pulumi.runtime.test
def test_pinned_ami_and_explicit_subnet(mocks: HostMocks):
    args = make_args(
        ami_id="ami-0123456789abcdef0",
        subnet_id="subnet-0ccccccccccccccc1",
    )
    host = OrchestratorHost("host", args)

    def check(_: list[Any]) -> None:
        [instance] = mocks.of_type("aws:ec2/instance:Instance")
        assert instance["ami"] == "ami-0123456789abcdef0"
        assert instance["subnetId"] == "subnet-0ccccccccccccccc1"
        assert instance["userDataReplaceOnChange"] is True, "no key opts out of replacement"
        [group] = mocks.of_type("aws:ec2/securityGroup:SecurityGroup")
        assert group["vpcId"] == "vpc-0custom000000000001"
        tokens = [t for t, _ in mocks.invokes]
        assert "aws:ssm/getParameter:getParameter" not in tokens
        assert "aws:ec2/getVpc:getVpc" not in tokens

    return pulumi.Output.all(*every_resource(host)).apply(check)


def test_ignore_changes_protect_a_running_host() -> None:
    instance_inputs = inspect.signature(aws.ec2.InstanceArgs.__init__).parameters
    for name in instance_ignore_changes(make_args()):
        assert name in instance_inputs, f"{name} is not an Instance input"
    assert instance_ignore_changes(make_args()) == ["ami"]
    assert instance_ignore_changes(make_args(ami_id="ami-0123456789abcdef0")) == []


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"root_volume_gib": 4}, "root_volume_gib"),
        ({"root_volume_gib": 19}, "greater than or equal to 20"),
        ({"root_volume_gib": True}, "root_volume_gib"),
        ({"instance_type": ""}, "instance_type"),
        (
            {
                "ami_ssm_parameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
            },
            "Debian 13",
        ),
        (
            {"settings": make_settings(token_source=SsmParameterToken("/elsewhere", REGION))},
            "settings.token_source",
        ),
        ({"monthly_price_usd": -1.0}, "monthly_price_usd"),
        ({"ami_id": "debian-13"}, "ami_id"),
        ({"subnet_id": "default"}, "subnet_id"),
    ],
)
def test_bad_args_fail_before_any_resource(
    mocks: HostMocks, overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(OrchestratorHostError, match=expected):
        OrchestratorHost("host", make_args(**overrides))
    assert mocks.resources == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"orchestrator_image": "ghcr.io/Sage/Orchestrator:1"}, "not a Docker image reference"),
        ({"kind": "data-to-model"}, "model-to-data only"),
        ({"max_concurrent_submissions": 0}, "maxConcurrentSubmissions"),
    ],
)
def test_bad_host_settings_fail_before_the_args_exist(
    overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(UserDataError, match=expected):
        make_settings(**overrides)


def test_bad_synapse_ids_fail_at_render() -> None:
    """Real IDs arrive at apply time; rendering them checks them like any setting."""
    with pytest.raises(UserDataError, match="logs_folder_id"):
        bootstrap_settings(make_args(), "Logs", {"9616001": "syn52000002"})
    with pytest.raises(UserDataError, match="evaluation_templates"):
        bootstrap_settings(make_args(), "syn1", {"9616001": "https://example.org/w.zip"})


def test_every_args_field_is_documented() -> None:
    for field in dataclasses.fields(OrchestratorHostArgs):
        assert field.metadata.get("description"), field.name


def test_policy_for_a_bucket_without_prefix_and_other_partitions() -> None:
    arn = "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/challenge/x/dev/token"
    policy = host_role_policy(arn, "us-gov-west-1", "s3://whole-bucket")
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ReadInputData"]["Resource"] == "arn:aws-us-gov:s3:::whole-bucket/*"
    assert "Condition" not in statements["ListInputData"]
    assert statements["DecryptOrchestratorToken"]["Resource"] == (
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/*"
    )


def test_tag_values_keep_only_characters_every_service_accepts() -> None:
    assert tag_value("Example M2D (2027) 'pilot'") == "Example M2D _2027_ _pilot_"
    assert tag_value("Host Test Challenge") == "Host Test Challenge"
