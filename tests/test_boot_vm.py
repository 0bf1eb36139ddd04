"""The rendered user data brings the orchestrator up in a real Debian 13 VM (issue 6).

The `vm` tests boot the dev stack's user data twice under QEMU (software emulation) with real
systemd, cloud-init and Docker from Debian's archive; only the SSM token fetch and the
orchestrator image are stand-ins (tests/vm/). The first run builds a cached base image (about
2 min); the bootstrap builds the workflow engine image in the VM (most of a run: 814 s of 36 min
on a loaded 2-core machine) and the probe runs the engine check workflow in it. The quick
tests below check the harness itself.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import userdata
from stackconfig import load_stack
from tests.vm import (
    TOKEN_ALLOWED_ON_DISK,
    BootRecord,
    ScenarioResult,
    boot_test_settings,
    find_on_disk,
    rendered_user_data,
    replay_journal,
    run_boot_scenario,
    with_token_stand_in,
)
from tests.vm.image import GUEST_DIR
from tests.vm.results import _blocks_holding
from userdata import engine

SHELLCHECK = Path(sys.executable).with_name("shellcheck")
#: Probe copies that hold the token on purpose (the .env, docker inspect, the stand-in's record).
TOKEN_ALLOWED_IN_RESULTS = ("*/files/env", "*/containers.json", "*/records/*.environ")


# --- the harness itself (quick) ----------------------------------------------------------------


def test_token_stand_in_replaces_only_the_token_helper():
    rendered = rendered_user_data()
    original, replaced = yaml.safe_load(rendered), yaml.safe_load(with_token_stand_in(rendered))
    changed = [
        new["path"]
        for old, new in zip(original["write_files"], replaced["write_files"], strict=True)
        if old != new
    ]
    assert changed == [userdata.TOKEN_HELPER_PATH]
    assert {k: v for k, v in original.items() if k != "write_files"} == {
        k: v for k, v in replaced.items() if k != "write_files"
    }
    assert "boto3" in next(
        f["content"] for f in original["write_files"] if f["path"] == userdata.TOKEN_HELPER_PATH
    ), "the dev stack's user data should fetch the token from SSM"


def test_the_vm_boots_what_userdata_render_prints_for_the_dev_stack():
    """The booted document is the CLI's output; the settings the probe checks against are the
    ones it was rendered from (the dev stack's, test IDs, the stack's own image)."""
    settings = boot_test_settings()
    assert settings.stack == "dev"
    assert settings.orchestrator_image == load_stack("dev").spec.orchestrator_image
    assert not settings.placeholder_ids
    assert isinstance(settings.token_source, userdata.SsmParameterToken)
    assert rendered_user_data() == userdata.render_cloud_config(settings)


def test_guest_scripts_pass_shellcheck():
    scripts = [*sorted((GUEST_DIR / "disk").glob("*.sh")), GUEST_DIR / "base" / "amazon-ssm-agent"]
    done = subprocess.run(
        [str(SHELLCHECK), "-x", *map(str, scripts)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_find_on_disk_names_the_file_and_deleted_blocks(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "secret").write_text("before NEEDLE-42 after\n")
    (tree / "etc" / "gone").write_text("NEEDLE-42\n")
    (tree / "etc" / "other").write_text("nothing here\n")
    image = tmp_path / "disk.ext4"
    subprocess.run(
        ["mkfs.ext4", "-q", "-d", str(tree), str(image), "16M"], check=True, capture_output=True
    )
    subprocess.run(
        ["debugfs", "-w", "-R", "rm /etc/gone", str(image)], check=True, capture_output=True
    )
    assert find_on_disk(image, b"NEEDLE-42") == {"/etc/secret": 1, "<unallocated>": 1}
    assert find_on_disk(image, b"NOT-THERE") == {}


def test_disk_scan_pins_each_copy_on_its_own_block_in_a_sparse_image(tmp_path):
    """Extents of one and two blocks, one-block holes, the copy after them: the layout in which
    reading through a buffered file, after SEEK_HOLE had moved the descriptor, served the copy's
    bytes as the two-block extent's and pinned it on block 5003 (the likely cause of CI's failure:
    the token in a small file reported in a block of an unrelated large one)."""
    image = tmp_path / "disk.ext4"
    subprocess.run(
        ["mkfs.ext4", "-q", "-b", "4096", str(image), "64M"], check=True, capture_output=True
    )
    with image.open("r+b") as disk:
        for block, data in ((5000, b"x" * 4096), (5002, b"x" * 8192), (5005, b"NEEDLE-42")):
            disk.seek(block * 4096)
            disk.write(data)
    assert _blocks_holding(image, b"NEEDLE-42") == [5005]
    assert find_on_disk(image, b"NEEDLE-42") == {"<unallocated>": 1}


def test_find_on_disk_tells_a_file_from_stale_bytes_in_blocks_it_has_not_written(tmp_path):
    """A block a file was given but has not written (an unwritten extent) still holds what a
    deleted file left there: on disk, but not in the file."""
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "secret").write_text("NEEDLE-42\n")
    image = tmp_path / "disk.ext4"
    subprocess.run(
        ["mkfs.ext4", "-q", "-b", "4096", "-d", str(tree), str(image), "16M"],
        check=True,
        capture_output=True,
    )
    for request in ("write /dev/null /etc/preallocated", "fallocate /etc/preallocated 0 3"):
        subprocess.run(
            ["debugfs", "-w", "-R", request, str(image)], check=True, capture_output=True
        )
    bmap = subprocess.run(
        ["debugfs", "-R", "bmap /etc/preallocated 2", str(image)],
        check=True,
        capture_output=True,
        text=True,
    )
    block = int(bmap.stdout.split()[0])
    with image.open("r+b") as disk:
        disk.seek(block * 4096 + 100)
        disk.write(b"NEEDLE-42")
    assert find_on_disk(image, b"NEEDLE-42") == {
        "/etc/secret": 1,
        "<stale in /etc/preallocated>": 1,
    }
    # Written through the file, the same bytes are the file's.
    (tmp_path / "content").write_bytes(b"NEEDLE-42")
    subprocess.run(
        ["debugfs", "-w", "-R", f"write {tmp_path / 'content'} /etc/written", str(image)],
        check=True,
        capture_output=True,
    )
    assert find_on_disk(image, b"NEEDLE-42")["/etc/written"] == 1


def test_replay_journal_writes_what_the_journal_holds_to_its_home_block(tmp_path):
    """A guest stopped before checkpointing leaves blocks in the journal only; debugfs reads
    home locations, so the scan must see the disk as the next mount would."""
    image = tmp_path / "disk.ext4"
    subprocess.run(
        ["mkfs.ext4", "-q", "-b", "4096", str(image), "16M"], check=True, capture_output=True
    )
    (tmp_path / "block").write_bytes(b"NEEDLE-42".ljust(4096, b"\0"))
    subprocess.run(
        ["debugfs", "-w", "-f", "-", str(image)],
        input=f"jo\njw -b 3000 {tmp_path / 'block'}\njc\n",
        check=True,
        capture_output=True,
        text=True,
    )

    def home_block() -> bytes:
        with image.open("rb") as disk:
            disk.seek(3000 * 4096)
            return disk.read(9)

    assert home_block() != b"NEEDLE-42"
    assert replay_journal(image) is True
    assert home_block() == b"NEEDLE-42"
    assert replay_journal(image) is False


# --- the VM boot (slow) ------------------------------------------------------------------------


def _live(request: pytest.FixtureRequest):
    """Progress straight to the terminal, even while pytest captures output."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def progress(message: str) -> None:
        if capture is None:
            print(message, flush=True)
            return
        with capture.global_and_fixture_disabled():
            print(f"[vm] {message}", flush=True)

    return progress


