"""Run the rendered bootstrap for real in a scratch root, with recording stand-ins on PATH.

The package manager, dpkg, systemctl, docker, curl, aws and the token helper are stand-ins that
record their arguments and keep just enough state (installed packages, enabled units) for the
bootstrap's own checks; everything else (bash, coreutils, grep, sed, tee) is real.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.scratch_host import (
    Host,
    changing_calls,
    commands,
    materialise,
    read_env,
    scratch_host,
)
from tests.fixtures.userdata import DEFAULT_PACKAGES, TOKEN, make_settings
from userdata import (
    ACCEPT_SUBMISSIONS_PATH,
    BUILD_ENGINE_PATH,
    CLEANUP_PATH,
    COMPOSE_ENVIRONMENT,
    DOCKERHUB_HELPER_PATH,
    ENV_PATH,
    IMAGES_SEEN_PATH,
    LOG_PATH,
    TOKEN_HELPER_PATH,
    FileToken,
    SsmParameterToken,
    render_cloud_config,
)
from userdata import engine as engine_module
from userdata.engine import RECIPE_LABEL, engine_tag, recipe_hash
from userdata.render import render_build_engine_script


@pytest.fixture
def make_host(tmp_path: Path):
    def make(os_release: str = 'ID=debian\nVERSION_ID="13"\n', **overrides: Any) -> Host:
        return scratch_host(tmp_path, render_cloud_config(make_settings(**overrides)), os_release)

    return make


def test_first_boot_installs_writes_and_starts_everything(make_host) -> None:
    host = make_host()
    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = host.calls()

    installs = commands(calls, "apt-get", "-o", "DPkg::Lock::Timeout=600", "install")
    assert len(installs) == 1
    assert installs[0][-len(DEFAULT_PACKAGES) :] == list(DEFAULT_PACKAGES)
    assert commands(calls, "apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q")
    downloads = commands(calls, "curl")
    assert len(downloads) == 1
    assert downloads[0][-1] == (
        "https://s3.eu-west-1.amazonaws.com/amazon-ssm-eu-west-1/latest/debian_amd64/"
        "amazon-ssm-agent.deb"
    )
    assert len(commands(calls, "dpkg", "-i")) == 1
    for unit in (
        "docker.service",
        "amazon-ssm-agent.service",
        "challenge-orchestrator.service",
        "challenge-cleanup.timer",
    ):
        assert ["systemctl", "enable", "--now", unit] in calls, unit
    assert ["systemctl", "daemon-reload"] in calls
    # Order matters: Docker before the compose check, .env before the orchestrator starts.
    order = [tuple(c[:3]) for c in calls]
    assert order.index(("systemctl", "enable", "--now")) < order.index(
        ("docker", "compose", "--project-directory")
    )
    assert commands(
        calls, "docker", "compose", "--project-directory", str(host.path("/opt/orchestrator"))
    )
    assert commands(calls, "aws", "s3", "sync")[0][-2:] == [
        "s3://example-challenge-data/m2d/input/",
        str(host.path("/home/user/input_data")),
    ]

    env_file = host.path(ENV_PATH)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = read_env(env_file)
    assert set(env) == set(COMPOSE_ENVIRONMENT)
    assert env["SYNAPSE_PAT"] == TOKEN
    assert env["ACCEPT_NEW_SUBMISSIONS"] == ""
    assert json.loads(env["EVALUATION_TEMPLATES"]) == {
        "9615001": "syn51234568",
        "9615002": "syn51234568",
    }
    assert env["MAX_CONCURRENT_WORKFLOWS"] == "4"
    assert "SYNAPSE_PASSWORD" not in env
    input_dir = host.path("/home/user/input_data")
    assert stat.S_IMODE(input_dir.stat().st_mode) == 0o755
    assert (input_dir / "synced-from-s3").exists()

    log = host.path(LOG_PATH).read_text()
    for step in (
        "step: check operating system",
        "step: install packages from the Debian archive",
        "step: enable Docker",
        "step: install the SSM agent if absent",
        "step: prepare the input data directory",
        "step: fetch the orchestrator token",
        "step: write /opt/orchestrator/.env",
        "step: check the compose file with the new .env",
        "step: start the orchestrator (challenge-orchestrator.service)",
        "step: enable the daily clean-up (challenge-cleanup.timer)",
    ):
        assert step in log, step
    assert "challenge-bootstrap: done" in log
    assert log.count("step:") == result.stdout.count("step:"), "the console gets the log too"
    # The token is in .env only: not in the console, the log or any command line.
    assert TOKEN not in result.stdout + result.stderr
    assert TOKEN not in log
    assert TOKEN not in (host.state / "calls.jsonl").read_text()
    assert not list(env_file.parent.glob(".env.*")), "no temporary .env left behind"


def test_second_run_changes_nothing(make_host) -> None:
    host = make_host()
    assert host.run().returncode == 0
    env_file = host.path(ENV_PATH)
    before = env_file.stat()
    content = env_file.read_bytes()
    time.sleep(0.01)
    host.reset_calls()

    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = host.calls()
    # `aws s3 sync` re-runs by design (it copies only what changed); nothing else changes.
    assert [c for c in changing_calls(calls) if c[0] != "aws"] == []
    assert not commands(calls, "apt-get")
    assert "all packages already installed" in result.stdout
    assert "amazon-ssm-agent present; skipping" in result.stdout
    assert ".env unchanged" in result.stdout
    after = env_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert env_file.read_bytes() == content


def test_rotated_token_rewrites_env_and_recreates_the_container(make_host) -> None:
    host = make_host()
    assert host.run().returncode == 0
    host.set_token("rotated.token-value")
    host.reset_calls()
    result = host.run()
    assert result.returncode == 0, result.stdout
    assert read_env(host.path(ENV_PATH))["SYNAPSE_PAT"] == "rotated.token-value"
    assert ["systemctl", "reload", "challenge-orchestrator.service"] in host.calls()
    assert not commands(host.calls(), "systemctl", "enable")


@pytest.mark.parametrize(
    ("fail", "step"),
    [
        ("apt-get", "install packages from the Debian archive"),
        ("curl", "install the SSM agent if absent"),
        ("aws", "sync input data from s3://example-challenge-data/m2d/input/"),
        ("docker", "check the compose file with the new .env"),
        ("systemctl", "enable Docker"),
    ],
)
def test_a_failing_command_stops_with_the_step_named(make_host, fail: str, step: str) -> None:
    host = make_host()
    result = host.run(STANDIN_FAIL=fail)
    assert result.returncode != 0
    assert f"challenge-bootstrap: FAILED in step '{step}' (exit 100)" in result.stdout
    assert f"{fail}: simulated failure" in result.stdout
    assert f"FAILED in step '{step}'" in host.path(LOG_PATH).read_text()
    assert "challenge-bootstrap: done" not in result.stdout
    assert not commands(
        host.calls(), "systemctl", "enable", "--now", "challenge-orchestrator.service"
    )


def test_a_failing_token_helper_stops_before_env_is_written(make_host) -> None:
    host = make_host()
    host.set_token("", fail=True)
    result = host.run()
    assert result.returncode == 1
    assert "FAILED in step 'fetch the orchestrator token'" in result.stdout
    assert "AccessDeniedException" in result.stdout
    assert not host.path(ENV_PATH).exists()


@pytest.mark.parametrize("token", ["", "bad token with spaces", "x'; rm -rf /"])
def test_an_odd_token_is_refused_without_showing_it(make_host, token: str) -> None:
    host = make_host()
    helper = host.path(TOKEN_HELPER_PATH)
    helper.write_text(f"#!/bin/bash\ncat <<'T'\n{token}\nT\n")
    result = host.run()
    assert result.returncode == 1
    assert "FAILED in step 'fetch the orchestrator token'" in result.stdout
    if token:
        assert token not in result.stdout
    assert not host.path(ENV_PATH).exists()


def test_unsupported_os_fails_first(make_host) -> None:
    host = make_host(os_release='ID=ubuntu\nVERSION_ID="24.04"\n')
    result = host.run()
    assert result.returncode == 1
    assert "FAILED in step 'check operating system'" in result.stdout
    assert "unsupported OS 'ubuntu 24.04'" in result.stdout
    assert host.calls() == []


def test_ssm_agent_already_on_the_image_is_left_alone(make_host) -> None:
    host = make_host()
    agent = host.path("/usr/bin/amazon-ssm-agent")
    agent.parent.mkdir(parents=True)
    agent.write_text("#!/bin/sh\n")
    agent.chmod(0o755)
    result = host.run()
    assert result.returncode == 0, result.stdout
    assert "amazon-ssm-agent present; skipping" in result.stdout
    assert not commands(host.calls(), "curl")
    assert not commands(host.calls(), "dpkg", "-i")
    assert ["systemctl", "enable", "--now", "amazon-ssm-agent.service"] not in host.calls()


def test_data_to_model_makes_no_input_directory(make_host) -> None:
    host = make_host(kind="data-to-model", input_data_s3_uri=None)
    result = host.run()
    assert result.returncode == 0, result.stdout
    assert not host.path("/home/user/input_data").exists()
    assert not commands(host.calls(), "aws")
    installs = commands(host.calls(), "apt-get", "-o", "DPkg::Lock::Timeout=600", "install")
    assert "awscli" not in installs[0]


def test_self_hosted_site_reads_the_token_from_a_local_file(make_host, tmp_path: Path) -> None:
    """The real file helper (no stand-in), as a 'sensitive data' site would run it."""
    token_file = tmp_path / "site-token"
    host = make_host(token_source=FileToken(str(token_file)), install_ssm_agent=False)
    materialise(
        host.root,
        render_cloud_config(
            make_settings(token_source=FileToken(str(token_file)), install_ssm_agent=False)
        ),
    )
    missing = host.run()
    assert missing.returncode == 1
    assert f"cannot read {token_file}" in missing.stdout
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    result = host.run()
    assert result.returncode == 0, result.stdout
    assert read_env(host.path(ENV_PATH))["SYNAPSE_PAT"] == TOKEN
    assert not commands(host.calls(), "curl")
    assert TOKEN not in result.stdout


def test_self_hosted_site_reads_the_token_from_the_environment(make_host) -> None:
    from userdata import EnvToken

    host = make_host()
    materialise(
        host.root,
        render_cloud_config(
            make_settings(token_source=EnvToken("SITE_PAT"), install_ssm_agent=False)
        ),
    )
    unset = host.run()
    assert unset.returncode == 1
    assert "--preserve-env=SITE_PAT" in unset.stdout
    result = host.run(SITE_PAT=TOKEN)
    assert result.returncode == 0, result.stdout
    assert read_env(host.path(ENV_PATH))["SYNAPSE_PAT"] == TOKEN


# --- the drain switch ----------------------------------------------------------------------


def test_drain_switch_sets_the_variable_and_survives_a_bootstrap_rerun(make_host) -> None:
    host = make_host()
    assert host.run().returncode == 0
    host.reset_calls()

    drained = host.run(ACCEPT_SUBMISSIONS_PATH, "no")
    assert drained.returncode == 0, drained.stderr
    assert "now draining" in drained.stdout
    env_file = host.path(ENV_PATH)
    assert read_env(env_file)["ACCEPT_NEW_SUBMISSIONS"] == "false"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert read_env(env_file)["SYNAPSE_PAT"] == TOKEN
    assert host.calls() == [["systemctl", "reload", "challenge-orchestrator.service"]]
    assert host.run(ACCEPT_SUBMISSIONS_PATH, "status").stdout.strip() == "draining"

    host.reset_calls()
    assert host.run(ACCEPT_SUBMISSIONS_PATH, "no").returncode == 0
    assert host.calls() == [], "already draining: no restart"

    assert host.run().returncode == 0
    assert read_env(env_file)["ACCEPT_NEW_SUBMISSIONS"] == "false", "bootstrap keeps the switch"

    assert host.run(ACCEPT_SUBMISSIONS_PATH, "yes").returncode == 0
    assert read_env(env_file)["ACCEPT_NEW_SUBMISSIONS"] == ""
    assert host.run(ACCEPT_SUBMISSIONS_PATH, "status").stdout.strip() == "accepting"
    assert host.run(ACCEPT_SUBMISSIONS_PATH, "maybe").returncode == 2


def test_initial_drain_state_from_settings(make_host) -> None:
    host = make_host(accept_new_submissions=False)
    assert host.run().returncode == 0
    assert read_env(host.path(ENV_PATH))["ACCEPT_NEW_SUBMISSIONS"] == "false"


# --- the daily clean-up --------------------------------------------------------------------


def test_cleanup_removes_old_unused_job_folders_only(make_host, tmp_path: Path) -> None:
    host = make_host(job_retention_days=2)
    volume = tmp_path / "volume"
    old, in_use, nested_in_use, recent = (
        volume / name for name in ("old-job", "in-use-job", "nested-job", "recent-job")
    )
    for folder in (old, in_use, nested_in_use, recent):
        (folder / "tmp").mkdir(parents=True)
    three_days_ago = time.time() - 3 * 86400
    for folder in (old, in_use, nested_in_use):
        os.utime(folder, (three_days_ago, three_days_ago))
    (volume / "old-file").write_text("not a job folder")
    os.utime(volume / "old-file", (three_days_ago, three_days_ago))
    containers = {
        "orchestrator": [str(volume), "/var/run/docker.sock"],
        "workflow_job.1": [str(in_use)],
        "workflow_job.2": [str(nested_in_use / "tmp")],
    }
    result = host.run(
        CLEANUP_PATH, STANDIN_VOLUME=str(volume), STANDIN_CONTAINERS=json.dumps(containers)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not old.exists()
    assert in_use.exists() and nested_in_use.exists() and recent.exists()
    assert (volume / "old-file").exists()
    assert "removed 1 job folder(s)" in result.stdout
    assert ["docker", "image", "prune", "--force"] in host.calls()


def test_cleanup_removes_only_images_unseen_and_unused_for_longer_than_the_retention(
    make_host, tmp_path: Path
) -> None:
    """Ages come from the clean-up's own record (first seen, last seen in use) and LastTagTime,
    never from an image's build date: a step image pulled with a zero LastTagTime, or built
    upstream long ago, is not deleted the day it arrives."""
    host = make_host(job_retention_days=7)
    now = int(time.time())
    day = 86400

    def tagged(epoch: int) -> str:
        """LastTagTime as the docker CLI prints it: RFC 3339 with nanoseconds."""
        when = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")

    old, recent, in_use, engine, old_engine, untagged, seen_long_ago = (
        f"sha256:{n * 64}" for n in "abcdef9"
    )
    images = [
        [old, tagged(now - 9 * day), None],
        [recent, tagged(now - 2 * day), None],
        [in_use, tagged(now - 30 * day), None],
        [engine, tagged(now - 30 * day), recipe_hash()],
        [old_engine, tagged(now - 30 * day), "0" * 64],
        [untagged, "0001-01-01T00:00:00Z", None],
        [seen_long_ago, tagged(now - 1 * day), None],
    ]
    record = host.path(IMAGES_SEEN_PATH)
    record.parent.mkdir(parents=True)
    record.write_text(f"{in_use} {now - 40 * day}\n{seen_long_ago} {now - 20 * day}\n")

    def cleanup() -> tuple[list[str], dict[str, int]]:
        host.reset_calls()
        result = host.run(
            CLEANUP_PATH,
            STANDIN_CONTAINERS=json.dumps({"workflow_job.1": [], "orchestrator": []}),
            STANDIN_CONTAINER_IMAGES=json.dumps({"workflow_job.1": in_use}),
            STANDIN_IMAGES=json.dumps([i for i in images if i[0] not in gone]),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert ["docker", "image", "prune", "--force"] in host.calls(), "dangling images go"
        assert not [
            c for c in host.calls() if c[:3] == ["docker", "image", "prune"] and "--all" in c
        ]
        removed = [c[-1] for c in commands(host.calls(), "docker", "image", "rm", "--force")]
        assert f"removed {len(removed)} image(s) unused and older than 7 day(s)" in result.stdout
        gone.update(removed)
        return removed, {
            i: int(t) for i, t in (line.split() for line in record.read_text().splitlines())
        }

    gone: set[str] = set()
    removed, seen = cleanup()
    assert removed == [old, old_engine], "tagged 9 and 30 days ago, unused; an earlier recipe"
    assert set(seen) == {recent, in_use, engine, untagged, seen_long_ago}
    assert seen[recent] == now - 2 * day, "first seen: its LastTagTime"
    assert seen[seen_long_ago] == now - 1 * day, "tagged (pulled) again since the record"
    assert abs(seen[in_use] - now) < 60 and abs(seen[untagged] - now) < 60

    record.write_text("".join(f"{i} {t - 8 * day}\n" for i, t in seen.items()))
    removed, seen = cleanup()
    assert removed == [untagged], "unseen in use for 8 days now, though never tagged"
    assert set(seen) == {recent, in_use, engine, seen_long_ago}


# --- the real SSM helper, against moto ----------------------------------------------------


def test_ssm_token_helper_reads_the_secure_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy

    import boto3
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    document = render_cloud_config(
        make_settings(token_source=SsmParameterToken("/challenge/x/dev/token", "eu-west-1"))
    )
    helper = yaml.safe_load(document)["write_files"][0]
    assert helper["path"] == TOKEN_HELPER_PATH
    script = tmp_path / "challenge-fetch-token.py"
    script.write_text(helper["content"])
    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-west-1")
        with pytest.raises(SystemExit) as missing:
            runpy.run_path(str(script), run_name="__main__")
        assert missing.value.code == 1
        err = capsys.readouterr().err
        assert "ParameterNotFound" in err and "/challenge/x/dev/token" in err
        assert err.count("try ") == 8, "retries before giving up"

        ssm.put_parameter(Name="/challenge/x/dev/token", Value=TOKEN, Type="SecureString")
        with pytest.raises(SystemExit) as found:
            runpy.run_path(str(script), run_name="__main__")
        assert found.value.code == 0
        captured = capsys.readouterr()
        assert captured.out == TOKEN + "\n"
        assert captured.err == ""


# --- the workflow engine image ---------------------------------------------------------------


def test_engine_image_is_built_once_and_passed_to_the_orchestrator_by_id(make_host) -> None:
    host = make_host(workflow_engine_image=None)
    ca_bundle = host.path("/etc/ssl/certs/ca-certificates.crt")
    ca_bundle.parent.mkdir(parents=True)
    ca_bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    tag = engine_tag()
    builds = commands(host.calls(), "docker", "build")
    assert len(builds) == 1
    assert builds[0][2:6] == ["--label", f"{RECIPE_LABEL}={recipe_hash()}", "--tag", tag]
    image_id = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    assert read_env(host.path(ENV_PATH))["WORKFLOW_ENGINE_DOCKER_IMAGE"] == image_id
    assert "step: build the workflow engine image" in host.path(LOG_PATH).read_text()
    env_before = host.path(ENV_PATH).read_bytes()

    host.reset_calls()
    again = host.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert not commands(host.calls(), "docker", "build"), "same recipe: no rebuild"
    assert host.path(ENV_PATH).read_bytes() == env_before


def test_a_changed_recipe_builds_a_new_engine_image_and_the_orchestrator_gets_it(
    make_host, monkeypatch
) -> None:
    host = make_host(workflow_engine_image=None)
    ca_bundle = host.path("/etc/ssl/certs/ca-certificates.crt")
    ca_bundle.parent.mkdir(parents=True)
    ca_bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert host.run().returncode == 0
    first_tag = engine_tag()

    recipe = engine_module.recipe()
    changed = {**recipe, "requirements.txt": recipe["requirements.txt"] + "# a new pin\n"}
    monkeypatch.setattr(engine_module, "recipe", lambda: changed)
    assert engine_tag() != first_tag
    build_script = host.path(BUILD_ENGINE_PATH)
    build_script.write_text(render_build_engine_script())
    host.reset_calls()
    again = host.run()
    assert again.returncode == 0, again.stdout + again.stderr
    builds = commands(host.calls(), "docker", "build")
    assert [b[2:6] for b in builds] == [
        ["--label", f"{RECIPE_LABEL}={recipe_hash()}", "--tag", engine_tag()]
    ]
    image_id = "sha256:" + hashlib.sha256(engine_tag().encode()).hexdigest()
    assert read_env(host.path(ENV_PATH))["WORKFLOW_ENGINE_DOCKER_IMAGE"] == image_id


def test_an_engine_image_override_skips_the_build(make_host) -> None:
    image = "ghcr.io/example/engine:sha-1234567"
    host = make_host(workflow_engine_image=image)
    assert not host.path(BUILD_ENGINE_PATH).exists()
    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not commands(host.calls(), "docker", "build")
    assert read_env(host.path(ENV_PATH))["WORKFLOW_ENGINE_DOCKER_IMAGE"] == image


def test_dockerhub_password_is_read_at_boot_into_env_only(make_host) -> None:
    password = "dckr_pat_Example-Secret_0123456789"
    host = make_host(
        dockerhub_username="examplebot",
        dockerhub_password_source=SsmParameterToken(
            "/challenge/x/dev/dockerhub-password", "us-east-1"
        ),
    )
    helper = host.path(DOCKERHUB_HELPER_PATH)
    assert "dockerhub-password" in helper.read_text()
    helper.write_text(f"#!/bin/bash\nprintf '%s\\n' '{password}'\n")
    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    env = read_env(host.path(ENV_PATH))
    assert env["DOCKERHUB_USERNAME"] == "examplebot"
    assert env["DOCKERHUB_PASSWORD"] == password
    assert password not in result.stdout + result.stderr
    assert password not in host.path(LOG_PATH).read_text()
    assert password not in (host.state / "calls.jsonl").read_text()
