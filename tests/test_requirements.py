"""requirements.txt installs on its own, the way `pulumi install` builds the project's venv.

Pulumi.yaml sets `toolchain: pip, virtualenv: .venv`: the CLI runs `python3 -m venv .venv`, upgrades
pip, then `pip install -r requirements.txt`, with no constraints file (pulumi/pulumi
sdk/python/toolchain/pip.go, InstallDependencies). These tests install requirements.txt exactly so, in
a fresh venv, and require the result to be the pinned set: a conflict or a package the file leaves
floating fails here rather than on an organiser's first `pulumi up`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.requirements import normalise, pins_of

ROOT = Path(__file__).resolve().parent.parent
#: What `__main__.py` imports (the dynamic providers' modules among them).
PROGRAM_MODULES = (
    "program",
    "components.challenge_launch",
    "components.challenge_site",
    "components.drain_guard",
    "components.orchestrator_host",
    "lifecycle",
)


def test_every_pin_is_exact_and_constraints_agree_with_requirements():
    runtime = pins_of(ROOT / "requirements.txt")
    dev = pins_of(ROOT / "requirements-dev.txt")
    constraints = pins_of(ROOT / "constraints.txt")
    for name, version in {**runtime, **dev}.items():
        assert constraints.get(name) == version, (
            f"{name}=={version} but constraints.txt pins {constraints.get(name)}"
        )


@dataclass
class FreshVenv:
    """What `pulumi install` leaves: the install's outcome, pip's report of it, the venv."""

    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    python: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args], cwd=ROOT, capture_output=True, text=True, timeout=300
        )


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> FreshVenv:
    """Build a venv as the CLI does (venv, `pip install --upgrade pip setuptools wheel`, then
    `pip install -r requirements.txt`, no constraints) and install for real."""
    base = tmp_path_factory.mktemp("fresh-venv")
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    report = base / "report.json"
    # The CLI passes its own environment through; a constraints file set there would not be ours.
    env = {k: v for k, v in os.environ.items() if k not in {"PIP_CONSTRAINT", "VIRTUAL_ENV"}}
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    upgrade = subprocess.run(
        [*pip, "--upgrade", "pip", "setuptools", "wheel"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    result = subprocess.run(
        [*pip, "--report", str(report), "-r", "requirements.txt"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return FreshVenv(result, json.loads(report.read_text()) if report.exists() else {}, python)


def test_requirements_install_alone_in_a_fresh_venv(fresh_venv):
    assert fresh_venv.result.returncode == 0, (
        f"pip cannot install requirements.txt alone:\n{fresh_venv.result.stderr}"
    )
    checked = fresh_venv.run("-m", "pip", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_fresh_venv_holds_exactly_the_pinned_set_all_from_wheels(fresh_venv):
    assert fresh_venv.result.returncode == 0, fresh_venv.result.stderr
    listed = fresh_venv.run("-m", "pip", "list", "--format", "json", "--disable-pip-version-check")
    installed = {normalise(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    pinned = pins_of(ROOT / "requirements.txt")
    tools = {"pip", "wheel"}  # the CLI's own upgrade; requirements.txt needs neither
    floating = {n: v for n, v in installed.items() if n not in tools and pinned.get(n) != v}
    assert not floating, (
        f"installed but not pinned in requirements.txt (pin them there and in constraints.txt): "
        f"{floating}"
    )
    unused = sorted(set(pinned) - set(installed))
    assert not unused, f"pinned in requirements.txt but not installed: {unused}"
    sdists = [
        item["metadata"]["name"]
        for item in fresh_venv.report["install"]
        if not item["download_info"]["url"].endswith(".whl")
    ]
    assert not sdists, f"these would be built from source on the organiser's machine: {sdists}"


def test_the_program_imports_in_the_fresh_venv(fresh_venv):
    """Every top-level package of the program and the providers' process loads there."""
    assert fresh_venv.result.returncode == 0, fresh_venv.result.stderr
    modules = ["pulumi", "pulumi_aws", "synapseclient", "boto3", *PROGRAM_MODULES]
    imported = fresh_venv.run("-c", "import " + ", ".join(modules))
    assert imported.returncode == 0, imported.stderr