@pytest.fixture(scope="module")
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ScenarioResult:
    result = run_boot_scenario(tmp_path_factory.mktemp("boot-vm"), progress=_live(request))
    progress = _live(request)
    for boot in result.boots:
        active = boot.timings().orchestrator_active_s
        progress(
            f"boot {boot.number}: orchestrator unit active "
            f"{'never' if active is None else f'{active:.0f} s'} after the kernel started "
            f"(VM clock); qemu wall {boot.outcome.wall_s:.0f} s"
        )
    build = re.search(
        r"challenge-build-engine: built \S+ in (\d+) s", result.boots[0].bootstrap_log()
    )
    progress(f"engine image build in the VM: {build[1] + ' s' if build else 'not found'}")
    engine = result.boots[0].path("engine")
    if (engine / "rc").is_file():
        progress(
            f"engine check: toil-cwl-runner exit {(engine / 'rc').read_text().strip()} after "
            f"{(engine / 'wall_s').read_text().strip()} s; outputs {(engine / 'stdout').read_text()}"
        )
    progress(f"scenario wall time {result.wall_s:.0f} s; files in {result.workdir}")
    return result


def _first(run: ScenarioResult) -> BootRecord:
    return run.boots[0]


def _second(run: ScenarioResult) -> BootRecord:
    assert len(run.boots) == 2, f"the second boot did not happen: {_first(run).failure_summary()}"
    return run.boots[1]


