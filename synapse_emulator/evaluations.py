"""Evaluation queues: ACLs, rounds with submission limits, submissions, statuses and bundles."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import time
from typing import Any

from .acls import replace_acl_named_in_body
from .app import Request, Response, paginated, route
from .errors import (
    SynapseApiError,
    bad_request,
    conflict,
    forbidden,
    not_found,
    precondition_failed,
)
from .state import (
    DOCKER_REPOSITORY,
    ENTITY_TYPES,
    EVALUATION_ADMIN,
    PROJECT,
    State,
    User,
    new_etag,
    now_iso,
    parse_iso,
)

STATUSES = {
    "OPEN",
    "CLOSED",
    "SCORED",
    "INVALID",
    "VALIDATED",
    "EVALUATION_IN_PROGRESS",
    "RECEIVED",
    "REJECTED",
    "ACCEPTED",
}
STATUS_ENUM = "org.sagebionetworks.evaluation.model.SubmissionStatusEnum"
LIMIT_TYPES = {"TOTAL", "DAILY", "WEEKLY", "MONTHLY"}
EVALUATION_FIELDS = (
    "name",
    "description",
    "contentSource",
    "submissionInstructionsMessage",
    "submissionReceiptMessage",
    "status",
)
#: Java's ``new Date(2121, Calendar.JANUARY, 1)`` counts years from 1900: Synapse's "unending"
#: round, made from a quota without an end, ends in 4021.
FAR_FUTURE = "4021-01-01T00:00:00.000Z"
DAY_MS, WEEK_MS, DAYS_28_MS, DAYS_31_MS = 86_400_000, 604_800_000, 2_419_200_000, 2_678_400_000


def visible_evaluations(req: Request, access: str) -> list[dict[str, Any]]:
    state = req.state
    found = [
        e
        for e in state.evaluations.values()
        if access in state.evaluation_access(req.user, e["id"])
    ]
    ids = ",".join(req.params("evaluationIds"))
    if ids:
        wanted = set(filter(None, ids.split(",")))
        found = [e for e in found if e["id"] in wanted]
    if req.bool_param("activeOnly"):
        moment = time.time()
        found = [
            e
            for e in found
            if any(
                parse_iso(r["roundStart"]) <= moment < parse_iso(r["roundEnd"])
                for r in state.rounds.values()
                if r["evaluationId"] == e["id"]
            )
        ]
    return sorted(found, key=lambda e: int(e["id"]))


def content_source(req: Request, user: User, value: Any) -> str:
    if not value:
        raise bad_request("Evaluation.contentSource is required")
    project = req.state.entity(str(value))
    if project["concreteType"] != PROJECT:
        raise bad_request(f"Evaluation.contentSource {project['id']} must be a project")
    if "CREATE" not in req.state.entity_access(user, project["id"]):
        raise forbidden(
            f"User {user.principal_id} must have CREATE right on the entity {project['id']} "
            "in order to create a evaluation based on it."
        )
    return project["id"]


def check_evaluation_name(state: State, name: Any, exclude: str | None = None) -> str:
    from .entities import validate_name

    validate_name(name)
    for evaluation in state.evaluations.values():
        if evaluation["name"] == name and evaluation["id"] != exclude:
            raise conflict(f"An Evaluation already exists with the name '{name}'")
    return name


@route("POST", "repo", "/evaluation")
def create_evaluation(req: Request) -> dict[str, Any]:
    user, body = req.caller_and_body()
    state = req.state
    name = check_evaluation_name(state, body.get("name"))
    source = content_source(req, user, body.get("contentSource"))
    evaluation_id = state.next_evaluation_id()
    evaluation = {k: copy.deepcopy(body[k]) for k in EVALUATION_FIELDS if body.get(k) is not None}
    evaluation.update(
        id=evaluation_id,
        etag=new_etag(),
        name=name,
        contentSource=source,
        ownerId=str(user.principal_id),
        createdOn=now_iso(),
    )
    rounds = rounds_from_quota(state, evaluation, body.get("quota"))
    state.evaluations[evaluation_id] = evaluation
    state.evaluation_acls[evaluation_id] = state.new_acl(
        evaluation_id, user.principal_id, EVALUATION_ADMIN
    )
    add_rounds(state, rounds)
    return evaluation


def rounds_from_quota(
    state: State, evaluation: dict[str, Any], quota: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The EvaluationRounds a deprecated SubmissionQuota becomes, validated as new rounds.

    The Evaluation page (https://rest-docs.synapse.org/rest/org/sagebionetworks/evaluation/model/
    Evaluation.html): "No SubmissionQuota will be returned with the Evaluation. Any
    SubmissionQuotas submitted will be instead be converted into similar EvaluationRounds."
    The conversion is Synapse's EvaluationRoundTranslationUtil.fromSubmissionQuota."""
    if not quota:
        return []
    start = quota.get("firstRoundStart")
    limit = quota.get("submissionLimit")
    duration = quota.get("roundDurationMillis")
    count = quota.get("numberOfRounds")

    def round_of(begin: str, end: str, kind: str) -> dict[str, Any]:
        limits = [] if limit is None else [{"limitType": kind, "maximumSubmissions": limit}]
        return {"roundStart": begin, "roundEnd": end, "limits": limits}

    if start is None:
        if limit is None:  # nothing, or a malformed quota with only rounds or a duration
            return []
        wanted = [round_of(evaluation["createdOn"], FAR_FUTURE, "TOTAL")]
    elif count is None or duration is None:
        wanted = [round_of(start, FAR_FUTURE, "TOTAL")]
    else:
        first = parse_iso(start)
        end = now_iso(first + duration * count / 1000)
        if duration == DAY_MS:
            wanted = [round_of(start, end, "DAILY")]
        elif duration == WEEK_MS:
            wanted = [round_of(start, end, "WEEKLY")]
        elif DAYS_28_MS <= duration <= DAYS_31_MS:
            wanted = [round_of(start, end, "MONTHLY")]
        else:
            wanted = [
                round_of(
                    now_iso(first + duration * n / 1000),
                    now_iso(first + duration * (n + 1) / 1000),
                    "TOTAL",
                )
                for n in range(count)
            ]
    # consecutive by construction, so each is checked only against the queue's existing rounds
    return [validated_round(state, evaluation["id"], body, None) for body in wanted]


