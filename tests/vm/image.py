"""The cached Debian 13 base image: debootstrap once, keyed by what goes into it.

Built without loop devices: `debootstrap` into a directory, `mkfs.ext4 -d` turns the directory
into a raw ext4 image, and the kernel and initrd are copied out so QEMU boots them directly
(`root=/dev/vda`). Runs get a qcow2 overlay, so the cached image stays clean. debootstrap mounts
`proc` (and `sys`) inside the tree while it runs; an interrupted build leaves them mounted, so a
build directory is only ever removed by `remove_build_dir`, which unmounts first.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import VmTestError

SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
#: What the base image holds besides minbase: what an official Debian 13 AMI boots with (kernel,
#: systemd, cloud-init, apparmor, and what cloud-init's default modules call: resize2fs from
#: e2fsprogs, ssh-keygen from openssh), not Docker, which the bootstrap installs from the archive.
#: python3-cffi-backend: without it minbase leaves cloud-init unconfigured. busybox-static: the
#: stand-in orchestrator image is made from it in the VM.
PACKAGES = (
    "linux-image-amd64",
    "initramfs-tools",
    "systemd-sysv",
    "udev",
    "kmod",
    "iproute2",
    "ca-certificates",
    "e2fsprogs",
    "openssh-server",
    "cloud-init",
    "python3-cffi-backend",
    "apparmor",
    "busybox-static",
)
#: Bump when the build steps below change in a way the package list does not show.
RECIPE_VERSION = 3
#: Apparent size of the root file system; the file is sparse (about 0.7 GB used when built).
DISK_SIZE_GIB = 8
DEBOOTSTRAP_TIMEOUT_S = 1200

GUEST_DIR = Path(__file__).parent / "guest"
BASE_ASSETS = GUEST_DIR / "base"
REPO_ROOT = Path(__file__).resolve().parents[2]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BaseImage:
    """A built base: raw ext4 root disk, kernel and initrd, and how long the build took."""

    key: str
    disk: Path
    kernel: Path
    initrd: Path
    #: Seconds spent building it in this process; None when it came from the cache.
    built_in_s: float | None


def cache_root() -> Path:
    """`$CHALLENGE_VM_CACHE` if set, else `.cache/vm/` in the repository (gitignored)."""
    configured = os.environ.get("CHALLENGE_VM_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".cache" / "vm"


def cache_key() -> str:
    """Changes whenever the package list, the mirror, the baked-in files or the recipe change."""
    digest = hashlib.sha256()
    digest.update(json.dumps([SUITE, MIRROR, PACKAGES, RECIPE_VERSION, DISK_SIZE_GIB]).encode())
    for asset in sorted(BASE_ASSETS.iterdir()):
        digest.update(asset.name.encode() + b"\0" + asset.read_bytes() + b"\0")
    return f"{SUITE}-{digest.hexdigest()[:16]}"


def require_tools(*tools: str) -> None:
    """A VmTestError naming every missing host tool and how to install them."""
    missing = [t for t in tools if not (shutil.which(t) or Path("/usr/sbin", t).exists())]
    if missing:
        raise VmTestError(
            f"the boot test needs {', '.join(missing)} on this machine; run `make system-deps` "
            "(Debian packages qemu-system-x86, debootstrap, cloud-image-utils, e2fsprogs)"
        )


def tool_path(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _run(step: str, args: list[str], log: Path, timeout_s: float) -> None:
    """Runs a build step with its output in `log`; a VmTestError with the log's tail on failure."""
    with log.open("ab") as sink:
        sink.write(f"\n$ {' '.join(args)}\n".encode())
        sink.flush()
        try:
            subprocess.run(
                args, stdout=sink, stderr=subprocess.STDOUT, check=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise VmTestError(
                f"base image: {step} took over {timeout_s:.0f} s; log: {log}"
            ) from exc
        except subprocess.CalledProcessError as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise VmTestError(
                f"base image: {step} failed (exit {exc.returncode}); log: {log}\n{tail}"
            ) from exc


def _install_assets(rootfs: Path, log: Path) -> None:
    """Guest configuration the harness relies on; everything per-run lives on the harness disk."""
    etc = rootfs / "etc"
    (etc / "resolv.conf").unlink(missing_ok=True)
    (etc / "resolv.conf").write_text("nameserver 10.0.2.3\n")  # QEMU user-mode network's DNS
    (etc / "hostname").write_text("debian\n")
    # Empty, as on a cloud image: each instance gets its own machine ID at first boot.
    (etc / "machine-id").write_text("")
    (etc / "fstab").write_text(
        "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n"
        "LABEL=VMTEST /vmtest ext4 defaults,nofail,x-systemd.device-timeout=180s 0 0\n"
    )
    for name, mode in (
        ("resolv.conf", 0o644),
        ("hostname", 0o644),
        ("machine-id", 0o444),
        ("fstab", 0o644),
    ):
        (etc / name).chmod(mode)
    (rootfs / "vmtest").mkdir(exist_ok=True)
    units = etc / "systemd" / "system"
    for name in ("vmtest-setup.service", "vmtest-probe.service", "vmtest-image.service"):
        shutil.copy(BASE_ASSETS / name, units / name)
    # The SSM agent stand-in as a real package, so every presence check (dpkg, path) sees it.
    package = rootfs / "tmp" / "amazon-ssm-agent"
    (package / "DEBIAN").mkdir(parents=True)
    shutil.copy(BASE_ASSETS / "amazon-ssm-agent.control", package / "DEBIAN" / "control")
    (package / "usr" / "bin").mkdir(parents=True)
    shutil.copy(BASE_ASSETS / "amazon-ssm-agent", package / "usr" / "bin" / "amazon-ssm-agent")
    (package / "usr" / "bin" / "amazon-ssm-agent").chmod(0o755)
    (package / "usr" / "lib" / "systemd" / "system").mkdir(parents=True)
    shutil.copy(
        BASE_ASSETS / "amazon-ssm-agent.service",
        package / "usr" / "lib" / "systemd" / "system" / "amazon-ssm-agent.service",
    )
    chroot = [tool_path("chroot"), str(rootfs)]
    _run(
        "building the SSM agent stand-in package",
        [
            *chroot,
            "dpkg-deb",
            "--root-owner-group",
            "--build",
            "/tmp/amazon-ssm-agent",
            "/tmp/amazon-ssm-agent.deb",
        ],
        log,
        120,
    )
    _run(
        "installing the SSM agent stand-in",
        [*chroot, "dpkg", "-i", "/tmp/amazon-ssm-agent.deb"],
        log,
        120,
    )
    _run(
        "enabling units",
        [
            *chroot,
            "systemctl",
            "enable",
            "systemd-networkd.service",
            "amazon-ssm-agent.service",
            "vmtest-setup.service",
            "vmtest-probe.service",
        ],
        log,
        120,
    )
    _run("cleaning the package cache", [*chroot, "apt-get", "clean"], log, 120)
    shutil.rmtree(package)
    (rootfs / "tmp" / "amazon-ssm-agent.deb").unlink()


def _mounts_under(path: Path) -> list[Path]:
    """Mount points at or below `path`, deepest first (from /proc/self/mountinfo)."""
    root = path.resolve()
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
        point = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4]))
        if point == root or root in point.parents:
            mounts.append(point)
    return sorted(mounts, key=lambda p: len(p.parts), reverse=True)


