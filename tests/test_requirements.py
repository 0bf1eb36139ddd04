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
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[A-Za-z0-9,._-]+\])?==([^\s;#]+)\s*$")


def _normalise(name: str) -> str:
    """PEP 503 name normalisation: `PyYAML`, `pyyaml` and `py_yaml` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file; anything else but comments is an error."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-r "):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}:{number}: {raw!r} is not an exact `name==version` pin"
        name = _normalise(match.group(1))
        assert name not in pins, f"{path.name}:{number}: {name} is pinned twice"
        pins[name] = match.group(2)
    return pins


def test_every_pin_is_exact_and_constraints_agree_with_requirements():
    runtime = _pins(ROOT / "requirements.txt")
    dev = _pins(ROOT / "requirements-dev.txt")
    constraints = _pins(ROOT / "constraints.txt")
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
        _normalise(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report["install"]
    }
    pinned = _pins(ROOT / "requirements.txt")
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