def add_rounds(state: State, rounds: list[dict[str, Any]]) -> None:
    for created in rounds:
        created.update(id=state.next_small_id(), etag=new_etag())
        state.rounds[created["id"]] = created


@route("GET", "repo", "/evaluation/{evaluation_id}", auth=False)
def get_evaluation(req: Request, evaluation_id: str) -> dict[str, Any]:
    evaluation = req.state.authorized("evaluation", evaluation_id, req.user, "READ")
    return evaluation


@route("GET", "repo", "/evaluation/name/{name}", auth=False)
def get_evaluation_by_name(req: Request, name: str) -> dict[str, Any]:
    for evaluation in req.state.evaluations.values():
        if evaluation["name"] == name and "READ" in req.state.evaluation_access(
            req.user, evaluation["id"]
        ):
            return evaluation
    raise not_found(f"No Evaluation found with name {name}")


@route("GET", "repo", "/evaluation", auth=False)
def list_evaluations(req: Request) -> dict[str, Any]:
    return paginated(visible_evaluations(req, req.param("accessType") or "READ"), req)


@route("GET", "repo", "/evaluation/available", auth=False)
def available_evaluations(req: Request) -> dict[str, Any]:
    return paginated(visible_evaluations(req, "SUBMIT"), req)


@route("GET", "repo", "/entity/{entity_id}/evaluation", auth=False)
def project_evaluations(req: Request, entity_id: str) -> dict[str, Any]:
    project = req.state.entity(entity_id)
    found = [
        e
        for e in visible_evaluations(req, req.param("accessType") or "READ")
        if e["contentSource"] == project["id"]
    ]
    return paginated(found, req)


@route("PUT", "repo", "/evaluation/{evaluation_id}")
def update_evaluation(req: Request, evaluation_id: str) -> dict[str, Any]:
    user, body = req.caller_and_body()
    state = req.state
    evaluation = state.authorized("evaluation", evaluation_id, user, "UPDATE")
    if str(body.get("id", evaluation_id)) != evaluation["id"]:
        raise bad_request("Evaluation.id does not match the URL")
    if body.get("etag") != evaluation["etag"]:
        raise precondition_failed(evaluation["id"])
    for immutable in ("ownerId", "createdOn"):
        if body.get(immutable) is not None and body[immutable] != evaluation[immutable]:
            raise bad_request(f"Cannot overwrite Evaluation {immutable}")
    name = check_evaluation_name(state, body.get("name") or evaluation["name"], evaluation["id"])
    source = body.get("contentSource") or evaluation["contentSource"]
    if source != evaluation["contentSource"]:
        source = content_source(req, user, source)
    rounds = rounds_from_quota(state, evaluation, body.get("quota"))
    for key in EVALUATION_FIELDS:
        if key in body:
            evaluation[key] = copy.deepcopy(body[key])
    evaluation.update(name=name, contentSource=source, etag=new_etag())
    add_rounds(state, rounds)
    return evaluation