def _step(boot: BootRecord, step: str) -> str:
    """A failure message naming the bootstrap step whose outcome is missing, and what went wrong."""
    return (
        f"boot {boot.number}: bootstrap step '{step}' did not do its job ({boot.failure_summary()})"
    )


@pytest.mark.vm
def test_bootstrap_ran_every_step_and_cloud_init_finished_without_errors(run: ScenarioResult):
    for boot in run.boots:
        assert not boot.outcome.timed_out, boot.failure_summary()
        assert boot.timeouts == [], boot.failure_summary()
        assert boot.cloud_init_errors() == [], boot.failure_summary()
        status = boot.json("cloud-init-status.json")["v1"]
        for stage in ("init-local", "init", "modules-config", "modules-final"):
            assert status[stage]["errors"] == [], f"boot {boot.number} {stage}: {status[stage]}"
        long = boot.json("cloud-init-status-long.json")
        assert long["status"] == "done", f"boot {boot.number}: cloud-init status {long}"
        assert long.get("extended_status", "done") == "done", (
            f"boot {boot.number}: cloud-init {long.get('extended_status')}: "
            f"{long.get('recoverable_errors')}"
        )
        failed = boot.text("failed-units.txt").strip()
        assert failed == "", f"boot {boot.number}: failed units: {failed}"
    first = _first(run)
    assert first.bootstrap_failures() == [], first.failure_summary()
    log = first.bootstrap_log()
    assert re.search(r"^challenge-bootstrap: done ", log, re.M), (
        f"the bootstrap did not reach its end; last lines: {log.splitlines()[-5:]}"
    )


@pytest.mark.vm
def test_docker_from_debians_archive_is_active(run: ScenarioResult):
    first = _first(run)
    installed_now = "\n".join(first.dpkg_this_boot())
    for package in userdata.render.DOCKER_PACKAGES:
        installed = re.search(rf" install {re.escape(package)}:\S+ <none> ", installed_now)
        assert installed, _step(first, "install packages from the Debian archive") + f": {package}"
        assert f"{package} " in first.text("packages.txt")
    for boot in run.boots:
        docker = boot.unit("docker.service")
        state = (docker["ActiveState"], docker["UnitFileState"])
        assert state == ("active", "enabled"), _step(boot, "enable Docker") + f": docker {state}"


@pytest.mark.vm
def test_ssm_agent_step_sees_the_agent_and_skips_the_download(run: ScenarioResult):
    first = _first(run)
    step = "install the SSM agent if absent"
    assert f"step: {step}" in first.bootstrap_log(), _step(first, step)
    # Had it tried AWS's .deb, the download (unreachable here) would have failed this step.
    assert [line for line in first.dpkg_this_boot() if "amazon-ssm-agent" in line] == []
    assert "amazon-ssm-agent 0.0.0-vmtest install ok installed" in first.text("packages.txt")
    assert first.unit("amazon-ssm-agent.service")["ActiveState"] == "active"


