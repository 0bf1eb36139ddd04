"""The orchestrator host: one EC2 instance that boots into a running orchestrator, no person on it.

The token travels Pulumi secret -> SSM SecureString -> instance role at boot -> `.env` (0600);
user data carries only the parameter's name. No inbound port: shell access is Session Manager.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from userdata import (
    DEFAULT_AMI_SSM_PARAMETER,
    DEFAULT_INPUT_DATA_DIR,
    DEFAULT_TOIL_CLI_OPTIONS,
    BootstrapSettings,
    SsmParameterToken,
    UserDataError,
    os_for_ami_parameter,
    parse_s3_uri,
    render_cloud_config,
    token_parameter_name,
)
from userdata.settings import dockerhub_password_parameter_name

SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"
#: Debian's AMIs ship an 8 GiB root snapshot; a smaller volume cannot be created from it.
MIN_ROOT_VOLUME_GIB = 8
#: Stand-ins used only to validate settings before the Synapse IDs are known.
#: Stand-ins for the dry render, one digit wider than Synapse's IDs today, so a stack that passes
#: the 16 KB check before anything exists still fits once the real IDs are known.
_CHECK_LOGS_FOLDER_ID = "syn999999999"
_CHECK_WORKFLOW_FILE_ID = "syn999999998"
_CHECK_FIRST_EVALUATION_ID = 999_000_000


def _about(text: str) -> dict[str, str]:
    """Field metadata: the description a test checks every Args field has."""
    return {"description": text}


@dataclass(frozen=True)
class OrchestratorHostArgs:
    """What the host is made from; the program fills it from the stack config and `sizing`."""

    challenge_name: str = field(metadata=_about("Challenge name (tags, SSM parameter name)."))
    stack: str = field(metadata=_about("Pulumi stack name (tags, SSM parameter name)."))
    region: str = field(metadata=_about("AWS region of the stack, e.g. us-east-1."))
    instance_type: str = field(
        metadata=_about("EC2 instance type, from sizing (or the instanceType override).")
    )
    root_volume_gib: int = field(
        metadata=_about("Root volume size, GiB (gp3, encrypted), from sizing.")
    )
    orchestrator_synapse_username: str = field(
        metadata=_about("SYNAPSE_USERNAME of the orchestrator.")
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
    max_concurrent_submissions: int = field(metadata=_about("MAX_CONCURRENT_WORKFLOWS, 1..100."))
    orchestrator_image: str = field(metadata=_about("Orchestrator image, pinned by tag or digest."))
    kind: str = field(
        default="model-to-data", metadata=_about("`model-to-data` or `data-to-model`.")
    )
    monthly_price_usd: float | None = field(
        default=None,
        metadata=_about(
            "Estimated monthly cost, USD: instance, gp3 root volume and public IPv4 on demand "
            "(sizing's monthly_cost_usd); None when unknown."
        ),
    )
    workflow_engine_image: str | None = field(
        default=None, metadata=_about("Toil engine image; None: the orchestrator's default.")
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
    input_data_s3_uri: str | None = field(
        default=None,
        metadata=_about("s3://bucket/prefix synced into input_data_dir at boot (read-only grant)."),
    )
    input_data_dir: str = field(
        default=DEFAULT_INPUT_DATA_DIR,
        metadata=_about("Host directory mounted by the workflow as input (model-to-data)."),
    )
    job_retention_days: int = field(
        default=7, metadata=_about("Days job folders are kept by the daily clean-up.")
    )
    submitter_notification_mask: int = field(
        default=31, metadata=_about("SUBMITTER_NOTIFICATION_MASK, 0..31.")
    )
    share_results_immediately: bool = field(
        default=True, metadata=_about("SHARE_RESULTS_IMMEDIATELY.")
    )
    toil_cli_options: str = field(
        default=DEFAULT_TOIL_CLI_OPTIONS, metadata=_about("TOIL_CLI_OPTIONS.")
    )
    accept_new_submissions: bool = field(
        default=True,
        metadata=_about(
            "Initial drain state at first boot (the host's drain switch owns it afterwards)."
        ),
    )
    replace_on_user_data_change: bool = field(
        default=True,
        metadata=_about(
            "True: a changed user data replaces the host (drain first). False: changes are ignored "
            "and the running host keeps its boot-time settings. Never the in-place stop/start."
        ),
    )
    end_date: dt.datetime | None = field(
        default=None,
        metadata=_about("After this instant the host stops taking submissions (endDate)."),
    )
    stop_host_after_end: bool = field(
        default=True,
        metadata=_about("With end_date: power off once no evaluation runs (stopHostAfterEnd)."),
    )
    run_workflow_container_in_privileged_mode: bool = field(
        default=False, metadata=_about("RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE.")
    )
    execution_stage: str | None = field(
        default=None, metadata=_about("EXECUTION_STAGE: ALL, VALIDATION or EXECUTION; None: ALL.")
    )
    rw_volumes: tuple[str, ...] = field(
        default=(), metadata=_about("RW_VOLUMES entries, each /host/path:/container/path.")
    )
    dockerhub_username: str | None = field(
        default=None, metadata=_about("DOCKERHUB_USERNAME; None: anonymous Docker Hub pulls.")
    )
    dockerhub_password: pulumi.Input[str] | None = field(
        default=None,
        metadata=_about(
            "Docker Hub access token (secret) with dockerhub_username; stored only in SSM."
        ),
    )
    served_queue_count: int = field(
        default=1,
        metadata=_about(
            "Queues the host serves; the dry render that checks the 16 KB user-data limit before "
            "anything is created uses this many stand-in IDs. Default 1."
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


def instance_ignore_changes(args: OrchestratorHostArgs) -> list[str]:
    """Instance inputs whose change must not replace or restart a running host.

    A new AMI behind the SSM parameter is ignored (a pinned `ami_id` is deliberate, so it is not);
    user data is ignored only when the stack opts out of replacement on change.
    """
    ignored = []
    if args.ami_id is None:
        ignored.append("ami")
    if not args.replace_on_user_data_change:
        ignored.append("user_data")
    return ignored


def bootstrap_settings(
    args: OrchestratorHostArgs,
    logs_folder_id: str,
    evaluation_templates: Mapping[str, str],
) -> BootstrapSettings:
    """The user data's settings from the Args and the resolved Synapse IDs."""
    return BootstrapSettings(
        challenge_name=args.challenge_name,
        stack=args.stack,
        region=args.region,
        orchestrator_synapse_username=args.orchestrator_synapse_username,
        token_source=SsmParameterToken(
            token_parameter_name(args.challenge_name, args.stack), args.region
        ),
        logs_folder_id=logs_folder_id,
        evaluation_templates=dict(evaluation_templates),
        max_concurrent_workflows=args.max_concurrent_submissions,
        orchestrator_image=args.orchestrator_image,
        kind=args.kind,
        workflow_engine_image=args.workflow_engine_image,
        input_data_dir=args.input_data_dir,
        input_data_s3_uri=args.input_data_s3_uri,
        job_retention_days=args.job_retention_days,
        submitter_notification_mask=args.submitter_notification_mask,
        share_results_immediately=args.share_results_immediately,
        toil_cli_options=args.toil_cli_options,
        accept_new_submissions=args.accept_new_submissions,
        end_date=args.end_date,
        stop_host_after_end=args.stop_host_after_end,
        run_workflow_container_in_privileged_mode=args.run_workflow_container_in_privileged_mode,
        execution_stage=args.execution_stage,
        rw_volumes=tuple(args.rw_volumes),
        dockerhub_username=args.dockerhub_username,
        dockerhub_password_source=(
            SsmParameterToken(
                dockerhub_password_parameter_name(args.challenge_name, args.stack), args.region
            )
            if args.dockerhub_username
            else None
        ),
    )