@route("DELETE", "repo", "/evaluation/{evaluation_id}")
def delete_evaluation(req: Request, evaluation_id: str) -> None:
    _, evaluation = req.authorized("evaluation", evaluation_id, "DELETE")
    state = req.state
    del state.evaluations[evaluation["id"]]
    del state.evaluation_acls[evaluation["id"]]
    for round_id in [r for r, v in state.rounds.items() if v["evaluationId"] == evaluation["id"]]:
        del state.rounds[round_id]
    for submission_id in [
        s for s, v in state.submissions.items() if v["evaluationId"] == evaluation["id"]
    ]:
        del state.submissions[submission_id]
        del state.submission_statuses[submission_id]


# ----- evaluation ACL ---------------------------------------------------------------------------
@route("GET", "repo", "/evaluation/{evaluation_id}/acl", auth=False)
def get_evaluation_acl(req: Request, evaluation_id: str) -> dict[str, Any]:
    evaluation = req.state.authorized("evaluation", evaluation_id, req.user, "READ")
    return req.state.evaluation_acls[evaluation["id"]]


@route("PUT", "repo", "/evaluation/acl")
def put_evaluation_acl(req: Request) -> dict[str, Any]:
    acls = req.state.evaluation_acls
    return replace_acl_named_in_body(req, "evaluation", "CHANGE_PERMISSIONS", acls, "ownerId")


@route("GET", "repo", "/evaluation/{evaluation_id}/permissions", auth=False)
def evaluation_permissions(req: Request, evaluation_id: str) -> dict[str, Any]:
    evaluation = req.state.evaluation(evaluation_id)
    access = req.state.evaluation_access(req.user, evaluation["id"])
    public = req.state.evaluation_access(None, evaluation["id"])
    return {
        "canView": "READ" in access,
        "canEdit": "UPDATE" in access,
        "canDelete": "DELETE" in access,
        "canChangePermissions": "CHANGE_PERMISSIONS" in access,
        "canParticipate": "SUBMIT" in access,
        "canSubmit": "SUBMIT" in access,
        "canPublicRead": "READ" in public,
        "canViewPrivateSubmissionStatusAnnotations": "READ_PRIVATE_SUBMISSION" in access,
        "canEditSubmissionStatuses": "UPDATE_SUBMISSION" in access,
        "canDeleteSubmissions": "DELETE_SUBMISSION" in access,
        "ownerPrincipalId": int(evaluation["ownerId"]),
    }


# ----- rounds -------------------------------------------------------------------------------------
def validated_round(
    state: State, evaluation_id: str, body: dict[str, Any], round_id: str | None
) -> dict:
    for key in ("roundStart", "roundEnd"):
        if not body.get(key):
            raise bad_request(f"EvaluationRound.{key} is required")
    try:
        start, end = parse_iso(body["roundStart"]), parse_iso(body["roundEnd"])
    except ValueError as exc:
        raise bad_request(f"EvaluationRound dates must be ISO 8601: {exc}") from exc
    if start >= end:
        raise bad_request("EvaluationRound.roundStart must be before roundEnd")
    limits = body.get("limits") or []
    seen = set()
    for limit in limits:
        kind = limit.get("limitType")
        if kind not in LIMIT_TYPES:
            raise bad_request(
                f"EvaluationRoundLimit.limitType must be one of {sorted(LIMIT_TYPES)}"
            )
        if kind in seen:
            raise bad_request(f"EvaluationRoundLimit.limitType {kind} appears more than once")
        seen.add(kind)
        maximum = limit.get("maximumSubmissions")
        if not isinstance(maximum, int) or maximum < 0:
            raise bad_request(
                "EvaluationRoundLimit.maximumSubmissions must be a non-negative integer"
            )
    for other in state.rounds.values():
        if other["evaluationId"] != evaluation_id or other["id"] == round_id:
            continue
        if start < parse_iso(other["roundEnd"]) and parse_iso(other["roundStart"]) < end:
            raise bad_request(
                f"This round's time range overlaps with EvaluationRound {other['id']}"
            )
    return {
        "evaluationId": evaluation_id,
        "roundStart": body["roundStart"],
        "roundEnd": body["roundEnd"],
        "limits": [
            {"limitType": lim["limitType"], "maximumSubmissions": lim["maximumSubmissions"]}
            for lim in limits
        ],
    }


