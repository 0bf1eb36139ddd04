"""Sizing benchmark: how good and how fast the chooser is over a grid of workloads.

Prints four figures over memory 1-256 GiB x concurrency 1-20 x image 1-15 GiB (model-to-data):
(a) chosen price / cheapest feasible price (brute force over the catalog; must be 1.00),
(b) our price / the price of the wiki's rule, (c) how often the wiki's rule under-provisions,
(d) estimates per second.

The committed catalogs carry no prices, so this benchmark prices the us-east-1 catalog with a
SYNTHETIC price model (below). It is not AWS's price list and its dollar figures mean nothing;
only the ratios between types matter, and they follow AWS's broad shape (per vCPU plus per GiB,
cheaper AMD and Graviton, dearer local disks, fast networks and high clocks).
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

# Run as `python benchmarks/sizing.py`: this file's folder comes first on sys.path and its name
# would shadow the `sizing` package, so put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sizing import (  # noqa: E402
    Catalog,
    InstanceType,
    Workload,
    compute_requirements,
    estimate_host,
    load_catalog,
)

REGION = "us-east-1"
MEMORY_GIB = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONCURRENCY = (1, 2, 4, 6, 8, 10, 12, 16, 20)
IMAGE_GIB = (1, 2, 4, 8, 15)

# --- synthetic price model (benchmark only) --------------------------------------------------
USD_PER_VCPU_HOUR = 0.039
USD_PER_GIB_HOUR = 0.0029
#: Storage price used to add the root volume to (b), USD per GiB-month (synthetic too).
USD_PER_GIB_MONTH_DISK = 0.08
SUFFIX_FACTORS = {"a": 0.90, "g": 0.80, "d": 1.10, "n": 1.15, "e": 1.05, "z": 1.30, "b": 1.10}
LETTER_FACTORS = {"i": 1.30, "d": 1.30, "h": 1.30, "hpc": 0.70, "x": 1.10, "u": 1.20}
ACCELERATED_FACTOR = 3.0

# --- the wiki's rule ---------------------------------------------------------------------------
#: The one general-purpose family a person picks from (current-generation Intel M).
WIKI_FAMILY = "m7i"
#: Disk a person following the wiki gives the host: the AMI's default 8 GiB root volume plus
#: room for one Docker image and the input data.
WIKI_ROOT_GIB = 8.0


def synthetic_price_usd_per_hour(t: InstanceType) -> float:
    """Synthetic on-demand price: per vCPU plus per GiB, times family factors. Not AWS's."""
    base = USD_PER_VCPU_HOUR * t.vcpus + USD_PER_GIB_HOUR * t.memory_gib
    match = re.fullmatch(r"([a-z]+)(\d+)([a-z-]*\w*)", t.family)
    factor = LETTER_FACTORS.get(t.family.split("-")[0][:1], 1.2)
    if match:
        letters, generation, suffix = match.group(1), int(match.group(2)), match.group(3)
        factor = LETTER_FACTORS.get(letters, 1.0) * (1 + 0.05 * (generation - 6))
        for flag, f in SUFFIX_FACTORS.items():
            if flag in suffix.split("-")[0]:
                factor *= f
        if "flex" in suffix:
            factor *= 0.95
    if t.gpus or t.accelerators:
        factor *= ACCELERATED_FACTOR
    return round(base * factor, 4)


