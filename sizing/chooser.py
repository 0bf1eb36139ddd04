"""Chooser: the cheapest instance type of a catalog that fits the requirements.

A chain of named filters (architecture, generation, burstable, bare metal, GPUs, accelerators,
vCPUs, memory) narrows the catalog; the first filter that leaves nothing names the requirement in
the error. Of what is left, types without a price are left out and counted; the rest are ordered
by hourly price, then least memory, fewest vCPUs and name, so the choice is deterministic. When
no fitting type has a price, the order falls back to least memory, fewest vCPUs and name, and the
estimate warns that its monthly cost is unknown (and fails a monthly budget).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .catalog import Catalog, InstanceType
from .costs import MonthlyCost, monthly_cost, stale_price_warning, sum_usd
from .errors import SizingError
from .model import (
    HOURS_PER_MONTH,
    BreakdownItem,
    Requirements,
    VcpuItem,
    Workload,
    compute_requirements,
)
from .prices import BASIS_REGION

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
    """A sized host: requirements, the chosen instance type, root volume and monthly cost."""

    workload: Workload
    required: Requirements
    instance: InstanceType
    #: Root volume size, GiB (required disk rounded up, at least the floor).
    root_volume_gib: int
    #: Region of the catalog, None if the file does not say.
    region: str | None
    #: How the type was chosen, in one sentence.
    selection: str
    #: Instance, root volume and public IPv4 per month, each with its reason, and the price date.
    monthly_cost: MonthlyCost
    #: True when the type is an `instanceType` override, not the chooser's pick.
    override: bool = False

    @property
    def instance_type(self) -> str:
        return self.instance.instance_type

    @property
    def hourly_price_usd(self) -> float | None:
        return self.instance.hourly_price_usd

    @property
    def price_estimated(self) -> bool:
        """True when the instance price is estimated from another region's (see the catalog)."""
        return self.instance.price_estimated

    @property
    def monthly_price_usd(self) -> float | None:
        """On-demand instance price for a month of 730 hours (the root volume is extra)."""
        price = self.instance.hourly_price_usd
        return None if price is None else round(price * HOURS_PER_MONTH, 2)

    @property
    def monthly_cost_usd(self) -> float | None:
        """USD a month: instance + gp3 root volume + public IPv4; None when unknown."""
        return self.monthly_cost.total_usd

    @property
    def prices_as_of(self) -> str | None:
        return self.monthly_cost.prices_as_of

    @property
    def prices_known(self) -> bool:
        return self.instance.hourly_price_usd is not None

    @property
    def breakdown(self) -> tuple[BreakdownItem, ...]:
        return self.required.breakdown

    @property
    def vcpu_breakdown(self) -> tuple[VcpuItem, ...]:
        return self.required.vcpu_breakdown

    def warnings(self, today: dt.date) -> tuple[str, ...]:
        """Stale prices (older than MAX_PRICE_AGE_DAYS on `today`), estimated prices, and an
        unknown monthly cost (a type without a price never wins silently)."""
        found = []
        if self.monthly_cost.total_usd is None:
            found.append(self._unknown_cost_warning())
        stale = stale_price_warning(self.prices_as_of, today, self.region)
        if stale:
            found.append(stale)
        if self.price_estimated:
            found.append(
                f"the {self.instance_type} price is estimated: {self.region} has no price of its "
                "own for it (see `price_estimates` in its catalog)"
            )
        return tuple(found)

    def _unknown_cost_warning(self) -> str:
        where = f"the {self.region} catalog" if self.region else "the catalog"
        name = self.instance_type
        if self.prices_known:
            return f"the monthly cost of {name} is {self.monthly_cost.summary()}"
        if self.override:
            return (
                f"instanceType {name} has no on-demand price in {where}, so its monthly cost is "
                "unknown (leave instanceType empty for the cheapest type with a price)"
            )
        return (
            f"{name} has no on-demand price in {where}, nor has any other type that fits, so "
            "its monthly cost is unknown (chosen by least memory, then fewest vCPUs); give the "
            f"catalog prices: `python -m sizing catalog --region {self.region or 'REGION'} "
            "--out FILE`, or `--prices FILE` offline"
        )

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
            "price_estimated": self.price_estimated,
            "monthly_price_usd": self.monthly_price_usd,
            "monthly_cost_usd": self.monthly_cost_usd,
            "monthly_cost": self.monthly_cost.to_json_dict(with_sources=True),
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
    monthly_budget_usd: float | None = None,
) -> HostEstimate:
    """Size one host for `workload`: the cheapest fitting type, or check an `instance_type`.

    `architectures` lists the CPU architectures allowed (`allowedArchitectures`); `allow_gpu` lets
    GPU types compete. An override may be any type of the catalog whose architecture is allowed.
    With `monthly_budget_usd`, a monthly cost above it (or unknown) is an error naming the cheapest
    type that fits.
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
    estimate = _estimate(workload, required, chosen, catalog, selection, bool(instance_type))
    if monthly_budget_usd is not None:
        _check_budget(estimate, monthly_budget_usd, catalog, architectures, allow_gpu)
    return estimate


def _estimate(
    workload: Workload,
    required: Requirements,
    chosen: InstanceType,
    catalog: Catalog,
    selection: str,
    override: bool = False,
) -> HostEstimate:
    meta = catalog.metadata
    cost = monthly_cost(
        instance_type=chosen.instance_type,
        hourly_price_usd=chosen.hourly_price_usd,
        price_estimated=chosen.price_estimated,
        root_volume_gib=required.root_volume_gib,
        region=catalog.region,
        prices_as_of=meta.prices_as_of if meta else None,
        estimate_note=meta.price_estimates if meta else None,
        price_source=meta.price_source if meta else None,
    )
    return HostEstimate(
        workload=workload,
        required=required,
        instance=chosen,
        root_volume_gib=required.root_volume_gib,
        region=catalog.region,
        selection=selection,
        monthly_cost=cost,
        override=override,
    )


def cheapest_fit(
    estimate: HostEstimate,
    catalog: Catalog,
    architectures: Sequence[str] = DEFAULT_ARCHITECTURES,
    allow_gpu: bool = False,
) -> HostEstimate | None:
    """The same workload on the cheapest type of `catalog` that fits (what leaving instanceType
    empty gives); None when nothing the chooser allows fits (an override may be, say, a GPU type).
    """
    try:
        chosen, how = choose_instance(estimate.required, catalog, architectures, allow_gpu)
    except SizingError:
        return None
    return _estimate(estimate.workload, estimate.required, chosen, catalog, how)


def _check_budget(
    estimate: HostEstimate,
    budget_usd: float,
    catalog: Catalog,
    architectures: Sequence[str],
    allow_gpu: bool,
) -> None:
    total = estimate.monthly_cost_usd
    if total is not None and total <= budget_usd:
        return
    cheapest = cheapest_fit(estimate, catalog, architectures, allow_gpu)
    figure = (
        f"the estimate is {estimate.monthly_cost.summary()} for {estimate.instance_type}"
        if total is not None
        else f"the monthly cost of {estimate.instance_type} is {estimate.monthly_cost.summary()}"
    )
    if cheapest is None or cheapest.instance_type == estimate.instance_type:
        alternative = (
            "it is already the cheapest type that fits; raise monthlyBudgetUsd or lower "
            "maxConcurrentSubmissions or perSubmissionMemoryGiB"
        )
    elif cheapest.monthly_cost_usd is None:
        alternative = (
            f"the cheapest type that fits, {cheapest.instance_type}, costs "
            f"{cheapest.monthly_cost.summary()}"
        )
    else:
        within = "within" if cheapest.monthly_cost_usd <= budget_usd else "still over"
        alternative = (
            f"the cheapest type that fits is {cheapest.instance_type} at "
            f"{cheapest.monthly_cost.summary()}, {within} the budget (leave instanceType empty "
            "to get it)"
        )
    raise SizingError(
        f"monthlyBudgetUsd is ${budget_usd:,.2f} a month, but {figure}; {alternative}",
        key="monthlyBudgetUsd",
    )


def check_fleet_budget(
    hosts: Mapping[str, HostEstimate],
    budget_usd: float,
    catalog: Catalog,
    instance_type_keys: Mapping[str, str] | None = None,
) -> None:
    """Hold several hosts (by label) to one monthly budget. Over it (or unknown), the error names
    each host's figure and, for each host whose instanceType override is not its cheapest fit,
    that type, its figure and the fleet's total with it. `instance_type_keys` names, per label,
    the key that sets the host's instanceType (default `instanceType`)."""
    total = sum_usd(e.monthly_cost_usd for e in hosts.values())
    if total is not None and total <= budget_usd:
        return
    costs = ", ".join(
        f"{label} {e.instance_type} {_usd_or_unknown(e.monthly_cost_usd)}"
        for label, e in hosts.items()
    )
    budget = f"the budget of ${budget_usd:,.2f}"
    message = (
        f"monthlyBudgetUsd: the {len(hosts)} hosts cost an unknown amount a month together "
        f"({costs}), which cannot be held to {budget}"
        if total is None
        else f"monthlyBudgetUsd: the {len(hosts)} hosts cost ${total:,.2f} a month together "
        f"({costs}), above {budget}"
    )
    advice = (
        "raise it, or lower a host's workload keys (perSubmissionMemoryGiB, "
        "maxConcurrentSubmissions)"
    )
    swaps = {}
    for label, estimate in hosts.items():
        cheapest = cheapest_fit(estimate, catalog) if estimate.override else None
        if cheapest is not None and cheapest.instance_type != estimate.instance_type:
            swaps[label] = cheapest
    if not swaps:
        raise SizingError(f"{message}; {advice}", key="monthlyBudgetUsd")
    keys = [(instance_type_keys or {}).get(label, "instanceType") for label in swaps]
    named = "; ".join(
        f"the cheapest type that fits host {label} is {c.instance_type} at "
        f"{_usd_or_unknown(c.monthly_cost_usd)} a month ({key} is {hosts[label].instance_type})"
        for (label, c), key in zip(swaps.items(), keys, strict=True)
    )
    it = "it" if len(swaps) == 1 else "them"
    with_swaps = sum_usd(swaps.get(label, e).monthly_cost_usd for label, e in hosts.items())
    if with_swaps is None:
        outcome = f"with {it} the fleet's monthly cost is still unknown; {advice}"
    elif with_swaps <= budget_usd:
        outcome = (
            f"with {it} the fleet would cost ${with_swaps:,.2f} a month, within the budget "
            f"(leave {' and '.join(keys)} empty to get {it})"
        )
    else:
        outcome = f"with {it} the fleet would still cost ${with_swaps:,.2f} a month; {advice}"
    raise SizingError(f"{message}; {named}; {outcome}", key="monthlyBudgetUsd")


