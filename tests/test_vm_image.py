"""The VM harness's clean-up of an interrupted base-image build (a live `proc` mount inside)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.vm.image import _mounts_under, remove_build_dir


def _mount_proc(point: Path) -> None:
    point.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "proc", "proc", str(point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount proc here: {done.stderr.decode().strip()}")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting proc needs root, as debootstrap does")
def test_an_interrupted_build_with_a_live_proc_mount_is_unmounted_and_removed(tmp_path: Path):
    build = tmp_path / ".build-trixie-x-123" / "rootfs"
    (build / "etc").mkdir(parents=True)
    (build / "etc" / "hostname").write_text("vm\n")
    _mount_proc(build / "proc")
    # A path with a space: /proc/self/mountinfo escapes it as \040.
    _mount_proc(build / "var dir" / "proc")
    try:
        assert set(_mounts_under(tmp_path / ".build-trixie-x-123")) == {
            build / "proc",
            build / "var dir" / "proc",
        }
        remove_build_dir(tmp_path / ".build-trixie-x-123")
        assert not (tmp_path / ".build-trixie-x-123").exists()
        assert _mounts_under(tmp_path) == []
    finally:
        for point in (build / "var dir" / "proc", build / "proc"):
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True)


def test_removing_a_missing_build_dir_is_a_no_op(tmp_path: Path):
    remove_build_dir(tmp_path / "never-built")
    assert not (tmp_path / "never-built").exists()
