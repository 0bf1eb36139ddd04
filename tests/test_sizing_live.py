"""Live catalog builder: EC2 through moto (real AWS specs), the Pricing API through Stubber."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import moto
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from sizing import SizingError, Workload, dump_catalog, estimate_host, load_catalog, parse_catalog
from sizing.cli import cli
from sizing.live import PRICING_REGION, build_catalog, prices_from_price_list

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
#: moto's bundled copy of AWS's DescribeInstanceTypes output, all regions together.
MOTO_INSTANCE_TYPES = Path(moto.__file__).parent / "ec2/resources/instance_types.json.gz"


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def priced_us_east_1():
    """us-east-1 built by the live builder: EC2 from moto, two pages of prices from Stubber."""
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        for name, value in FAKE_CREDENTIALS.items():
            mp.setenv(name, value)
        ec2 = boto3.client("ec2", region_name="us-east-1")
        pricing = boto3.client("pricing", region_name=PRICING_REGION)
        stubber = Stubber(pricing)
        stubber.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [
                    price_doc("m7i.large", "0.1008000000"),
                    # Not our price: a capacity reservation and another OS, should the server
                    # send them anyway.
                    price_doc("m7i.large", "0.05", capacitystatus="UnusedCapacityReservation"),
                    price_doc("c7i.large", "0.0010000000", operatingSystem="Windows"),
                ],
                "NextToken": "page-2",
            },
            expected_get_products("us-east-1"),
        )
        stubber.add_response(
            "get_products",
            {"FormatVersion": "aws_v1", "PriceList": [price_doc("c7i.large", "0.0892500000")]},
            expected_get_products("us-east-1", "page-2"),
        )
        with stubber:
            file = build_catalog("us-east-1", ec2=ec2, pricing=pricing)
        stubber.assert_no_pending_responses()
        offered = {
            o["InstanceType"]
            for o in ec2.describe_instance_type_offerings(
                LocationType="region", Filters=[{"Name": "location", "Values": ["us-east-1"]}]
            )["InstanceTypeOfferings"]
        }
    return file, offered


def price_doc(instance_type: str, usd: str, region: str = "us-east-1", **overrides: str) -> str:
    """One PriceList entry as the Pricing API returns it: a JSON document in a string."""
    sku = "".join(ch for ch in f"{instance_type}{usd}{''.join(overrides.values())}" if ch.isalnum())
    sku = sku.upper()[:16]
    attributes = {
        "instanceType": instance_type,
        "regionCode": region,
        "location": "US East (N. Virginia)",
        "servicecode": "AmazonEC2",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
        "operation": "RunInstances",
        "usagetype": f"BoxUsage:{instance_type}",
        **overrides,
    }
    return json.dumps(
        {
            "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": f"${usd} per On Demand Linux {instance_type} "
                                "Instance Hour",
                                "appliesTo": [],
                                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    f"{sku}.4NA7Y494T4": {
                        "priceDimensions": {
                            f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": "0.0010000000"},
                            }
                        },
                        "offerTermCode": "4NA7Y494T4",
                    }
                },
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def expected_get_products(region: str, next_token: str | None = None) -> dict:
    params = {
        "ServiceCode": "AmazonEC2",
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
            {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
            {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
            {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
            {"Type": "TERM_MATCH", "Field": "licenseModel", "Value": "No License required"},
        ],
    }
    if next_token:
        params["NextToken"] = next_token
    return params


def test_specs_come_from_describe_instance_types_for_the_region_only(priced_us_east_1):
    file, offered = priced_us_east_1
    names = {t.instance_type for t in file.instance_types}
    everywhere = json.loads(gzip.decompress(MOTO_INSTANCE_TYPES.read_bytes()))
    assert names == offered
    assert names < set(everywhere)  # types offered elsewhere only are left out
    by_name = {t.instance_type: t for t in file.instance_types}
    for name in ("m7i.2xlarge", "m7g.large", "t3.micro", "g6.xlarge", "inf2.xlarge"):
        real = everywhere[name]
        ours = by_name[name]
        assert ours.vcpus == real["VCpuInfo"]["DefaultVCpus"], name
        assert ours.memory_mib == real["MemoryInfo"]["SizeInMiB"], name
        assert list(ours.architectures) == real["ProcessorInfo"]["SupportedArchitectures"], name
        assert ours.burstable == real["BurstablePerformanceSupported"], name
        assert ours.current_generation == real["CurrentGeneration"], name
    assert by_name["m7i.2xlarge"].memory_mib == 32768 and by_name["m7i.2xlarge"].vcpus == 8
    assert by_name["g6.xlarge"].gpus == 1 and by_name["inf2.xlarge"].accelerators == 1
    assert file.region == "us-east-1"


def test_prices_from_the_pricing_api_through_stubber(priced_us_east_1):
    file, _ = priced_us_east_1
    by_name = {t.instance_type: t for t in file.instance_types}
    assert by_name["m7i.large"].hourly_price_usd == pytest.approx(0.1008)
    assert by_name["c7i.large"].hourly_price_usd == pytest.approx(0.08925)
    assert by_name["r7i.large"].hourly_price_usd is None
    assert f"2 of {len(file.instance_types)} types priced" in file.prices
    assert "Pricing API" in file.source
    # The priced file round-trips, and the chooser takes a priced type over unpriced ones.
    catalog = parse_catalog(dump_catalog(file))
    assert catalog.prices_known and catalog.get("m7i.large").hourly_price_usd == pytest.approx(
        0.1008
    )
    small = Workload(per_submission_memory_gib=1, max_concurrent_submissions=1)
    est = estimate_host(small, catalog)
    assert est.instance_type == "c7i.large" and est.prices_known


def test_pricing_failure_or_empty_price_list_fails_before_anything_else():
    ec2 = boto3.client("ec2", region_name="us-west-2")
    ec2_stubber = Stubber(ec2)  # no EC2 responses queued: an EC2 call would fail the test
    pricing = boto3.client("pricing", region_name=PRICING_REGION)
    stubber = Stubber(pricing)
    stubber.add_client_error("get_products", "AccessDeniedException", "not allowed")
    with ec2_stubber, stubber, pytest.raises(SizingError, match="cannot build the us-west-2"):
        build_catalog("us-west-2", ec2=ec2, pricing=pricing)
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": []},
        expected_get_products("us-west-2"),
    )
    with ec2_stubber, stubber, pytest.raises(SizingError, match="no on-demand Linux prices"):
        build_catalog("us-west-2", ec2=ec2, pricing=pricing)


def test_describe_instance_types_is_read_across_pages():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    stubber = Stubber(ec2)
    location = {
        "LocationType": "region",
        "Filters": [{"Name": "location", "Values": ["us-east-1"]}],
    }
    stubber.add_response(
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": [
                {"InstanceType": n, "LocationType": "region", "Location": "us-east-1"}
                for n in ("m7i.large", "m7g.large")
            ]
        },
        location,
    )

    def spec(name: str, arch: str) -> dict:
        return {
            "InstanceType": name,
            "CurrentGeneration": True,
            "BareMetal": False,
            "BurstablePerformanceSupported": False,
            "ProcessorInfo": {"SupportedArchitectures": [arch]},
            "VCpuInfo": {"DefaultVCpus": 2},
            "MemoryInfo": {"SizeInMiB": 8192},
        }

    stubber.add_response(
        "describe_instance_types",
        {"InstanceTypes": [spec("m7i.large", "x86_64")], "NextToken": "t2"},
        {},
    )
    stubber.add_response(
        "describe_instance_types",
        {"InstanceTypes": [spec("m7g.large", "arm64"), spec("m7i.metal-24xl", "x86_64")]},
        {"NextToken": "t2"},
    )
    with stubber:
        file = build_catalog("us-east-1", ec2=ec2, with_prices=False)
    assert [t.instance_type for t in file.instance_types] == ["m7i.large", "m7g.large"]


def test_price_list_parser_ignores_other_terms_and_keeps_the_lower_duplicate():
    prices = prices_from_price_list(
        [price_doc("m7i.large", "0.2"), price_doc("m7i.large", "0.1008"), price_doc("x.y", "0")]
    )
    assert prices == {"m7i.large": pytest.approx(0.1008)}


def test_committed_catalog_equals_a_fresh_build_from_moto(tmp_path, priced_us_east_1):
    out = tmp_path / "us-east-1.json"
    assert cli(["catalog", "--region", "us-east-1", "--from-moto", "--out", str(out)]) == 0
    fresh = load_catalog("us-east-1", path=out)
    committed = load_catalog("us-east-1")
    # The committed specs are moto's; prices and the generation flag come from the price file.
    price_fields = {"hourly_price_usd", "price_estimated", "current_generation"}

    def specs(types):
        return {tuple(t.model_dump(exclude=price_fields).items()) for t in types}

    assert specs(fresh.instance_types) == specs(committed.instance_types)
    assert fresh.metadata.source == committed.metadata.source
    moto_only_previous = {
        t.family
        for t in fresh.instance_types
        if not t.current_generation and committed.get(t.instance_type).current_generation
    }
    assert {"c5", "m5", "m6i", "r5", "r6i", "g5", "r7g"} <= moto_only_previous
    # The same specs as the builder's own run against moto's EC2 (prices aside).
    file, _ = priced_us_east_1
    assert specs(file.instance_types) == specs(committed.instance_types)


def test_catalog_from_moto_with_a_price_file_offline(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "sources_by_region": {
                    "us-east-1": {
                        "repository": "r",
                        "path": "p",
                        "commit": "c" * 40,
                        "generated": "2026-07-20T13:44:30Z",
                    }
                },
                "prices_usd_per_hour": {"us-east-1": {"c5.large": 0.085, "m3.medium": 0.067}},
                "previous_generation": {"us-east-1": ["m3.medium"]},
            }
        )
    )
    out = tmp_path / "us-east-1.json"
    argv = ["catalog", "--region", "us-east-1", "--from-moto", "--prices", str(prices)]
    assert cli([*argv, "--out", str(out)]) == 0
    catalog = load_catalog("us-east-1", path=out)
    assert catalog.get("c5.large").current_generation  # moto says previous generation
    assert not catalog.get("m3.medium").current_generation
    assert catalog.get("c5.large").hourly_price_usd == 0.085
    assert catalog.get("m7i.large").hourly_price_usd is None
    assert catalog.metadata.prices_as_of == "2026-07-20" and "moto" in catalog.metadata.source
    assert catalog.metadata.generated_by == (
        f"python -m sizing catalog --region us-east-1 --from-moto --prices {prices}"
    )
