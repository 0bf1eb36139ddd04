"""What a challenge site consists of, as plain data: the Synapse objects, their inputs and
the references between them.

Plain data (no Pulumi calls but ``PlannedComponent``): each planned object names its type's
class, ``PlannedComponent`` (the base of ``ChallengeSite`` and ``ChallengeLaunch``) turns a
plan into Pulumi resources, and the local engine drives the same plan straight through the
providers for tests, benchmarks and rehearsals.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pulumi

import rules
from synapse_client.access import AccessLevel
from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, endpoint_problem
from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import MAX_NAME_LENGTH, entity_name_problem, queue_stable_key

from ._resource import SynapseResource
from .challenge import Challenge
from .entity_permissions import EntityPermissions
from .evaluation_permissions import EvaluationPermissions
from .evaluation_queue import EvaluationQueue, round_problems
from .external_link_file import ExternalLinkFile
from .folder import Folder
from .project import Project
from .submission_view import SubmissionView
from .team import Team

TEAM_ROLES = ("participants", "admin", "organizers", "preregistrants")
"""Roles of the four challenge teams; also the keys of ``existing_team_ids``."""
PUBLICLY_JOINABLE = frozenset({"participants", "preregistrants"})
LOGS_FOLDER_NAME = "Logs"
ROOT_TEMPLATE_ANNOTATION = "ROOT_TEMPLATE"
SUBMISSION_VIEW_NAME = "Submissions"


@dataclass(frozen=True)
class SubmissionRound:
    """One submission period of a queue; limits count submissions per participant or team."""

    start: datetime | str
    """Opening instant, ISO 8601 with a zone (e.g. ``2025-03-01T00:00:00Z``)."""
    end: datetime | str
    """Closing instant, ISO 8601 with a zone; after ``start``."""
    total_submissions: int | None = None
    """Most submissions in the whole round; None: no limit."""
    daily_submissions: int | None = None
    """Most submissions per UTC day; None: no limit."""
    weekly_submissions: int | None = None
    """Most submissions per week; None: no limit."""
    monthly_submissions: int | None = None
    """Most submissions per month; None: no limit."""

    def as_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start.isoformat() if isinstance(self.start, datetime) else self.start,
            "end": self.end.isoformat() if isinstance(self.end, datetime) else self.end,
        }
        for key in ("total", "daily", "weekly", "monthly"):
            value = getattr(self, f"{key}_submissions")
            if value is not None:
                out[f"{key}_submissions"] = value
        return out


@dataclass(frozen=True)
class QueueSpec:
    """One evaluation queue of the challenge."""

    name: str
    """Queue name, unique across Synapse."""
    description: str = ""
    """Shown to participants; default empty."""
    rounds: tuple[SubmissionRound, ...] = ()
    """Submission periods and limits; default none (open, unlimited)."""
    key: str | None = None
    """Stable identifier within the stack (letters, digits, dashes); keeping it while changing
    ``name`` renames the queue in place. Default: derived from ``name``."""
    submission_instructions_message: str = ""
    """Shown when submitting; default empty."""
    submission_receipt_message: str = ""
    """Shown after submitting; default empty."""

    @property
    def stable_key(self) -> str:
        return queue_stable_key(self.name, self.key)


@dataclass(frozen=True)
class ChallengeSiteArgs:
    """Inputs of a challenge site on Synapse."""

    name: str
    """Challenge name: the live project's name and the prefix of the staging project and teams."""
    queues: tuple[QueueSpec, ...]
    """Evaluation queues, at least one."""
    workflow_archive_url: str
    """https URL of the workflow archive (.zip) the orchestrator runs; linked in staging."""
    root_template: str
    """Path of the workflow's entry file inside the archive (the ROOT_TEMPLATE annotation)."""
    orchestrator_synapse_username: str
    """Synapse user name of the orchestrator's account (score on queues, edit on Logs)."""
    synapse_endpoint: str = DEFAULT_SYNAPSE_ENDPOINT
    """Base URL of Synapse; default production. http is accepted on loopback only."""
    delete_data_on_destroy: bool = False
    """Whether destroy deletes projects, Logs, queues, teams and challenge; default False
    (retained: they hold participants' submissions and logs)."""
    existing_team_ids: Mapping[str, str] = field(default_factory=dict)
    """Existing team IDs to use instead of creating teams, by role (participants, admin,
    organizers, preregistrants); default none."""
    submission_view: bool = False
    """Whether to create a SubmissionView over every queue in the staging project."""


