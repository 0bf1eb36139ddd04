"""Chooser: the cheapest instance type of a catalog that fits the requirements.

A chain of named filters (architecture, generation, burstable, bare metal, GPUs, accelerators,
vCPUs, memory) narrows the catalog; the first filter that leaves nothing names the requirement in
the error. What is left is ordered by hourly price (unknown prices last), then least memory, fewest
vCPUs and name, so the choice is deterministic even without prices.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .catalog import Catalog, InstanceType
from .errors import SizingError
from .model import (
    HOURS_PER_MONTH,
    BreakdownItem,
    Requirements,
    VcpuItem,
    Workload,
    compute_requirements,
)

#: Participant images are built for amd64; arm64 hosts need multi-architecture images.
DEFAULT_ARCHITECTURES: tuple[str, ...] = ("x86_64",)


@dataclass(frozen=True)
class _Filter:
    name: str
    #: What a kept type offers, for messages: "x86_64", ">= 5 vCPUs".
    wants: str
    keep: Callable[[InstanceType], bool]


@dataclass(frozen=True)
class HostEstimate:
    """A sized host: requirements, the chosen instance type, root volume and price."""

    workload: Workload
    required: Requirements
    instance: InstanceType
    #: Root volume size, GiB (required disk rounded up, at least the floor).
    root_volume_gib: int
    #: Region of the catalog, None if the file does not say.
    region: str | None
    #: How the type was chosen, in one sentence.
    selection: str

    @property
    def instance_type(self) -> str:
        return self.instance.instance_type

    @property
    def hourly_price_usd(self) -> float | None:
        return self.instance.hourly_price_usd

    @property
    def monthly_price_usd(self) -> float | None:
        """On-demand instance price for a month of 730 hours (the root volume is extra)."""
        price = self.instance.hourly_price_usd
        return None if price is None else round(price * HOURS_PER_MONTH, 2)

    @property
    def prices_known(self) -> bool:
        return self.instance.hourly_price_usd is not None

    @property
    def breakdown(self) -> tuple[BreakdownItem, ...]:
        return self.required.breakdown

    @property
    def vcpu_breakdown(self) -> tuple[VcpuItem, ...]:
        return self.required.vcpu_breakdown

    def to_json_dict(self) -> dict[str, object]:
        """The object `python -m sizing estimate --json` prints."""
        return {
            "required": {
                "memory_gib": round(self.required.memory_gib, 3),
                "nominal_memory_gib": round(self.required.nominal_memory_gib, 3),
                "vcpus": self.required.vcpus,
                "disk_gib": round(self.required.disk_gib, 3),
            },
            "instance_type": self.instance_type,
            "instance": {
                "memory_gib": self.instance.memory_gib,
                "usable_memory_gib": round(self.instance.usable_memory_gib, 3),
                "vcpus": self.instance.vcpus,
                "architectures": list(self.instance.architectures),
            },
            "root_volume_gib": self.root_volume_gib,
            "hourly_price_usd": self.hourly_price_usd,
            "monthly_price_usd": self.monthly_price_usd,
            "prices_known": self.prices_known,
            "region": self.region,
            "selection": self.selection,
            "breakdown": [item.to_json_dict() for item in self.breakdown],
            "vcpu_breakdown": [item.to_json_dict() for item in self.vcpu_breakdown],
        }


def estimate_host(
    workload: Workload,
    catalog: Catalog,
    instance_type: str | None = None,
    *,
    architectures: Sequence[str] = DEFAULT_ARCHITECTURES,
    allow_gpu: bool = False,
) -> HostEstimate:
    """Size one host for `workload`: the cheapest fitting type, or check an `instance_type`.

    `architectures` lists the CPU architectures allowed (`allowedArchitectures`); `allow_gpu` lets
    GPU types compete. An override may be any type of the catalog whose architecture is allowed.
    """
    if not architectures:
        raise SizingError(
            "allowedArchitectures must list at least one architecture, e.g. x86_64",
            key="allowedArchitectures",
        )
    required = compute_requirements(workload)
    if instance_type:
        chosen = _check_override(instance_type, required, catalog, architectures, allow_gpu)
        selection = f"instanceType override {instance_type}; it fits"
    else:
        chosen, selection = choose_instance(required, catalog, architectures, allow_gpu)
    return HostEstimate(
        workload=workload,
        required=required,
        instance=chosen,
        root_volume_gib=required.root_volume_gib,
        region=catalog.region,
        selection=selection,
    )


def choose_instance(
    required: Requirements,
    catalog: Catalog,
    architectures: Sequence[str] = DEFAULT_ARCHITECTURES,
    allow_gpu: bool = False,
) -> tuple[InstanceType, str]:
    """The first type in price order that passes every filter, and how it was chosen."""
    candidates: Sequence[InstanceType] = catalog.instance_types
    for flt in _filters(required, architectures, allow_gpu):
        kept = [t for t in candidates if flt.keep(t)]
        if not kept:
            raise _nothing_fits(flt, candidates, required, catalog)
        candidates = kept
    chosen = min(candidates, key=price_order)
    if chosen.hourly_price_usd is not None:
        how = f"cheapest on-demand hourly price of {len(candidates)} fitting types"
    else:
        how = (
            f"prices unknown: least memory, then fewest vCPUs, then name, of {len(candidates)} "
            "fitting types"
        )
    return chosen, how


def price_order(t: InstanceType) -> tuple[bool, float, int, int, str]:
    """Cheapest first; unknown prices last; then least memory, fewest vCPUs, name."""
    price = t.hourly_price_usd
    return (price is None, price or 0.0, t.memory_mib, t.vcpus, t.instance_type)


def _filters(
    required: Requirements, architectures: Sequence[str], allow_gpu: bool
) -> list[_Filter]:
    allowed = frozenset(architectures)
    filters = [
        _Filter(
            "architecture",
            "/".join(architectures),
            lambda t: not allowed.isdisjoint(t.architectures),
        ),
        _Filter("generation", "current-generation", lambda t: t.current_generation),
        _Filter("burstable", "non-burstable", lambda t: not t.burstable),
        _Filter("bare metal", "virtualised (not bare metal)", lambda t: not t.bare_metal),
    ]
    if not allow_gpu:
        filters.append(_Filter("GPU", "GPU-less", lambda t: t.gpus == 0))
    filters += [
        _Filter("accelerators", "accelerator-less", lambda t: t.accelerators == 0),
        _Filter("vCPUs", f">= {required.vcpus} vCPUs", lambda t: t.vcpus >= required.vcpus),
        _Filter(
            "memory",
            f">= {required.memory_gib:.1f} GiB usable memory",
            lambda t: t.usable_memory_gib >= required.memory_gib,
        ),
    ]
    return filters


def _nothing_fits(
    flt: _Filter, candidates: Sequence[InstanceType], required: Requirements, catalog: Catalog
) -> SizingError:
    where = f"the {catalog.region} catalog" if catalog.region else f"catalog {catalog.origin}"
    if flt.name == "vCPUs":
        most = max(candidates, key=lambda t: (t.vcpus, t.instance_type))
        return SizingError(
            f"no instance type in {where} fits: {required.vcpus} vCPUs required "
            f"(vcpusPerSubmission x maxConcurrentSubmissions + 1), the most offered is "
            f"{most.vcpus} ({most.instance_type}); lower vcpusPerSubmission or "
            "maxConcurrentSubmissions, or split the queues over several hosts",
            key="vcpusPerSubmission",
        )
    if flt.name == "memory":
        most = max(candidates, key=lambda t: (t.memory_mib, t.instance_type))
        return SizingError(
            f"no instance type in {where} with >= {required.vcpus} vCPUs fits: "
            f"{required.memory_gib:.1f} GiB usable memory required (perSubmissionMemoryGiB x "
            f"maxConcurrentSubmissions + host needs), the most offered is "
            f"{most.usable_memory_gib:.1f} GiB usable ({most.instance_type}); lower "
            "perSubmissionMemoryGiB or maxConcurrentSubmissions, or split the queues over "
            "several hosts",
            key="perSubmissionMemoryGiB",
        )
    key = "allowedArchitectures" if flt.name == "architecture" else None
    return SizingError(f"no {flt.wants} instance types left in {where}", key=key)


def _check_override(
    name: str,
    required: Requirements,
    catalog: Catalog,
    architectures: Sequence[str],
    allow_gpu: bool,
) -> InstanceType:
    where = f"the {catalog.region} catalog" if catalog.region else f"catalog {catalog.origin}"
    chosen = catalog.get(name)
    if chosen is None:
        names = [t.instance_type for t in catalog.instance_types]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SizingError(
            f"instanceType {name!r} is not offered in {where}{hint} (leave instanceType empty "
            "for the cheapest type that fits)",
            key="instanceType",
        )
    if set(architectures).isdisjoint(chosen.architectures):
        raise SizingError(
            f"instanceType {name} is {'/'.join(chosen.architectures)}, but allowedArchitectures "
            f"is {', '.join(architectures)}",
            key="instanceType",
        )
    lacks = []
    if chosen.usable_memory_gib < required.memory_gib:
        lacks.append(
            f"{chosen.memory_gib:g} GiB memory ({chosen.usable_memory_gib:.1f} usable) < "
            f"{required.memory_gib:.1f} GiB required"
        )
    if chosen.vcpus < required.vcpus:
        lacks.append(f"{chosen.vcpus} vCPUs < {required.vcpus} required")
    if lacks:
        try:
            best, _ = choose_instance(required, catalog, architectures, allow_gpu)
            what = "the cheapest that fits" if best.hourly_price_usd is not None else "which fits"
            hint = f" (leave instanceType empty to get {best.instance_type}, {what})"
        except SizingError:
            hint = ""
        raise SizingError(f"instanceType {name}: {'; '.join(lacks)}{hint}", key="instanceType")
    return chosen
