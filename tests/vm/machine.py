"""One QEMU boot under software emulation (TCG), bounded, with milestones from the serial console.

KVM exists as a device on the CI machines but its guests do not start, hence `-accel tcg`. The
network is QEMU's user-mode one (NAT, reaches Debian's archive, nothing reaches in).
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.cli import stop_process

from .errors import VmTestError
from .image import BaseImage, Progress, require_tools, tool_path

MEMORY_MIB = 2048
CPUS = 2
KERNEL_ARGS = "root=/dev/vda rw console=ttyS0 panic=5 net.ifnames=0"
#: Console lines worth echoing as progress (the bootstrap's steps, cloud-init stages, the probe).
MILESTONES = re.compile(
    r"Cloud-init v\. \S+ (running|finished)|challenge-bootstrap: |vmtest-probe: |vmtest: "
    r"|Kernel panic|Reached target .*(Multi-User|Power)"
)
_ANSI = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?!]*[A-Za-z]|\x1b[()][0-9A-Za-z]"
    r"|[\x00-\x08\x0b-\x1f]"
)


@dataclass(frozen=True)
class BootOutcome:
    """How a boot ended, by the host's clock."""

    number: int
    wall_s: float
    exit_code: int | None
    timed_out: bool
    console: Path


def create_overlay(base: BaseImage, overlay: Path) -> None:
    """A qcow2 overlay on the cached base: the run writes there, the base stays clean."""
    require_tools("qemu-img")
    subprocess.run(
        [
            tool_path("qemu-img"),
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "raw",
            "-b",
            str(base.disk),
            str(overlay),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def qemu_command(
    base: BaseImage, overlay: Path, seed: Path, harness: Path, console: Path
) -> list[str]:
    return [
        tool_path("qemu-system-x86_64"),
        "-accel", "tcg",
        "-cpu", "max",
        "-smp", str(CPUS),
        "-m", str(MEMORY_MIB),
        "-nodefaults",
        "-display", "none",
        "-monitor", "none",
        "-serial", f"file:{console}",
        "-no-reboot",
        "-kernel", str(base.kernel),
        "-initrd", str(base.initrd),
        "-append", KERNEL_ARGS,
        "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe",
        "-drive", f"file={seed},if=virtio,format=raw,readonly=on",
        "-drive", f"file={harness},if=virtio,format=raw,cache=unsafe",
        "-netdev", "user,id=net0",
        "-device", "virtio-net-pci,netdev=net0",
        "-device", "virtio-rng-pci",
    ]  # fmt: skip


def boot(
    number: int,
    base: BaseImage,
    overlay: Path,
    seed: Path,
    harness: Path,
    console: Path,
    timeout_s: float,
    progress: Progress = print,
) -> BootOutcome:
    """Boots once and waits until the guest powers itself off, or kills it after `timeout_s`."""
    require_tools("qemu-system-x86_64")
    console.write_bytes(b"")
    command = qemu_command(base, overlay, seed, harness, console)
    started = time.monotonic()
    progress(
        f"boot {number}: qemu (TCG, {CPUS} vCPUs, {MEMORY_MIB} MiB), at most {timeout_s:.0f} s"
    )
    stderr = console.with_suffix(".qemu-stderr")
    with stderr.open("wb") as errors:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors)
    offset = 0
    timed_out = False
    try:
        while process.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                timed_out = True
                stop_process(process, timeout_s=15)
                break
            offset = _echo_milestones(console, offset, number, elapsed, progress)
            time.sleep(1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wall_s = time.monotonic() - started
    _echo_milestones(console, offset, number, wall_s, progress)
    outcome = BootOutcome(number, wall_s, process.returncode, timed_out, console)
    if not timed_out and process.returncode != 0:
        raise VmTestError(
            f"boot {number}: qemu exited {process.returncode} after {wall_s:.0f} s: "
            f"{stderr.read_text(errors='replace').strip()[-800:]}"
        )
    progress(
        f"boot {number}: {'KILLED after timeout' if timed_out else 'powered off'} after "
        f"{wall_s:.0f} s"
    )
    return outcome


def console_text(console: Path) -> str:
    """The serial console without terminal escapes."""
    return _ANSI.sub("", console.read_bytes().decode(errors="replace").replace("\r", ""))


def _echo_milestones(
    console: Path, offset: int, number: int, elapsed: float, progress: Progress
) -> int:
    """Prints milestone lines written since `offset`; returns the new offset (whole lines only)."""
    try:
        with console.open("rb") as stream:
            stream.seek(offset)
            chunk = stream.read()
    except FileNotFoundError:
        return offset
    end = chunk.rfind(b"\n") + 1
    for raw in chunk[:end].splitlines():
        line = _ANSI.sub("", raw.decode(errors="replace")).strip()
        if MILESTONES.search(line):
            progress(f"boot {number} +{elapsed:4.0f}s | {line[-240:]}")
    return offset + end