@route("POST", "repo", "/evaluation/{evaluation_id}/round")
def create_round(req: Request, evaluation_id: str) -> dict[str, Any]:
    _, evaluation = req.authorized("evaluation", evaluation_id, "UPDATE")
    state = req.state
    body = req.json()
    if str(body.get("evaluationId", evaluation["id"])) != evaluation["id"]:
        raise bad_request("EvaluationRound.evaluationId does not match the URL")
    created = validated_round(state, evaluation["id"], body, None)
    created.update(id=state.next_small_id(), etag=new_etag())
    state.rounds[created["id"]] = created
    return created


def existing_round(req: Request, evaluation_id: str, round_id: str) -> dict[str, Any]:
    found = req.state.rounds.get(round_id)
    if found is None or found["evaluationId"] != evaluation_id:
        raise not_found(f"EvaluationRound {round_id} of evaluation {evaluation_id} does not exist")
    return found


@route("GET", "repo", "/evaluation/{evaluation_id}/round/{round_id}", auth=False)
def get_round(req: Request, evaluation_id: str, round_id: str) -> dict[str, Any]:
    evaluation = req.state.authorized("evaluation", evaluation_id, req.user, "READ")
    return existing_round(req, evaluation["id"], round_id)


@route("PUT", "repo", "/evaluation/{evaluation_id}/round/{round_id}")
def update_round(req: Request, evaluation_id: str, round_id: str) -> dict[str, Any]:
    _, evaluation = req.authorized("evaluation", evaluation_id, "UPDATE")
    state = req.state
    current = existing_round(req, evaluation["id"], round_id)
    body = req.json()
    if body.get("etag") != current["etag"]:
        raise precondition_failed(round_id)
    current.update(validated_round(state, evaluation["id"], body, round_id), etag=new_etag())
    return current


@route("DELETE", "repo", "/evaluation/{evaluation_id}/round/{round_id}")
def delete_round(req: Request, evaluation_id: str, round_id: str) -> None:
    _, evaluation = req.authorized("evaluation", evaluation_id, "UPDATE")
    existing_round(req, evaluation["id"], round_id)
    del req.state.rounds[round_id]


@route("POST", "repo", "/evaluation/{evaluation_id}/round/list", auth=False)
def list_rounds(req: Request, evaluation_id: str) -> dict[str, Any]:
    evaluation = req.state.authorized("evaluation", evaluation_id, req.user, "READ")
    rounds = sorted(
        (r for r in req.state.rounds.values() if r["evaluationId"] == evaluation["id"]),
        key=lambda r: parse_iso(r["roundStart"]),
    )
    body = req.json_or_empty()
    offset = int(body.get("nextPageToken") or 0)
    page = rounds[offset : offset + 50]
    result: dict[str, Any] = {"page": page}
    if offset + 50 < len(rounds):
        result["nextPageToken"] = str(offset + 50)
    return result


# ----- submissions ------------------------------------------------------------------------------
def current_round(state: State, evaluation_id: str, moment: float) -> dict[str, Any] | None:
    for candidate in state.rounds.values():
        if candidate["evaluationId"] != evaluation_id:
            continue
        if parse_iso(candidate["roundStart"]) <= moment < parse_iso(candidate["roundEnd"]):
            return candidate
    return None


