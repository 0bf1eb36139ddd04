"""User data rendering: content, real `cloud-init schema`, shellcheck, 16 KB, no token, errors, CLI."""

from __future__ import annotations

import json
import random
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import userdata
from tests.fixtures.cli import run_module
from tests.fixtures.userdata import DEFAULT_PACKAGES, TOKEN, make_settings
from userdata import (
    BOOTSTRAP_PATH,
    CLEANUP_PATH,
    COMPOSE_ENVIRONMENT,
    COMPOSE_PATH,
    DOCKERHUB_HELPER_PATH,
    MAX_USER_DATA_BYTES,
    ORCHESTRATOR_UNIT,
    TOKEN_HELPER_PATH,
    EnvToken,
    FileToken,
    InlineToken,
    SsmParameterToken,
    UserDataError,
    host_files,
    render_cloud_config,
    write_files_of,
)
from userdata.cli import cli

PROJECT_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


VARIANTS: dict[str, dict[str, Any]] = {
    "ssm-model-to-data-s3": {},
    "data-to-model": {"kind": "data-to-model", "input_data_s3_uri": None},
    "self-hosted-file": {
        "token_source": FileToken("/etc/challenge/orchestrator-token"),
        "install_ssm_agent": False,
        "input_data_s3_uri": None,
    },
    "self-hosted-env": {"token_source": EnvToken("ORCHESTRATOR_PAT"), "install_ssm_agent": False},
    "draining-placeholders": {"accept_new_submissions": False, "placeholder_ids": True},
}


def files_of(document: str) -> dict[str, dict[str, Any]]:
    """write_files by path, contents decoded (the bootstrap and engine recipe ship gz+b64)."""
    return write_files_of(document)