def remove_build_dir(path: Path) -> None:
    """Unmount what an interrupted debootstrap left mounted under `path`, then delete it.

    `shutil.rmtree(ignore_errors=True)` on a tree with a live `proc` mount walks into the host's
    /proc, fails on every entry and says nothing, leaving the mount and the directory behind.
    """
    if not path.exists():
        return
    for point in _mounts_under(path):
        done = subprocess.run(["umount", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            done = subprocess.run(["umount", "--lazy", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            raise VmTestError(f"cannot unmount {point} left by a build: {done.stderr.strip()}")
    shutil.rmtree(path)


def _build(target: Path, progress: Progress) -> None:
    if os.geteuid() != 0:
        raise VmTestError(
            "building the VM base image needs root (debootstrap); run the VM test as root or "
            f"point CHALLENGE_VM_CACHE at a directory holding a built {cache_key()}"
        )
    require_tools("debootstrap", "mkfs.ext4", "chroot")
    log = target / "build.log"
    rootfs = target / "rootfs"
    progress(f"base image: debootstrap {SUITE} minbase + {len(PACKAGES)} packages (about 90 s)")
    _run(
        "debootstrap",
        [
            tool_path("debootstrap"),
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(rootfs),
            MIRROR,
        ],
        log,
        DEBOOTSTRAP_TIMEOUT_S,
    )
    progress("base image: configuring (SSM agent stand-in, harness units, networkd)")
    _install_assets(rootfs, log)
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootfs / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise VmTestError(f"base image: no kernel or initrd under {rootfs}/boot; log: {log}")
    shutil.copy(kernels[-1], target / "vmlinuz")
    shutil.copy(initrds[-1], target / "initrd.img")
    versions = subprocess.run(
        [tool_path("chroot"), str(rootfs), "dpkg-query", "-W", "-f", "${Package} ${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (target / "packages.txt").write_text(versions)
    progress("base image: mkfs.ext4 -d (no loop device)")
    _run(
        "mkfs.ext4",
        [
            tool_path("mkfs.ext4"),
            "-q",
            "-F",
            "-L",
            "vmtest-root",
            "-d",
            str(rootfs),
            str(target / "root.ext4"),
            f"{DISK_SIZE_GIB}G",
        ],
        log,
        600,
    )
    remove_build_dir(rootfs)


def ensure_base_image(progress: Progress = print) -> BaseImage:
    """The cached base image for the current key, built first if absent (one build at a time)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = cache_key()
    final = root / key
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built_in_s = None
        if not (final / "complete").exists():
            started = time.monotonic()
            # Under the lock no other build runs: any staging directory is an interrupted one's.
            for leftover in root.glob(".build-*"):
                remove_build_dir(leftover)
            staging = root / f".build-{key}-{os.getpid()}"
            staging.mkdir()
            try:
                _build(staging, progress)
            except BaseException:
                remove_build_dir(staging)
                raise
            remove_build_dir(final)
            staging.rename(final)
            built_in_s = time.monotonic() - started
            (final / "complete").write_text(f"built in {built_in_s:.0f} s\n")
            progress(f"base image: built in {built_in_s:.0f} s, cached at {final}")
            for stale in root.glob(f"{SUITE}-*"):
                if stale != final:
                    progress(f"base image: removing the outdated {stale.name}")
                    remove_build_dir(stale)
        else:
            progress(f"base image: cached at {final}")
    return BaseImage(
        key=key,
        disk=final / "root.ext4",
        kernel=final / "vmlinuz",
        initrd=final / "initrd.img",
        built_in_s=built_in_s,
    )


# --- the engine image's base, from Debian's archive (Docker Hub is unreachable here) -----------

#: Bump when the steps of `ensure_engine_base` change.
ENGINE_BASE_RECIPE_VERSION = 1


def engine_base_key() -> str:
    digest = hashlib.sha256(
        json.dumps([SUITE, MIRROR, "minbase", ENGINE_BASE_RECIPE_VERSION]).encode()
    )
    return f"engine-base-{SUITE}-{digest.hexdigest()[:16]}"


def ensure_engine_base(progress: Progress = print) -> Path:
    """A gzipped root file system of Debian `SUITE` minbase, cached: the VM `docker import`s it
    under the engine recipe's FROM reference, standing in for Docker Hub's `debian:*-slim`
    (the same distribution and release, debootstrapped from the same archive)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{engine_base_key()}.tar.gz"
    with (root / ".lock-engine-base").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.exists():
            progress(f"engine base: cached at {final}")
            return final
        if os.geteuid() != 0:
            raise VmTestError("building the engine base needs root (debootstrap)")
        require_tools("debootstrap", "tar")
        staging = root / f".build-{engine_base_key()}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        started = time.monotonic()
        progress(f"engine base: debootstrap {SUITE} minbase (about 60 s)")
        try:
            log = staging / "build.log"
            rootfs = staging / "rootfs"
            _run(
                "debootstrap (engine base)",
                [tool_path("debootstrap"), "--variant=minbase", SUITE, str(rootfs), MIRROR],
                log,
                DEBOOTSTRAP_TIMEOUT_S,
            )
            for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (rootfs / cache).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            tarball = staging / final.name
            _run(
                "tar (engine base)",
                [
                    "tar",
                    "--numeric-owner",
                    "-C",
                    str(rootfs),
                    "-czf",
                    str(tarball),
                    ".",
                ],
                log,
                600,
            )
            tarball.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress(f"engine base: built in {time.monotonic() - started:.0f} s, cached at {final}")
    return final
