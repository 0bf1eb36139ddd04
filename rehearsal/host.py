"""`--with-host`: boot the rehearsal's bootstrap in a local Debian 13 VM and check the host.

The bootstrap is the one the program wrote (`selfHostedBootstrap`), re-rendered from the same
settings and compared byte for byte; the boot-test harness (tests/vm/) then swaps only what
cannot exist offline: the token helper (the harness disk hands it a random token) and the
orchestrator image (a stand-in built in the VM). Needs root, QEMU and Debian's archive; the first
run builds the cached base image.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import program
import userdata
from stackconfig import StackConfig


@dataclass(frozen=True)
class HostCheck:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def host_checks(
    result: Any, settings: userdata.BootstrapSettings, outputs: Mapping[str, Any]
) -> list[HostCheck]:
    """The orchestrator unit and `.env` of the first boot, as the boot test checks them."""
    from tests.vm import TOKEN_ALLOWED_ON_DISK

    boot = result.boots[0]
    unit = boot.unit(userdata.ORCHESTRATOR_UNIT)
    env = boot.env_file()
    kind, mode, uid, gid = result.env_file_on_disk
    token_places = sorted(result.token_on_disk)
    templates = json.loads(env.get("EVALUATION_TEMPLATES") or "{}")
    return [
        HostCheck(
            f"{userdata.ORCHESTRATOR_UNIT} active",
            unit.get("ActiveState") == "active",
            f"ActiveState={unit.get('ActiveState')} SubState={unit.get('SubState')}",
        ),
        HostCheck(
            f"{userdata.ENV_PATH} root-only",
            (kind, mode, uid, gid) == ("regular", 0o600, 0, 0),
            f"{kind} {mode:04o} uid {uid} gid {gid}",
        ),
        HostCheck(
            ".env SYNAPSE_USERNAME",
            env.get("SYNAPSE_USERNAME") == settings.orchestrator_synapse_username,
            str(env.get("SYNAPSE_USERNAME")),
        ),
        HostCheck(
            ".env WORKFLOW_OUTPUT_ROOT_ENTITY_ID is the Logs folder",
            env.get("WORKFLOW_OUTPUT_ROOT_ENTITY_ID") == outputs["logsFolderId"],
            str(env.get("WORKFLOW_OUTPUT_ROOT_ENTITY_ID")),
        ),
        HostCheck(
            ".env EVALUATION_TEMPLATES are the queues",
            templates == dict(outputs["evaluationTemplates"]),
            json.dumps(templates, sort_keys=True),
        ),
        HostCheck(
            ".env SYNAPSE_PAT is the token the server holds",
            env.get("SYNAPSE_PAT") == result.token,
            "matches" if env.get("SYNAPSE_PAT") == result.token else "differs or missing",
        ),
        HostCheck(
            "token on the root disk only in .env and Docker's container state",
            userdata.ENV_PATH in token_places
            and all(any(fnmatch(p, a) for a in TOKEN_ALLOWED_ON_DISK) for p in token_places),
            ", ".join(token_places),
        ),
    ]


def bootstrap_failures(workdir: Path) -> str:
    """The bootstrap's FAILED lines and the line before each, from the boot consoles."""
    found = []
    for console in sorted(workdir.glob("console-*.log")):
        lines = console.read_text(errors="replace").splitlines()
        for number, line in enumerate(lines):
            if "FAILED in step" in line:
                found += [lines[number - 1].strip(), line.strip()] if number else [line.strip()]
    return " | ".join(found) or "no bootstrap failure on the console"


def boot_rehearsal_host(
    config: StackConfig,
    outputs: Mapping[str, Any],
    workdir: Path,
    say: Callable[[str], None],
) -> list[HostCheck]:
    """One boot of the rehearsal's bootstrap; returns the checks (also printed)."""
    from tests.vm import VmTestError, run_boot_scenario

    if isinstance(outputs["selfHostedBootstrap"], Mapping):
        raise RuntimeError(
            "--with-host boots one server; this stack has several hosts (challenge:hosts)"
        )
    settings = program.self_hosted_settings(
        config, outputs["logsFolderId"], outputs["evaluationTemplates"]
    )
    if userdata.render_cloud_config(settings) != outputs["selfHostedBootstrap"]:
        raise RuntimeError("re-rendering the bootstrap did not give the program's output")
    say(
        "host: booting the bootstrap in a local VM (20 minutes or more: it builds the workflow "
        "engine; progress as `vm: ...`)"
    )
    try:
        result = run_boot_scenario(
            workdir, settings=settings, boots=1, progress=lambda m: say(f"vm: {m}")
        )
        boot = result.boots[0]
        finished = not (boot.outcome and boot.outcome.timed_out)
        checks = [HostCheck("boot finished", finished, boot.failure_summary())]
        checks += host_checks(result, settings, outputs)
    except (VmTestError, subprocess.CalledProcessError, OSError, ValueError) as exc:
        checks = [HostCheck("boot", False, f"{exc}; {bootstrap_failures(workdir)}")]
    for check in checks:
        print(f"  {check.line()}")
    say(f"host: {sum(c.ok for c in checks)} of {len(checks)} checks passed")
    return checks