def env_lines(bootstrap: str) -> dict[str, str]:
    """The .env entries the bootstrap writes from its here-document (values unquoted)."""
    body = bootstrap.split("cat <<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    entries = {}
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        assert value.startswith("'") and value.endswith("'"), line
        entries[name] = value[1:-1]
    return entries


# --- the document --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_passes_the_real_cloud_init_schema(variant: str, tmp_path: Path) -> None:
    cloud_init = shutil.which("cloud-init")
    assert cloud_init, "cloud-init is not installed: run `make system-deps` (Debian `cloud-init`)"
    document = render_cloud_config(make_settings(**VARIANTS[variant]))
    path = tmp_path / "user-data.yaml"
    path.write_text(document)
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout
    assert document.startswith("#cloud-config\n")


def test_schema_check_rejects_a_broken_document(tmp_path: Path) -> None:
    """The schema check above can fail: a wrong type for a key is reported."""
    broken = render_cloud_config(make_settings()).replace("runcmd:", "runcmd: 5\nbootcmd:", 1)
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    result = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True
    )
    assert result.returncode != 0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_shell_script_passes_shellcheck(variant: str, tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck") or str(VENV_BIN / "shellcheck")
    scripts = []
    for path, entry in files_of(render_cloud_config(make_settings(**VARIANTS[variant]))).items():
        if entry["content"].startswith("#!/bin/bash"):
            target = tmp_path / Path(path).name
            target.write_text(entry["content"])
            scripts.append(str(target))
    assert len(scripts) >= 3
    result = subprocess.run(
        [shellcheck, "--shell=bash", *scripts], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_token_helper_compiles_and_names_the_parameter() -> None:
    helper = files_of(render_cloud_config(make_settings()))[TOKEN_HELPER_PATH]["content"]
    compile(helper, TOKEN_HELPER_PATH, "exec")
    assert helper.startswith("#!/usr/bin/python3\n")
    assert "PARAMETER = '/challenge/example/dev/orchestrator-token'" in helper
    assert "WithDecryption=True" in helper


def test_write_files_round_trip_exactly_with_modes() -> None:
    settings = make_settings()
    entries = files_of(render_cloud_config(settings))
    expected = {f.path: f for f in host_files(settings)}
    assert set(entries) == set(expected)
    for path, entry in entries.items():
        assert entry["content"] == expected[path].content, path
        assert entry["permissions"] == expected[path].mode
        assert entry["owner"] == "root:root"
    assert entries[TOKEN_HELPER_PATH]["permissions"] == "0700"
    assert entries[BOOTSTRAP_PATH]["permissions"] == "0700"
    assert yaml.safe_load(render_cloud_config(settings))["runcmd"] == [[BOOTSTRAP_PATH]]


def test_env_has_every_orchestrator_variable_and_no_password() -> None:
    settings = make_settings()
    bootstrap = files_of(render_cloud_config(settings))[BOOTSTRAP_PATH]["content"]
    env = env_lines(bootstrap)
    assert env == {
        "COMPOSE_PROJECT_NAME": "workflow_orchestrator",
        "DOCKER_ENGINE_URL": "unix:///var/run/docker.sock",
        "SYNAPSE_USERNAME": "example-challenge-bot",
        "WORKFLOW_OUTPUT_ROOT_ENTITY_ID": "syn51234567",
        "EVALUATION_TEMPLATES": '{"9615001":"syn51234568","9615002":"syn51234568"}',
        "MAX_CONCURRENT_WORKFLOWS": "4",
        "TOIL_CLI_OPTIONS": "--defaultMemory 100M --retryCount 0 --defaultDisk 1G",
        "SUBMITTER_NOTIFICATION_MASK": "6",
        "SHARE_RESULTS_IMMEDIATELY": "false",
        "WORKFLOW_ENGINE_DOCKER_IMAGE": "sagebionetworks/synapse-workflow-orchestrator-toil:1.0",
        "RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE": "false",
        "EXECUTION_STAGE": "",
        "RW_VOLUMES": "",
        "DOCKERHUB_USERNAME": "",
    }
    assert "SYNAPSE_PASSWORD" not in render_cloud_config(settings)
    # The token and the drain switch are appended at boot, after the here-document.
    assert 'printf "SYNAPSE_PAT=\'%s\'\\n" "$token"' in bootstrap
    added_at_boot = {"SYNAPSE_PAT", "DOCKERHUB_PASSWORD", "ACCEPT_NEW_SUBMISSIONS"}
    assert set(env) | added_at_boot == set(COMPOSE_ENVIRONMENT)


def test_the_orchestrators_remaining_settings_reach_env() -> None:
    settings = make_settings(
        run_workflow_container_in_privileged_mode=True,
        execution_stage="VALIDATION",
        rw_volumes=("/data/scratch:/scratch", "/data/refs:/refs"),
        dockerhub_username="examplebot",
        dockerhub_password_source=SsmParameterToken(
            "/challenge/example/dev/dockerhub-password", "eu-west-1"
        ),
    )
    files = files_of(render_cloud_config(settings))
    env = env_lines(files[BOOTSTRAP_PATH]["content"])
    assert env["RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE"] == "true"
    assert env["EXECUTION_STAGE"] == "VALIDATION"
    assert env["RW_VOLUMES"] == "/data/scratch:/scratch,/data/refs:/refs"
    assert env["DOCKERHUB_USERNAME"] == "examplebot"
    assert "DOCKERHUB_PASSWORD" not in env, "the password is fetched at boot, never in user data"
    helper = files[DOCKERHUB_HELPER_PATH]["content"]
    assert "PARAMETER = '/challenge/example/dev/dockerhub-password'" in helper
    assert DOCKERHUB_HELPER_PATH not in files_of(render_cloud_config(make_settings()))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"execution_stage": "SCORING"}, "execution_stage (challenge:executionStage)"),
        ({"rw_volumes": ("relative:/x",)}, "rw_volumes (challenge:rwVolumes)"),
        ({"rw_volumes": ("/a:/b,/c:/d",)}, "rw_volumes (challenge:rwVolumes)"),
        ({"rw_volumes": ("/data/x:/var/run",)}, "[0] container path '/var/run' is /var/run"),
        ({"rw_volumes": ("/etc:/x",)}, "[0] host path '/etc' is outside"),
        ({"dockerhub_username": "examplebot"}, "needs the Docker Hub password too"),
    ],
)
def test_bad_orchestrator_settings_name_the_key(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(UserDataError) as caught:
        make_settings(**overrides)
    assert message in str(caught.value)


@pytest.mark.parametrize(("accept", "initial"), [(True, "''"), (False, "false")])
def test_initial_drain_state(accept: bool, initial: str) -> None:
    settings = make_settings(accept_new_submissions=accept)
    bootstrap = files_of(render_cloud_config(settings))[BOOTSTRAP_PATH]["content"]
    assert f"\naccept={initial}\n" in bootstrap


def test_compose_file_pins_the_image_and_passes_the_full_environment() -> None:
    compose = yaml.safe_load(
        files_of(render_cloud_config(make_settings()))[COMPOSE_PATH]["content"]
    )
    service = compose["services"]["workflow-orchestrator"]
    assert service["image"] == "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:sha-1a2b3c4"
    assert service["restart"] == "always"
    assert service["pull_policy"] == "missing"
    assert service["volumes"] == ["shared:/shared:rw", "/var/run/docker.sock:/var/run/docker.sock"]
    assert service["environment"] == [f"{name}=${{{name}}}" for name in COMPOSE_ENVIRONMENT]
    assert "ACCEPT_NEW_SUBMISSIONS=${ACCEPT_NEW_SUBMISSIONS}" in service["environment"]
    assert service["logging"] == {
        "driver": "json-file",
        "options": {"max-size": "50m", "max-file": "5"},
    }
    assert "shared" in compose["volumes"]
    assert service["stop_grace_period"] == "150s", "SIGTERM: the orchestrator finishes its loop"


def test_systemd_units_and_timer() -> None:
    entries = files_of(render_cloud_config(make_settings(job_retention_days=5)))
    unit = entries[f"/etc/systemd/system/{ORCHESTRATOR_UNIT}"]["content"]
    assert "ExecStart=/usr/bin/docker compose up --detach --remove-orphans" in unit
    assert "WorkingDirectory=/opt/orchestrator" in unit
    assert "WantedBy=multi-user.target" in unit
    assert "After=docker.service network-online.target" in unit
    # systemd waits longer than compose's stop_grace_period before killing `docker compose stop`.
    stop_timeout_s = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M)[1])
    assert stop_timeout_s > 150 >= 120
    timer = entries["/etc/systemd/system/challenge-cleanup.timer"]["content"]
    assert "OnCalendar=daily" in timer and "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    service = entries["/etc/systemd/system/challenge-cleanup.service"]["content"]
    assert f"ExecStart={CLEANUP_PATH}" in service
    cleanup = entries[CLEANUP_PATH]["content"]
    assert f"-mmin +{5 * 1440}" in cleanup
    assert "VOLUME=workflow_orchestrator_shared" in cleanup
    assert "RETENTION_DAYS=5" in cleanup
    assert "prune --all" not in cleanup, "a daily prune --all forces step images to be re-pulled"


