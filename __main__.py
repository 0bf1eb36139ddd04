"""Stand up a Synapse challenge's evaluation infrastructure from the stack file (see README.md).

Only composition lives here: the config model validates, `sizing` picks the host, components
create the Synapse side, the launch-day grants and the host, and the stack outputs say where
everything is.
"""

import datetime as dt

import pulumi

import program
import sizing
import stackconfig
from components.challenge_launch import ChallengeLaunch
from components.challenge_site import ChallengeSite
from components.drain_guard import DrainGuard
from components.orchestrator_host import OrchestratorHost, OrchestratorHostError
from synapse_client import SynapseProvisioningError
from userdata import UserDataError

try:
    config = stackconfig.from_pulumi_runtime(pulumi.get_stack())
    estimate = program.host_estimate(config)
    program.check_before_creating(config, estimate)
except (
    stackconfig.ConfigError,
    sizing.SizingError,
    OrchestratorHostError,
    SynapseProvisioningError,
    UserDataError,
) as error:
    raise pulumi.RunError(f"invalid stack config for {pulumi.get_stack()}:\n{error}") from None

spec = config.spec
for warning in (*config.warnings, *estimate.warnings(dt.date.today())):
    pulumi.log.warn(warning)

site = ChallengeSite("challenge", program.site_args(config))
launch = ChallengeLaunch("launch", program.launch_args(config, site))
if spec.host == "ec2":
    host = OrchestratorHost(
        "orchestrator",
        program.host_args(
            config,
            estimate,
            orchestrator_auth_token=pulumi.Config(stackconfig.NAMESPACE).require_secret(
                "orchestratorAuthToken"
            ),
            logs_folder_id=site.logs_folder_id,
            evaluation_templates=site.evaluation_templates,
            dockerhub_password=(
                pulumi.Config(stackconfig.NAMESPACE).require_secret("dockerhubPassword")
                if spec.dockerhub_username
                else None
            ),
        ),
    )
    # Deleted before the host on destroy and on replacement: stops new submissions, waits for
    # running ones. It depends on the site so the queues and the orchestrator's grants outlive
    # the drain.
    DrainGuard(
        "orchestrator-drain",
        program.drain_guard_args(config, site, host),
        opts=pulumi.ResourceOptions(parent=host, depends_on=[site]),
    )
    pulumi.export("awsRegion", config.region)
    pulumi.export("instanceId", host.instance_id)
    pulumi.export("instanceType", host.instance_type)
    pulumi.export("estimatedMonthlyCostUsd", host.estimated_monthly_cost_usd)
    pulumi.export("monthlyCost", estimate.monthly_cost.to_json_dict())
    pulumi.export("privateDns", host.private_dns)
    pulumi.export("ssmSessionCommand", host.ssm_session_command)
    pulumi.export("tokenParameterName", host.token_parameter_name)
else:
    # No AWS at all: the site's own server boots this bootstrap, reading the orchestrator's
    # token from a root-only file it keeps (README, "A self-hosted server").
    bootstrap = pulumi.Output.all(site.logs_folder_id, site.evaluation_templates).apply(
        lambda ids: program.self_hosted_bootstrap(config, ids[0], ids[1])
    )
    pulumi.export("selfHostedBootstrap", bootstrap)
    pulumi.export(
        "selfHostedBootstrapFile",
        bootstrap.apply(lambda document: program.write_bootstrap(config, document)),
    )
    pulumi.export("selfHostedCommands", program.SELF_HOSTED_COMMANDS)

pulumi.export("phase", spec.phase)
pulumi.export("synapseEndpoint", spec.synapse_endpoint)
pulumi.export("liveSiteUrl", site.live_site_url)
pulumi.export("liveProjectId", site.live_project_id)
pulumi.export("stagingProjectId", site.staging_project_id)
pulumi.export("challengeId", site.challenge_id)
pulumi.export("teamIds", site.team_ids)
pulumi.export("queueIds", site.queue_ids)
pulumi.export("logsFolderId", site.logs_folder_id)
pulumi.export("workflowFileId", site.workflow_file_id)
pulumi.export("evaluationTemplates", site.evaluation_templates)
pulumi.export("retainedOnDestroy", site.retained_on_destroy)
pulumi.export("unmatchedStagingWikiPages", launch.unmatched_staging_pages)
pulumi.export("host", spec.host)
pulumi.export("rootVolumeGiB", estimate.root_volume_gib)