def window_start(kind: str, moment: float, round_start: float) -> float:
    day = dt.datetime.fromtimestamp(moment, tz=dt.UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if kind == "DAILY":
        start = day
    elif kind == "WEEKLY":
        start = day - dt.timedelta(days=day.weekday())
    elif kind == "MONTHLY":
        start = day.replace(day=1)
    else:
        return round_start
    return max(start.timestamp(), round_start)


def check_limits(state: State, evaluation_id: str, submitter: str, moment: float) -> str | None:
    """Enforce round limits; return the round ID the submission belongs to."""
    has_rounds = any(r["evaluationId"] == evaluation_id for r in state.rounds.values())
    active = current_round(state, evaluation_id, moment)
    if has_rounds and active is None:
        raise forbidden(f"Evaluation {evaluation_id} is not currently accepting submissions")
    if active is None:
        return None
    for limit in active["limits"]:
        since = window_start(limit["limitType"], moment, parse_iso(active["roundStart"]))
        used = sum(
            1
            for s in state.submissions.values()
            if s["evaluationId"] == evaluation_id
            and (s.get("teamId") or s["userId"]) == submitter
            and parse_iso(s["createdOn"]) >= since
            and state.submission_statuses[s["id"]]["status"] not in ("INVALID", "REJECTED")
        )
        if used >= limit["maximumSubmissions"]:
            raise forbidden(
                f"Submitter has reached the {limit['limitType']} limit of "
                f"{limit['maximumSubmissions']} submissions for evaluation {evaluation_id}"
            )
    return active["id"]


def check_registered(state: State, evaluation: dict[str, Any], user: User) -> None:
    """A challenge's queues take individual submissions only from its participant team.

    Synapse's SubmissionEligibilityManagerImpl.isIndividualEligible: the challenge is the one
    of the queue's contentSource project; a queue without a challenge skips the check.
    """
    challenge = state.challenge_for_project(evaluation["contentSource"])
    if challenge and int(challenge["participantTeamId"]) not in state.groups_of(user):
        raise forbidden("Submitter is not registered for the challenge.")


def team_submission_eligibility(
    state: State, evaluation: dict[str, Any], team_id: str
) -> dict[str, Any]:
    """TeamSubmissionEligibility as SubmissionEligibilityManagerImpl computes it.

    With a challenge, the team must be registered for it (``POST /challenge/{id}/challengeTeam``)
    and each member must be in the participant team; the hash changes with any of that.
    """
    challenge = state.challenge_for_project(evaluation["contentSource"])
    registrants = (
        set(state.team_members.get(challenge["participantTeamId"], {})) if challenge else None
    )
    team_registered = challenge is None or any(
        t["challengeId"] == challenge["id"] and t["teamId"] == team_id
        for t in state.challenge_teams.values()
    )
    try:
        check_limits(state, evaluation["id"], team_id, time.time())
        quota_filled = False
    except SynapseApiError:
        quota_filled = True
    members = [
        {
            "principalId": principal_id,
            "isEligible": registrants is None or principal_id in registrants,
            "isRegistered": registrants is None or principal_id in registrants,
            "isQuotaFilled": False,
            "hasConflictingSubmission": False,
        }
        for principal_id in sorted(state.team_members[team_id])
    ]
    team = {
        "isEligible": team_registered and not quota_filled,
        "isRegistered": team_registered,
        "isQuotaFilled": quota_filled,
    }
    digest = hashlib.sha256(json.dumps([team, members], sort_keys=True).encode()).digest()
    return {
        "teamId": team_id,
        "evaluationId": evaluation["id"],
        "teamEligibility": team,
        "membersEligibility": members,
        "eligibilityStateHash": int.from_bytes(digest[:4], "big") >> 1,
        "eligibilityDate": now_iso(),
    }


def check_team_eligible(
    state: State,
    evaluation: dict[str, Any],
    team_id: str,
    contributors: list[str],
    eligibility_hash: str | None,
) -> None:
    """Synapse's SubmissionEligibilityManagerImpl.isTeamEligible, same order and texts."""
    if eligibility_hash is None:
        raise forbidden("Submission Eligibilty Hash is required.")
    eligibility = team_submission_eligibility(state, evaluation, team_id)
    if eligibility_hash != str(eligibility["eligibilityStateHash"]):
        raise forbidden("Submissions or Team composition have changed.  Please try again.")
    if not eligibility["teamEligibility"]["isEligible"]:
        raise forbidden(
            "The specified Team is ineligible to submit to the specified Evaluation at this time."
        )
    eligible = {str(m["principalId"]) for m in eligibility["membersEligibility"] if m["isEligible"]}
    ineligible = [c for c in contributors if c not in eligible]
    if ineligible:
        raise forbidden(
            "The following Team members are ineligible to contribute to a Submission in the "
            f"specified Evaluation at this time [{', '.join(ineligible)}]"
        )


@route("POST", "repo", "/evaluation/submission")
def create_submission(req: Request) -> dict[str, Any]:
    """Checks in the order of Synapse's SubmissionManagerImpl.createSubmission."""
    from .docker import has_digest
    from .entities import annotations_body, file_handle_for_entity

    user, body, evaluation = req.authorized_by_body("evaluation", "evaluationId", "SUBMIT")
    state = req.state
    if not body.get("entityId"):
        raise bad_request("Submission.entityId is required")
    entity = state.authorized("entity", body["entityId"], user, "READ")
    if req.param("etag") != entity["etag"]:
        raise bad_request(
            f"The supplied eTag is out of date. Please fetch Entity {entity['id']} again."
        )
    docker_digest = None
    if entity["concreteType"] == DOCKER_REPOSITORY:
        docker_digest = body.get("dockerDigest")
        if not docker_digest:
            raise bad_request("Docker Digest cannot be null.")
        if not has_digest(state, entity["id"], docker_digest):
            raise bad_request(
                f"The given Docker Repository, {entity['id']}, does not have digest {docker_digest}"
            )
    version = body.get("versionNumber")
    if version is None:
        raise bad_request("Submission.versionNumber is required")
    snapshot = state.versions.get(entity["id"], {}).get(int(version), entity)
    team_id = str(body["teamId"]) if body.get("teamId") else None
    contributors = [str(c["principalId"]) for c in body.get("contributors") or []]
    if str(user.principal_id) not in contributors:
        contributors.append(str(user.principal_id))
    moment = time.time()
    if team_id:
        state.team(team_id)
        if user.principal_id not in state.team_members[team_id]:
            raise forbidden(f"User {user.name} is not a member of team {team_id}")
        check_team_eligible(
            state, evaluation, team_id, contributors, req.param("submissionEligibilityHash")
        )
    else:
        if contributors != [str(user.principal_id)]:
            raise bad_request("Submission is neither a valid Team or Individual Submission.")
        check_registered(state, evaluation, user)
    round_id = check_limits(state, evaluation["id"], team_id or str(user.principal_id), moment)
    handle = file_handle_for_entity(state, snapshot)
    # Synapse stores the entity's v2 EntityBundle (entity, entityType, annotations, file
    # handles), as POST /entity/{id}/bundle2 answers it; cheat-detection tools read entityType.
    entity_bundle = {
        "entity": snapshot,
        "entityType": ENTITY_TYPES[snapshot["concreteType"]],
        "annotations": annotations_body(state, snapshot),
        "fileHandles": [handle] if handle else [],
    }
    submission_id = state.next_submission_id()
    created_on = now_iso(moment)
    submission = {
        "id": submission_id,
        "userId": str(user.principal_id),
        "submitterAlias": body.get("submitterAlias") or user.name,
        "evaluationId": evaluation["id"],
        "entityId": entity["id"],
        "versionNumber": int(version),
        "name": body.get("name") or entity["name"],
        "createdOn": created_on,
        "entityBundleJSON": json.dumps(entity_bundle),
        "contributors": [{"principalId": c, "createdOn": created_on} for c in contributors],
    }
    if round_id:
        submission["evaluationRoundId"] = round_id
    if team_id:
        submission["teamId"] = team_id
    if docker_digest:
        submission["dockerDigest"] = docker_digest
    if body.get("dockerRepositoryName"):
        submission["dockerRepositoryName"] = body["dockerRepositoryName"]
    state.submissions[submission_id] = submission
    state.submission_statuses[submission_id] = {
        "id": submission_id,
        "etag": new_etag(),
        "modifiedOn": created_on,
        "status": "RECEIVED",
        "entityId": entity["id"],
        "versionNumber": int(version),
        "statusVersion": 0,
        "canCancel": False,
        "cancelRequested": False,
    }
    return submission


def existing_submission(req: Request, submission_id: str) -> dict[str, Any]:
    submission = req.state.submissions.get(submission_id)
    if submission is None:
        raise not_found(f"Submission {submission_id} does not exist")
    return submission


def can_read_private(req: Request, evaluation_id: str) -> bool:
    return "READ_PRIVATE_SUBMISSION" in req.state.evaluation_access(req.user, evaluation_id)


def public_status(req: Request, status: dict[str, Any]) -> dict[str, Any]:
    """Private annotations are hidden from callers without READ_PRIVATE_SUBMISSION."""
    evaluation_id = req.state.submissions[status["id"]]["evaluationId"]
    if can_read_private(req, evaluation_id) or "annotations" not in status:
        return status
    shown = copy.deepcopy(status)
    for group in ("stringAnnos", "longAnnos", "doubleAnnos"):
        shown["annotations"][group] = [
            a for a in shown["annotations"].get(group, []) if not a.get("isPrivate", True)
        ]
    return shown


@route("GET", "repo", "/evaluation/submission/{submission_id}")
def get_submission(req: Request, submission_id: str) -> dict[str, Any]:
    """READ_PRIVATE_SUBMISSION on the queue, with no exception for the submitter
    (SubmissionManagerImpl.getSubmission)."""
    user = req.require_user()
    submission = existing_submission(req, submission_id)
    req.state.require_evaluation_access(user, submission["evaluationId"], "READ_PRIVATE_SUBMISSION")
    return submission


@route("GET", "repo", "/evaluation/submission/{submission_id}/file/{file_handle_id}")
def submission_file_url(req: Request, submission_id: str, file_handle_id: str) -> Response:
    """Redirect to a file of the submission (SubmissionManagerImpl.getRedirectURLForFileHandle)."""
    from .files import handle_url, submission_handle_ids

    user = req.require_user()
    submission = existing_submission(req, submission_id)
    req.state.require_evaluation_access(user, submission["evaluationId"], "READ_PRIVATE_SUBMISSION")
    if file_handle_id not in submission_handle_ids(req.state, submission_id):
        raise not_found(
            f"Submission {submission_id} does not contain the requested FileHandle {file_handle_id}"
        )
    url = handle_url(req, req.state.file_handles[file_handle_id])
    if req.bool_param("redirect", True):
        return Response(307, "", "text/plain", {"Location": url})
    return Response(200, url, "text/plain")


@route("DELETE", "repo", "/evaluation/submission/{submission_id}")
def delete_submission(req: Request, submission_id: str) -> None:
    user = req.require_user()
    submission = existing_submission(req, submission_id)
    req.state.require_evaluation_access(user, submission["evaluationId"], "DELETE_SUBMISSION")
    del req.state.submissions[submission_id]
    del req.state.submission_statuses[submission_id]


@route("PUT", "repo", "/evaluation/submission/{submission_id}/cancellation")
def cancel_submission(req: Request, submission_id: str) -> None:
    user = req.require_user()
    submission = existing_submission(req, submission_id)
    if submission["userId"] != str(user.principal_id):
        raise forbidden("Only the submitter may request cancellation")
    status = req.state.submission_statuses[submission_id]
    if not status.get("canCancel"):
        raise bad_request(f"Submission {submission_id} cannot be cancelled")
    status.update(cancelRequested=True, etag=new_etag(), modifiedOn=now_iso())


@route("GET", "repo", "/evaluation/submission/{submission_id}/status", auth=False)
def get_status(req: Request, submission_id: str) -> dict[str, Any]:
    submission = existing_submission(req, submission_id)
    req.state.require_evaluation_access(req.user, submission["evaluationId"], "READ")
    return public_status(req, req.state.submission_statuses[submission_id])


def apply_status(req: Request, user: User, body: dict[str, Any], evaluation_id: str | None) -> dict:
    submission_id = str(body.get("id"))
    submission = existing_submission(req, submission_id)
    if evaluation_id is not None and submission["evaluationId"] != evaluation_id:
        raise bad_request(
            f"Submission {submission_id} does not belong to evaluation {evaluation_id}"
        )
    req.state.require_evaluation_access(user, submission["evaluationId"], "UPDATE_SUBMISSION")
    status = req.state.submission_statuses[submission_id]
    if body.get("etag") != status["etag"]:
        raise precondition_failed(submission_id)
    new_status = body.get("status", status["status"])
    if new_status not in STATUSES:
        raise bad_request(f"SubmissionStatus.status must be one of {sorted(STATUSES)}")
    for key in (
        "score",
        "report",
        "canCancel",
        "cancelRequested",
        "annotations",
        "submissionAnnotations",
    ):
        if key in body:
            status[key] = copy.deepcopy(body[key])
    if "submissionAnnotations" in status:
        from .entities import validate_annotations

        given = status["submissionAnnotations"] or {}
        status["submissionAnnotations"] = {
            "id": submission_id,
            "etag": status["etag"],
            "annotations": validate_annotations(given.get("annotations")),
        }
    status.update(
        status=new_status,
        etag=new_etag(),
        modifiedOn=now_iso(),
        statusVersion=int(status["statusVersion"]) + 1,
    )
    return status


@route("PUT", "repo", "/evaluation/submission/{submission_id}/status")
def put_status(req: Request, submission_id: str) -> dict[str, Any]:
    body = req.json()
    if str(body.get("id", submission_id)) != submission_id:
        raise bad_request("SubmissionStatus.id does not match the URL")
    return apply_status(req, req.require_user(), {**body, "id": submission_id}, None)


@route("PUT", "repo", "/evaluation/{evaluation_id}/statusBatch")
def put_status_batch(req: Request, evaluation_id: str) -> dict[str, Any]:
    user = req.require_user()
    evaluation = req.state.evaluation(evaluation_id)
    body = req.json()
    statuses = body.get("statuses") or []
    if len(statuses) > 500:
        raise bad_request("A status batch may hold at most 500 statuses")
    # Validate the whole batch first so a 412 leaves nothing half-applied.
    for item in statuses:
        submission = existing_submission(req, str(item.get("id")))
        if item.get("etag") != req.state.submission_statuses[submission["id"]]["etag"]:
            raise precondition_failed(submission["id"])
    for item in statuses:
        apply_status(req, user, item, evaluation["id"])
    return {"batchToken": body.get("batchToken") or new_etag(), "nextUploadToken": new_etag()}


def filtered_submissions(req: Request, evaluation_id: str, own: bool) -> list[dict[str, Any]]:
    user = req.require_user()
    evaluation = req.state.evaluation(evaluation_id)
    if own:
        req.state.require_evaluation_access(user, evaluation["id"], "READ")
    else:
        req.state.require_evaluation_access(user, evaluation["id"], "READ_PRIVATE_SUBMISSION")
    wanted = req.param("status")
    if wanted and wanted not in STATUSES:
        raise bad_request(f"No enum constant {STATUS_ENUM}.{wanted}")
    found = []
    for submission in req.state.submissions.values():
        if submission["evaluationId"] != evaluation["id"]:
            continue
        if own and submission["userId"] != str(user.principal_id):
            continue
        if wanted and req.state.submission_statuses[submission["id"]]["status"] != wanted:
            continue
        found.append(submission)
    return sorted(found, key=lambda s: int(s["id"]))


@route("GET", "repo", "/evaluation/{evaluation_id}/submission/all")
def all_submissions(req: Request, evaluation_id: str) -> dict[str, Any]:
    return paginated(filtered_submissions(req, evaluation_id, own=False), req, max_limit=100)


@route("GET", "repo", "/evaluation/{evaluation_id}/submission")
def my_submissions(req: Request, evaluation_id: str) -> dict[str, Any]:
    return paginated(filtered_submissions(req, evaluation_id, own=True), req, max_limit=100)


def bundles(req: Request, submissions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "submission": s,
            "submissionStatus": public_status(req, req.state.submission_statuses[s["id"]]),
        }
        for s in submissions
    ]