def test_systemd_analyze_finds_no_syntax_problem(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    entries = files_of(render_cloud_config(make_settings()))
    units = []
    for path, entry in entries.items():
        if path.startswith("/etc/systemd/system/"):
            (tmp_path / Path(path).name).write_text(entry["content"])
            units.append(str(tmp_path / Path(path).name))
    bad = tmp_path / "bad-example.service"
    bad.write_text("[Service]\nExecStrat=/bin/true\n")

    def problems(unit_paths: list[str]) -> list[str]:
        result = subprocess.run(
            [analyze, "verify", *unit_paths], capture_output=True, text=True, timeout=60
        )
        # Programs and units that only exist on the host are expected to be missing here.
        return [
            line
            for line in result.stderr.splitlines()
            if re.search(r"Unknown|Failed to parse|Invalid|Missing '='|bad-setting", line)
        ]

    assert problems(units) == []
    assert problems([str(bad)]), "the check must flag an unknown key"


def test_ssm_agent_step_only_when_asked() -> None:
    ec2 = files_of(render_cloud_config(make_settings()))[BOOTSTRAP_PATH]["content"]
    assert (
        "https://s3.eu-west-1.amazonaws.com/amazon-ssm-eu-west-1/latest/debian_${arch}/"
        "amazon-ssm-agent.deb" in ec2
    )
    site = make_settings(**VARIANTS["self-hosted-file"])
    assert "amazon-ssm-agent" not in files_of(render_cloud_config(site))[BOOTSTRAP_PATH]["content"]


def test_packages_come_from_debian_and_match_the_token_source() -> None:
    assert userdata.packages(make_settings()) == DEFAULT_PACKAGES
    assert "python3-boto3" not in userdata.packages(make_settings(**VARIANTS["self-hosted-env"]))
    assert "awscli" not in userdata.packages(make_settings(input_data_s3_uri=None))


def test_placeholder_ids_are_marked() -> None:
    assert "PLACEHOLDER Synapse IDs" in render_cloud_config(make_settings(placeholder_ids=True))
    assert "PLACEHOLDER" not in render_cloud_config(make_settings())


# --- size -----------------------------------------------------------------------------------


def test_size_fits_sixteen_kb_with_many_queues() -> None:
    templates = {str(9_700_000 + i): f"syn{60_000_000 + i}" for i in range(40)}
    document = render_cloud_config(make_settings(evaluation_templates=templates))
    assert len(document.encode()) <= MAX_USER_DATA_BYTES


def test_over_sixteen_kb_is_a_clear_error() -> None:
    # Random IDs: the bootstrap that lists them ships compressed, so a sequence would not do.
    rng = random.Random(10)
    templates = {
        str(rng.randrange(10**7, 10**8)): f"syn{rng.randrange(10**7, 10**8)}" for _ in range(800)
    }
    with pytest.raises(UserDataError, match=r"over EC2's 16384-byte \(16 KB\) limit"):
        render_cloud_config(make_settings(evaluation_templates=templates))


# --- the token ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_settings_have_no_token_field_and_output_no_token(variant: str) -> None:
    settings = make_settings(**VARIANTS[variant])
    assert not any("token" in name and "source" not in name for name in vars(settings))
    document = render_cloud_config(settings)
    assert "SYNAPSE_PAT='" not in document.replace("SYNAPSE_PAT='%s'", "")


def test_inline_token_needs_an_explicit_allowance() -> None:
    settings = make_settings(token_source=InlineToken(TOKEN), install_ssm_agent=False)
    assert TOKEN not in repr(settings)
    with pytest.raises(UserDataError, match="allow_inline_token"):
        render_cloud_config(settings)
    document = render_cloud_config(settings, allow_inline_token=True)
    assert TOKEN in files_of(document)[TOKEN_HELPER_PATH]["content"]
    assert "WRITTEN INTO THIS DOCUMENT" in document


# --- bad input ------------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"logs_folder_id": "12345"}, "logs_folder_id"),
    ({"evaluation_templates": {}}, "evaluation_templates"),
    ({"evaluation_templates": {"9615001": "https://x/y.zip"}}, "'^syn[0-9]+$'"),
    (
        {"evaluation_templates": {"queue-a": "syn1"}},
        "'queue-a' String should match pattern '^[0-9]+$'",
    ),
    ({"max_concurrent_submissions": 0}, "max_concurrent_submissions"),
    ({"max_concurrent_submissions": True}, "max_concurrent_submissions"),
    ({"orchestrator_image": "Not An Image"}, "orchestrator_image"),
    ({"workflow_engine_image": "toil engine"}, "workflow_engine_image"),
    ({"kind": "model-to-model"}, "kind"),
    ({"input_data_dir": "relative/dir"}, "input_data_dir"),
    ({"input_data_dir": "/etc"}, "input_data_dir"),
    ({"input_data_dir": "/home/../etc"}, "input_data_dir"),
    ({"input_data_s3_uri": "https://bucket/x"}, "input_data_s3_uri"),
    ({"kind": "data-to-model"}, "model-to-data only"),
    ({"job_retention_days": 0}, "job_retention_days"),
    ({"submitter_notification_mask": 32}, "submitter_notification_mask"),
    ({"toil_cli_options": "--workDir /tmp"}, "toil_cli_options"),
    ({"toil_cli_options": "--noLinkImports"}, "toil_cli_options"),
    ({"toil_cli_options": "--x 'y'"}, "single quotes"),
    ({"region": "Europe"}, "region"),
    ({"stack": "dev stack"}, "stack"),
    ({"orchestrator_synapse_username": "bot name"}, "orchestrator_synapse_username"),
    ({"challenge_name": "line\nbreak"}, "challenge_name"),
    ({"target_os": "amazon-linux-2023"}, "target_os"),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_SETTINGS)