def check_args(args: OrchestratorHostArgs) -> None:
    """Every problem with the Args at once, before any resource exists."""
    problems = []
    if not args.instance_type or "." not in args.instance_type:
        problems.append(f"instance_type: {args.instance_type!r} is not an EC2 instance type")
    if (
        not isinstance(args.root_volume_gib, int)
        or isinstance(args.root_volume_gib, bool)
        or not MIN_ROOT_VOLUME_GIB <= args.root_volume_gib <= 16384
    ):
        problems.append(
            f"root_volume_gib: {args.root_volume_gib!r} not in {MIN_ROOT_VOLUME_GIB}..16384 GiB"
        )
    if args.dockerhub_username and args.dockerhub_password is None:
        problems.append("dockerhub_password: required with dockerhub_username (a secret)")
    if args.monthly_price_usd is not None and args.monthly_price_usd < 0:
        problems.append(f"monthly_price_usd: {args.monthly_price_usd!r} is negative")
    if args.ami_id is not None and not re.fullmatch(r"ami-[0-9a-f]{8,17}", args.ami_id):
        problems.append(f"ami_id: {args.ami_id!r} is not an AMI ID (ami-...)")
    if args.subnet_id is not None and not re.fullmatch(r"subnet-[0-9a-f]{8,17}", args.subnet_id):
        problems.append(f"subnet_id: {args.subnet_id!r} is not a subnet ID (subnet-...)")
    if args.ami_id is None:
        try:
            os_for_ami_parameter(args.ami_ssm_parameter)
        except UserDataError as exc:
            problems.append(str(exc))
    try:
        # A dry render with stand-in IDs checks every plain setting and the template.
        templates = {
            str(_CHECK_FIRST_EVALUATION_ID + i): _CHECK_WORKFLOW_FILE_ID
            for i in range(args.served_queue_count)
        }
        render_cloud_config(bootstrap_settings(args, _CHECK_LOGS_FOLDER_ID, templates))
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
        super().__init__("challenge:index:OrchestratorHost", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {
            "challenge": tag_value(args.challenge_name),
            "stack": tag_value(args.stack),
            "managed-by": "pulumi",
        }
        parameter_name = token_parameter_name(args.challenge_name, args.stack)

        self.token_parameter = aws.ssm.Parameter(
            f"{name}-token",
            name=parameter_name,
            type="SecureString",
            value=pulumi.Output.secret(args.orchestrator_auth_token),
            description=f"Synapse token of the orchestrator, challenge {args.challenge_name!r}",
            tags=tags,
            opts=child,
        )

        secret_arns = [self.token_parameter.arn]
        self.dockerhub_password_parameter = None
        if args.dockerhub_username:
            self.dockerhub_password_parameter = aws.ssm.Parameter(
                f"{name}-dockerhub-password",
                name=dockerhub_password_parameter_name(args.challenge_name, args.stack),
                type="SecureString",
                value=pulumi.Output.secret(args.dockerhub_password),
                description=f"Docker Hub access token of {args.dockerhub_username}",
                tags=tags,
                opts=child,
            )
            secret_arns.append(self.dockerhub_password_parameter.arn)

        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"Orchestrator host of challenge {args.challenge_name!r} ({args.stack})",
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
            policy_arn=f"arn:{partition_of(args.region)}:iam::aws:policy/{SSM_CORE_POLICY}",
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-read-token",
            role=self.role.id,
            policy=pulumi.Output.all(*secret_arns).apply(
                lambda arns: json.dumps(host_role_policy(arns, args.region, args.input_data_s3_uri))
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
            user_data_replace_on_change=args.replace_on_user_data_change,
            tags={"Name": f"{args.stack}-orchestrator", **tags},
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
                f"aws ssm start-session --target {instance_id} --region {args.region}"
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
