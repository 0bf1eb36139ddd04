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
    hosts = program.fleet(config)
    program.check_before_creating(config, hosts)
    program.check_pinned_ami(config.spec)
except (
    stackconfig.ConfigError,
    sizing.SizingError,
    OrchestratorHostError,
    SynapseProvisioningError,
    UserDataError,
) as error:
    raise pulumi.RunError(f"invalid stack config for {pulumi.get_stack()}:\n{error}") from None

spec = config.spec
warnings = dict.fromkeys(
    [*config.warnings, *(w for h in hosts for w in h.estimate.warnings(dt.date.today()))]
)
for warning in warnings:
    pulumi.log.warn(warning)

site = ChallengeSite("challenge", program.site_args(config))
launch = ChallengeLaunch("launch", program.launch_args(config, site))
fleet_outputs = {}
if spec.host == "ec2":
    token = pulumi.Config(stackconfig.NAMESPACE).require_secret("orchestratorAuthToken")
    dockerhub_password = (
        pulumi.Config(stackconfig.NAMESPACE).require_secret("dockerhubPassword")
        if spec.dockerhub_username
        else None
    )
    for host in hosts:
        # One component per host (`orchestrator`, `orchestrator-<key>`): replacing one never
        # touches the others.
        component = OrchestratorHost(
            host.resource_name,
            program.host_args(
                host,
                orchestrator_auth_token=token,
                logs_folder_id=site.logs_folder_id,
                evaluation_templates=program.host_templates(site, host),
                dockerhub_password=dockerhub_password,
            ),
        )
        # Deleted before the host on destroy and on replacement: stops new submissions, waits
        # for running ones on the host's own queues. It depends on the site so the queues and
        # the orchestrator's grants outlive the drain.
        DrainGuard(
            f"{host.resource_name}-drain",
            program.drain_guard_args(config, site, host, component),
            opts=pulumi.ResourceOptions(parent=component, depends_on=[site]),
        )
        fleet_outputs[host.group.key] = {
            "instanceId": component.instance_id,
            "instanceType": component.instance_type,
            "queues": list(host.group.queue_keys),
            "executionStage": host.group.execution_stage,
            "monthlyCost": host.estimate.monthly_cost.to_json_dict(),
            "ssmSessionCommand": component.ssm_session_command,
            "tokenParameterName": component.token_parameter_name,
        }
    pulumi.export("awsRegion", config.region)
    if len(hosts) == 1:  # the one host's outputs as before host groups
        (only,) = fleet_outputs.values()
        pulumi.export("instanceId", only["instanceId"])
        pulumi.export("instanceType", only["instanceType"])
        pulumi.export("estimatedMonthlyCostUsd", component.estimated_monthly_cost_usd)
        pulumi.export("monthlyCost", only["monthlyCost"])
        pulumi.export("privateDns", component.private_dns)
        pulumi.export("ssmSessionCommand", only["ssmSessionCommand"])
        pulumi.export("tokenParameterName", only["tokenParameterName"])
    else:
        pulumi.export("estimatedMonthlyCostUsd", program.fleet_monthly_cost_usd(hosts))
else:
    # No AWS at all: the site's own server (one per host of a fleet) boots this bootstrap,
    # reading the orchestrator's token from a root-only file it keeps (README, "A self-hosted
    # server").
    bootstraps, files = {}, {}
    for host in hosts:
        bootstraps[host.group.key], files[host.group.key] = program.self_hosted_outputs(
            config, site, host
        )
        fleet_outputs[host.group.key] = {
            "queues": list(host.group.queue_keys),
            "executionStage": host.group.execution_stage,
        }
    if len(hosts) == 1:
        (bootstrap,), (path,) = bootstraps.values(), files.values()
        pulumi.export("selfHostedBootstrap", bootstrap)
        pulumi.export("selfHostedBootstrapFile", path)
    else:
        pulumi.export("selfHostedBootstrap", bootstraps)
        pulumi.export("selfHostedBootstrapFile", files)
    pulumi.export("selfHostedCommands", program.SELF_HOSTED_COMMANDS)
if len(hosts) > 1:
    pulumi.export("hosts", fleet_outputs)

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
if len(hosts) == 1:
    pulumi.export("rootVolumeGiB", hosts[0].estimate.root_volume_gib)
