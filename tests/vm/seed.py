"""What a run boots with: the document `python -m userdata render --stack dev` prints (with test
Synapse IDs), the token helper swapped for a stand-in, the NoCloud seed (`cloud-localds`) and the
harness disk (per-run scripts, the test token, the stand-in orchestrator image's name, results).
"""

from __future__ import annotations

import json
import secrets
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import userdata
from stackconfig import load_stack
from tests.engine_job import lay_out_job
from tests.fixtures.cli import run_module
from userdata import engine
from userdata.cli import bootstrap_settings

from .errors import VmTestError
from .image import GUEST_DIR, require_tools

#: Synapse IDs the test renders with (the Synapse side does not exist here).
TEST_LOGS_FOLDER_ID = "syn70000000"
TEST_EVALUATION_TEMPLATES = {"9700001": "syn70000001", "9700002": "syn70000002"}
HARNESS_DISK_LABEL = "VMTEST"
HARNESS_DISK_SIZE = "1G"
HARNESS_SCRIPTS = ("setup.sh", "probe.sh", "import-image.sh", "import-engine-base.sh", "record.sh")
#: Local CA certificates of this machine (Debian's convention): HTTPS from here is re-signed by a
#: CA kept there, so the VM (and pip in its engine build) must trust it too.
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
USER_DATA_HEADER = (
    "#cloud-config\n"
    f"# Boot test: {userdata.TOKEN_HELPER_PATH} is a stand-in (SSM is unreachable here);\n"
    "# everything else is the rendered user data.\n"
)


def boot_test_settings(stack: str = "dev") -> userdata.BootstrapSettings:
    """The stack's bootstrap settings with the test Synapse IDs (what `rendered_user_data` uses)."""
    return bootstrap_settings(
        load_stack(stack),
        logs_folder_id=TEST_LOGS_FOLDER_ID,
        evaluation_templates=TEST_EVALUATION_TEMPLATES,
    )


def rendered_user_data(stack: str = "dev") -> str:
    """The document `python -m userdata render --stack <stack>` prints with the test Synapse IDs
    (as stack outputs): the one a person reviews is the one the VM boots."""
    outputs = {
        "logsFolderId": TEST_LOGS_FOLDER_ID,
        "evaluationTemplates": TEST_EVALUATION_TEMPLATES,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="vmtest-outputs-") as file:
        file.write(json.dumps(outputs))
        file.flush()
        done = run_module("userdata", "render", "--stack", stack, "--outputs-file", file.name)
    if done.returncode != 0:
        raise VmTestError(f"python -m userdata render failed: {done.stderr.strip()}")
    return done.stdout


def new_test_token() -> str:
    """A random token of a Synapse token's alphabet, distinctive enough to search disks for."""
    return f"vmtest.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(12)}"


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, as the renderer writes them."""


_LiteralDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def with_token_stand_in(user_data: str) -> str:
    """The user data with only the token helper's content swapped for the stand-in."""
    if not user_data.startswith("#cloud-config\n"):
        raise VmTestError("rendered user data does not start with #cloud-config")
    document = yaml.safe_load(user_data)
    entries = [
        entry
        for entry in document.get("write_files", [])
        if entry.get("path") == userdata.TOKEN_HELPER_PATH
    ]
    if len(entries) != 1:
        raise VmTestError(
            f"expected exactly one write_files entry for {userdata.TOKEN_HELPER_PATH}, "
            f"found {len(entries)}: the stand-in has nothing to replace"
        )
    entries[0]["content"] = (GUEST_DIR / "disk" / "fetch-token.sh").read_text()
    text = USER_DATA_HEADER + yaml.dump(
        document, Dumper=_LiteralDumper, sort_keys=False, width=1_000_000, allow_unicode=True
    )
    if yaml.safe_load(text) != document:
        raise VmTestError("re-serialising the user data changed it")
    return text


