"""Prices: merging a price file, unpriced types, the monthly cost, stale prices and the budget."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from sizing import (
    GP3_USD_PER_GIB_MONTH,
    SUPPORTED_REGIONS,
    Catalog,
    CatalogFile,
    MonthlyCost,
    SizingError,
    Workload,
    check_fleet_budget,
    estimate_host,
    load_catalog,
    merge_prices,
    monthly_cost,
    parse_catalog,
    parse_price_file,
    stale_price_warning,
)
from sizing.cli import cli, render_table
from sizing.costs import GP3_PRICE_SOURCE, PUBLIC_IPV4_PRICE_SOURCE
from tests.fixtures.sizing import itype

SMALL = Workload(per_submission_memory_gib=2, max_concurrent_submissions=2)  # 7 GiB, 3 vCPUs


def source(generated: str) -> dict[str, str]:
    return {"repository": "r", "path": "p", "commit": "c" * 40, "generated": generated}


PRICE_FILE = {
    "what": "test prices",
    "sources_by_region": {
        "us-east-1": source("2026-07-20T13:44:30Z"),
        "eu-west-1": source("2025-04-04T22:41:22Z"),
    },
    "prices_usd_per_hour": {
        "us-east-1": {"a.large": 0.10, "b.large": 0.20, "new.large": 0.30, "old.large": 0.5},
        "eu-west-1": {"a.large": 0.11, "b.large": 0.24, "old.large": 0.55},
    },
    "previous_generation": {"us-east-1": ["old.large"], "eu-west-1": ["old.large"]},
}


def specs_file(region: str) -> CatalogFile:
    # moto's flags: "a.large" wrongly previous generation, "old.large" wrongly current.
    return CatalogFile(
        region=region,
        source="test specs",
        instance_types=(
            itype("a.large", 4, 8, current_generation=False),
            itype("b.large", 4, 8),
            itype("new.large", 4, 8),
            itype("old.large", 4, 8),
            itype("mac.large", 4, 8),
        ),
    )


def merged(region: str) -> CatalogFile:
    prices = parse_price_file(json.dumps(PRICE_FILE))
    return merge_prices(specs_file(region), prices, generated_by="test")


# --- merging a price file ------------------------------------------------------------------------


def test_merge_takes_own_prices_estimates_the_rest_and_aws_generation_flags():
    file = merged("eu-west-1")
    by = {t.instance_type: t for t in file.instance_types}
    assert by["a.large"].hourly_price_usd == 0.11 and not by["a.large"].price_estimated
    # Ratio: median of 0.11/0.10, 0.24/0.20, 0.55/0.5 = 1.1.
    assert file.estimate_ratio == pytest.approx(1.1)
    assert (
        by["new.large"].hourly_price_usd == pytest.approx(0.33) and by["new.large"].price_estimated
    )
    assert by["mac.large"].hourly_price_usd is None and not by["mac.large"].price_estimated
    assert by["a.large"].current_generation and not by["old.large"].current_generation
    assert file.prices_as_of == "2025-04-04"  # the oldest price data behind the catalog
    assert "1 estimated" in file.prices and "1 without any price" in file.prices
    assert "x 1.1" in file.price_estimates and "2026-07-20" in file.price_estimates
    assert parse_catalog(json.dumps(file.model_dump(mode="json"))).metadata == file


def test_merge_in_the_basis_region_estimates_nothing():
    file = merged("us-east-1")
    by = {t.instance_type: t for t in file.instance_types}
    assert by["new.large"].hourly_price_usd == 0.30 and not any(
        t.price_estimated for t in file.instance_types
    )
    assert file.estimate_ratio is None and file.prices_as_of == "2026-07-20"


def test_merge_refuses_a_region_the_file_does_not_price():
    with pytest.raises(SizingError, match="no prices for region 'us-west-2'"):
        merged("us-west-2")


def test_price_file_must_be_well_formed():
    with pytest.raises(SizingError, match="malformed"):
        parse_price_file('{"prices_usd_per_hour": {}}')
    bad = {**PRICE_FILE, "prices_usd_per_hour": {"us-east-1": {"a.large": 0}}}
    with pytest.raises(SizingError, match="must be > 0"):
        parse_price_file(json.dumps(bad))


def test_cli_merges_a_price_file_offline(tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(specs_file("eu-west-1").model_dump(mode="json")))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(PRICE_FILE))
    out = tmp_path / "out.json"
    argv = ["catalog", "--region", "eu-west-1", "--catalog", str(base), "--prices", str(prices)]
    assert cli([*argv, "--out", str(out)]) == 0
    catalog = load_catalog("eu-west-1", path=out)
    assert catalog.get("new.large").price_estimated
    # The real command: the catalog merged into is part of how the file was made.
    assert catalog.metadata.generated_by == (
        f"python -m sizing catalog --region eu-west-1 --catalog {base} --prices {prices}"
    )


# --- choosing with prices ------------------------------------------------------------------------


def test_a_type_without_a_price_never_wins_and_is_counted():
    catalog = Catalog(
        (
            itype("nopr.large", 4, 8),
            itype("dear.large", 4, 16, 0.5),
            itype("est.large", 4, 8, 0.4, price_estimated=True),
        ),
        "eu-west-1",
        "<test>",
    )
    est = estimate_host(SMALL, catalog)
    assert est.instance_type == "est.large" and est.price_estimated
    assert "1 fitting types without any price left out" in est.selection
    assert "1 of them estimated" in est.selection and "is estimated" in est.selection
    assert est.monthly_cost.estimated and "estimated" in est.monthly_cost.summary()
    assert "(estimated)" in render_table(est, catalog)
    assert est.to_json_dict()["price_estimated"] is True
    assert any("estimated" in w for w in est.warnings(dt.date(2026, 12, 1)))


def test_monthly_cost_adds_the_gp3_root_volume_and_the_public_ipv4_address():
    cost = monthly_cost(
        instance_type="r6a.2xlarge",
        hourly_price_usd=0.5076,
        price_estimated=False,
        root_volume_gib=115,
        region="eu-west-1",
        prices_as_of="2025-04-04",
    )
    by = {i.item: i.usd_per_month for i in cost.items}
    assert by == {"instance": 370.55, "root volume": 10.12, "public IPv4": 3.65}
    assert cost.total_usd == pytest.approx(384.32)
    assert all(i.reason for i in cost.items) and "gp3" in cost.items[1].reason
    assert "prices as of 2025-04-04" in cost.summary()


def x_large_cost(**changes: object) -> MonthlyCost:
    """The monthly cost of x.large at $0.1/hour with 20 GiB in us-east-1, but for `changes`."""
    fields: dict[str, Any] = {
        "instance_type": "x.large",
        "hourly_price_usd": 0.1,
        "price_estimated": False,
        "root_volume_gib": 20,
        "region": "us-east-1",
        "prices_as_of": "2026-07-20",
    }
    return monthly_cost(**(fields | changes))


def test_monthly_cost_is_unknown_without_an_instance_price():
    cost = x_large_cost(hourly_price_usd=None)
    assert cost.total_usd is None
    assert cost.summary().startswith("unknown: no price for the instance (x.large has no")
    assert cost.items[1].usd_per_month == 1.6  # the volume is still known


def test_monthly_cost_without_a_gp3_rate_names_the_root_volume_not_the_instance():
    cost = x_large_cost(region="ap-south-1")
    assert cost.total_usd is None
    assert [i.item for i in cost.unknown_items] == ["root volume"]
    summary = cost.summary()
    assert summary.startswith("unknown: no price for the root volume (no gp3 price recorded for")
    assert "'ap-south-1'" in summary and "instance" not in summary


def test_a_region_without_a_gp3_rate_fails_the_budget_naming_the_root_volume():
    catalog = Catalog((itype("fit.large", 4, 8, 0.1),), "ap-south-1", "<test>")
    est = estimate_host(SMALL, catalog)
    assert est.prices_known and est.monthly_cost_usd is None
    (warning,) = est.warnings(dt.date(2026, 12, 1))
    assert "no price for the root volume" in warning and "ap-south-1" in warning
    with pytest.raises(SizingError) as info:
        estimate_host(SMALL, catalog, monthly_budget_usd=500)
    message = str(info.value)
    assert "no price for the root volume" in message and "'ap-south-1'" in message
    assert "no price in the catalog" not in message and "has no price" not in message


def test_gp3_rates_cover_every_region_with_a_committed_catalog():
    assert SUPPORTED_REGIONS, "no committed catalog found"
    assert set(SUPPORTED_REGIONS) <= set(GP3_USD_PER_GIB_MONTH)


def test_each_rates_source_is_in_the_json_not_in_the_text_lines(capsys):
    argv = ["estimate", "--memory-gib", "2", "--concurrency", "2", "--image-gib", "1"]
    assert cli([*argv, "--region", "eu-west-1", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)["monthly_cost"]["items"]
    sources = {i["item"]: i["source"] for i in items}
    assert sources["root volume"] == GP3_PRICE_SOURCE
    assert sources["public IPv4"] == PUBLIC_IPV4_PRICE_SOURCE
    assert sources["instance"] == load_catalog("eu-west-1").metadata.price_source
    assert cli([*argv, "--region", "eu-west-1"]) == 0
    table = capsys.readouterr().out
    assert "aws.amazon.com/ebs/pricing" not in table and max(map(len, table.splitlines())) < 200


def test_stale_prices_warn_after_180_days_with_the_refresh_command():
    assert stale_price_warning("2026-07-20", dt.date(2027, 1, 16), "us-east-1") is None  # 180
    warning = stale_price_warning("2026-07-20", dt.date(2027, 1, 17), "us-east-1")
    assert "181 days old" in warning
    assert "python -m sizing catalog --region us-east-1" in warning and "--prices" in warning
    assert stale_price_warning(None, dt.date(2030, 1, 1), "us-east-1") is None


def test_committed_us_west_2_prices_are_stale_on_the_day_of_writing():
    est = estimate_host(SMALL, load_catalog("us-west-2"))
    assert any("606 days old" in w for w in est.warnings(dt.date(2026, 12, 1)))


# --- a type without a price ---------------------------------------------------------------------


def only_unpriced_fit() -> Catalog:
    """A priced catalog in which only types without a price fit SMALL (7 GiB, 3 vCPUs)."""
    return Catalog(
        (
            itype("small.large", 2, 4, 0.05),
            itype("nopr.xlarge", 4, 16),
            itype("nopr.large", 4, 8),
        ),
        "eu-west-1",
        "<test>",
    )


def test_only_unpriced_types_fit_a_priced_catalog_the_pick_warns_its_cost_is_unknown():
    est = estimate_host(SMALL, only_unpriced_fit())
    assert est.instance_type == "nopr.large" and est.monthly_cost_usd is None
    assert "none of the 2 fitting types has one" in est.selection
    unknown = [w for w in est.warnings(dt.date(2026, 12, 1)) if "unknown" in w]
    assert len(unknown) == 1
    assert unknown[0].startswith("nopr.large has no on-demand price in the eu-west-1 catalog")
    assert "nor has any other type that fits" in unknown[0]
    assert "python -m sizing catalog --region eu-west-1" in unknown[0]
    with pytest.raises(SizingError, match=r"monthly cost of nopr\.large is unknown"):
        estimate_host(SMALL, only_unpriced_fit(), monthly_budget_usd=10_000)


def test_sizing_estimate_prints_the_unknown_price_warning(tmp_path, capsys):
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps(
            CatalogFile(
                region="eu-west-1", instance_types=only_unpriced_fit().instance_types
            ).model_dump(mode="json")
        )
    )
    argv = ["estimate", "--memory-gib", "2", "--concurrency", "2", "--image-gib", "1"]
    assert cli([*argv, "--region", "eu-west-1", "--catalog", str(path)]) == 0
    captured = capsys.readouterr()
    assert "Monthly   unknown: no price for the instance" in captured.out
    assert "warning: nopr.large has no on-demand price in the eu-west-1 catalog" in captured.err


def test_an_unpriced_override_warns_that_its_monthly_cost_is_unknown():
    catalog = Catalog(
        (itype("nopr.large", 4, 8), itype("fit.large", 4, 8, 0.1)), "us-east-1", "<test>"
    )
    est = estimate_host(SMALL, catalog, "nopr.large")
    assert est.override and est.monthly_cost_usd is None
    assert (
        "instanceType nopr.large has no on-demand price in the us-east-1 catalog, so its monthly "
        "cost is unknown"
    ) in est.warnings(dt.date(2026, 12, 1))[0]
    assert not estimate_host(SMALL, catalog).warnings(dt.date(2026, 12, 1))


# --- monthlyBudgetUsd --------------------------------------------------------------------------


def test_budget_above_the_estimate_passes():
    est = estimate_host(SMALL, load_catalog("us-east-1"), monthly_budget_usd=1000)
    assert est.monthly_cost_usd <= 1000


def test_budget_below_the_cheapest_fit_names_the_figure_and_says_so():
    cheapest = estimate_host(SMALL, load_catalog("us-east-1"))
    with pytest.raises(SizingError) as info:
        estimate_host(SMALL, load_catalog("us-east-1"), monthly_budget_usd=10)
    assert info.value.key == "monthlyBudgetUsd"
    message = str(info.value)
    assert "$10.00" in message and f"${cheapest.monthly_cost_usd:,.2f}" in message
    assert cheapest.instance_type in message and "already the cheapest" in message


def test_budget_with_a_dear_override_names_the_cheapest_fitting_alternative():
    catalog = load_catalog("us-east-1")
    cheapest = estimate_host(SMALL, catalog)
    with pytest.raises(SizingError) as info:
        estimate_host(SMALL, catalog, "m7i.24xlarge", monthly_budget_usd=200)
    message = str(info.value)
    assert "m7i.24xlarge" in message
    assert f"cheapest type that fits is {cheapest.instance_type}" in message
    assert f"${cheapest.monthly_cost_usd:,.2f}" in message and "within the budget" in message


def test_budget_with_an_unpriced_override_fails():
    catalog = Catalog(
        (itype("nopr.large", 4, 8), itype("fit.large", 4, 8, 0.1)), "us-east-1", "<test>"
    )
    with pytest.raises(SizingError, match=r"monthly cost of nopr\.large is unknown"):
        estimate_host(SMALL, catalog, "nopr.large", monthly_budget_usd=500)


def test_cli_budget_error_names_the_flag(capsys):
    argv = ["estimate", "--memory-gib", "2", "--concurrency", "2", "--image-gib", "1"]
    assert cli([*argv, "--monthly-budget-usd", "5"]) == 1
    assert "--monthly-budget-usd (monthlyBudgetUsd)" in capsys.readouterr().err


def test_fleet_budget_names_the_cheapest_fit_of_each_dear_override_and_the_total_with_it():
    catalog = load_catalog("us-east-1")
    big = Workload(per_submission_memory_gib=8, max_concurrent_submissions=4)
    cheap_small, cheap_big = estimate_host(SMALL, catalog), estimate_host(big, catalog)
    hosts = {
        "a": estimate_host(SMALL, catalog, "m7i.24xlarge"),
        "b": cheap_big,
        "c": estimate_host(SMALL, catalog, cheap_small.instance_type),  # its cheapest already
    }
    keys = {"a": "hosts[0].instanceType", "c": "hosts[2].instanceType"}
    total = sum(e.monthly_cost_usd for e in hosts.values())
    with_it = total - hosts["a"].monthly_cost_usd + cheap_small.monthly_cost_usd
    check_fleet_budget(hosts, total, catalog, keys)  # at the budget: fine
    with pytest.raises(SizingError) as info:
        check_fleet_budget(hosts, with_it + 1, catalog, keys)
    assert info.value.key == "monthlyBudgetUsd"
    message = str(info.value)
    assert message.startswith(f"monthlyBudgetUsd: the 3 hosts cost ${total:,.2f} a month")
    assert f"a m7i.24xlarge ${hosts['a'].monthly_cost_usd:,.2f}" in message
    assert (
        f"the cheapest type that fits host a is {cheap_small.instance_type} at "
        f"${cheap_small.monthly_cost_usd:,.2f} a month (hosts[0].instanceType is m7i.24xlarge)"
    ) in message
    assert f"the fleet would cost ${with_it:,.2f} a month, within the budget" in message
    assert "leave hosts[0].instanceType empty" in message
    assert "host c is" not in message and "host b is" not in message
    with pytest.raises(SizingError, match=rf"would still cost \${with_it:,.2f}.*raise it"):
        check_fleet_budget(hosts, with_it - 1, catalog, keys)


def test_fleet_budget_without_overrides_says_to_raise_it():
    catalog = load_catalog("us-east-1")
    hosts = {"a": estimate_host(SMALL, catalog), "b": estimate_host(SMALL, catalog)}
    with pytest.raises(SizingError) as info:
        check_fleet_budget(hosts, 10, catalog)
    message = str(info.value)
    assert "above the budget of $10.00; raise it" in message and "cheapest type" not in message


def test_fleet_budget_with_an_unpriced_override_names_its_priced_alternative():
    catalog = Catalog(
        (itype("nopr.large", 4, 8), itype("fit.large", 4, 8, 0.1)), "us-east-1", "<test>"
    )
    hosts = {"a": estimate_host(SMALL, catalog, "nopr.large"), "b": estimate_host(SMALL, catalog)}
    with pytest.raises(SizingError) as info:
        check_fleet_budget(hosts, 10_000, catalog)
    message = str(info.value)
    assert "cost an unknown amount a month together (a nopr.large unknown" in message
    assert "the cheapest type that fits host a is fit.large" in message
    assert "within the budget (leave instanceType empty to get it)" in message
