"""Package layering: the Pulumi-free packages stay free of the Pulumi SDK.

``python -m lifecycle status`` and the Synapse client layer run where no Pulumi program runs
(an operator's shell, the drain of a host); importing the SDK and every provider there cost
start-up time and tied them to the program. Each check runs in a fresh interpreter, since this
test process has long imported ``pulumi``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(sorted(m for m in sys.modules if m == "pulumi" or m.startswith("pulumi."))))
"""


@pytest.mark.parametrize("module", ["lifecycle", "lifecycle.cli", "synapse_client"])
def test_module_loads_no_pulumi(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == [], f"importing {module} loaded {result.stdout.strip()}"


def test_probe_sees_pulumi_where_it_is_imported() -> None:
    """The probe itself can fail: the providers do import the SDK."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "components.synapse.common"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "pulumi" in result.stdout.split()


def test_no_test_module_imports_another() -> None:
    """Shared helpers and fixtures live in tests/fixtures/ (registered in conftest.py), so a
    test module can move or go without breaking the others."""
    offenders = []
    for path in sorted((PROJECT_DIR / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith(("tests.test_", "tests.conftest"))
            ]
    assert offenders == []
