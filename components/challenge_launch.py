"""ChallengeLaunch: what `phase: live` changes on Synapse, and what going back undoes.

Live: the Participants team gets "Can submit" (READ, SUBMIT) on every queue, the live project
becomes readable by everyone (public and signed-in users "Can view", as Synapse challenge sites
are), and the staging wiki is copied to the live project once, then mirrored (``WikiCopy``).
Back to staging: the grants are deleted, and each grant provider removes exactly its own
principal's entry from the ACL; the live wiki pages stay.

The plan is plain data (``plan_launch``) so the same grants can be driven through the providers
against a Synapse server without the Pulumi engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.synapse.entity_permissions import EntityPermissions
from components.synapse.evaluation_permissions import EvaluationPermissions
from components.synapse.site_plan import PlannedComponent, PlannedResource
from components.synapse.wiki_copy import WikiCopy
from synapse_client.access import (
    AUTHENTICATED_USERS_PRINCIPAL_ID,
    PUBLIC_PRINCIPAL_ID,
    AccessLevel,
)
from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, endpoint_problem
from synapse_client.errors import SynapseProvisioningError

PHASES = ("staging", "live")


def _about(text: str) -> dict[str, str]:
    return {"description": text}


@dataclass(frozen=True)
class ChallengeLaunchArgs:
    """Inputs of the launch; the IDs come from ``ChallengeSite``."""

    phase: str = field(metadata=_about("`staging` (default in the stack) or `live`."))
    queue_ids: Mapping[str, pulumi.Input[str]] = field(
        metadata=_about("Queue key -> evaluation queue ID; keys are fixed at preview time.")
    )
    participants_team_id: pulumi.Input[str] = field(
        metadata=_about("Numeric ID of the `<name> Participants` team.")
    )
    live_project_id: pulumi.Input[str] = field(metadata=_about("Synapse ID of the live project."))
    staging_project_id: pulumi.Input[str] = field(
        metadata=_about("Synapse ID of the staging project (wiki source).")
    )
    synapse_endpoint: str = field(
        default=DEFAULT_SYNAPSE_ENDPOINT,
        metadata=_about("Synapse base URL; default production."),
    )


def _fail(setting: str, problem: str) -> SynapseProvisioningError:
    return SynapseProvisioningError(f"challenge launch setting `{setting}` {problem}")


def validate_launch(args: ChallengeLaunchArgs) -> None:
    """A clear error naming the first bad setting, before any resource exists."""
    if args.phase not in PHASES:
        raise _fail("phase", f"must be one of {list(PHASES)}, got {args.phase!r}")
    if not args.queue_ids:
        raise _fail("queue_ids", "must name at least one evaluation queue")
    for key in args.queue_ids:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", key):
            raise _fail("queue_ids", f"key {key!r} must be lower-case letters, digits and dashes")
    problem = endpoint_problem(args.synapse_endpoint)
    if problem:
        raise _fail("synapse_endpoint", problem)


def plan_launch(args: ChallengeLaunchArgs) -> list[PlannedResource]:
    """The launch's resources: none in staging; grants and the wiki copy when live."""
    validate_launch(args)
    if args.phase != "live":
        return []
    endpoint = {"synapse_endpoint": args.synapse_endpoint.rstrip("/")}
    plan = [
        PlannedResource(
            f"submit-{key}",
            EvaluationPermissions,
            {
                "evaluation_id": evaluation_id,
                "access": AccessLevel.SUBMIT.value,
                "principal_id": args.participants_team_id,
                "retain_on_delete": False,
                **endpoint,
            },
        )
        for key, evaluation_id in args.queue_ids.items()
    ]
    # Live means published: public and signed-in users may view the live project.
    for who, principal in (
        ("public", PUBLIC_PRINCIPAL_ID),
        ("registered", AUTHENTICATED_USERS_PRINCIPAL_ID),
    ):
        plan.append(
            PlannedResource(
                f"live-project-{who}-view",
                EntityPermissions,
                {
                    "entity_id": args.live_project_id,
                    "access": AccessLevel.VIEW.value,
                    "principal_id": principal,
                    "retain_on_delete": False,
                    **endpoint,
                },
            )
        )
    # The staging wiki is copied once, then changed pages are mirrored (none: nothing to copy).
    plan.append(
        PlannedResource(
            "wiki-copy",
            WikiCopy,
            {
                "staging_project_id": args.staging_project_id,
                "live_project_id": args.live_project_id,
                **endpoint,
            },
        )
    )
    return plan


class ChallengeLaunch(PlannedComponent):
    """Opens the challenge to participants when ``phase`` is ``live``; see the module docstring.

    Outputs: ``phase``, ``open_queue_ids`` (queues the Participants team may submit to; empty in
    staging), ``wiki_page_map`` and ``unmatched_staging_pages`` (None unless the wiki is copied).
    """

    def __init__(
        self, name: str, args: ChallengeLaunchArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("challenge:index:ChallengeLaunch", name, plan_launch(args), opts)
        made: dict[str, Any] = self.resources
        self.phase = pulumi.Output.from_input(args.phase)
        live = args.phase == "live"
        self.open_queue_ids = pulumi.Output.all(
            *(args.queue_ids[k] for k in args.queue_ids if live)
        ).apply(list)
        wiki = made.get("wiki-copy")
        self.wiki_page_map = wiki.page_map if wiki else pulumi.Output.from_input(None)
        self.unmatched_staging_pages = (
            wiki.unmatched_staging_pages if wiki else pulumi.Output.from_input(None)
        )
        self.register_outputs(
            {
                "phase": self.phase,
                "open_queue_ids": self.open_queue_ids,
                "wiki_page_map": self.wiki_page_map,
                "unmatched_staging_pages": self.unmatched_staging_pages,
            }
        )