@dataclass(frozen=True)
class Ref:
    """A value taken from another planned resource once it exists (``id`` or an output)."""

    resource: str
    output: str = "id"


@dataclass(frozen=True)
class PlannedResource:
    """One Synapse object: plan key (unique in the site), object type and inputs."""

    key: str
    kind: type[SynapseResource]
    inputs: Mapping[str, Any]
    after: tuple[str, ...] = ()
    """Keys of planned resources that must exist first although no input refers to them."""

    def dependencies(self) -> set[str]:
        return {ref.resource for ref in _refs(self.inputs.values())} | set(self.after)


def _refs(values: Iterable[Any]) -> Iterable[Ref]:
    for value in values:
        if isinstance(value, Ref):
            yield value
        elif isinstance(value, list):
            yield from _refs(value)


def _fail(setting: str, problem: str) -> SynapseProvisioningError:
    return SynapseProvisioningError(f"challenge site setting `{setting}` {problem}")


def validate_site(args: ChallengeSiteArgs) -> None:
    """Raise a clear error naming the first bad setting; nothing is created before this."""
    longest_suffix = max(len(" - staging"), *(len(f" {r.title()}") for r in TEAM_ROLES))
    if not isinstance(args.name, str) or not args.name.strip():
        raise _fail("name", "must be a non-empty challenge name")
    problem = entity_name_problem(args.name)
    if problem:
        raise _fail("name", problem)
    if len(args.name) + longest_suffix > MAX_NAME_LENGTH:
        raise _fail("name", f"must be at most {MAX_NAME_LENGTH - longest_suffix} characters")
    problem = endpoint_problem(args.synapse_endpoint)
    if problem:
        raise _fail("synapse_endpoint", problem)
    url_problem = rules.workflow_archive_url_problem(args.workflow_archive_url or "")
    if url_problem:  # never with the URL: it may hold a credential
        raise _fail("workflow_archive_url", str(url_problem))
    problem = entity_name_problem(archive_name(args.workflow_archive_url))
    if problem:
        raise _fail("workflow_archive_url", f"file name {problem}")
    if not args.root_template or not args.root_template.strip():
        raise _fail("root_template", "must be the workflow's entry file path inside the archive")
    problem = rules.root_template_problem(args.root_template)
    if problem:
        raise _fail("root_template", f"{args.root_template!r} {problem}")
    if not args.orchestrator_synapse_username or not args.orchestrator_synapse_username.strip():
        raise _fail("orchestrator_synapse_username", "must be a Synapse user name")
    for role, team_id in args.existing_team_ids.items():
        if role not in TEAM_ROLES:
            raise _fail("existing_team_ids", f"has unknown role {role!r}; allowed: {TEAM_ROLES}")
        if not str(team_id).isdigit():
            raise _fail(f"existing_team_ids.{role}", f"must be a numeric team ID, got {team_id!r}")
    shared = rules.shared_team_problems(args.existing_team_ids)
    if shared:
        raise _fail("existing_team_ids", shared[0])
    if not args.queues:
        raise _fail("queues", "must list at least one evaluation queue")
    _validate_queues(args.queues)


