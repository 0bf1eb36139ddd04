"""Sizing: capacity model, committed catalogs, chooser, overrides, errors and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import random

import pytest

from sizing import (
    MIN_ROOT_VOLUME_GIB,
    SUPPORTED_REGIONS,
    Catalog,
    InstanceType,
    SizingError,
    Workload,
    compute_requirements,
    dump_catalog,
    estimate_host,
    load_catalog,
    parse_catalog,
    usable_memory_gib,
)
from sizing.catalog import CATALOG_DIR, catalog_order
from sizing.cli import cli
from tests.fixtures.cli import run_module
from tests.fixtures.sizing import itype


def catalog_of(*types: InstanceType, region: str | None = "test-region-1") -> Catalog:
    return Catalog(tuple(types), region, "<test>")


WIKI_EXAMPLE = Workload(
    per_submission_memory_gib=10.0,
    max_concurrent_submissions=4,
    vcpus_per_submission=1,
    docker_image_gib=4.0,
    input_data_gib=50.0,
    output_per_submission_gib=1.0,
    kind="model-to-data",
)


# --- capacity model ------------------------------------------------------------------------------


def test_wiki_example_needs_more_than_memory_times_concurrency():
    req = compute_requirements(WIKI_EXAMPLE)
    # 4 x 10 GiB containers + 4 x 0.5 GiB engines + 1 GiB JVM + 1 GiB OS/Docker.
    assert req.memory_gib == pytest.approx(44.0)
    assert req.nominal_memory_gib == pytest.approx(44.0 / 0.925)
    assert req.vcpus == 5
    # 8 OS + 3 engine images + 2 step images + 4 x 4 images + 50 input + 4 x 1.1 running jobs
    # + 7 days x 4/day x 1.1 finished jobs.
    assert req.disk_gib == pytest.approx(8 + 3 + 2 + 16 + 50 + 4.4 + 30.8)
    assert req.root_volume_gib == 115


def test_breakdown_adds_up_and_every_figure_has_a_reason():
    req = compute_requirements(WIKI_EXAMPLE)
    memory = [i for i in req.breakdown if i.resource == "memory"]
    disk = [i for i in req.breakdown if i.resource == "disk"]
    assert sum(i.gib for i in memory) == pytest.approx(req.nominal_memory_gib)
    assert sum(i.gib for i in memory if "reserve" not in i.item) == pytest.approx(req.memory_gib)
    assert sum(i.gib for i in disk) == pytest.approx(req.disk_gib)
    assert math.ceil(sum(i.vcpus for i in req.vcpu_breakdown)) == req.vcpus
    for item in (*req.breakdown, *req.vcpu_breakdown):
        assert item.reason and "\n" not in item.reason, item
    items = {i.item for i in req.breakdown}
    assert {"participant images", "input data", "workflow engines", "orchestrator"} <= items


def test_data_to_model_has_no_participant_images_but_step_images_and_per_job_references():
    workload = Workload(
        per_submission_memory_gib=2,
        max_concurrent_submissions=3,
        docker_image_gib=5,
        input_data_gib=2,
        kind="data-to-model",
    )
    disk = {i.item: i.gib for i in compute_requirements(workload).breakdown if i.resource == "disk"}
    assert "participant images" not in disk
    assert disk["workflow step images"] == 5  # pulled once, not per submission
    assert disk["reference files"] == 6  # each of 3 runs downloads 2 GiB


def test_root_volume_has_a_floor_and_rounds_up():
    tiny = Workload(
        per_submission_memory_gib=0.5,
        max_concurrent_submissions=1,
        docker_image_gib=0.1,
        output_per_submission_gib=0,
        job_retention_days=1,
    )
    assert compute_requirements(tiny).root_volume_gib == MIN_ROOT_VOLUME_GIB
    big = Workload(
        per_submission_memory_gib=1,
        max_concurrent_submissions=1,
        docker_image_gib=1,
        input_data_gib=100.01,
    )
    req = compute_requirements(big)
    assert req.root_volume_gib == math.ceil(req.disk_gib) > req.disk_gib


def test_submissions_per_day_and_retention_size_finished_job_folders():
    base = dict(
        per_submission_memory_gib=1, max_concurrent_submissions=2, output_per_submission_gib=2
    )
    a = compute_requirements(Workload(**base, job_retention_days=3, submissions_per_day=10))
    finished = next(i for i in a.breakdown if i.item == "finished job folders")
    assert finished.gib == pytest.approx(3 * 10 * 2.1)


def test_usable_memory_matches_the_documented_overhead():
    assert usable_memory_gib(8) == pytest.approx(7.4)


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("per_submission_memory_gib", 0, "perSubmissionMemoryGiB"),
        ("per_submission_memory_gib", -1.5, "perSubmissionMemoryGiB"),
        ("per_submission_memory_gib", float("nan"), "perSubmissionMemoryGiB"),
        ("per_submission_memory_gib", "10", "perSubmissionMemoryGiB"),
        ("max_concurrent_submissions", 0, "maxConcurrentSubmissions"),
        ("max_concurrent_submissions", 2.5, "maxConcurrentSubmissions"),
        ("max_concurrent_submissions", True, "maxConcurrentSubmissions"),
        ("vcpus_per_submission", 0, "vcpusPerSubmission"),
        ("docker_image_gib", 0, "dockerImageGiB"),
        ("input_data_gib", -1, "inputDataGiB"),
        ("output_per_submission_gib", float("inf"), "outputPerSubmissionGiB"),
        ("job_retention_days", -1, "jobRetentionDays"),
        ("job_retention_days", 0, "jobRetentionDays"),
        ("max_concurrent_submissions", 101, "maxConcurrentSubmissions"),
        ("submissions_per_day", -3, "submissionsPerDay"),
        ("kind", "model-to-model", "kind"),
    ],
)
def test_bad_workload_names_the_stack_key(field, value, key):
    fields = {"per_submission_memory_gib": 10, "max_concurrent_submissions": 4, field: value}
    with pytest.raises(SizingError) as info:
        Workload(**fields)
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_zero_input_and_output_are_allowed():
    Workload(
        per_submission_memory_gib=1,
        max_concurrent_submissions=1,
        input_data_gib=0,
        output_per_submission_gib=0,
    )


# --- committed catalogs ----------------------------------------------------------------------------


def test_committed_catalogs_cover_the_supported_regions():
    assert {"us-east-1", "us-west-2", "eu-west-1"} <= set(SUPPORTED_REGIONS)
    assert load_catalog().region == "us-east-1"
    for region in SUPPORTED_REGIONS:
        catalog = load_catalog(region)
        assert catalog.region == region
        assert len(catalog.instance_types) > 500, region


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2", "eu-west-1"])
def test_committed_catalog_says_where_specs_and_prices_came_from_and_when(region):
    catalog = load_catalog(region)
    meta = catalog.metadata
    assert meta is not None
    assert "moto" in meta.source and "DescribeInstanceTypes" in meta.source
    assert dt.datetime.fromisoformat(meta.generated_at).tzinfo is not None
    assert meta.price_source and "generated" in meta.price_source
    assert dt.date.fromisoformat(meta.prices_as_of) <= dt.date.fromisoformat(meta.generated_at[:10])
    priced = [t for t in catalog.instance_types if t.hourly_price_usd is not None]
    assert len(priced) > 0.9 * len(catalog.instance_types)


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2", "eu-west-1"])
def test_committed_catalog_generation_flags_follow_aws_not_moto(region):
    catalog = load_catalog(region)
    # moto's DescribeInstanceTypes data calls these previous generation; AWS's feed does not.
    for name in ("c5.large", "m5.large", "m6i.large", "r5.large", "r6i.large", "g5.xlarge"):
        assert catalog.get(name).current_generation, name
    assert catalog.get("r7g.large").current_generation
    for name in ("m3.medium", "c3.large", "r3.large"):
        assert not catalog.get(name).current_generation, name


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1"])
def test_estimated_prices_are_the_us_east_1_price_times_the_recorded_ratio(region):
    catalog = load_catalog(region)
    basis = load_catalog("us-east-1")
    ratio = catalog.metadata.estimate_ratio
    assert ratio is not None and 0.9 < ratio < 1.3
    estimated = [t for t in catalog.instance_types if t.price_estimated]
    assert len(estimated) > 100  # families launched after the region's price data
    for t in estimated:
        assert t.hourly_price_usd == pytest.approx(
            basis.get(t.instance_type).hourly_price_usd * ratio, abs=1e-4
        ), t.instance_type
    assert "m8i.large" in {t.instance_type for t in estimated}
    assert f"x {ratio:g}" in catalog.metadata.price_estimates


def test_us_east_1_prices_are_its_own():
    catalog = load_catalog("us-east-1")
    assert catalog.metadata.estimate_ratio is None
    assert not any(t.price_estimated for t in catalog.instance_types)
    assert catalog.get("r5a.2xlarge").hourly_price_usd == 0.452
    assert catalog.get("m5zn.3xlarge").hourly_price_usd == 0.991


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2", "eu-west-1"])
def test_committed_catalog_is_one_type_per_line_sorted_and_round_trips(region):
    path = CATALOG_DIR / f"{region}.json"
    text = path.read_text()
    catalog = parse_catalog(text)
    assert list(catalog.instance_types) == sorted(catalog.instance_types, key=catalog_order)
    type_lines = [line for line in text.splitlines() if '"instance_type":' in line]
    assert len(type_lines) == len(catalog.instance_types)
    assert dump_catalog(catalog.metadata) == text


def test_committed_catalog_holds_real_specs():
    catalog = load_catalog("us-east-1")
    m7i = catalog.get("m7i.large")
    assert (m7i.vcpus, m7i.memory_mib, m7i.architectures) == (2, 8192, ("x86_64",))
    assert m7i.current_generation and not m7i.burstable and not m7i.bare_metal
    assert catalog.get("m7g.large").architectures == ("arm64",)
    assert catalog.get("t3.micro").burstable
    assert catalog.get("m7i.metal-24xl").bare_metal
    assert catalog.get("g6.xlarge").gpus == 1
    assert catalog.get("inf2.xlarge").accelerators == 1


def test_unsupported_region_lists_the_supported_ones():
    with pytest.raises(SizingError) as info:
        load_catalog("mars-north-1")
    assert info.value.key == "aws:region"
    for region in SUPPORTED_REGIONS:
        assert region in str(info.value)


def test_catalog_for_another_region_is_refused(tmp_path):
    path = tmp_path / "c.json"
    path.write_text((CATALOG_DIR / "eu-west-1.json").read_text())
    with pytest.raises(SizingError, match="describes region eu-west-1, not us-east-1"):
        load_catalog("us-east-1", path=path)
    assert load_catalog(path=path).region == "eu-west-1"


GOOD_ROW = {
    "instance_type": "m7i.large",
    "vcpus": 2,
    "memory_mib": 8192,
    "architectures": ["x86_64"],
    "current_generation": True,
    "burstable": False,
    "bare_metal": False,
    "gpus": 0,
    "hourly_price_usd": 0.1,
}


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("{not json", "malformed"),
        (json.dumps({"instance_types": []}), "instance_types"),
        (json.dumps([]), "no instance types"),
        (json.dumps([{**GOOD_ROW, "memory_mib": -8}]), "memory_mib"),
        (json.dumps([{**GOOD_ROW, "vcpus": "2"}]), "vcpus"),
        (json.dumps([{**GOOD_ROW, "hourly_price_usd": 0}]), "hourly_price_usd"),
        (json.dumps([{k: v for k, v in GOOD_ROW.items() if k != "gpus"}]), "gpus"),
        (json.dumps([{**GOOD_ROW, "memory_gib": 8}]), "memory_gib"),
        (json.dumps([GOOD_ROW, GOOD_ROW]), "duplicate instance types m7i.large"),
        (json.dumps({"regoin": "x", "instance_types": [GOOD_ROW]}), "regoin"),
    ],
)
def test_malformed_catalog_file_is_a_clear_error(tmp_path, text, expect):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SizingError) as info:
        load_catalog(path=path)
    assert str(path) in str(info.value)
    assert expect in str(info.value)


def test_missing_catalog_file_is_a_clear_error(tmp_path):
    with pytest.raises(SizingError, match="cannot read catalog file"):
        load_catalog(path=tmp_path / "nope.json")


def test_bare_list_catalog_is_accepted(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([GOOD_ROW]))
    catalog = load_catalog(path=path)
    assert catalog.region is None and catalog.get("m7i.large").hourly_price_usd == 0.1


# --- chooser -----------------------------------------------------------------------------------

SMALL = Workload(per_submission_memory_gib=2, max_concurrent_submissions=2)  # 7 GiB, 3 vCPUs


def test_cheapest_fitting_type_wins_over_cheaper_ineligible_ones():
    catalog = catalog_of(
        itype("fit.dear", 4, 16, 0.30),
        itype("fit.cheap", 4, 8, 0.20),
        itype("small.cheaper", 2, 8, 0.05),  # too few vCPUs
        itype("tiny.cheaper", 4, 4, 0.05),  # too little memory
        itype("t9.burst", 4, 16, 0.01, burstable=True),
        itype("a9.arm", 4, 16, 0.01, architectures=("arm64",)),
        itype("o1.old", 4, 16, 0.01, current_generation=False),
        itype("m9.metal", 4, 16, 0.01, bare_metal=True),
        itype("g9.gpu", 4, 16, 0.01, gpus=1),
        itype("inf9.acc", 4, 16, 0.01, accelerators=1),
    )
    est = estimate_host(SMALL, catalog)
    assert est.instance_type == "fit.cheap"
    assert est.prices_known and est.hourly_price_usd == 0.20
    assert est.monthly_price_usd == pytest.approx(0.20 * 730)
    assert "cheapest" in est.selection
    assert estimate_host(SMALL, catalog, allow_gpu=True).instance_type == "g9.gpu"
    assert estimate_host(SMALL, catalog, architectures=("arm64",)).instance_type == "a9.arm"


def test_unknown_prices_use_least_memory_then_fewest_vcpus_then_name():
    types = [
        itype("b.big", 4, 16),
        itype("b.many", 8, 8),
        itype("b.four", 4, 8),
        itype("a.four", 4, 8),
    ]
    for seed in range(5):
        random.Random(seed).shuffle(types)
        est = estimate_host(SMALL, catalog_of(*types))
        assert est.instance_type == "a.four"
        assert not est.prices_known and est.monthly_price_usd is None
        assert "prices unknown" in est.selection


def test_priced_types_come_before_unpriced_and_ties_break_by_memory_then_name():
    catalog = catalog_of(
        itype("z.unpriced", 4, 8),
        itype("b.tie", 4, 8, 0.2),
        itype("a.tie-big", 4, 16, 0.2),
        itype("a.tie", 4, 8, 0.2),
    )
    assert estimate_host(SMALL, catalog).instance_type == "a.tie"


def test_override_that_fits_is_used_even_outside_the_default_filters():
    catalog = catalog_of(itype("m5.xlarge", 4, 16, current_generation=False), itype("c.x", 4, 8))
    est = estimate_host(SMALL, catalog, instance_type="m5.xlarge")
    assert est.instance_type == "m5.xlarge" and "override" in est.selection


def test_override_that_does_not_fit_names_what_it_lacks():
    catalog = load_catalog("us-east-1")
    with pytest.raises(SizingError) as info:
        estimate_host(WIKI_EXAMPLE, catalog, instance_type="m5.large")
    message = str(info.value)
    assert info.value.key == "instanceType"
    assert message.startswith(
        "instanceType m5.large: 8 GiB memory (7.4 usable) < 44.0 GiB required; 2 vCPUs < 5 required"
    )
    best = estimate_host(WIKI_EXAMPLE, catalog).instance_type
    assert best in message


def test_override_short_of_vcpus_only_says_so():
    catalog = catalog_of(itype("r9.large", 2, 64), itype("c9.xlarge", 8, 16))
    with pytest.raises(SizingError) as info:
        estimate_host(
            Workload(per_submission_memory_gib=1, max_concurrent_submissions=4),
            catalog,
            instance_type="r9.large",
        )
    assert str(info.value).startswith("instanceType r9.large: 2 vCPUs < 5 required (")
    assert "c9.xlarge, which fits" in str(info.value)


def test_override_not_in_catalog_suggests_close_names():
    with pytest.raises(SizingError, match=r"did you mean m7i\.large") as info:
        estimate_host(SMALL, load_catalog("us-east-1"), instance_type="m7i.larg")
    assert info.value.key == "instanceType"


def test_override_with_a_disallowed_architecture_is_refused():
    with pytest.raises(
        SizingError,
        match=r"arm64, but the host must be x86_64 \(the orchestrator image is published for amd64 only\)",
    ):
        estimate_host(SMALL, load_catalog("us-east-1"), instance_type="m7g.2xlarge")


def test_no_type_fits_names_the_requirement():
    huge = Workload(per_submission_memory_gib=4096, max_concurrent_submissions=20)
    with pytest.raises(SizingError, match="GiB usable memory required") as info:
        estimate_host(huge, load_catalog("us-east-1"))
    assert info.value.key == "perSubmissionMemoryGiB"
    busy = Workload(
        per_submission_memory_gib=0.1, max_concurrent_submissions=100, vcpus_per_submission=10
    )
    with pytest.raises(SizingError, match="1001 vCPUs required") as info:
        estimate_host(busy, load_catalog("us-east-1"))
    assert info.value.key == "vcpusPerSubmission"
    with pytest.raises(SizingError, match="no sparc instance types") as info:
        estimate_host(SMALL, load_catalog("us-east-1"), architectures=("sparc",))
    assert info.value.key == "allowedArchitectures"


def test_estimate_on_committed_catalog_fits_and_exposes_the_lead_api():
    est = estimate_host(WIKI_EXAMPLE, catalog=load_catalog("us-east-1"), instance_type=None)
    inst = est.instance
    assert est.instance_type == inst.instance_type
    assert inst.usable_memory_gib >= est.required.memory_gib == pytest.approx(44.0)
    assert inst.vcpus >= est.required.vcpus == 5
    assert "x86_64" in inst.architectures and inst.current_generation and not inst.burstable
    assert isinstance(est.root_volume_gib, int) and est.root_volume_gib == 115
    # The example: r5a.2xlarge ($0.452/h) fits; the unpriced order took m5zn.3xlarge.
    assert est.instance_type == "r5a.2xlarge" and est.prices_known and not est.price_estimated
    assert est.monthly_price_usd == pytest.approx(0.452 * 730, abs=0.01)
    assert est.monthly_cost_usd == pytest.approx(0.452 * 730 + 115 * 0.08 + 0.005 * 730, abs=0.02)
    assert est.prices_as_of == "2026-07-20"
    assert all(len(item.reason) > 10 for item in est.breakdown)


def test_json_dict_has_the_documented_shape():
    catalog = catalog_of(itype("fit.cheap", 4, 8, 0.25))
    doc = estimate_host(SMALL, catalog).to_json_dict()
    json.dumps(doc)  # serialisable
    assert set(doc["required"]) >= {"memory_gib", "vcpus", "disk_gib"}
    assert doc["instance_type"] == "fit.cheap"
    assert doc["instance"]["memory_gib"] == 8.0 and doc["instance"]["vcpus"] == 4
    assert doc["root_volume_gib"] == math.ceil(doc["required"]["disk_gib"])
    assert doc["hourly_price_usd"] == 0.25 and doc["monthly_price_usd"] == 182.5
    assert doc["breakdown"] and all(set(b) >= {"item", "gib", "reason"} for b in doc["breakdown"])
    assert doc["required"]["disk_gib"] == pytest.approx(
        sum(b["gib"] for b in doc["breakdown"] if b["resource"] == "disk")
    )


# --- CLI -----------------------------------------------------------------------------------------

ESTIMATE = [
    "estimate",
    "--memory-gib",
    "10",
    "--concurrency",
    "4",
    "--image-gib",
    "4",
    "--input-gib",
    "50",
]


def test_cli_table(capsys):
    assert cli(ESTIMATE) == 0
    out = capsys.readouterr().out
    chosen = estimate_host(WIKI_EXAMPLE, load_catalog()).instance_type
    assert f"Instance  {chosen}:" in out
    assert "participant images" in out and "Root      115 GiB" in out
    assert "Price     $0.4520/hour on demand" in out
    assert (
        "Monthly   $342.81/month (instance $329.96 + root volume $9.20 + public IPv4 $3.65; "
        "prices as of 2026-07-20)" in out
    )


def test_cli_json_matches_the_library(capsys):
    assert cli([*ESTIMATE, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == estimate_host(WIKI_EXAMPLE, load_catalog()).to_json_dict()


def test_cli_uses_a_catalog_file(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps([{**GOOD_ROW, "instance_type": "x.fits", "vcpus": 8, "memory_mib": 64 * 1024}])
    )
    assert cli([*ESTIMATE, "--catalog", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hourly_price_usd"] == 0.1


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--memory-gib", "0"], "--memory-gib (perSubmissionMemoryGiB) must be a number > 0"),
        (["--region", "xx-1"], "--region (aws:region) 'xx-1' has no committed instance catalog"),
        (["--instance-type", "m5.large"], "--instance-type (instanceType) m5.large: 8 GiB memory"),
    ],
)
def test_cli_error_is_one_line_naming_the_flag(capsys, extra, expect):
    assert cli([*ESTIMATE, *extra]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"sizing: {expect}")
    assert captured.err.count("\n") == 1


def test_python_dash_m_sizing_runs_offline():
    result = run_module("sizing", *ESTIMATE, "--json", timeout_s=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["root_volume_gib"] == 115
