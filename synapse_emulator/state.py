"""In-memory Synapse state shared by the route handlers, guarded by one re-entrant lock."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import EmulatorConfigError, SynapseApiError, forbidden, not_found

Lookup = Callable[[str], dict[str, Any]]
AccessCheck = Callable[["User | None", str, str], None]

ROOT_ENTITY_ID = "syn4489"
TRASH_FOLDER_ID = "syn1681355"
AUTHENTICATED_USERS = 273948
PUBLIC = 273949
ANONYMOUS = 273950

CT = "org.sagebionetworks.repo.model."
PROJECT = CT + "Project"
FOLDER = CT + "Folder"
FILE = CT + "FileEntity"
LINK = CT + "Link"
SUBMISSION_VIEW = CT + "table.SubmissionView"
ENTITY_VIEW = CT + "table.EntityView"
TABLE = CT + "table.TableEntity"
DOCKER_REPOSITORY = CT + "docker.DockerRepository"
CONTAINER_TYPES = {PROJECT, FOLDER}
VERSIONABLE_TYPES = {FILE, SUBMISSION_VIEW, ENTITY_VIEW, TABLE}
ENTITY_TYPES = {
    PROJECT: "project",
    FOLDER: "folder",
    FILE: "file",
    LINK: "link",
    SUBMISSION_VIEW: "submissionview",
    ENTITY_VIEW: "entityview",
    TABLE: "table",
    DOCKER_REPOSITORY: "dockerrepo",
}

ENTITY_ADMIN = [
    "READ",
    "DOWNLOAD",
    "CREATE",
    "UPDATE",
    "DELETE",
    "CHANGE_SETTINGS",
    "MODERATE",
    "CHANGE_PERMISSIONS",
]
EVALUATION_ADMIN = [
    "READ",
    "CREATE",
    "UPDATE",
    "DELETE",
    "SUBMIT",
    "UPDATE_SUBMISSION",
    "READ_PRIVATE_SUBMISSION",
    "DELETE_SUBMISSION",
    "CHANGE_PERMISSIONS",
]
TEAM_ADMIN = ["SEND_MESSAGE", "READ", "UPDATE", "TEAM_MEMBERSHIP_UPDATE", "DELETE"]


def now_iso(at: float | None = None) -> str:
    """Synapse's timestamp format: ISO 8601, milliseconds, UTC ``Z``."""
    moment = dt.datetime.fromtimestamp(time.time() if at is None else at, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    """Parse an ISO 8601 timestamp (``Z`` or offset) into epoch seconds."""
    text = value.strip().replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def new_etag() -> str:
    return str(uuid.uuid4())


@dataclass
class User:
    """An account: its user name, numeric principal ID and personal access token."""

    name: str
    principal_id: int
    token: str
    email: str
    etag: str = field(default_factory=new_etag)


@dataclass
class TrashedEntity:
    entity_id: str
    name: str
    original_parent_id: str
    deleted_by: int
    deleted_on: str


class State:
    """Everything the server knows. Handlers hold ``lock`` while they read or change it."""

    def __init__(self, team_index_delay_seconds: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.team_index_delay_seconds = team_index_delay_seconds
        self._entity_ids = itertools.count(9_600_001)
        self._principal_ids = itertools.count(3_400_001)
        self._evaluation_ids = itertools.count(9_614_001)
        self._submission_ids = itertools.count(9_700_001)
        self._file_handle_ids = itertools.count(150_000_001)
        self._wiki_ids = itertools.count(610_001)
        self._small_ids = itertools.count(1_001)
        self.users: dict[int, User] = {}
        self.users_by_token: dict[str, User] = {}
        # entities: id -> current JSON; versions: id -> {version number: JSON}
        self.entities: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[int, dict[str, Any]]] = {}
        self.annotations: dict[str, dict[str, Any]] = {}  # entity id -> current version's
        self.version_annotations: dict[tuple[str, int], dict[str, Any]] = {}  # older versions
        self.entity_acls: dict[str, dict[str, Any]] = {}
        self.trash: dict[str, TrashedEntity] = {}
        self.file_handles: dict[str, dict[str, Any]] = {}
        self.file_contents: dict[str, bytes] = {}
        self.multipart_uploads: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.team_acls: dict[str, dict[str, Any]] = {}
        self.team_members: dict[str, dict[int, bool]] = {}  # team id -> {user id: is admin}
        self.team_indexed_at: dict[str, tuple[float, str]] = {}  # id -> (visible from, name)
        self.invitations: dict[str, dict[str, Any]] = {}
        self.membership_requests: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.challenges: dict[str, dict[str, Any]] = {}
        self.challenge_teams: dict[str, dict[str, Any]] = {}
        self.docker_commits: dict[str, list[dict[str, Any]]] = {}  # entity id -> commits
        self.activities: dict[str, dict[str, Any]] = {}
        self.storage_locations: dict[str, dict[str, Any]] = {}
        self.project_settings: dict[str, dict[str, Any]] = {}
        self.generated_by: dict[tuple[str, int], str] = {}  # (entity id, version) -> activity
        self.evaluations: dict[str, dict[str, Any]] = {}
        self.evaluation_acls: dict[str, dict[str, Any]] = {}
        self.rounds: dict[str, dict[str, Any]] = {}
        self.submissions: dict[str, dict[str, Any]] = {}
        self.submission_statuses: dict[str, dict[str, Any]] = {}
        self.wikis: dict[str, dict[str, Any]] = {}  # wiki id -> internal record
        self.wiki_order_hints: dict[tuple[str, str], dict[str, Any]] = {}
        self.columns: dict[str, dict[str, Any]] = {}
        self.async_jobs: dict[str, dict[str, Any]] = {}

    # ----- ids ---------------------------------------------------------------------------------
    def next_entity_id(self) -> str:
        return f"syn{next(self._entity_ids)}"

    def next_principal_id(self) -> int:
        return next(self._principal_ids)

    def next_evaluation_id(self) -> str:
        return str(next(self._evaluation_ids))

    def next_submission_id(self) -> str:
        return str(next(self._submission_ids))

    def next_file_handle_id(self) -> str:
        return str(next(self._file_handle_ids))

    def next_wiki_id(self) -> str:
        return str(next(self._wiki_ids))

    def next_small_id(self) -> str:
        return str(next(self._small_ids))

    # ----- users -------------------------------------------------------------------------------
    def add_user(self, name: str, token: str) -> User:
        with self.lock:
            if token in self.users_by_token:
                raise EmulatorConfigError(
                    f"the token of user {name!r} is already used by another user"
                )
            if any(u.name == name for u in self.users.values()):
                raise EmulatorConfigError(f"user {name!r} is defined twice")
            user = User(name, self.next_principal_id(), token, f"{name}@example.org")
            self.users[user.principal_id] = user
            self.users_by_token[token] = user
            return user

    def user_by_name(self, name: str) -> User:
        for user in self.users.values():
            if user.name == name:
                return user
        raise KeyError(
            f"no user named {name!r}; defined: {sorted(u.name for u in self.users.values())}"
        )

    def groups_of(self, user: User | None) -> set[int]:
        """Principals whose grants apply to ``user``: itself, its teams, and the public groups."""
        if user is None:
            return {PUBLIC, ANONYMOUS}
        groups = {user.principal_id, AUTHENTICATED_USERS, PUBLIC}
        for team_id, members in self.team_members.items():
            if user.principal_id in members:
                groups.add(int(team_id))
        return groups

    def is_principal(self, principal_id: int) -> bool:
        return (
            principal_id in self.users
            or str(principal_id) in self.teams
            or principal_id in (AUTHENTICATED_USERS, PUBLIC, ANONYMOUS)
        )

    # ----- ACLs --------------------------------------------------------------------------------
    @staticmethod
    def acl_grants(acl: dict[str, Any], groups: set[int]) -> set[str]:
        granted: set[str] = set()
        for entry in acl.get("resourceAccess", []):
            if int(entry["principalId"]) in groups:
                granted.update(entry.get("accessType", []))
        return granted

    def granted(
        self, acls: dict[str, dict[str, Any]], owner_id: str, user: User | None
    ) -> set[str]:
        """What ``user`` may do under the ACL stored for ``owner_id`` (nothing without one)."""
        acl = acls.get(str(owner_id))
        return self.acl_grants(acl, self.groups_of(user)) if acl else set()

    def new_acl(self, owner_id: str, principal_id: int, access: list[str]) -> dict[str, Any]:
        return {
            "id": owner_id,
            "creationDate": now_iso(),
            "etag": new_etag(),
            "resourceAccess": [{"principalId": principal_id, "accessType": list(access)}],
        }

    def authorized(
        self, kind: str, object_id: str, user: User | None, access: str
    ) -> dict[str, Any]:
        """The entity, evaluation or team, after the checks a handler makes first, in Synapse's
        order: 404 when it does not exist, then 403 when ``user`` lacks ``access`` on it."""
        checks: dict[str, tuple[Lookup, AccessCheck]] = {
            "entity": (self.entity, self.require_entity_access),
            "evaluation": (self.evaluation, self.require_evaluation_access),
            "team": (self.team, self.require_team_access),
        }
        lookup, require = checks[kind]
        found = lookup(object_id)
        require(user, found["id"], access)
        return found

    # ----- entities ----------------------------------------------------------------------------
    def in_trash(self, entity_id: str) -> bool:
        """True when the entity or any ancestor was deleted to the trash can."""
        current: str | None = entity_id
        while current and current in self.entities:
            if current in self.trash:
                return True
            current = self.entities[current].get("parentId")
        return False

    def entity(self, entity_id: str, *, allow_trashed: bool = False) -> dict[str, Any]:
        """The entity's JSON, or 404 (also when it sits in the trash can)."""
        normalized = normalize_syn_id(entity_id)
        found = self.entities.get(normalized)
        if found is None:
            raise not_found(f"Entity {entity_id} does not exist")
        if not allow_trashed and self.in_trash(normalized):
            raise not_found(f"Entity {normalized} is in trash can.")
        return found

    def benefactor_of(self, entity_id: str) -> str:
        current = entity_id
        while current not in self.entity_acls:
            parent = self.entities[current].get("parentId")
            if parent is None or parent not in self.entities:
                return current
            current = parent
        return current

    def entity_access(self, user: User | None, entity_id: str) -> set[str]:
        return self.granted(self.entity_acls, self.benefactor_of(entity_id), user)

    def require_entity_access(self, user: User | None, entity_id: str, access: str) -> None:
        if access not in self.entity_access(user, entity_id):
            who = user.name if user else "anonymous"
            raise forbidden(
                f"You lack {access} access to the requested entity. ({entity_id}; user {who})"
            )

    def project_of(self, entity_id: str) -> str | None:
        current: str | None = entity_id
        while current and current in self.entities:
            if self.entities[current]["concreteType"] == PROJECT:
                return current
            current = self.entities[current].get("parentId")
        return None

    def children_of(self, parent_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.entities.values()
            if e.get("parentId") == parent_id and e["id"] not in self.trash
        ]

    def touch_entity(self, entity: dict[str, Any], user: User) -> None:
        entity["etag"] = new_etag()
        entity["modifiedOn"] = now_iso()
        entity["modifiedBy"] = str(user.principal_id)

    # ----- evaluations -------------------------------------------------------------------------
    def evaluation(self, evaluation_id: str) -> dict[str, Any]:
        return found_or_404(self.evaluations, evaluation_id, "Evaluation")

    def evaluation_access(self, user: User | None, evaluation_id: str) -> set[str]:
        return self.granted(self.evaluation_acls, evaluation_id, user)

    def require_evaluation_access(self, user: User | None, evaluation_id: str, access: str) -> None:
        if access not in self.evaluation_access(user, evaluation_id):
            raise lacks_access(user, access, f"Evaluation {evaluation_id}")

    def challenge_for_project(self, project_id: str) -> dict[str, Any] | None:
        for challenge in self.challenges.values():
            if challenge["projectId"] == project_id:
                return challenge
        return None

    # ----- teams -------------------------------------------------------------------------------
    def team(self, team_id: str) -> dict[str, Any]:
        found = self.teams.get(str(team_id))
        if found is None:
            raise not_found(f"Team id: '{team_id}' does not exist")
        return found

    def team_access(self, user: User | None, team_id: str) -> set[str]:
        return self.granted(self.team_acls, team_id, user)

    def require_team_access(self, user: User | None, team_id: str, access: str) -> None:
        if access not in self.team_access(user, team_id):
            raise lacks_access(user, access, f"Team {team_id}")


def lacks_access(user: User | None, access: str, target: str) -> SynapseApiError:
    """Synapse's 403 for an evaluation or team the caller may not act on this way."""
    who = user.name if user else "anonymous"
    return forbidden(f"User {who} lacks {access} access to {target}")


def found_or_404(store: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    """``store[key]``, or Synapse's 404 for a missing object of this kind."""
    found = store.get(str(key))
    if found is None:
        raise not_found(f"{kind} {key} does not exist")
    return found


def normalize_syn_id(value: str) -> str:
    text = str(value).strip()
    if text.lower().startswith("syn"):
        text = text[3:]
    if "." in text:
        text = text.split(".", 1)[0]
    if not text.isdigit():
        raise SynapseApiError(400, f"Invalid Synapse ID: {value}")
    return f"syn{int(text)}"