def _validate_queues(queues: Iterable[QueueSpec]) -> None:
    keys: set[str] = set()
    names: set[str] = set()
    for index, queue in enumerate(queues):
        where = f"queues[{index}]"
        if not queue.name or not queue.name.strip() or len(queue.name) > MAX_NAME_LENGTH:
            raise _fail(f"{where}.name", f"must be 1-{MAX_NAME_LENGTH} characters")
        key = queue.stable_key
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", key):
            raise _fail(
                f"{where}.key", f"must be lower-case letters, digits and dashes, got {key!r}"
            )
        if key in keys:
            raise _fail(f"{where}.key", f"{key!r} is used by two queues; give each a unique key")
        if rules.name_key(queue.name) in names:
            raise _fail(f"{where}.name", f"{queue.name!r} is used by two queues (case ignored)")
        keys.add(key)
        names.add(rules.name_key(queue.name))
        problems = round_problems([r.as_input() for r in queue.rounds])
        if problems:
            raise _fail(f"{where}.rounds", "; ".join(problems))


def archive_name(url: str) -> str:
    """The workflow file's name in Synapse: the archive's file name from its URL."""
    return urllib.parse.unquote(posixpath.basename(urllib.parse.urlparse(url).path))


def team_name(challenge: str, role: str) -> str:
    return f"{challenge} {role.title()}"


def plan_site(args: ChallengeSiteArgs) -> list[PlannedResource]:
    """The site's objects in an order where each comes after what it references."""
    validate_site(args)
    keep = not args.delete_data_on_destroy
    common = {"synapse_endpoint": args.synapse_endpoint.rstrip("/")}
    plan: list[PlannedResource] = []

    def add(
        key: str, kind: type[SynapseResource], after: tuple[str, ...] = (), **inputs: Any
    ) -> None:
        plan.append(PlannedResource(key, kind, {**inputs, **common}, after))

    add(
        "live-project",
        Project,
        name=args.name,
        retain_on_delete=keep,
        description=f"Live site of the {args.name} challenge.",
    )
    add(
        "staging-project",
        Project,
        name=f"{args.name} - staging",
        retain_on_delete=keep,
        description=f"Staging site of the {args.name} challenge.",
    )
    teams: dict[str, Any] = {}
    for role in TEAM_ROLES:
        if role in args.existing_team_ids:
            teams[role] = str(args.existing_team_ids[role])
            continue
        add(
            f"team-{role}",
            Team,
            name=team_name(args.name, role),
            retain_on_delete=keep,
            description=f"{role.title()} of the {args.name} challenge.",
            can_public_join=role in PUBLICLY_JOINABLE,
        )
        teams[role] = Ref(f"team-{role}")
    add(
        "challenge",
        Challenge,
        project_id=Ref("live-project"),
        participant_team_id=teams["participants"],
        retain_on_delete=keep,
    )
    add(
        "logs-folder",
        Folder,
        name=LOGS_FOLDER_NAME,
        parent_id=Ref("live-project"),
        retain_on_delete=keep,
        description="Logs of evaluated submissions.",
    )
    archive = archive_name(args.workflow_archive_url)
    add(
        "workflow-file",
        ExternalLinkFile,
        name=archive,
        parent_id=Ref("staging-project"),
        external_url=args.workflow_archive_url,
        retain_on_delete=False,
        annotations={ROOT_TEMPLATE_ANNOTATION: args.root_template},
        description="Workflow run by the orchestrator for each submission.",
    )
    for queue in args.queues:
        add(
            f"queue-{queue.stable_key}",
            EvaluationQueue,
            name=queue.name,
            description=queue.description,
            content_source=Ref("live-project"),
            rounds=[r.as_input() for r in queue.rounds],
            retain_on_delete=keep,
            submission_instructions_message=queue.submission_instructions_message,
            submission_receipt_message=queue.submission_receipt_message,
        )

    def entity_grant(
        target: str,
        who: str,
        access: AccessLevel,
        retain: bool,
        after: tuple[str, ...] = (),
        **principal: Any,
    ) -> None:
        add(
            f"{target}-{who}-access",
            EntityPermissions,
            after,
            entity_id=Ref(target),
            access=access.value,
            retain_on_delete=retain,
            **principal,
        )

    for project, organizers in (
        ("live-project", AccessLevel.MODERATE),
        ("staging-project", AccessLevel.EDIT),
    ):
        entity_grant(project, "admin", AccessLevel.ADMIN, keep, principal_id=teams["admin"])
        entity_grant(project, "organizers", organizers, keep, principal_id=teams["organizers"])
    orchestrator = {"principal_username": args.orchestrator_synapse_username}
    # The first grant on a folder or file gives it its own ACL, copied from the project's:
    # wait for the project's grants so Admin and Organizers are in the copy.
    live_grants = ("live-project-admin-access", "live-project-organizers-access")
    staging_grants = ("staging-project-admin-access", "staging-project-organizers-access")
    entity_grant("logs-folder", "orchestrator", AccessLevel.EDIT, keep, live_grants, **orchestrator)
    entity_grant(
        "workflow-file", "orchestrator", AccessLevel.DOWNLOAD, False, staging_grants, **orchestrator
    )
    for queue in args.queues:
        target = f"queue-{queue.stable_key}"
        for who, access, principal in (
            ("admin", AccessLevel.ADMIN, {"principal_id": teams["admin"]}),
            ("orchestrator", AccessLevel.SCORE, orchestrator),
        ):
            add(
                f"{target}-{who}-access",
                EvaluationPermissions,
                evaluation_id=Ref(target),
                access=access.value,
                retain_on_delete=keep,
                **principal,
            )
    if args.submission_view:
        add(
            "submission-view",
            SubmissionView,
            name=SUBMISSION_VIEW_NAME,
            parent_id=Ref("staging-project"),
            scope_ids=[Ref(f"queue-{queue.stable_key}") for queue in args.queues],
        )
    return plan


