"""The engine recipe's exact Python packages run a workflow shaped like Sage's template (issue 10).

A scratch virtualenv gets exactly `userdata/engine/requirements.txt` (no dependency resolution,
`pip check` after), cached under `.cache/engine-venv/` by recipe and Python version; then
`toil-cwl-runner` runs with the orchestrator's own arguments and environment on
`tests/engine_workflow/`: a CWL v1.2 workflow (a `when` step) whose v1.0 step has no
DockerRequirement, runs a Python >= 3.10 script importing docker, requests and synapseclient on
the engine's python3, and evaluates JavaScript (node). The VM boot test runs the same workflow in
the image built from the same recipe.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.engine_job import SUBMISSION_ID, lay_out_job
from userdata.engine import pinned_requirements, recipe, toil_environment

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKER_ENGINE_URL = "unix:///var/run/docker.sock"
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 600


def engine_venv() -> Path:
    """A virtualenv holding exactly the recipe's pins, built once per recipe and Python."""
    requirements = recipe()["requirements.txt"]
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = hashlib.sha256(requirements.encode()).hexdigest()[:16]
    root = Path(os.environ.get("CHALLENGE_ENGINE_VENV_CACHE", REPO_ROOT / ".cache" / "engine-venv"))
    venv = root / f"py{python}-{key}"
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / "complete").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        pinned = venv / "requirements.txt"
        pinned.write_text(requirements)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        for args in (
            ["install", "--quiet", "--no-deps", "--only-binary=:all:", "-r", str(pinned)],
            ["check"],
        ):
            done = subprocess.run(
                [*pip, *args], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
            )
            assert done.returncode == 0, (
                f"pip {args[0]}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        (venv / "complete").write_text("ok\n")
    return venv


@pytest.fixture(scope="module")
def venv() -> Path:
    assert sys.version_info >= (3, 10), "the engine's steps need Python >= 3.10"
    return engine_venv()


def installed_versions(venv: Path) -> dict[str, str]:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {p["name"].lower(): p["version"] for p in json.loads(done.stdout)}


def test_recipe_pins_every_package_exactly_once() -> None:
    pins = pinned_requirements()
    lines = [line for line in recipe()["requirements.txt"].splitlines() if line and line[0] != "#"]
    assert len(pins) == len(lines), "a package is listed twice"
    for wanted in ("toil", "cwltool", "docker", "requests", "synapseclient"):
        assert wanted in pins, wanted
    assert int(pins["toil"].split(".")[0]) >= 9, "a current Toil (CWL v1.2)"


def test_the_venv_holds_exactly_the_pins(venv: Path) -> None:
    installed = installed_versions(venv)
    installed.pop("pip", None)
    normalise = lambda name: name.replace("_", "-").replace(".", "-")  # noqa: E731
    assert {normalise(k): v for k, v in installed.items()} == {
        normalise(k): v for k, v in pinned_requirements().items()
    }


def test_toil_runs_a_template_shaped_workflow_with_the_orchestrators_arguments(
    venv: Path, tmp_path: Path
) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "cwltool evaluates JavaScript with node: run scripts/install-system-deps.sh"
    job = tmp_path / str(uuid.uuid4())
    command = lay_out_job(job, str(job))
    assert command[:1] == ["toil-cwl-runner"]
    environment = {
        **toil_environment(str(job), DOCKER_ENGINE_URL),
        # As in the image: the engine's virtualenv first on PATH, so steps' python3 is its Python.
        "PATH": os.pathsep.join([str(venv / "bin"), str(Path(node).parent), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    done = subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=job,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    outputs = json.loads(done.stdout)
    assert outputs["status"] == "VALIDATED"
    results = json.loads(Path(outputs["results"]["location"].removeprefix("file://")).read_text())
    pins = pinned_requirements()
    assert tuple(results["python"]) >= (3, 10)
    assert results["docker"] == pins["docker"]
    assert results["requests"] == pins["requests"]
    assert results["synapseclient"] == pins["synapseclient"]
    assert results["submission_id"] == SUBMISSION_ID
    assert results["synapse_config_readable"] is True
