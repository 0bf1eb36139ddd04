"""Reading a run back: the harness disk's records (debugfs `rdump`, no loop device) and the root
disk itself (flattened to raw, then debugfs `stat`/`icheck`/`ncheck`), parsed for the test.
"""

from __future__ import annotations

import datetime as dt
import json
import mmap
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import userdata

from .errors import VmTestError
from .image import require_tools, tool_path
from .machine import BootOutcome, console_text

_STEP = re.compile(r"^\[\s*([0-9.]+)\] \S+ [^:]+: challenge-bootstrap: (step: (.*)|done .*)$")
_CLOUD_INIT = re.compile(
    r"^\[\s*[0-9.]+\] \S+ [^:]+: Cloud-init v\. \S+ "
    r"(?:running '(?P<stage>[^']+)'|(?P<finished>finished)) at .*Up (?P<up>[0-9.]+) seconds"
)
_ENV_LINE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)='(?P<value>[^']*)'$")


#: Where the token may be on the root disk besides .env: the container's configuration (Docker
#: and containerd keep a container's environment in it), what the stand-in recorded from inside
#: the container, and what deleted files left behind (a re-run's unchanged temporary .env is
#: removed, Docker rewrites its container config by replacing the file): blocks no file owns, and
#: blocks a file owns but has not written where the token is (see `find_on_disk`).
TOKEN_ALLOWED_ON_DISK = (
    userdata.ENV_PATH,
    "/var/lib/docker/containers/*/config.v2.json",
    "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db",
    "/var/lib/docker/volumes/*_shared/_data/.vmtest/record-*.environ",
    "<unallocated>",
    "<stale in *>",
)