def priced_catalog() -> Catalog:
    catalog = load_catalog(REGION)
    prices = {t.instance_type: synthetic_price_usd_per_hour(t) for t in catalog.instance_types}
    return catalog.with_prices(prices)


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
    """Brute force, independent of the chooser: every type passing the default rules that fits."""
    req = compute_requirements(workload)
    prices = [
        t.hourly_price_usd
        for t in catalog.instance_types
        if "x86_64" in t.architectures
        and t.current_generation
        and not t.burstable
        and not t.bare_metal
        and t.gpus == 0
        and t.accelerators == 0
        and t.vcpus >= req.vcpus
        and t.memory_gib * 0.925 >= req.memory_gib
        and t.hourly_price_usd is not None
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


def main() -> None:
    catalog = priced_catalog()
    workloads = grid()
    ratios_a: list[float] = []
    ratios_b: list[float] = []
    ratios_b_disk: list[float] = []
    ratios_b_fair: list[float] = []
    infeasible = wiki_none = under_memory = under_disk = under_either = under_vcpus = 0
    under_disk_running = 0
    for w in workloads:
        cheapest = cheapest_feasible_price(catalog, w)
        if cheapest is None:
            infeasible += 1
            continue
        est = estimate_host(w, catalog)
        ratios_a.append(est.hourly_price_usd / cheapest)
        wiki = wiki_pick(catalog, w)
        if wiki is None:
            wiki_none += 1
            continue
        req = est.required
        wiki_disk = WIKI_ROOT_GIB + w.docker_image_gib + w.input_data_gib
        short_memory = wiki.usable_memory_gib < req.memory_gib
        short_disk = wiki_disk < req.disk_gib
        under_memory += short_memory
        under_disk += short_disk
        finished = sum(i.gib for i in req.breakdown if i.item == "finished job folders")
        under_disk_running += wiki_disk < req.disk_gib - finished
        under_either += short_memory or short_disk
        under_vcpus += wiki.vcpus < req.vcpus
        ratios_b.append(est.hourly_price_usd / wiki.hourly_price_usd)
        disk_hour = USD_PER_GIB_MONTH_DISK / 730
        ratios_b_disk.append(
            (est.hourly_price_usd + est.root_volume_gib * disk_hour)
            / (wiki.hourly_price_usd + wiki_disk * disk_hour)
        )
        if not short_memory and wiki.vcpus >= req.vcpus:
            ratios_b_fair.append(est.hourly_price_usd / wiki.hourly_price_usd)

    repeats = 5
    start = time.perf_counter()
    for _ in range(repeats):
        for w in workloads:
            estimate_host(w, catalog)
    per_second = repeats * len(workloads) / (time.perf_counter() - start)

    n = len(ratios_b)

    def share(count: int) -> str:
        return f"{count}/{n} ({count / n:.0%})"

    print(
        f"sizing benchmark, {len(workloads)} model-to-data workloads:\n"
        f"  memory {MEMORY_GIB} GiB\n  x concurrency {CONCURRENCY}\n  x image {IMAGE_GIB} GiB;\n"
        "  input 0 GiB, output 1 GiB and 1 vCPU per submission, other settings default\n"
        f"catalog: the committed {REGION} one ({len(catalog.instance_types)} types) priced with a\n"
        "  SYNTHETIC price model, NOT AWS prices (dollar amounts mean nothing, ratios only):\n"
        f"  ${USD_PER_VCPU_HOUR}/vCPU-hour + ${USD_PER_GIB_HOUR}/GiB-hour, x family factors\n"
        "  (AMD 0.9, Graviton 0.8, +5% per generation past 6, local NVMe 1.1, network 1.15, ...)\n"
        "wiki rule: memory = per-submission memory x concurrency, first fit by nominal memory\n"
        f"  in the {WIKI_FAMILY} ladder; disk = {WIKI_ROOT_GIB:g} GiB default root volume + one "
        "image + input data\n  (assumption: what a person following the wiki gives the host)\n"
        f"no type fits at all: {infeasible}; no {WIKI_FAMILY} size fits the wiki rule: "
        f"{wiki_none} (left out of b, c)\n"
    )
    print(
        f"(a) chosen / cheapest feasible price: min {min(ratios_a):.2f}, max {max(ratios_a):.2f}"
        f" over {len(ratios_a)} workloads (brute force over the catalog)"
    )
    print(
        f"(b) our price / wiki-rule price, instance only: median {statistics.median(ratios_b):.2f}"
        f", geometric mean {statistics.geometric_mean(ratios_b):.2f}, min {min(ratios_b):.2f}, "
        f"max {max(ratios_b):.2f} over {n}\n"
        f"    with each root volume at ${USD_PER_GIB_MONTH_DISK}/GiB-month: median "
        f"{statistics.median(ratios_b_disk):.2f}, geometric mean "
        f"{statistics.geometric_mean(ratios_b_disk):.2f}\n"
        f"    only where the wiki's pick has enough memory and vCPUs ({len(ratios_b_fair)}): "
        f"median {statistics.median(ratios_b_fair):.2f}, max {max(ratios_b_fair):.2f}"
    )
    print(
        f"(c) wiki rule under-provisions memory in {share(under_memory)}, disk in "
        f"{share(under_disk)}, either in {share(under_either)}\n"
        f"    disk even without the finished-job-folder allowance: {share(under_disk_running)};"
        f" vCPUs (not in the rule): {share(under_vcpus)}"
    )
    print(f"(d) estimates per second: {per_second:,.0f} (catalog of {len(catalog.instance_types)})")


if __name__ == "__main__":
    main()