def test_bad_settings_name_the_setting(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(UserDataError, match=re.escape(expected)):
        make_settings(**overrides)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(UserDataError) as caught:
        make_settings(logs_folder_id="x", job_retention_days=0, kind="other")
    message = str(caught.value)
    assert "logs_folder_id" in message
    assert "job_retention_days" in message
    assert "kind" in message
    assert "challenge:jobRetentionDays" in message


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: SsmParameterToken("no-slash", "us-east-1"), "SSM parameter name"),
        (lambda: FileToken("token.txt"), "absolute path"),
        (lambda: EnvToken("1BAD"), "environment variable"),
        (lambda: InlineToken("has space"), "never has"),
    ],
)
def test_bad_token_sources(make: Any, expected: str) -> None:
    with pytest.raises(UserDataError, match=expected):
        make()


@pytest.mark.parametrize(
    ("parameter", "supported"),
    [
        ("/aws/service/debian/release/13/latest/amd64", True),
        ("/aws/service/debian/release/trixie/latest/arm64", True),
        ("/aws/service/debian/release/12/latest/amd64", False),
        ("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", False),
    ],
)
def test_unsupported_os_is_an_error(parameter: str, supported: bool) -> None:
    if supported:
        assert userdata.os_for_ami_parameter(parameter) == "debian-13"
    else:
        with pytest.raises(UserDataError, match="supports Debian 13 only"):
            userdata.os_for_ami_parameter(parameter)