def queue_keys(args: ChallengeSiteArgs) -> list[str]:
    return [q.stable_key for q in args.queues]


def evaluation_templates(queue_ids: Iterable[str], workflow_file_id: str) -> dict[str, str]:
    """The orchestrator's EVALUATION_TEMPLATES: every queue runs the one workflow file."""
    return {str(q): workflow_file_id for q in queue_ids}


def retained_on_destroy(args: ChallengeSiteArgs, plan: Iterable[PlannedResource]) -> list[str]:
    """What `pulumi destroy` leaves in Synapse, in words, for the stack outputs."""
    if args.delete_data_on_destroy:
        return []
    return [
        f"{p.kind.__name__} {p.inputs.get('name') or p.key}"
        for p in plan
        if p.inputs.get("retain_on_delete")
    ]


def resolve_inputs(planned: PlannedResource, value_of: Callable[[Ref], Any]) -> dict[str, Any]:
    """The inputs with every reference (also inside a list) replaced by its value."""

    def resolve(value: Any) -> Any:
        if isinstance(value, Ref):
            return value_of(value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    return {k: resolve(v) for k, v in planned.inputs.items()}


class PlannedComponent(pulumi.ComponentResource):
    """A component whose children are the Synapse objects of a plan, named ``<name>-<key>`` and
    made in plan order (a reference becomes the referenced object's ID or output)."""

    resources: dict[str, SynapseResource]
    """Every child resource by plan key (e.g. ``live-project``, ``submit-<queue key>``)."""

    def __init__(
        self,
        type_token: str,
        name: str,
        plan: Iterable[PlannedResource],
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        super().__init__(type_token, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        made: dict[str, SynapseResource] = {}

        def value_of(ref: Ref) -> Any:
            resource = made[ref.resource]
            return resource.id if ref.output == "id" else getattr(resource, ref.output)

        for planned in plan:
            after = pulumi.ResourceOptions(depends_on=[made[k] for k in planned.after])
            made[planned.key] = planned.kind(
                f"{name}-{planned.key}",
                pulumi.ResourceOptions.merge(child, after),
                **resolve_inputs(planned, value_of),
            )
        self.resources = made