@pytest.mark.vm
def test_input_data_directory_is_prepared(run: ScenarioResult):
    first = _first(run)
    stat = first.stat(run.settings.input_data_dir)
    assert stat is not None, _step(first, "prepare the input data directory")
    assert (stat.mode, stat.uid) == (0o755, 0), oct(stat.mode)


@pytest.mark.vm
def test_env_file_is_root_only_with_every_variable(run: ScenarioResult):
    first = _first(run)
    step = f"write {userdata.ENV_PATH}"
    stat = first.stat(userdata.ENV_PATH)
    assert stat is not None, _step(first, step)
    assert (stat.mode, stat.uid, stat.gid) == (0o600, 0, 0), _step(first, step) + oct(stat.mode)
    assert run.env_file_on_disk == ("regular", 0o600, 0, 0), f"root disk: {run.env_file_on_disk}"
    expected = dict(userdata.orchestrator_env(run.settings))
    if not run.settings.workflow_engine_image:
        expected["WORKFLOW_ENGINE_DOCKER_IMAGE"] = _engine_image_id(run)
    expected["SYNAPSE_PAT"] = run.token
    expected["DOCKERHUB_PASSWORD"] = ""  # fetched at boot when dockerhubUsername is set
    expected["ACCEPT_NEW_SUBMISSIONS"] = ""
    actual = first.env_file()
    assert actual.keys() == expected.keys(), sorted(actual.keys() ^ expected.keys())
    wrong = sorted(name for name in expected if actual[name] != expected[name])
    assert wrong == [], f".env values differ for {wrong}"  # values not shown: one is the token
    assert json.loads(actual["EVALUATION_TEMPLATES"]) == dict(run.settings.evaluation_templates)


@pytest.mark.vm
def test_token_is_nowhere_but_the_env_file_and_the_container(run: ScenarioResult):
    # Booleans first: pytest would otherwise print both operands (the token) on failure.
    token = run.token
    in_user_data = token in run.user_data
    assert not in_user_data, "the token is in the user data"
    on_console = [number for number, text in enumerate(run.consoles, 1) if token in text]
    assert on_console == [], f"the token is on the serial console of boot(s) {on_console}"
    results = run.workdir / "harness" / "results"
    leaks = [
        str(path.relative_to(results))
        for path in results.rglob("*")
        if path.is_file()
        and not any(fnmatch.fnmatch(str(path), f"*{p}") for p in TOKEN_ALLOWED_IN_RESULTS)
        and token.encode() in path.read_bytes()
    ]
    assert leaks == [], f"the token is in these guest logs/outputs: {leaks}"
    # The probe copied cloud-init's logs, its instance data and the journal: check they were
    # there to be searched, so the search above could have found something.
    for name in ("files/cloud-init.log", "files/cloud-init-output.log", "journal.txt"):
        assert _first(run).path(name).stat().st_size > 0, name
    cloud_dir = _first(run).path("files/var-lib-cloud/instances")
    assert list(cloud_dir.glob("*/user-data.txt")), (
        f"no copy of cloud-init's instance data in {cloud_dir}"
    )
    assert run.token_on_disk.get(userdata.ENV_PATH, 0) >= 1, (
        f"the disk scan did not find the token in {userdata.ENV_PATH}: {run.token_on_disk}"
    )
    unexpected = {
        where: hits
        for where, hits in run.token_on_disk.items()
        if not any(fnmatch.fnmatch(where, p) for p in TOKEN_ALLOWED_ON_DISK)
    }
    assert unexpected == {}, f"the token is on the root disk in unexpected places: {unexpected}"


