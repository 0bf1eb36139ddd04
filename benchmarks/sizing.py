"""Sizing benchmark: how cheap and how fast the chooser is, with real prices, per region.

Over a grid of 120 model-to-data workloads (memory 1-128 GiB x concurrency 1-16 x image 1-15
GiB), for each region with a committed catalog, it prints:
(a) chosen / cheapest feasible hourly price (brute force over the catalog; the goal is 1.00),
(b) today's unpriced pick / ours: the type the chooser took before the catalogs had prices (least
    memory, fewest vCPUs, name, over moto's specs and moto's generation flags), priced with the
    same real prices,
(c) the wiki rule's pick / ours (below 1 where the wiki's pick is too small to run the
    workload), the same only where it fits, and how often the wiki rule under-provisions,
(d) estimates per second.
Prices are the committed catalogs' (see README, "Prices"); estimated ones count as prices.
Needs the dev requirements (moto rebuilds the unpriced catalogs of before).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

# Run as `python benchmarks/sizing.py`: this file's folder comes first on sys.path and its name
# would shadow the `sizing` package, so put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sizing import (  # noqa: E402
    SUPPORTED_REGIONS,
    Catalog,
    InstanceType,
    Workload,
    estimate_host,
    load_catalog,
    parse_catalog,
)
from sizing.catalog import dump_catalog  # noqa: E402
from sizing.live import build_catalog_from_moto  # noqa: E402
from tests.fixtures.sizing import eligible_and_fitting  # noqa: E402

MEMORY_GIB = (1, 2, 4, 8, 16, 32, 64, 128)
CONCURRENCY = (1, 2, 4, 8, 16)
IMAGE_GIB = (1, 4, 15)

# --- the wiki's rule ---------------------------------------------------------------------------
#: The one general-purpose family a person picks from (current-generation Intel M).
WIKI_FAMILY = "m7i"
#: Disk a person following the wiki gives the host: the AMI's default 8 GiB root volume plus
#: room for one Docker image and the input data.
WIKI_ROOT_GIB = 8.0


def grid() -> list[Workload]:
    return [
        Workload(
            per_submission_memory_gib=m,
            max_concurrent_submissions=c,
            docker_image_gib=i,
            kind="model-to-data",
        )
        for m in MEMORY_GIB
        for c in CONCURRENCY
        for i in IMAGE_GIB
    ]


def cheapest_feasible_price(catalog: Catalog, workload: Workload) -> float | None:
    """Brute force, independent of the chooser: the cheapest priced type that fits."""
    prices = [
        t.hourly_price_usd
        for t in eligible_and_fitting(catalog, workload)
        if t.hourly_price_usd is not None
    ]
    return min(prices) if prices else None


def wiki_pick(catalog: Catalog, workload: Workload) -> InstanceType | None:
    """The wiki's rule: memory = per-submission memory x concurrency, first fit in one family."""
    memory_gib = workload.per_submission_memory_gib * workload.max_concurrent_submissions
    ladder = sorted(
        (t for t in catalog.instance_types if t.family == WIKI_FAMILY and not t.bare_metal),
        key=lambda t: t.memory_mib,
    )
    return next((t for t in ladder if t.memory_gib >= memory_gib), None)


def unpriced_catalog_of_before(region: str) -> Catalog:
    """The committed catalog as it was before prices: moto's specs and generation flags."""
    return parse_catalog(dump_catalog(build_catalog_from_moto(region)), origin=f"moto {region}")


def spread(ratios: list[float]) -> str:
    return (
        f"median {statistics.median(ratios):.2f}, geometric mean "
        f"{statistics.geometric_mean(ratios):.2f}, min {min(ratios):.2f}, max {max(ratios):.2f} "
        f"over {len(ratios)}"
    )


