"""requirements.txt installs on its own, the way `pulumi install` builds the project's venv.

Pulumi.yaml sets `toolchain: pip, virtualenv: .venv`: the CLI runs `python3 -m venv .venv`, upgrades
pip, then `pip install -r requirements.txt`, with no constraints file (pulumi/pulumi
sdk/python/toolchain/pip.go, InstallDependencies). These tests resolve requirements.txt exactly so, in
a fresh venv, and require the result to be the pinned set: a conflict or a package the file leaves
floating fails here rather than on an organiser's first `pulumi up`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.requirements import normalise, pins_of

ROOT = Path(__file__).resolve().parent.parent


def test_every_pin_is_exact_and_constraints_agree_with_requirements():
    runtime = pins_of(ROOT / "requirements.txt")
    dev = pins_of(ROOT / "requirements-dev.txt")
    constraints = pins_of(ROOT / "constraints.txt")
    for name, version in {**runtime, **dev}.items():
        assert constraints.get(name) == version, (
            f"{name}=={version} but constraints.txt pins {constraints.get(name)}"
        )


@pytest.fixture(scope="module")
def fresh_venv_resolution(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    """Resolve requirements.txt alone with the pip of a brand-new venv (no install, no constraints)."""
    base = tmp_path_factory.mktemp("fresh-venv")
    python3 = shutil.which("python3") or sys.executable
    subprocess.run([python3, "-m", "venv", str(base / "venv")], check=True)
    report = base / "report.json"
    # The CLI passes its own environment through; a constraints file set there would not be ours.
    env = {k: v for k, v in os.environ.items() if k not in {"PIP_CONSTRAINT", "VIRTUAL_ENV"}}
    result = subprocess.run(
        [
            str(base / "venv" / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            "requirements.txt",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result, json.loads(report.read_text()) if report.exists() else {}


def test_requirements_resolve_alone_in_a_fresh_venv(fresh_venv_resolution):
    result, report = fresh_venv_resolution
    assert result.returncode == 0, f"pip cannot install requirements.txt alone:\n{result.stderr}"
    assert report.get("install"), "pip resolved nothing"


def test_the_fresh_venv_gets_exactly_the_pinned_set_all_from_wheels(fresh_venv_resolution):
    result, report = fresh_venv_resolution
    assert result.returncode == 0, result.stderr
    resolved = {
        normalise(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report["install"]
    }
    pinned = pins_of(ROOT / "requirements.txt")
    floating = {n: v for n, v in resolved.items() if pinned.get(n) != v}
    assert not floating, (
        f"resolved but not pinned in requirements.txt (pin them there and in constraints.txt): "
        f"{floating}"
    )
    unused = sorted(set(pinned) - set(resolved))
    assert not unused, f"pinned in requirements.txt but nothing needs them: {unused}"
    sdists = [
        item["metadata"]["name"]
        for item in report["install"]
        if not item["download_info"]["url"].endswith(".whl")
    ]
    assert not sdists, f"these would be built from source on the organiser's machine: {sdists}"