def debugfs(image: Path, request: str) -> str:
    """One read-only debugfs request against an ext4 image file."""
    require_tools("debugfs")
    done = subprocess.run(
        [tool_path("debugfs"), "-R", request, str(image)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise VmTestError(f"debugfs {request!r} on {image} failed: {done.stderr.strip()[-400:]}")
    return done.stdout


def read_harness_disk(harness: Path, destination: Path) -> Path:
    """Copies the harness disk's `/results` out; returns the local copy."""
    destination.mkdir(parents=True, exist_ok=True)
    debugfs(harness, f"rdump /results {destination}")
    results = destination / "results"
    if not results.is_dir():
        raise VmTestError(f"the harness disk {harness} has no /results: the VM never mounted it")
    return results


@dataclass(frozen=True)
class FileStat:
    """A guest file's `stat` as the probe saw it."""

    mode: int
    uid: int
    gid: int
    inode: int
    mtime: int
    size: int


@dataclass(frozen=True)
class StandInRecord:
    """What the stand-in orchestrator recorded from inside its container at start."""

    name: str
    environment: dict[str, str]
    mount_points: tuple[str, ...]
    docker_sock: str


@dataclass(frozen=True)
class BootTimings:
    """Seconds since the guest kernel started, by the guest's own clock."""

    cloud_init_stages: dict[str, float]
    cloud_init_finished_s: float | None
    orchestrator_active_s: float | None
    container_started_s: float | None
    #: How long importing the stand-in image took (on EC2 a registry pull takes its place).
    stand_in_image_s: float | None
    bootstrap_steps: tuple[tuple[str, float], ...]


class BootRecord:
    """One boot's evidence as copied by the probe (`results/boot-N`, or its `after-rerun`)."""

    def __init__(
        self,
        number: int,
        directory: Path,
        orchestrator_unit: str,
        outcome: BootOutcome | None = None,
    ):
        self.number = number
        self.directory = directory
        self.orchestrator_unit = orchestrator_unit
        self.outcome = outcome

    def path(self, name: str) -> Path:
        return self.directory / name

    def text(self, name: str) -> str:
        path = self.path(name)
        if not path.is_file():
            raise VmTestError(
                f"boot {self.number}: the probe recorded no {name}; {self.failure_summary()}"
            )
        return path.read_text(errors="replace")

    def json(self, name: str) -> Any:
        text = self.text(name)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise VmTestError(f"boot {self.number}: {name} is not JSON: {text[:300]!r}") from exc

    def _boot_file(self, name: str) -> Path:
        """A file written once per boot (after-rerun shares its boot's)."""
        own = self.path(name)
        return own if own.is_file() else self.directory.parent / name

    @cached_property
    def progress(self) -> list[str]:
        path = self._boot_file("progress")
        return path.read_text().splitlines() if path.is_file() else []

    @property
    def timeouts(self) -> list[str]:
        return [line.split(" ", 1)[1] for line in self.progress if " timeout: " in line]

    @cached_property
    def boot_id(self) -> str:
        return self._boot_file("boot_id").read_text().strip()

    def dpkg_this_boot(self) -> list[str]:
        """dpkg.log lines written since this boot started (installs, upgrades, removals)."""
        before = self._boot_file("dpkg-at-start.log").read_text().splitlines()
        now = self.text("files/dpkg.log").splitlines()
        if now[: len(before)] != before:
            raise VmTestError(f"boot {self.number}: dpkg.log was rewritten, not appended")
        return now[len(before) :]

    def unit(self, name: str) -> dict[str, str]:
        """`systemctl show` properties of a unit."""
        return self.unit_properties(f"units/{name}")

    def unit_properties(self, file: str) -> dict[str, str]:
        """A recorded `systemctl show` output as property -> value."""
        lines = self.text(file).splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    @cached_property
    def containers(self) -> list[dict[str, Any]]:
        path = self.path("containers.json")
        if not path.is_file():
            return []
        try:
            value = json.loads(path.read_text())
        except json.JSONDecodeError:
            return []  # docker inspect with no container prints an error, not JSON
        return value if isinstance(value, list) else []

    def compose_containers(self, project: str) -> list[dict[str, Any]]:
        return [
            c
            for c in self.containers
            if (c.get("Config", {}).get("Labels") or {}).get("com.docker.compose.project")
            == project
        ]

    def env_file(self) -> dict[str, str]:
        """`/opt/orchestrator/.env` as name -> value (compose's single-quoted form)."""
        values = {}
        for line in self.text("files/env").splitlines():
            if not line or line.startswith("#"):
                continue
            match = _ENV_LINE.fullmatch(line)
            if not match:
                raise VmTestError(
                    f"boot {self.number}: .env line not in NAME='value' form: {line!r}"
                )
            values[match["name"]] = match["value"]
        return values

    def stat(self, guest_path: str) -> FileStat | None:
        for line in self.text("stat.txt").splitlines():
            fields = line.split("|")
            if len(fields) == 7 and fields[0] == guest_path:
                mode, uid, gid, inode, mtime, size = (
                    int(f, 8 if i == 0 else 10) for i, f in enumerate(fields[1:])
                )
                return FileStat(mode, uid, gid, inode, mtime, size)
        return None

    def records(self) -> list[StandInRecord]:
        """The stand-in orchestrator's records written during this boot."""
        directory = self.path("records")
        found = []
        for checks in sorted(directory.glob(f"record-{self.boot_id}-*.checks")):
            stem = checks.name.removesuffix(".checks")
            environ = (directory / f"{stem}.environ").read_bytes().split(b"\0")
            environment = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
            mount_points = tuple(
                line.split()[4]
                for line in (directory / f"{stem}.mountinfo").read_text().splitlines()
                if len(line.split()) > 4
            )
            check_values = dict(
                line.split("=", 1) for line in checks.read_text().splitlines() if "=" in line
            )
            found.append(
                StandInRecord(stem, environment, mount_points, check_values.get("docker.sock", ""))
            )
        return found

    def bootstrap_log(self) -> str:
        path = self.path("files/bootstrap.log")
        return path.read_text(errors="replace") if path.is_file() else ""

    def bootstrap_failures(self) -> list[str]:
        return [line for line in self.bootstrap_log().splitlines() if "FAILED" in line]

    def cloud_init_errors(self) -> list[str]:
        path = self.path("cloud-init-result.json")
        if not path.is_file():
            return ["cloud-init never finished (no /run/cloud-init/result.json)"]
        return list(json.loads(path.read_text())["v1"]["errors"])

    def failure_summary(self) -> str:
        """One paragraph saying what went wrong in this boot, for assertion messages."""
        parts = []
        if self.outcome is not None and self.outcome.timed_out:
            parts.append(f"the VM did not power off within {self.outcome.wall_s:.0f} s (killed)")
        parts += [f"probe {t}" for t in self.timeouts]
        failures = self.bootstrap_failures()
        if failures:
            parts.append("bootstrap: " + " | ".join(failures))
        try:
            errors = self.cloud_init_errors()
        except (OSError, ValueError, KeyError):
            errors = ["cloud-init result unreadable"]
        if errors:
            parts.append("cloud-init errors: " + "; ".join(errors))
        if not parts:
            return "no failure recorded"
        if self.outcome is not None and (self.outcome.timed_out or not self.progress):
            lines = console_text(self.outcome.console).strip().splitlines()[-8:]
            parts.append("last console lines:\n" + "\n".join(lines))
        return "; ".join(parts)

    def timings(self) -> BootTimings:
        journal = self.text("journal.txt").splitlines()
        stages: dict[str, float] = {}
        finished = None
        steps: list[tuple[str, float]] = []
        for line in journal:
            match = _CLOUD_INIT.match(line)
            if match:
                if match["stage"]:
                    stages.setdefault(match["stage"], float(match["up"]))
                else:
                    finished = float(match["up"])
            step = _STEP.match(line)
            if step:
                steps.append((step[3] or "done", float(step[1])))
        active = self.unit_monotonic_s(self.orchestrator_unit, "ActiveEnterTimestampMonotonic")
        started = None
        btime = int(self.text("btime"))
        for container in self.containers:
            state = container.get("State", {})
            if state.get("Running"):
                started = _rfc3339(state["StartedAt"]) - btime
        image_start = self.unit_monotonic_s(
            "vmtest-image.service", "InactiveExitTimestampMonotonic"
        )
        image_done = self.unit_monotonic_s("vmtest-image.service", "ActiveEnterTimestampMonotonic")
        image_s = image_done - image_start if image_start and image_done else None
        return BootTimings(stages, finished, active, started, image_s, tuple(steps))

    def unit_monotonic_s(self, unit: str, prop: str) -> float | None:
        """A `...TimestampMonotonic` property of a unit in seconds, None if never reached."""
        value = self.unit(unit).get(prop, "0")
        return int(value) / 1e6 if value.isdigit() and int(value) > 0 else None


def _rfc3339(value: str) -> float:
    """Docker's StartedAt (nanoseconds, Z) as epoch seconds."""
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z", value)
    if not match:
        raise VmTestError(f"unexpected Docker timestamp {value!r}")
    whole = dt.datetime.fromisoformat(match[1]).replace(tzinfo=dt.UTC).timestamp()
    return whole + float(f"0.{match[2] or 0}")


def flatten(overlay: Path, raw: Path) -> None:
    """The run's root disk (qcow2 overlay + base) as one raw ext4 image debugfs can read."""
    require_tools("qemu-img")
    subprocess.run(
        [tool_path("qemu-img"), "convert", "-O", "raw", str(overlay), str(raw)],
        check=True,
        capture_output=True,
        timeout=900,
    )


def guest_file_mode(raw: Path, guest_path: str) -> tuple[str, int, int, int]:
    """(type, permission bits, uid, gid) of a file in the root disk image, read with debugfs."""
    text = debugfs(raw, f"stat {guest_path}")
    kind = re.search(r"Type:\s+(\S+)", text)
    mode = re.search(r"Mode:\s+([0-7]+)", text)
    owner = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", text)
    if not kind or not mode or not owner:
        raise VmTestError(f"{guest_path} is not in the root disk image ({text.strip()[:200]})")
    return kind[1], int(mode[1], 8), int(owner[1]), int(owner[2])


def replay_journal(raw: Path) -> bool:
    """Replays the ext4 journal of an image, as the guest's next mount would; True if it had one
    to replay. debugfs reads only the home locations: until the journal is replayed, a guest that
    stopped before checkpointing shows debugfs an older block map, and a hit would be pinned on a
    file that no longer owns the block."""
    if "needs_recovery" not in debugfs(raw, "features"):
        return False
    require_tools("e2fsck")
    done = subprocess.run(
        [tool_path("e2fsck"), "-E", "journal_only", "-p", str(raw)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode not in (0, 1):  # 1: "errors corrected", i.e. the journal was replayed
        raise VmTestError(f"e2fsck journal replay on {raw} failed: {done.stdout[-400:]}")
    return True


def find_on_disk(raw: Path, needle: bytes) -> dict[str, int]:
    """Every place the bytes occur in an ext4 image: guest path -> hits.

    Scans the data extents only (the image is sparse), then maps each hit's block to its inode
    and path; blocks no file owns (deleted files) are reported as "<unallocated>". A file owns
    blocks it does not read back (an unwritten extent, preallocated or not yet converted when the
    guest stopped): what a deleted file left there is still on disk but not in the file, so a hit
    counts for the file only if the file's contents hold the bytes, else as "<stale in PATH>".
    Replay the journal first (`replay_journal`).
    """
    blocks = _blocks_holding(raw, needle)
    if not blocks:
        return {}
    inodes: dict[int, str] = {}
    for line in debugfs(raw, "icheck " + " ".join(map(str, blocks))).splitlines()[1:]:
        block, _, inode = line.partition("\t")
        inodes[int(block)] = inode.strip()
    owners = sorted({i for i in inodes.values() if i.isdigit()}, key=int)
    paths: dict[str, str] = {}
    if owners:
        for line in debugfs(raw, "ncheck " + " ".join(owners)).splitlines()[1:]:
            inode, _, path = line.partition("\t")
            paths.setdefault(inode.strip(), path.strip())
    holds = {inode: _file_holds(raw, inode, needle) for inode in owners}
    hits: dict[str, int] = {}
    for number in blocks:
        inode = inodes.get(number, "")
        if not inode.isdigit():
            where = "<unallocated>"
        else:
            where = paths.get(inode) or f"<inode {inode}>"
            if not holds[inode]:
                where = f"<stale in {where}>"
        hits[where] = hits.get(where, 0) + 1
    return hits


def _blocks_holding(raw: Path, needle: bytes) -> list[int]:
    """The block number of each occurrence of `needle` in the image's data extents.

    Reads with `pread`: SEEK_DATA/SEEK_HOLE move the descriptor's offset, which a buffered
    reader on the same descriptor would not know and then serve bytes from the wrong place.
    """
    block_size = int(re.search(r"Block size:\s+(\d+)", debugfs(raw, "stats"))[1])
    blocks: list[int] = []
    chunk = 64 << 20
    fd = os.open(raw, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        position = 0
        while position < size:
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
            except OSError:
                break  # no data after position
            end = os.lseek(fd, start, os.SEEK_HOLE)
            for offset in range(start, end, chunk):
                data = os.pread(fd, min(chunk, end - offset) + len(needle) - 1, offset)
                found = data.find(needle)
                while found != -1:
                    if offset + found < end:
                        blocks.append((offset + found) // block_size)
                    found = data.find(needle, found + 1)
            position = end
    finally:
        os.close(fd)
    return blocks


def _file_holds(raw: Path, inode: str, needle: bytes) -> bool:
    """Whether the file reads back with `needle` in it (debugfs `dump`: unwritten extents read
    as zeros, as they do in the guest)."""
    with tempfile.TemporaryDirectory(prefix="vmtest-dump-") as scratch:
        copy = Path(scratch, "file")
        debugfs(raw, f"dump <{inode}> {copy}")
        if copy.stat().st_size == 0:
            return False
        with copy.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(needle) != -1