def _usd_or_unknown(usd: float | None) -> str:
    return "unknown" if usd is None else f"${usd:,.2f}"


def choose_instance(
    required: Requirements,
    catalog: Catalog,
    architectures: Sequence[str] = DEFAULT_ARCHITECTURES,
    allow_gpu: bool = False,
) -> tuple[InstanceType, str]:
    """The cheapest priced type that passes every filter, and how it was chosen.

    Types without any price never win over priced ones: they are left out and counted. Only when
    no fitting type has a price (a specs-only catalog) does the order fall back to least memory,
    fewest vCPUs and name, and the sentence says so.
    """
    candidates: Sequence[InstanceType] = catalog.instance_types
    for flt in _filters(required, architectures, allow_gpu):
        kept = [t for t in candidates if flt.keep(t)]
        if not kept:
            raise _nothing_fits(flt, candidates, required, catalog)
        candidates = kept
    priced = [t for t in candidates if t.hourly_price_usd is not None]
    if not priced:
        chosen = min(candidates, key=price_order)
        unpriced = (
            "the catalog has none"
            if not catalog.prices_known
            else f"none of the {len(candidates)} fitting types has one"
        )
        return chosen, f"prices unknown ({unpriced}): least memory, then fewest vCPUs, then name"
    chosen = min(priced, key=price_order)
    estimated = sum(t.price_estimated for t in priced)
    how = f"cheapest on-demand hourly price of {len(priced)} fitting types with a price"
    if estimated:
        how += f" ({estimated} of them estimated from {BASIS_REGION} prices)"
    left_out = len(candidates) - len(priced)
    if left_out:
        how += f"; {left_out} fitting types without any price left out"
    if chosen.price_estimated:
        how += f"; the price of {chosen.instance_type} is estimated"
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
            f"instanceType {name} is {'/'.join(chosen.architectures)}, but the host must be "
            f"{'/'.join(architectures)}"
            + (
                " (the orchestrator image is published for amd64 only)"
                if tuple(architectures) == DEFAULT_ARCHITECTURES
                else ""
            ),
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
