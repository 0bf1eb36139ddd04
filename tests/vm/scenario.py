"""The whole boot test as one call: base image, user data, seed, N boots, results read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import userdata

from .errors import VmTestError
from .image import BaseImage, Progress, ensure_base_image, ensure_engine_base
from .machine import BootOutcome, boot, console_text, create_overlay
from .results import (
    BootRecord,
    find_on_disk,
    flatten,
    guest_file_mode,
    read_harness_disk,
    replay_journal,
)
from .seed import (
    GuestPlan,
    boot_test_settings,
    make_harness_disk,
    make_seed,
    new_test_token,
    rendered_user_data,
    with_token_stand_in,
)

#: Host-side limit per boot: the probe's own waits plus collecting, re-running and powering off.
SLACK_S = 240


@dataclass(frozen=True)
class ScenarioResult:
    """Everything a run produced; `token` is the run's test token (never print it)."""

    base: BaseImage
    settings: userdata.BootstrapSettings
    plan: GuestPlan
    user_data: str
    token: str = field(repr=False)
    workdir: Path
    outcomes: tuple[BootOutcome, ...]
    boots: tuple[BootRecord, ...]
    #: The second look at the boot that re-ran the bootstrap, if any.
    rerun: BootRecord | None
    consoles: tuple[str, ...]
    #: (type, permission bits, uid, gid) of .env, read from the root disk image with debugfs.
    env_file_on_disk: tuple[str, int, int, int]
    #: Where the token's bytes are on the root disk: guest path -> occurrences.
    token_on_disk: dict[str, int]
    wall_s: float


def run_boot_scenario(
    workdir: Path,
    *,
    settings: userdata.BootstrapSettings | None = None,
    boots: int = 2,
    plan: GuestPlan | None = None,
    edit_user_data: Callable[[str], str] | None = None,
    keep_root_disk: bool = False,
    progress: Progress = print,
) -> ScenarioResult:
    """Boots the rendered user data `boots` times on one disk and reads back what happened.

    `edit_user_data` changes the document after the stand-in is in (e.g. to break a step on
    purpose). By default the document is the dev stack's as `python -m userdata render` prints
    it (test Synapse IDs); with `settings`, those rendered.
    The run's root disk overlay (~0.8 GB) is deleted once read unless `keep_root_disk`.
    """
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    base = ensure_base_image(progress)
    engine_base = ensure_engine_base(progress)
    document = userdata.render_cloud_config(settings) if settings else rendered_user_data()
    settings = settings or boot_test_settings()
    plan = plan or GuestPlan.for_settings(settings)
    user_data = with_token_stand_in(document)
    if edit_user_data is not None:
        user_data = edit_user_data(user_data)
    token = new_test_token()
    if token in user_data:
        raise VmTestError("the test token ended up in the user data")
    (workdir / "user-data").write_text(user_data)
    seed, harness, overlay = workdir / "seed.img", workdir / "harness.ext4", workdir / "root.qcow2"
    make_seed(seed, user_data, instance_id=f"i-vmtest{int(time.time())}", hostname="orchestrator")
    make_harness_disk(harness, plan, token, engine_base)
    create_overlay(base, overlay)
    boot_timeout_s = (
        plan.cloud_init_timeout_s
        + plan.orchestrator_timeout_s
        + plan.engine_run_timeout_s
        + SLACK_S
    )
    outcomes = []
    for number in range(1, boots + 1):
        outcome = boot(
            number, base, overlay, seed, harness, workdir / f"console-{number}.log",
            boot_timeout_s, progress,
        )  # fmt: skip
        outcomes.append(outcome)
        if outcome.timed_out:
            progress(f"boot {number} timed out: not booting again")
            break
    results = read_harness_disk(harness, workdir / "harness")
    records = tuple(
        BootRecord(o.number, results / f"boot-{o.number}", userdata.ORCHESTRATOR_UNIT, o)
        for o in outcomes
    )
    rerun = None
    if 0 < plan.rerun_bootstrap_on_boot <= len(records):
        rerun_dir = results / f"boot-{plan.rerun_bootstrap_on_boot}" / "after-rerun"
        if rerun_dir.is_dir():
            rerun = BootRecord(plan.rerun_bootstrap_on_boot, rerun_dir, userdata.ORCHESTRATOR_UNIT)
    progress("reading the root disk (qemu-img convert, debugfs)")
    raw = workdir / "root.raw"
    try:
        flatten(overlay, raw)
        if replay_journal(raw):
            progress("the root disk's journal needed replaying (the guest did not stop cleanly)")
        env_file_on_disk = guest_file_mode(raw, userdata.ENV_PATH)
        token_on_disk = find_on_disk(raw, token.encode())
    finally:
        raw.unlink(missing_ok=True)
        if not keep_root_disk:
            overlay.unlink(missing_ok=True)
    return ScenarioResult(
        base=base,
        settings=settings,
        plan=plan,
        user_data=user_data,
        token=token,
        workdir=workdir,
        outcomes=tuple(outcomes),
        boots=records,
        rerun=rerun,
        consoles=tuple(console_text(o.console) for o in outcomes),
        env_file_on_disk=env_file_on_disk,
        token_on_disk=token_on_disk,
        wall_s=time.monotonic() - started,
    )
