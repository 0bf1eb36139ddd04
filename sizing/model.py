"""Capacity model: from a declared workload to the memory, vCPUs and disk one host needs.

Every figure is a `BreakdownItem` with a one-line reason, so an estimate can be read and argued
with. The constants below are the model's assumptions; each says where it comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeGuard

import rules
from rules import KINDS as KINDS  # re-exported: sizing's CLI offers them
from rules import MIN_ROOT_VOLUME_GIB, JobRetentionDays, Kind, MaxConcurrentSubmissions

from .errors import SizingError

#: Share of an instance's nominal memory the OS cannot use (hypervisor, kernel, page tables).
#: Karpenter's default `vmMemoryOverheadPercent`; m5.large: 8 GiB nominal, 7.4 GiB usable.
VM_MEMORY_OVERHEAD_FRACTION = 0.075
#: Kernel, system services, Docker daemon and containerd on an idle Debian host.
OS_AND_DOCKER_MEMORY_GIB = 1.0
#: The orchestrator's Java process (heap, metaspace, threads).
ORCHESTRATOR_MEMORY_GIB = 1.0
#: One Toil workflow-engine container (toil-cwl-runner, Python) per running submission.
ENGINE_MEMORY_GIB_PER_SUBMISSION = 0.5
#: vCPUs kept for the OS, Docker, the orchestrator and the engines.
HOST_VCPUS = 1
#: Root file system of the Debian AMI (its snapshot is 8 GiB): packages, logs, journal.
OS_DISK_GIB = 8.0
#: Orchestrator and Toil workflow-engine images.
ENGINE_IMAGES_DISK_GIB = 3.0
#: Images of the workflow's own steps (validation, scoring) of a model-to-data workflow.
STEP_IMAGES_DISK_GIB = 2.0
#: Workflow files, Toil job store and logs in each job folder, besides the outputs.
JOB_FOLDER_OVERHEAD_GIB = 0.1
#: Hours in a month, as AWS prices a month.
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Workload:
    """What the organiser declares about a challenge's evaluations (stack keys in brackets)."""

    #: Memory one evaluation needs, GiB; the participant container's limit [perSubmissionMemoryGiB].
    per_submission_memory_gib: float
    #: Evaluations running at once, the orchestrator's cap [maxConcurrentSubmissions].
    max_concurrent_submissions: int
    #: vCPUs one evaluation needs [vcpusPerSubmission]; default 1.
    vcpus_per_submission: float = 1
    #: Largest participant image (model-to-data) or the workflow's step images (data-to-model),
    #: GiB as `docker images` shows it [dockerImageGiB]; default 4 (the wiki: typically 2-4).
    docker_image_gib: float = 4.0
    #: Challenge input data on the host (model-to-data), or reference files each run downloads
    #: (data-to-model), GiB [inputDataGiB]; default 0.
    input_data_gib: float = 0.0
    #: Output one evaluation writes into its job folder, GiB [outputPerSubmissionGiB]; default 1.
    output_per_submission_gib: float = 1.0
    #: `model-to-data` (participants submit images) or `data-to-model` [kind].
    kind: Kind = "model-to-data"
    #: Days finished job folders stay before the daily clean-up [jobRetentionDays]; default 7.
    job_retention_days: int = 7
    #: Evaluations finished per day on average [submissionsPerDay]; None: one turnover of
    #: maxConcurrentSubmissions per day.
    submissions_per_day: float | None = None

    def __post_init__(self) -> None:
        _positive(self.per_submission_memory_gib, "perSubmissionMemoryGiB", "GiB")
        _rule(self.max_concurrent_submissions, MaxConcurrentSubmissions, "maxConcurrentSubmissions")
        _positive(self.vcpus_per_submission, "vcpusPerSubmission", "vCPUs")
        _positive(self.docker_image_gib, "dockerImageGiB", "GiB")
        _non_negative(self.input_data_gib, "inputDataGiB")
        _non_negative(self.output_per_submission_gib, "outputPerSubmissionGiB")
        _rule(self.job_retention_days, JobRetentionDays, "jobRetentionDays")
        if self.submissions_per_day is not None:
            _non_negative(self.submissions_per_day, "submissionsPerDay")
        _rule(self.kind, Kind, "kind")

    @classmethod
    def read_from(cls, source: object) -> Workload:
        """The workload from any object naming its fields as attributes: a stack spec, CLI args."""
        values: dict[str, Any] = {field.name: getattr(source, field.name) for field in fields(cls)}
        return cls(**values)

    @property
    def finished_per_day(self) -> float:
        """Evaluations finishing per day: the declared rate or one turnover of the concurrency."""
        if self.submissions_per_day is None:
            return float(self.max_concurrent_submissions)
        return float(self.submissions_per_day)


