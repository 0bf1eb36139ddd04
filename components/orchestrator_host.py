"""The orchestrator host: one EC2 instance that boots into a running orchestrator, no person on it.

The token travels Pulumi secret -> SSM SecureString -> instance role at boot -> `.env` (0600);
user data carries only the parameter's name. No inbound port: shell access is Session Manager.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

import rules
from stackconfig.model import DEFAULT_AMI_SSM_PARAMETER
from userdata import (
    PLACEHOLDER_LOGS_FOLDER_ID,
    BootstrapSettings,
    HostSettings,
    SsmParameterToken,
    UserDataError,
    dockerhub_password_parameter_name,
    os_for_ami_parameter,
    parse_s3_uri,
    placeholder_evaluation_templates,
    render_cloud_config,
    token_parameter_name,
)

SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"


def _about(text: str) -> dict[str, str]:
    """Field metadata: the description a test checks every Args field has."""
    return {"description": text}


@dataclass(frozen=True)
class OrchestratorHostArgs:
    """What the host is made from: the stack's host settings (`userdata.host_settings`), the
    Synapse IDs (outputs of the site), and the EC2 side from the stack and `sizing`."""

    settings: HostSettings = field(
        metadata=_about(
            "What the bootstrap takes from the stack (userdata.host_settings); also names, tags "
            "and the region."
        )
    )
    instance_type: str = field(
        metadata=_about("EC2 instance type, from sizing (or the instanceType override).")
    )
    root_volume_gib: int = field(
        metadata=_about("Root volume size, GiB (gp3, encrypted), from sizing.")
    )
    orchestrator_auth_token: pulumi.Input[str] = field(
        metadata=_about(
            "Orchestrator's Synapse personal access token (secret); stored only in SSM."
        )
    )
    logs_folder_id: pulumi.Input[str] = field(
        metadata=_about("Synapse ID of the Logs folder (syn...).")
    )
    evaluation_templates: pulumi.Input[Mapping[str, str]] = field(
        metadata=_about("Evaluation ID -> Synapse ID of the workflow file (EVALUATION_TEMPLATES).")
    )
    monthly_price_usd: float | None = field(
        default=None,
        metadata=_about(
            "Estimated monthly cost, USD: instance, gp3 root volume and public IPv4 on demand "
            "(sizing's monthly_cost_usd); None when unknown."
        ),
    )
    ami_ssm_parameter: str = field(
        default=DEFAULT_AMI_SSM_PARAMETER,
        metadata=_about("Public SSM parameter naming the AMI (Debian 13)."),
    )
    ami_id: str | None = field(
        default=None,
        metadata=_about(
            "Pin this AMI instead of resolving ami_ssm_parameter; changing it replaces the host."
        ),
    )
    subnet_id: str | None = field(
        default=None, metadata=_about("Subnet; None: a default subnet of the default VPC.")
    )
    dockerhub_password: pulumi.Input[str] | None = field(
        default=None,
        metadata=_about(
            "Docker Hub access token (secret) with settings.dockerhub_username; stored only in SSM."
        ),
    )
    host_key: str | None = field(
        default=None,
        metadata=_about(
            "A further host of a fleet (challenge:hosts key): its own SSM parameter and Name tag. "
            "None: the stack's one host (or the fleet's `default`)."
        ),
    )
    served_queue_count: int = field(
        default=1,
        metadata=_about(
            "Queues the host serves; the dry render that checks the 16 KB user-data limit before "
            "anything is created uses this many placeholder IDs. Default 1."
        ),
    )


class OrchestratorHostError(ValueError):
    """OrchestratorHostArgs that cannot make a working host; names the field and the fix."""


def tag_value(text: str) -> str:
    """`text` with only the characters IAM, SSM and EC2 tags all accept (at most 256)."""
    return re.sub(r"[^\w .:/=+\-@]", "_", text)[:256]


def partition_of(region: str) -> str:
    """AWS partition of a region (ARNs differ in China and GovCloud)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def host_role_policy(
    parameter_arn: str | Sequence[str], region: str, input_data_s3_uri: str | None
) -> dict:
    """Least privilege for the host: read its secret parameters (the token, and the Docker Hub
    password when set) and the input prefix."""
    arns = [parameter_arn] if isinstance(parameter_arn, str) else list(parameter_arn)
    parameter_arn = arns[0] if len(arns) == 1 else arns
    arn_parts = arns[0].split(":")
    partition, account = arn_parts[1], arn_parts[4]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOrchestratorToken",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": parameter_arn,
        },
        {
            "Sid": "DecryptOrchestratorToken",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": f"arn:{partition}:kms:{region}:{account}:key/*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": f"ssm.{region}.amazonaws.com",
                    "kms:EncryptionContext:PARAMETER_ARN": parameter_arn,
                }
            },
        },
    ]
    if input_data_s3_uri:
        bucket, prefix = parse_s3_uri(input_data_s3_uri)
        objects = f"arn:{partition}:s3:::{bucket}/{prefix + '/' if prefix else ''}*"
        list_statement: dict[str, Any] = {
            "Sid": "ListInputData",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:{partition}:s3:::{bucket}",
        }
        if prefix:
            list_statement["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
        statements += [
            list_statement,
            {
                "Sid": "ReadInputData",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": objects,
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def host_name_tag(stack: str, host_key: str | None) -> str:
    """The instance's Name tag: `<stack>-orchestrator`, `<stack>-orchestrator-<key>` in a fleet."""
    return f"{stack}-orchestrator" + (f"-{host_key}" if host_key else "")


def instance_ignore_changes(args: OrchestratorHostArgs) -> list[str]:
    """Instance inputs whose change must not replace or restart a running host: a new AMI behind
    the SSM parameter (a pinned `ami_id` is deliberate, so it is not ignored)."""
    return ["ami"] if args.ami_id is None else []


def bootstrap_settings(
    args: OrchestratorHostArgs, logs_folder_id: str, evaluation_templates: Mapping[str, str]
) -> BootstrapSettings:
    """The user data's settings: the Args' host settings plus the resolved Synapse IDs."""
    return args.settings.with_synapse_ids(logs_folder_id, evaluation_templates)


def check_args(args: OrchestratorHostArgs) -> None:
    """Every problem with the Args at once, before any resource exists."""
    checks = (
        ("instance_type", rules.InstanceTypeName, args.instance_type),
        ("root_volume_gib", rules.RootVolumeGiB, args.root_volume_gib),
        ("ami_id", rules.AmiId | None, args.ami_id),
        ("subnet_id", rules.SubnetId | None, args.subnet_id),
    )
    problems = [
        f"{name}: {value!r}: {problem}"
        for name, rule, value in checks
        if (problem := rules.problem(rule, value))
    ]
    settings = args.settings
    parameter = SsmParameterToken(
        token_parameter_name(settings.challenge_name, settings.stack, args.host_key),
        settings.region,
    )
    if settings.token_source != parameter:
        problems.append(
            "settings.token_source: the host reads its token from the SSM parameter this component "
            f"creates ({parameter.name} in {parameter.region}), not {settings.token_source}"
        )
    if settings.dockerhub_username and args.dockerhub_password is None:
        problems.append("dockerhub_password: required with dockerhub_username (a secret)")
    if settings.dockerhub_username and settings.dockerhub_password_source != SsmParameterToken(
        dockerhub_password_parameter_name(settings.challenge_name, settings.stack, args.host_key),
        settings.region,
    ):
        problems.append(
            "settings.dockerhub_password_source: the host reads the Docker Hub password from the "
            "SSM parameter this component creates"
        )
    if args.monthly_price_usd is not None and args.monthly_price_usd < 0:
        problems.append(f"monthly_price_usd: {args.monthly_price_usd!r} is negative")
    if args.ami_id is None:
        try:
            os_for_ami_parameter(args.ami_ssm_parameter)
        except UserDataError as exc:
            problems.append(str(exc))
    try:
        # A dry render with placeholder IDs checks the template and the 16 KB limit.
        render_cloud_config(
            bootstrap_settings(
                args,
                PLACEHOLDER_LOGS_FOLDER_ID,
                placeholder_evaluation_templates(args.served_queue_count),
            )
        )
    except UserDataError as exc:
        problems.append(str(exc))
    if problems:
        raise OrchestratorHostError("OrchestratorHost: " + "; ".join(problems))


class OrchestratorHost(pulumi.ComponentResource):
    """EC2 host running the Synapse workflow orchestrator, reached through Session Manager."""

    def __init__(
        self,
        name: str,
        args: OrchestratorHostArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        check_args(args)
        settings = args.settings
        super().__init__("challenge:index:OrchestratorHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {
            "challenge": tag_value(settings.challenge_name),
            "stack": tag_value(settings.stack),
            "managed-by": "pulumi",
        }
        parameter_name = token_parameter_name(
            settings.challenge_name, settings.stack, args.host_key
        )

        self.token_parameter = aws.ssm.Parameter(
            f"{name}-token",
            name=parameter_name,
            type="SecureString",
            value=pulumi.Output.secret(args.orchestrator_auth_token),
            description=f"Synapse token of the orchestrator, challenge {settings.challenge_name!r}",
            tags=tags,
            opts=child,
        )

        secret_arns = [self.token_parameter.arn]
        self.dockerhub_password_parameter = None
        if settings.dockerhub_username:
            self.dockerhub_password_parameter = aws.ssm.Parameter(
                f"{name}-dockerhub-password",
                name=dockerhub_password_parameter_name(
                    settings.challenge_name, settings.stack, args.host_key
                ),
                type="SecureString",
                value=pulumi.Output.secret(args.dockerhub_password),
                description=f"Docker Hub access token of {settings.dockerhub_username}",
                tags=tags,
                opts=child,
            )
            secret_arns.append(self.dockerhub_password_parameter.arn)

        self.role = aws.iam.Role(
            f"{name}-role",
            description=(
                f"Orchestrator host of challenge {settings.challenge_name!r} ({settings.stack})"
            ),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        self.session_manager_policy = aws.iam.RolePolicyAttachment(
            f"{name}-session-manager",
            role=self.role.name,
            policy_arn=f"arn:{partition_of(settings.region)}:iam::aws:policy/{SSM_CORE_POLICY}",
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-read-token",
            role=self.role.id,
            policy=pulumi.Output.all(*secret_arns).apply(
                lambda arns: json.dumps(
                    host_role_policy(arns, settings.region, settings.input_data_s3_uri)
                )
            ),
            opts=child,
        )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-profile", role=self.role.name, tags=tags, opts=child
        )

        if args.subnet_id:
            subnet_id: pulumi.Input[str] = args.subnet_id
            vpc_id = aws.ec2.get_subnet_output(id=args.subnet_id).vpc_id
        else:
            vpc_id = aws.ec2.get_vpc_output(default=True).id
            subnets = aws.ec2.get_subnets_output(
                filters=[
                    # An *_output invoke resolves the Outputs inside its arguments.
                    aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc_id]),  # type: ignore[list-item]
                    aws.ec2.GetSubnetsFilterArgs(name="default-for-az", values=["true"]),
                ]
            )
            subnet_id = subnets.ids.apply(_first_subnet)

        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="Orchestrator host: no inbound (Session Manager), all outbound",
            vpc_id=vpc_id,
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="Synapse, registries, AWS APIs",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=["0.0.0.0/0"],
                    ipv6_cidr_blocks=["::/0"],
                )
            ],
            tags=tags,
            opts=child,
        )

        ami: pulumi.Input[str] = (
            args.ami_id or aws.ssm.get_parameter_output(name=args.ami_ssm_parameter).value
        )
        self.user_data = pulumi.Output.all(
            pulumi.Output.from_input(args.logs_folder_id),
            pulumi.Output.from_input(args.evaluation_templates),
        ).apply(lambda ids: render_cloud_config(bootstrap_settings(args, ids[0], ids[1])))

        self.instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=ami,
            instance_type=args.instance_type,
            subnet_id=subnet_id,
            vpc_security_group_ids=[self.security_group.id],
            iam_instance_profile=self.instance_profile.name,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3",
                volume_size=args.root_volume_gib,
                encrypted=True,
                delete_on_termination=True,
                tags=tags,
            ),
            user_data=self.user_data,
            # A changed user data replaces the host (after the drain guard): a running host never
            # silently keeps settings the stack no longer has.
            user_data_replace_on_change=True,
            tags={"Name": host_name_tag(settings.stack, args.host_key), **tags},
            opts=pulumi.ResourceOptions(
                parent=self,
                # The role must be able to read the token before the host boots.
                depends_on=[self.token_parameter, self.role_policy, self.session_manager_policy],
                ignore_changes=instance_ignore_changes(args),
                # Two orchestrators must never serve the same queues: each marks the other's
                # running submissions INVALID. The old host goes before the new one comes.
                delete_before_replace=True,
                # The provider would change the type in place by stopping the instance, which
                # kills running evaluations; a replacement goes through the drain guard.
                replace_on_changes=["instance_type"],
            ),
        )

        self.instance_id = self.instance.id
        self.private_dns = self.instance.private_dns
        self.public_dns = self.instance.public_dns
        self.ssm_session_command = self.instance.id.apply(
            lambda instance_id: (
                f"aws ssm start-session --target {instance_id} --region {settings.region}"
            )
        )
        self.token_parameter_name = self.token_parameter.name
        self.instance_type = self.instance.instance_type
        self.estimated_monthly_cost_usd = pulumi.Output.from_input(args.monthly_price_usd)
        self.register_outputs(
            {
                "instance_id": self.instance_id,
                "private_dns": self.private_dns,
                "public_dns": self.public_dns,
                "ssm_session_command": self.ssm_session_command,
                "token_parameter_name": self.token_parameter_name,
                "instance_type": self.instance_type,
                "estimated_monthly_cost_usd": self.estimated_monthly_cost_usd,
            }
        )


def _first_subnet(ids: list[str]) -> str:
    if not ids:
        raise OrchestratorHostError(
            "OrchestratorHost: the default VPC has no default subnets; set challenge:subnetId"
        )
    return sorted(ids)[0]
