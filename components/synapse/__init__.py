"""Synapse objects as Pulumi resources (Python dynamic providers built on synapseclient).

One module per object type; the provider base in ``common``;
the REST side (session, errors, retries, permission tables) is ``synapse_client``.
"""

from .challenge import Challenge, ChallengeProvider
from .entity_permissions import EntityPermissions, EntityPermissionsProvider
from .evaluation_permissions import EvaluationPermissions, EvaluationPermissionsProvider
from .evaluation_queue import EvaluationQueue, EvaluationQueueProvider
from .external_link_file import ExternalLinkFile, ExternalLinkFileProvider
from .folder import Folder, FolderProvider
from .project import Project, ProjectProvider
from .team import Team, TeamProvider

__all__ = [
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
    "Team",
    "TeamProvider",
]