@dataclass(frozen=True)
class BreakdownItem:
    """One memory or disk figure of an estimate: what it is for, how many GiB, and why."""

    resource: Literal["memory", "disk"]
    item: str
    gib: float
    reason: str

    def to_json_dict(self) -> dict[str, object]:
        return {
            "resource": self.resource,
            "item": self.item,
            "gib": _round(self.gib),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class VcpuItem:
    """One vCPU figure of an estimate: what it is for, how many vCPUs, and why."""

    item: str
    vcpus: float
    reason: str

    def to_json_dict(self) -> dict[str, object]:
        return {"item": self.item, "vcpus": _round(self.vcpus), "reason": self.reason}


@dataclass(frozen=True)
class Requirements:
    """What a host must offer: usable memory, vCPUs and disk, with the figures behind them."""

    #: Memory that must be usable by processes, GiB (compare with `usable_memory_gib`).
    memory_gib: float
    #: Nominal memory an instance needs so that `memory_gib` is usable, GiB.
    nominal_memory_gib: float
    #: Whole vCPUs.
    vcpus: int
    #: Disk the host fills at most, GiB (before rounding to a volume size).
    disk_gib: float
    #: Root volume size: `disk_gib` rounded up to a whole GiB, at least MIN_ROOT_VOLUME_GIB.
    root_volume_gib: int
    #: Memory then disk figures; memory ones add up to `nominal_memory_gib`, disk to `disk_gib`.
    breakdown: tuple[BreakdownItem, ...]
    #: vCPU figures; they add up to `vcpus` before rounding up.
    vcpu_breakdown: tuple[VcpuItem, ...]


def usable_memory_gib(nominal_memory_gib: float) -> float:
    """Memory processes can use on an instance with this nominal memory (see the fraction above)."""
    return nominal_memory_gib * (1.0 - VM_MEMORY_OVERHEAD_FRACTION)


def compute_requirements(workload: Workload) -> Requirements:
    """The memory, vCPUs and disk a single host needs to run `workload` at full concurrency."""
    memory = _memory_items(workload)
    # Sums rounded to a millionth of a GiB, so float noise cannot add a GiB when rounding up.
    memory_gib = round(sum(i.gib for i in memory), 6)
    nominal_gib = memory_gib / (1.0 - VM_MEMORY_OVERHEAD_FRACTION)
    reserve = BreakdownItem(
        "memory",
        "kernel and hypervisor reserve",
        nominal_gib - memory_gib,
        f"about {VM_MEMORY_OVERHEAD_FRACTION:.1%} of an instance's nominal memory is not usable "
        f"(Karpenter's vmMemoryOverheadPercent): needs >= {nominal_gib:.1f} GiB nominal",
    )
    vcpu_items = _vcpu_items(workload)
    vcpus = math.ceil(round(sum(i.vcpus for i in vcpu_items), 6))
    disk = _disk_items(workload)
    disk_gib = round(sum(i.gib for i in disk), 6)
    root_volume_gib = max(MIN_ROOT_VOLUME_GIB, math.ceil(disk_gib))
    return Requirements(
        memory_gib=memory_gib,
        nominal_memory_gib=nominal_gib,
        vcpus=vcpus,
        disk_gib=disk_gib,
        root_volume_gib=root_volume_gib,
        breakdown=(*memory, reserve, *disk),
        vcpu_breakdown=tuple(vcpu_items),
    )


def _memory_items(w: Workload) -> list[BreakdownItem]:
    n = w.max_concurrent_submissions
    if w.kind == "model-to-data":
        work = BreakdownItem(
            "memory",
            "participant containers",
            n * w.per_submission_memory_gib,
            f"{n} running submissions x {w.per_submission_memory_gib:g} GiB, each container's "
            "memory limit (perSubmissionMemoryGiB x maxConcurrentSubmissions)",
        )
    else:
        work = BreakdownItem(
            "memory",
            "workflow step containers",
            n * w.per_submission_memory_gib,
            f"{n} running workflows x {w.per_submission_memory_gib:g} GiB for their validation "
            "and scoring steps (perSubmissionMemoryGiB x maxConcurrentSubmissions)",
        )
    return [
        work,
        BreakdownItem(
            "memory",
            "workflow engines",
            n * ENGINE_MEMORY_GIB_PER_SUBMISSION,
            f"one Toil engine container per running submission, "
            f"{ENGINE_MEMORY_GIB_PER_SUBMISSION:g} GiB each",
        ),
        BreakdownItem(
            "memory",
            "orchestrator",
            ORCHESTRATOR_MEMORY_GIB,
            "the orchestrator's Java process (heap, metaspace, threads)",
        ),
        BreakdownItem(
            "memory",
            "OS and Docker",
            OS_AND_DOCKER_MEMORY_GIB,
            "kernel, system services, Docker daemon and containerd",
        ),
    ]


def _vcpu_items(w: Workload) -> list[VcpuItem]:
    n = w.max_concurrent_submissions
    return [
        VcpuItem(
            "evaluations",
            n * w.vcpus_per_submission,
            f"{n} running submissions x {w.vcpus_per_submission:g} vCPU "
            "(vcpusPerSubmission x maxConcurrentSubmissions)",
        ),
        VcpuItem(
            "host",
            HOST_VCPUS,
            "OS, Docker, the orchestrator and the engines, so evaluations keep their share",
        ),
    ]


def _disk_items(w: Workload) -> list[BreakdownItem]:
    n = w.max_concurrent_submissions
    per_job_gib = w.output_per_submission_gib + JOB_FOLDER_OVERHEAD_GIB
    finished = w.job_retention_days * w.finished_per_day
    items = [
        BreakdownItem("disk", "OS", OS_DISK_GIB, "Debian root file system, packages and logs"),
        BreakdownItem(
            "disk",
            "orchestrator and engine images",
            ENGINE_IMAGES_DISK_GIB,
            "the orchestrator and Toil workflow-engine Docker images",
        ),
    ]
    if w.kind == "model-to-data":
        items += [
            BreakdownItem(
                "disk",
                "workflow step images",
                STEP_IMAGES_DISK_GIB,
                "images of the workflow's validation and scoring steps",
            ),
            BreakdownItem(
                "disk",
                "participant images",
                n * w.docker_image_gib,
                f"{n} running submissions pull their images at once, {w.docker_image_gib:g} GiB "
                "each (dockerImageGiB x maxConcurrentSubmissions); removed after each run",
            ),
            BreakdownItem(
                "disk",
                "input data",
                w.input_data_gib,
                "challenge data on the host's disk, mounted read-only into each participant "
                "container (inputDataGiB)",
            ),
        ]
    else:
        items += [
            BreakdownItem(
                "disk",
                "workflow step images",
                w.docker_image_gib,
                "the workflow's step images, pulled once and shared by all runs (dockerImageGiB)",
            ),
            BreakdownItem(
                "disk",
                "reference files",
                n * w.input_data_gib,
                f"each of {n} running workflows downloads the reference files into its job "
                "folder (inputDataGiB x maxConcurrentSubmissions)",
            ),
        ]
    items += [
        BreakdownItem(
            "disk",
            "running job folders",
            n * per_job_gib,
            f"{n} running jobs x ({w.output_per_submission_gib:g} GiB output + "
            f"{JOB_FOLDER_OVERHEAD_GIB:g} GiB workflow files and logs)",
        ),
        BreakdownItem(
            "disk",
            "finished job folders",
            finished * per_job_gib,
            f"the orchestrator never deletes job folders; the clean-up keeps them "
            f"{w.job_retention_days} days: {w.job_retention_days} x {w.finished_per_day:g} "
            f"finished per day x {per_job_gib:g} GiB",
        ),
    ]
    return items


def _round(value: float) -> float:
    return round(value, 3)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(value: object, key: str, unit: str) -> None:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise SizingError(f"{key} must be a number > 0 ({unit}), got {value!r}", key=key)


def _non_negative(value: object, key: str) -> None:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise SizingError(f"{key} must be a number >= 0, got {value!r}", key=key)


def _rule(value: object, type_: Any, key: str) -> None:
    """The stack key's own rule (rules.py), without conversion: sizing computes with the value."""
    problem = rules.problem(type_, value, strict=True)
    if problem:
        raise SizingError(f"{key}: {problem}, got {value!r}", key=key)
