"""Property-based tests of the capacity model and the chooser (hypothesis).

The chooser's answer is checked against a brute-force scan written here, not against itself: the
chosen type is eligible and fits, and no eligible fitting type is cheaper (or, without prices,
earlier in the documented order).
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing import (
    Catalog,
    InstanceType,
    SizingError,
    Workload,
    compute_requirements,
    estimate_host,
    load_catalog,
)
from tests.fixtures.sizing import eligible_and_fitting

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
US_EAST_1 = load_catalog("us-east-1")

workloads = st.builds(
    Workload,
    per_submission_memory_gib=st.floats(0.1, 512, allow_nan=False),
    max_concurrent_submissions=st.integers(1, 30),
    vcpus_per_submission=st.sampled_from([0.25, 0.5, 1, 2, 3, 4, 8]),
    docker_image_gib=st.floats(0.1, 20),
    input_data_gib=st.floats(0, 2000),
    output_per_submission_gib=st.floats(0, 50),
    kind=st.sampled_from(["model-to-data", "data-to-model"]),
    job_retention_days=st.integers(1, 30),
    submissions_per_day=st.none() | st.floats(0, 500),
)


#: Few distinct prices and sizes, so ties in price, memory and vCPUs happen often.
prices = st.sampled_from([None, 0.05, 0.1, 0.2, 0.4]) | st.floats(0.001, 50)
sizes = st.tuples(
    st.sampled_from([1, 2, 4, 8, 16, 32, 48, 96]),  # vCPUs
    st.sampled_from([1024, 4096, 8192, 16384, 32768, 65536, 131072]),  # MiB
)
#: Types the default rules accept (x86_64, current generation, not burstable/metal/GPU/...).
eligible = st.tuples(
    sizes, st.sampled_from([("x86_64",), ("i386", "x86_64")]), st.just((True, False, False, 0, 0))
)
#: Any flags at all, mostly ones the default rules reject.
anything = st.tuples(
    sizes,
    st.sampled_from([("x86_64",), ("arm64",), ("i386", "x86_64")]),
    st.tuples(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 1), st.integers(0, 1)),
)


#: Workloads that the small random catalogs can often hold.
small_workloads = st.builds(
    Workload,
    per_submission_memory_gib=st.floats(0.1, 8),
    max_concurrent_submissions=st.integers(1, 4),
    vcpus_per_submission=st.sampled_from([0.25, 0.5, 1, 2]),
    docker_image_gib=st.floats(0.1, 20),
    kind=st.sampled_from(["model-to-data", "data-to-model"]),
)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    rows = draw(st.lists(eligible, min_size=2, max_size=20))
    rows += draw(st.lists(anything, max_size=12))
    rows = draw(st.permutations(rows))
    types = [
        InstanceType(
            # Names share families and sort in no particular relation to size.
            instance_type=f"f{(i * 7) % 5}.s{(i * 13) % 37}",
            vcpus=vcpus,
            memory_mib=memory_mib,
            architectures=arch,
            current_generation=current,
            burstable=burstable,
            bare_metal=metal,
            gpus=gpus,
            accelerators=accelerators,
            hourly_price_usd=draw(prices),
        )
        for i, (
            (vcpus, memory_mib),
            arch,
            (current, burstable, metal, gpus, accelerators),
        ) in enumerate(rows)
    ]
    return Catalog(tuple(types), "test-1", "<hypothesis>")


def check_choice(catalog: Catalog, workload: Workload) -> None:
    candidates = eligible_and_fitting(catalog, workload)
    try:
        est = estimate_host(workload, catalog)
    except SizingError:
        assert not candidates
        return
    chosen = est.instance
    assert chosen in candidates
    priced = [t.hourly_price_usd for t in candidates if t.hourly_price_usd is not None]
    if priced:
        assert chosen.hourly_price_usd == min(priced)
    else:
        assert chosen.hourly_price_usd is None and not est.prices_known
        best = min((t.memory_mib, t.vcpus, t.instance_type) for t in candidates)
        assert (chosen.memory_mib, chosen.vcpus, chosen.instance_type) == best
    assert est.root_volume_gib >= est.required.disk_gib


@SETTINGS
@given(workload=small_workloads, catalog=catalogs())
def test_chosen_type_fits_and_nothing_cheaper_fits(workload, catalog):
    check_choice(catalog, workload)


@SETTINGS
@given(workload=workloads, seed=st.integers(0, 2**32 - 1))
def test_committed_catalog_choice_fits_and_is_first_in_the_documented_order(workload, seed):
    check_choice(US_EAST_1, workload)
    # With random prices too: still the cheapest eligible type that fits.
    rng = random.Random(seed)
    prices = {t.instance_type: round(rng.uniform(0.01, 50), 2) for t in US_EAST_1.instance_types}
    check_choice(US_EAST_1.with_prices(prices), workload)


@SETTINGS
@given(workload=small_workloads, catalog=catalogs(), seed=st.integers(0, 2**32 - 1))
def test_choice_does_not_depend_on_catalog_order(workload, catalog, seed):
    shuffled = list(catalog.instance_types)
    random.Random(seed).shuffle(shuffled)
    other = Catalog(tuple(shuffled), catalog.region, catalog.origin)
    try:
        first = estimate_host(workload, catalog).instance_type
    except SizingError as err:
        first = str(err)
    try:
        second = estimate_host(workload, other).instance_type
    except SizingError as err:
        second = str(err)
    assert first == second


@SETTINGS
@given(workload=small_workloads, catalog=catalogs(), data=st.data())
def test_override_is_accepted_exactly_when_it_fits(workload, catalog, data):
    name = data.draw(st.sampled_from([t.instance_type for t in catalog.instance_types]))
    t = catalog.get(name)
    req = compute_requirements(workload)
    fits = t.vcpus >= req.vcpus and t.memory_mib / 1024 * 0.925 >= req.memory_gib
    x86 = "x86_64" in t.architectures
    try:
        est = estimate_host(workload, catalog, instance_type=name)
    except SizingError as err:
        assert err.key == "instanceType" and name in str(err)
        assert not (fits and x86)
        if x86:
            assert ("vCPUs <" in str(err)) == (t.vcpus < req.vcpus)
            assert ("GiB memory" in str(err)) == (t.memory_mib / 1024 * 0.925 < req.memory_gib)
    else:
        assert fits and x86 and est.instance_type == name


@SETTINGS
@given(workload=workloads, more=st.integers(1, 10))
def test_more_concurrency_never_needs_less(workload, more):
    bigger = Workload(
        **{
            **workload.__dict__,
            "max_concurrent_submissions": workload.max_concurrent_submissions + more,
        }
    )
    a, b = compute_requirements(workload), compute_requirements(bigger)
    assert b.memory_gib > a.memory_gib
    assert b.vcpus >= a.vcpus
    assert b.disk_gib >= a.disk_gib and b.root_volume_gib >= a.root_volume_gib


@SETTINGS
@given(workload=workloads)
def test_requirements_cover_the_naive_rule_and_round_up(workload):
    req = compute_requirements(workload)
    naive = workload.per_submission_memory_gib * workload.max_concurrent_submissions
    assert req.memory_gib > naive
    assert req.nominal_memory_gib > req.memory_gib
    assert req.vcpus >= workload.vcpus_per_submission * workload.max_concurrent_submissions + 1
    assert req.root_volume_gib >= max(20, req.disk_gib) and req.root_volume_gib < max(
        21, req.disk_gib + 1
    )