@pytest.mark.vm
def test_orchestrator_container_runs_under_the_unit_with_env_volume_and_docker_sock(
    run: ScenarioResult,
):
    first = _first(run)
    step = "start the orchestrator"
    project = userdata.COMPOSE_PROJECT_NAME
    unit = first.unit(userdata.ORCHESTRATOR_UNIT)
    state = (unit["ActiveState"], unit["UnitFileState"])
    assert state == ("active", "enabled"), _step(first, step) + f": unit {state}"
    running = [c for c in first.compose_containers(project) if c["State"]["Running"]]
    assert len(running) == 1, _step(first, step) + f": {len(running)} containers running"
    container = running[0]
    labels = container["Config"]["Labels"]
    assert labels["com.docker.compose.project.working_dir"] == userdata.ORCHESTRATOR_DIR
    assert labels["com.docker.compose.project.config_files"] == userdata.COMPOSE_PATH
    assert container["Config"]["Image"] == run.settings.orchestrator_image
    assert container["HostConfig"]["RestartPolicy"]["Name"] == "always"
    # Started by the unit's `docker compose up`: between the unit's start and it becoming active
    # (container time is epoch, the unit's monotonic; btime has 1 s resolution).
    timings = first.timings()
    unit_start = first.unit_monotonic_s(
        userdata.ORCHESTRATOR_UNIT, "ExecMainStartTimestampMonotonic"
    )
    assert unit_start is not None and timings.container_started_s is not None
    assert unit_start - 1.5 <= timings.container_started_s <= timings.orchestrator_active_s + 1.5, (
        f"container started at {timings.container_started_s:.1f} s, unit ran "
        f"{unit_start:.1f}..{timings.orchestrator_active_s:.1f} s"
    )
    mounts = {m["Destination"]: m for m in container["Mounts"]}
    assert mounts["/shared"]["Type"] == "volume"
    assert mounts["/shared"]["Name"] == f"{project}_shared"
    assert mounts["/var/run/docker.sock"]["Source"] == "/var/run/docker.sock"
    # What the process inside saw, recorded by the stand-in image's command.
    records = first.records()
    assert records, _step(first, step) + ": the stand-in orchestrator recorded nothing"
    record = records[-1]
    env = first.env_file()
    missing = [n for n in userdata.COMPOSE_ENVIRONMENT if n not in record.environment]
    assert missing == [], f"not passed into the container: {missing}"
    differ = sorted(n for n in userdata.COMPOSE_ENVIRONMENT if record.environment[n] != env[n])
    assert differ == [], f"container environment differs from .env for {differ}"
    assert {"/shared", "/var/run/docker.sock"} <= set(record.mount_points)
    assert record.docker_sock == "socket"


@pytest.mark.vm
def test_cleanup_timer_is_installed_and_enabled(run: ScenarioResult):
    step = "enable the daily clean-up"
    for boot in run.boots:
        timer = boot.unit(userdata.CLEANUP_TIMER)
        state = (timer["LoadState"], timer["UnitFileState"], timer["ActiveState"])
        assert state == ("loaded", "enabled", "active"), _step(boot, step) + f": timer {state}"
        assert "OnCalendar=" in timer["TimersCalendar"]
        assert boot.unit(userdata.CLEANUP_SERVICE)["LoadState"] == "loaded"
        assert userdata.CLEANUP_TIMER in boot.text("timers.txt")
    script = _first(run).stat(userdata.CLEANUP_PATH)
    assert script is not None and script.mode == 0o700, f"{userdata.CLEANUP_PATH}: {script}"


@pytest.mark.vm
def test_cleanup_removes_old_job_folders_and_keeps_the_running_orchestrator(run: ScenarioResult):
    second = _second(run)
    log = second.text("cleanup.log")
    assert second.text("cleanup.rc").strip() == "0", log[-2000:]
    result = second.unit_properties("cleanup-unit.txt")["Result"]
    assert result == "success", log[-2000:]
    jobs = second.text("cleanup-jobs.txt").split()
    expected_after = (
        "old=absent",
        "new=present",
        "image=present",
        "engine=present",
        "orchestrator=running",
    )
    for expected in expected_after:
        assert expected in jobs, f"after {userdata.CLEANUP_SERVICE}: {jobs}\n{log[-2000:]}"
    # Its record, written through the real docker's inspect format: both images, each with a time.
    recorded = dict(line.split() for line in second.text("images-seen.txt").splitlines())
    kept = second.text("cleanup-image-ids.txt").split()
    assert len(kept) == 2 and all(recorded.get(i, "").isdigit() for i in kept), (recorded, kept)