def test_missing_template_variable_is_an_error() -> None:
    from userdata.render import _render

    with pytest.raises(UserDataError, match="end_epoch"):
        _render("end-date.service.j2", end_date_iso="2030-01-01T00:00:00Z", stop_host_after_end=1)


def test_userdata_never_imports_pulumi() -> None:
    code = "import sys, userdata, userdata.cli; print('pulumi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_DIR, check=True
    )
    assert result.stdout.strip() == "False"


def test_token_parameter_name_is_stable_and_valid() -> None:
    name = userdata.token_parameter_name("Example Model-to-Data Challenge 2027", "dev")
    assert name == "/challenge/example-model-to-data-challenge-2027/dev/orchestrator-token"
    SsmParameterToken(name, "us-east-1")


# --- the CLI --------------------------------------------------------------------------------

STACK_FILE = {
    "config": {
        "aws:region": "us-west-2",
        "challenge:name": "CLI Test Challenge",
        "challenge:kind": "model-to-data",
        "challenge:queues": [{"name": "CLI Task 1"}, {"name": "CLI Task 2"}, {"name": "CLI T3"}],
        "challenge:workflowArchiveUrl": "https://github.com/example/workflow/archive/main.zip",
        "challenge:rootTemplate": "workflow-main/workflow.cwl",
        "challenge:orchestratorSynapseUsername": "cli-bot",
        "challenge:perSubmissionMemoryGiB": 8,
        "challenge:maxConcurrentSubmissions": 3,
        "challenge:orchestratorImage": "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:sha-0f0f0f0",
        "challenge:inputDataS3Uri": "s3://cli-test-bucket/inputs",
        "challenge:jobRetentionDays": 3,
    }
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.clitest.yaml").write_text(yaml.safe_dump(STACK_FILE))
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def render_clitest(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`render --stack clitest` on the test project, with further arguments."""

    def render(*argv: str) -> tuple[int, str, str]:
        return run_cli(capsys, "render", "--stack", "clitest", "--project-dir", str(project), *argv)

    return render


def test_cli_renders_from_the_stack_file_alone(
    tmp_path: Path, render_clitest: Callable[..., tuple[int, str, str]]
) -> None:
    out = tmp_path / "out" / "user-data.yaml"
    code, stdout, stderr = render_clitest("--out", str(out))
    assert code == 0, stderr
    assert stdout == ""
    document = out.read_text()
    assert "PLACEHOLDER Synapse IDs" in document
    assert "PLACEHOLDERS" in stderr and f"of {MAX_USER_DATA_BYTES} bytes" in stderr
    bootstrap = files_of(document)[BOOTSTRAP_PATH]["content"]
    env = env_lines(bootstrap)
    assert json.loads(env["EVALUATION_TEMPLATES"]) == {
        "999000000": "syn999999998",
        "999000001": "syn999999998",
        "999000002": "syn999999998",
    }
    assert env["MAX_CONCURRENT_WORKFLOWS"] == "3"
    assert env["SYNAPSE_USERNAME"] == "cli-bot"
    assert "s3://cli-test-bucket/inputs" in bootstrap
    helper = files_of(document)[TOKEN_HELPER_PATH]["content"]
    assert "/challenge/cli-test-challenge/clitest/orchestrator-token" in helper
    assert "REGION = 'us-west-2'" in helper
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_cli_self_hosted_token_file_keeps_the_token_out(
    tmp_path: Path, render_clitest: Callable[..., tuple[int, str, str]]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    code, stdout, stderr = render_clitest(
        "--token-from-file",
        str(token_file),
    )
    assert code == 0, stderr
    assert TOKEN not in stdout and TOKEN not in stderr
    helper = files_of(stdout)[TOKEN_HELPER_PATH]["content"]
    assert f"token_file={token_file}" in helper
    assert "amazon-ssm-agent" not in stdout


def test_cli_env_variable_source(render_clitest: Callable[..., tuple[int, str, str]]) -> None:
    code, stdout, _ = render_clitest(
        "--token-from-env",
        "SITE_PAT",
    )
    assert code == 0
    assert "--preserve-env=SITE_PAT" in files_of(stdout)[TOKEN_HELPER_PATH]["content"]


def test_cli_includes_the_token_only_when_asked_and_warns(
    tmp_path: Path,
    render_clitest: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITE_PAT", TOKEN)
    out = tmp_path / "insecure.yaml"
    code, _, stderr = render_clitest(
        "--token-from-env",
        "SITE_PAT",
        "--include-token-insecurely",
        "--out",
        str(out),
    )
    assert code == 0
    assert "WARNING" in stderr and TOKEN not in stderr
    assert TOKEN in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--stack", "missing"], "no file Pulumi.missing.yaml"),
        (["--stack", "clitest", "--include-token-insecurely"], "needs --token-from-file"),
        (
            [
                "--stack",
                "clitest",
                "--token-from-file",
                "/nonexistent/t",
                "--include-token-insecurely",
            ],
            "cannot read",
        ),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, stdout, stderr = run_cli(capsys, "render", "--project-dir", str(project), *argv)
    assert code == 1
    assert stdout == ""
    assert stderr.startswith("error: ") and expected in stderr
    assert stderr.count("\n") == 1


def test_cli_reports_a_bad_stack_value(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = json.loads(json.dumps(STACK_FILE))
    broken["config"]["challenge:toilCliOptions"] = "--workDir /x"
    (project / "Pulumi.broken.yaml").write_text(yaml.safe_dump(broken))
    code, _, stderr = run_cli(capsys, "render", "--stack", "broken", "--project-dir", str(project))
    assert code == 1
    assert "toilCliOptions" in stderr


def test_cli_as_a_module_on_the_dev_stack(tmp_path: Path) -> None:
    """`python -m userdata render --stack dev` on the project's own stack file."""
    if not (PROJECT_DIR / "Pulumi.dev.yaml").exists():
        pytest.skip("Pulumi.dev.yaml not written yet")
    out = tmp_path / "dev.yaml"
    result = run_module(
        "userdata",
        "render",
        "--stack",
        "dev",
        "--out",
        str(out),
        env={"AWS_REGION": "us-east-1"},
        timeout_s=60,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("#cloud-config\n")
