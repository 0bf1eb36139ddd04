"""ChallengeSite: the Synapse side of a challenge (projects, teams, challenge, queues, Logs
folder, workflow file link and permissions) as one component.

The objects and their wiring come from the pure plan in ``components.synapse.site_plan``;
this module only turns that plan into Pulumi resources and outputs.
"""

from __future__ import annotations

import pulumi

from components.synapse.entity_permissions import EntityPermissions
from components.synapse.site_plan import (
    TEAM_ROLES,
    ChallengeSiteArgs,
    PlannedComponent,
    QueueSpec,
    SubmissionRound,
    evaluation_templates,
    plan_site,
    retained_on_destroy,
)
from synapse_client.endpoints import site_url

__all__ = ["ChallengeSite", "ChallengeSiteArgs", "QueueSpec", "SubmissionRound"]


class ChallengeSite(PlannedComponent):
    """All Synapse objects of one challenge; see ``ChallengeSiteArgs`` for the settings.

    Outputs: ``live_project_id``, ``staging_project_id``, ``team_ids`` (role -> ID),
    ``challenge_id``, ``queue_ids`` (queue key -> ID), ``logs_folder_id``, ``workflow_file_id``,
    ``live_site_url``, ``evaluation_templates`` (queue ID -> workflow file ID, the orchestrator's
    EVALUATION_TEMPLATES), ``orchestrator_principal_id`` and ``retained_on_destroy``.
    """

    def __init__(
        self, name: str, args: ChallengeSiteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        plan = plan_site(args)
        super().__init__("challenge:index:ChallengeSite", name, plan, opts)
        made = self.resources

        def team_id(role: str) -> pulumi.Input[str]:
            existing = args.existing_team_ids.get(role)
            return str(existing) if existing else made[f"team-{role}"].id

        queue_ids = {q.stable_key: made[f"queue-{q.stable_key}"].id for q in args.queues}
        workflow_file_id = made["workflow-file"].id
        self.live_project_id = made["live-project"].id
        self.staging_project_id = made["staging-project"].id
        self.team_ids = pulumi.Output.from_input({role: team_id(role) for role in TEAM_ROLES})
        self.challenge_id = made["challenge"].id
        self.queue_evaluation_ids = queue_ids
        """Evaluation ID of each queue by its stable key, one Output each (for per-queue grants)."""
        self.queue_ids = pulumi.Output.from_input(queue_ids)
        self.logs_folder_id = made["logs-folder"].id
        self.workflow_file_id = workflow_file_id
        self.live_site_url = self.live_project_id.apply(
            lambda id_: site_url(args.synapse_endpoint, id_)
        )
        self.evaluation_templates = pulumi.Output.all(workflow_file_id, *queue_ids.values()).apply(
            lambda ids: evaluation_templates(ids[1:], ids[0])
        )
        orchestrator_grant = made["logs-folder-orchestrator-access"]
        assert isinstance(orchestrator_grant, EntityPermissions)
        self.orchestrator_principal_id = orchestrator_grant.grantee_id
        self.retained_on_destroy = retained_on_destroy(args, plan)
        if self.retained_on_destroy:
            pulumi.log.info(
                f"{name}: `pulumi destroy` keeps {len(self.retained_on_destroy)} Synapse objects "
                "(projects, Logs, queues, teams, challenge, their permissions); set "
                "deleteSynapseDataOnDestroy to delete them",
                resource=self,
            )
        self.register_outputs(
            {
                "live_project_id": self.live_project_id,
                "staging_project_id": self.staging_project_id,
                "team_ids": self.team_ids,
                "challenge_id": self.challenge_id,
                "queue_ids": self.queue_ids,
                "logs_folder_id": self.logs_folder_id,
                "workflow_file_id": self.workflow_file_id,
                "live_site_url": self.live_site_url,
                "evaluation_templates": self.evaluation_templates,
                "orchestrator_principal_id": self.orchestrator_principal_id,
                "retained_on_destroy": self.retained_on_destroy,
            }
        )