@dataclass(frozen=True)
class GuestPlan:
    """What the in-VM probe looks at and how long it waits (seconds), as `/vmtest/config.env`."""

    input_data_dir: str
    job_retention_days: int
    #: The stack's image: the harness imports a stand-in under this name (nothing is pullable
    #: offline; `pull_policy: missing` then uses it as it is).
    orchestrator_image: str
    compose_project: str = userdata.COMPOSE_PROJECT_NAME
    #: The bootstrap builds the engine image (pip under emulation): most of the first boot.
    cloud_init_timeout_s: int = 2400
    orchestrator_timeout_s: int = 240
    #: The engine check workflow, run once on boot 1 in the built engine image.
    engine_run_timeout_s: int = 900
    engine_job_dir: str = ""
    #: On this boot, run the bootstrap again (idempotence on a real host), then the clean-up
    #: service once; 0 = never.
    rerun_bootstrap_on_boot: int = 2

    @classmethod
    def for_settings(cls, settings: userdata.BootstrapSettings, **overrides: Any) -> GuestPlan:
        return cls(
            input_data_dir=settings.input_data_dir,
            job_retention_days=settings.job_retention_days,
            orchestrator_image=settings.orchestrator_image,
            engine_job_dir=(
                f"/var/lib/docker/volumes/{userdata.COMPOSE_PROJECT_NAME}_shared/_data/"
                "vmtest-engine-job"
            ),
            **overrides,
        )

    def config_env(self) -> str:
        values = {
            "ORCHESTRATOR_UNIT": userdata.ORCHESTRATOR_UNIT,
            "CLEANUP_TIMER": userdata.CLEANUP_TIMER,
            "CLEANUP_SERVICE": userdata.CLEANUP_SERVICE,
            "IMAGES_SEEN_PATH": userdata.IMAGES_SEEN_PATH,
            "ENV_PATH": userdata.ENV_PATH,
            "COMPOSE_PATH": userdata.COMPOSE_PATH,
            "LOG_PATH": userdata.LOG_PATH,
            "BOOTSTRAP_PATH": userdata.BOOTSTRAP_PATH,
            "TOKEN_HELPER_PATH": userdata.TOKEN_HELPER_PATH,
            "CLEANUP_PATH": userdata.CLEANUP_PATH,
            "COMPOSE_PROJECT": self.compose_project,
            "INPUT_DATA_DIR": self.input_data_dir,
            "JOB_RETENTION_DAYS": str(self.job_retention_days),
            "ORCHESTRATOR_IMAGE": self.orchestrator_image,
            "CLOUD_INIT_TIMEOUT_S": str(self.cloud_init_timeout_s),
            "ORCHESTRATOR_TIMEOUT_S": str(self.orchestrator_timeout_s),
            "RERUN_BOOTSTRAP_ON_BOOT": str(self.rerun_bootstrap_on_boot),
            "ENGINE_BASE_IMAGE": engine.base_image(),
            "ENGINE_TAG": engine.engine_tag(),
            "ENGINE_JOB_DIR": self.engine_job_dir,
            "ENGINE_RUN_TIMEOUT_S": str(self.engine_run_timeout_s),
        }
        return "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())


def make_harness_disk(path: Path, plan: GuestPlan, token: str, engine_base: Path) -> None:
    """An ext4 image (label VMTEST) with the scripts, config and token, this machine's local CA
    certificates, the engine's base file system and the engine check's job folder; results land
    on it."""
    require_tools("mkfs.ext4")
    with tempfile.TemporaryDirectory(prefix="vmtest-harness-") as staging:
        tree = Path(staging)
        (tree / "ca").mkdir()
        for certificate in sorted(LOCAL_CA_DIR.glob("*.crt")):
            shutil.copy(certificate, tree / "ca" / certificate.name)
        shutil.copy(engine_base, tree / "engine-base.tar.gz")
        if plan.engine_job_dir:
            command = lay_out_job(tree / "engine-job", plan.engine_job_dir)
            (tree / "engine-command").write_text("".join(f"{arg}\n" for arg in command))
        for name in HARNESS_SCRIPTS:
            shutil.copy(GUEST_DIR / "disk" / name, tree / name)
            (tree / name).chmod(0o755)
        (tree / "config.env").write_text(plan.config_env())
        (tree / "token").write_text(token + "\n")
        (tree / "token").chmod(0o600)
        (tree / "results").mkdir()
        _check_call(
            "mkfs.ext4 (harness disk)",
            [
                "mkfs.ext4",
                "-q",
                "-F",
                "-L",
                HARNESS_DISK_LABEL,
                "-d",
                str(tree),
                str(path),
                HARNESS_DISK_SIZE,
            ],
        )


def make_seed(path: Path, user_data: str, instance_id: str, hostname: str) -> None:
    """The NoCloud seed (volume label cidata) holding user-data and meta-data."""
    require_tools("cloud-localds")
    with tempfile.TemporaryDirectory(prefix="vmtest-seed-") as staging:
        user_file = Path(staging, "user-data")
        meta_file = Path(staging, "meta-data")
        user_file.write_text(user_data)
        meta_file.write_text(f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n")
        _check_call("cloud-localds", ["cloud-localds", str(path), str(user_file), str(meta_file)])


def _check_call(step: str, args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise VmTestError(f"{step} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
