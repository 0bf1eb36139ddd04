"""The Synapse client layer: sessions, endpoints, errors, retries, the ownership marker and
permission tables, on top of synapseclient.

No Pulumi here: the dynamic providers (``components.synapse``) and the operations commands
(``lifecycle``) both build on it, so ``python -m lifecycle status`` starts without the SDK.
"""

from .access import (
    AUTHENTICATED_USERS_PRINCIPAL_ID,
    ENTITY_ACCESS,
    EVALUATION_ACCESS,
    PUBLIC_PRINCIPAL_ID,
    AccessLevel,
)
from .endpoints import DEFAULT_SYNAPSE_ENDPOINT, endpoint_problem, endpoints_for, site_url
from .errors import GONE_STATUS, SynapseProvisioningError
from .ownership import owner_key, split_owner_marker, with_owner_marker
from .session import (
    AUTH_TOKEN_CONFIG_KEY,
    AUTH_TOKEN_ENV_VAR,
    RetryPolicy,
    SynapseSession,
    clear_session_cache,
    open_session,
)

__all__ = [
    "AUTHENTICATED_USERS_PRINCIPAL_ID",
    "AUTH_TOKEN_CONFIG_KEY",
    "AUTH_TOKEN_ENV_VAR",
    "DEFAULT_SYNAPSE_ENDPOINT",
    "ENTITY_ACCESS",
    "EVALUATION_ACCESS",
    "GONE_STATUS",
    "PUBLIC_PRINCIPAL_ID",
    "AccessLevel",
    "RetryPolicy",
    "SynapseProvisioningError",
    "SynapseSession",
    "clear_session_cache",
    "endpoint_problem",
    "endpoints_for",
    "open_session",
    "owner_key",
    "site_url",
    "split_owner_marker",
    "with_owner_marker",
]
