"""Synapse's service URLs from one base URL, and which base URLs are acceptable."""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass
from typing import Any

DEFAULT_SYNAPSE_ENDPOINT = "https://repo-prod.prod.sagebase.org"
"""Base URL of production Synapse; the repo, auth and file services live under it."""

PRODUCTION_PORTAL = "https://www.synapse.org"


@dataclass(frozen=True)
class Endpoints:
    """The service URLs synapseclient needs, derived from one base URL."""

    repo: str
    auth: str
    file: str
    portal: str


def endpoints_for(base_url: str) -> Endpoints:
    base = base_url.rstrip("/")
    portal = PRODUCTION_PORTAL + "/" if base == DEFAULT_SYNAPSE_ENDPOINT else base + "/"
    return Endpoints(f"{base}/repo/v1", f"{base}/auth/v1", f"{base}/file/v1", portal)


def site_url(base_url: str, entity_id: str) -> str:
    """The web address of an entity: www.synapse.org for production, the server itself otherwise."""
    base = base_url.rstrip("/")
    portal = PRODUCTION_PORTAL if base == DEFAULT_SYNAPSE_ENDPOINT else base
    return f"{portal}/Synapse:{entity_id}"


def endpoint_problem(url: Any) -> str | None:
    """Why ``url`` is not a usable Synapse base URL, or None: https, or http on loopback only."""
    if not isinstance(url, str) or not url:
        return "must be a base URL such as " + DEFAULT_SYNAPSE_ENDPOINT
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        return f"must be an http(s) base URL such as {DEFAULT_SYNAPSE_ENDPOINT}, got {url!r}"
    if parsed.query or parsed.fragment or parsed.path.rstrip("/") not in ("",):
        return f"must be a base URL without a path (the /repo/v1 part is added), got {url!r}"
    if parsed.scheme == "http" and not is_loopback_host(parsed.hostname):
        return f"plain http is allowed only for a local server on loopback, got {url!r}"
    return None


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback address: a server on this machine (the emulator)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