@route("GET", "repo", "/evaluation/{evaluation_id}/submission/bundle/all")
def all_bundles(req: Request, evaluation_id: str) -> dict[str, Any]:
    page = paginated(filtered_submissions(req, evaluation_id, own=False), req, max_limit=100)
    page["results"] = bundles(req, page["results"])
    return page


@route("GET", "repo", "/evaluation/{evaluation_id}/submission/bundle")
def my_bundles(req: Request, evaluation_id: str) -> dict[str, Any]:
    page = paginated(filtered_submissions(req, evaluation_id, own=True), req, max_limit=100)
    page["results"] = bundles(req, page["results"])
    return page


@route("GET", "repo", "/evaluation/{evaluation_id}/submission/status/all", auth=False)
def all_statuses(req: Request, evaluation_id: str) -> dict[str, Any]:
    evaluation = req.state.authorized("evaluation", evaluation_id, req.user, "READ")
    wanted = req.param("status")
    statuses = [
        public_status(req, req.state.submission_statuses[s["id"]])
        for s in sorted(req.state.submissions.values(), key=lambda s: int(s["id"]))
        if s["evaluationId"] == evaluation["id"]
        and (not wanted or req.state.submission_statuses[s["id"]]["status"] == wanted)
    ]
    return paginated(statuses, req, max_limit=100)


@route("GET", "repo", "/evaluation/{evaluation_id}/submission/count")
def submission_count(req: Request, evaluation_id: str) -> int:
    """A bare JSON number: EvaluationController.getSubmissionCount returns a ``long``."""
    return len(filtered_submissions(req, evaluation_id, own=False))


@route("GET", "repo", "/evaluation/{evaluation_id}/team/{team_id}/submissionEligibility")
def team_eligibility(req: Request, evaluation_id: str, team_id: str) -> dict[str, Any]:
    user, evaluation = req.authorized("evaluation", evaluation_id, "SUBMIT")
    state = req.state
    team = state.team(team_id)
    if user.principal_id not in state.team_members[team["id"]]:
        raise forbidden(f"User {user.name} is not a member of team {team['id']}")
    return team_submission_eligibility(state, evaluation, team["id"])