def bench_region(region: str, workloads: list[Workload]) -> None:
    catalog = load_catalog(region)
    before = unpriced_catalog_of_before(region)
    ratios_a: list[float] = []
    ratios_b: list[float] = []
    ratios_c: list[float] = []
    ratios_c_fits: list[float] = []
    ratios_monthly: list[float] = []
    infeasible = before_unpriced = wiki_none = under_memory = under_disk = 0
    estimated_picks = 0
    for w in workloads:
        cheapest = cheapest_feasible_price(catalog, w)
        if cheapest is None:
            infeasible += 1
            continue
        ours = estimate_host(w, catalog)
        estimated_picks += ours.price_estimated
        ratios_a.append(ours.hourly_price_usd / cheapest)
        old_name = estimate_host(w, before).instance_type
        old_price = catalog.get(old_name).hourly_price_usd
        if old_price is None:
            before_unpriced += 1
        else:
            ratios_b.append(old_price / ours.hourly_price_usd)
        wiki = wiki_pick(catalog, w)
        if wiki is None or wiki.hourly_price_usd is None:
            wiki_none += 1
            continue
        ratios_c.append(wiki.hourly_price_usd / ours.hourly_price_usd)
        short_memory = wiki.usable_memory_gib < ours.required.memory_gib
        under_memory += short_memory
        if not short_memory and wiki.vcpus >= ours.required.vcpus:
            ratios_c_fits.append(wiki.hourly_price_usd / ours.hourly_price_usd)
        under_disk += WIKI_ROOT_GIB + w.docker_image_gib + w.input_data_gib < ours.required.disk_gib
        ratios_monthly.append(ours.monthly_cost_usd / ours.monthly_price_usd)

    repeats = 3
    start = time.perf_counter()
    for _ in range(repeats):
        for w in workloads:
            estimate_host(w, catalog)
    per_second = repeats * len(workloads) / (time.perf_counter() - start)

    meta = catalog.metadata
    n = len(ratios_c)
    print(
        f"\n{region}: {len(catalog.instance_types)} types, prices as of {meta.prices_as_of}"
        + (f", estimated ratio x {meta.estimate_ratio:g}" if meta.estimate_ratio else "")
    )
    print(f"  no type fits at all: {infeasible}; our pick is estimated-priced in {estimated_picks}")
    print(f"  (a) chosen / cheapest feasible: min {min(ratios_a):.2f}, max {max(ratios_a):.2f}")
    print(
        f"  (b) today's unpriced pick / ours: {spread(ratios_b)}"
        + (f" ({before_unpriced} old picks have no price)" if before_unpriced else "")
    )
    print(f"  (c) wiki rule ({WIKI_FAMILY}) / ours: {spread(ratios_c)}")
    print(f"      only where the wiki's pick has the memory and vCPUs: {spread(ratios_c_fits)}")
    print(
        f"      the wiki's pick lacks memory in {under_memory}/{n}, disk in {under_disk}/{n} "
        f"({wiki_none} with no {WIKI_FAMILY} size at all left out)"
    )
    print(
        f"      our monthly cost / our instance price alone (root volume + IPv4 added): "
        f"median {statistics.median(ratios_monthly):.3f}"
    )
    print(f"  (d) estimates per second: {per_second:,.0f}")


def main() -> None:
    workloads = grid()
    print(
        f"sizing benchmark, {len(workloads)} model-to-data workloads: memory {MEMORY_GIB} GiB\n"
        f"  x concurrency {CONCURRENCY} x image {IMAGE_GIB} GiB; input 0 GiB, output 1 GiB and\n"
        "  1 vCPU per submission, other settings default\n"
        "prices: the committed catalogs' real on-demand prices (Linux, shared tenancy, USD/hour)\n"
        "today's pick: before prices (least memory, fewest vCPUs, name; moto's generation flags)\n"
        f"wiki rule: memory = per-submission memory x concurrency, first fit by nominal memory in\n"
        f"  the {WIKI_FAMILY} ladder; disk = {WIKI_ROOT_GIB:g} GiB root + one image + input data"
    )
    for region in SUPPORTED_REGIONS:
        bench_region(region, workloads)


if __name__ == "__main__":
    main()
