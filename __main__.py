"""Stand up a Synapse challenge's evaluation infrastructure from the stack file (see README.md).

Only composition lives here: the config model validates, `sizing` picks the host, components
create the Synapse side and the host, and the stack outputs say where everything is.
"""

import pulumi

import sizing
import stackconfig
from components.challenge_site import ChallengeSite
from components.orchestrator_host import OrchestratorHost, OrchestratorHostError
from components.synapse import SynapseProvisioningError
from program import check_before_creating, host_args, site_args, workload

try:
    config = stackconfig.from_pulumi_runtime(pulumi.get_stack())
    estimate = sizing.estimate_host(
        workload(config.spec),
        sizing.load_catalog(config.region),
        config.spec.instance_type,
    )
    check_before_creating(config, estimate)
except (
    stackconfig.ConfigError,
    sizing.SizingError,
    OrchestratorHostError,
    SynapseProvisioningError,
) as error:
    raise pulumi.RunError(f"invalid stack config for {pulumi.get_stack()}:\n{error}") from None

for warning in config.warnings:
    pulumi.log.warn(warning)

secrets = pulumi.Config(stackconfig.NAMESPACE)
site = ChallengeSite("challenge", site_args(config))
host = OrchestratorHost(
    "orchestrator",
    host_args(
        config,
        estimate,
        orchestrator_auth_token=secrets.require_secret("orchestratorAuthToken"),
        logs_folder_id=site.logs_folder_id,
        evaluation_templates=site.evaluation_templates,
    ),
)

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
pulumi.export("instanceId", host.instance_id)
pulumi.export("instanceType", host.instance_type)
pulumi.export("rootVolumeGiB", estimate.root_volume_gib)
pulumi.export("estimatedMonthlyCostUsd", host.estimated_monthly_cost_usd)
pulumi.export("privateDns", host.private_dns)
pulumi.export("ssmSessionCommand", host.ssm_session_command)
pulumi.export("tokenParameterName", host.token_parameter_name)