@pytest.mark.vm
def test_second_boot_does_not_redo_one_time_steps(run: ScenarioResult):
    first, second = _first(run), _second(run)
    assert second.boot_id != first.boot_id
    assert second.bootstrap_log() == first.bootstrap_log(), "the bootstrap ran again at boot 2"
    assert second.dpkg_this_boot() == [], "packages changed at boot 2"
    calls = second.text("token-fetch-calls").splitlines()
    assert [c.split()[0] for c in calls] == [first.boot_id], f"token fetches: {calls}"
    assert second.stat(userdata.ENV_PATH) == first.stat(userdata.ENV_PATH), ".env was rewritten"
    project = userdata.COMPOSE_PROJECT_NAME
    ids = [[c["Id"] for c in b.compose_containers(project)] for b in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 1, f"containers boot 1 {ids[0]}, boot 2 {ids[1]}"
    assert second.compose_containers(project)[0]["State"]["Running"], second.failure_summary()
    assert second.unit(userdata.ORCHESTRATOR_UNIT)["ActiveState"] == "active"
    assert second.records(), "the orchestrator did not start again at boot 2"


@pytest.mark.vm
def test_running_the_bootstrap_again_changes_nothing(run: ScenarioResult):
    second, after = _second(run), run.rerun
    assert after is not None, f"the bootstrap was not re-run: {second.failure_summary()}"
    output = second.text("rerun.log")
    assert second.text("rerun.rc").strip() == "0", output[-2000:]
    assert "FAILED" not in output and re.search(r"^challenge-bootstrap: done ", output, re.M), (
        output[-2000:]
    )
    assert after.dpkg_this_boot() == [], "the re-run changed packages"
    assert after.stat(userdata.ENV_PATH) == second.stat(userdata.ENV_PATH), ".env was rewritten"
    project = userdata.COMPOSE_PROJECT_NAME
    before = [(c["Id"], c["State"]["StartedAt"]) for c in second.compose_containers(project)]
    now = [(c["Id"], c["State"]["StartedAt"]) for c in after.compose_containers(project)]
    assert now == before, "the re-run recreated or restarted the orchestrator container"
    assert after.unit(userdata.ORCHESTRATOR_UNIT)["ActiveState"] == "active"


def _engine_image_id(run: ScenarioResult) -> str:
    """The ID of the image tagged with the engine recipe's hash, as the VM's Docker reports it."""
    return _first(run).text("engine/tag-id").strip()


@pytest.mark.vm
def test_engine_image_is_built_from_the_recipe_and_passed_by_id(run: ScenarioResult):
    first = _first(run)
    step = "build the workflow engine image"
    log = first.bootstrap_log()
    assert f"step: {step}" in log, _step(first, step)
    assert re.search(r"challenge-build-engine: built \S+ in \d+ s", log), _step(first, step)
    image_id = _engine_image_id(run)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id), _step(first, step) + image_id
    assert first.env_file()["WORKFLOW_ENGINE_DOCKER_IMAGE"] == image_id
    [image] = first.json("engine/image.json")
    assert image["Config"]["Labels"][engine.RECIPE_LABEL] == engine.recipe_hash()
    assert engine.engine_tag() in image["RepoTags"]


@pytest.mark.vm
def test_engine_runs_the_template_shaped_workflow(run: ScenarioResult):
    first = _first(run)
    stderr = first.text("engine/stderr")
    assert first.text("engine/rc").strip() == "0", stderr[-4000:]
    outputs = json.loads(first.text("engine/stdout"))
    assert outputs["status"] == "VALIDATED", outputs
    results = first.json("engine/results.json")
    pins = engine.pinned_requirements()
    assert tuple(results["python"]) >= (3, 10)
    for module in ("docker", "requests", "synapseclient"):
        assert results[module] == pins[module], module
    assert results["synapse_config_readable"] is True


@pytest.mark.vm
def test_the_bootstrap_rerun_reuses_the_engine_image(run: ScenarioResult):
    output = _second(run).text("rerun.log")
    assert "step: build the workflow engine image" in output, output[-2000:]
    assert "challenge-build-engine: building" not in output, "same recipe, built again"
