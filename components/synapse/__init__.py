"""Synapse objects as Pulumi resources (Python dynamic providers built on synapseclient).

One module per object type; shared plumbing (credentials, retries, errors) in ``common``.
"""

from .access import (
    AUTHENTICATED_USERS_PRINCIPAL_ID,
    ENTITY_ACCESS,
    EVALUATION_ACCESS,
    PUBLIC_PRINCIPAL_ID,
    AccessLevel,
)
from .challenge import Challenge, ChallengeProvider
from .common import (
    AUTH_TOKEN_CONFIG_KEY,
    AUTH_TOKEN_ENV_VAR,
    DEFAULT_SYNAPSE_ENDPOINT,
    SynapseProvisioningError,
)
from .entity_permissions import EntityPermissions, EntityPermissionsProvider
from .evaluation_permissions import EvaluationPermissions, EvaluationPermissionsProvider
from .evaluation_queue import EvaluationQueue, EvaluationQueueProvider
from .external_link_file import ExternalLinkFile, ExternalLinkFileProvider
from .folder import Folder, FolderProvider
from .project import Project, ProjectProvider
from .team import Team, TeamProvider

__all__ = [
    "AUTHENTICATED_USERS_PRINCIPAL_ID",
    "AUTH_TOKEN_CONFIG_KEY",
    "AUTH_TOKEN_ENV_VAR",
    "DEFAULT_SYNAPSE_ENDPOINT",
    "ENTITY_ACCESS",
    "EVALUATION_ACCESS",
    "PUBLIC_PRINCIPAL_ID",
    "AccessLevel",
    "Challenge",
    "ChallengeProvider",
    "EntityPermissions",
    "EntityPermissionsProvider",
    "EvaluationPermissions",
    "EvaluationPermissionsProvider",
    "EvaluationQueue",
    "EvaluationQueueProvider",
    "ExternalLinkFile",
    "ExternalLinkFileProvider",
    "Folder",
    "FolderProvider",
    "Project",
    "ProjectProvider",
    "SynapseProvisioningError",
    "Team",
    "TeamProvider",
]
