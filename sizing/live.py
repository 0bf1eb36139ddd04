"""Live catalog builder: EC2 specs and offerings of a region, on-demand prices from the Pricing API.

Needs AWS credentials that may call `ec2:DescribeInstanceTypes`,
`ec2:DescribeInstanceTypeOfferings` and `pricing:GetProducts`. The Pricing API is served from
us-east-1 whatever the region priced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from unittest import mock

import boto3
import botocore.exceptions

from .catalog import CatalogFile, InstanceType, utc_now_iso
from .errors import SizingError

PRICING_REGION = "us-east-1"
#: The price that applies to our host: on-demand Linux, shared tenancy, no pre-installed
#: software, ordinary (not capacity-reservation) usage.
PRICE_ATTRIBUTES: dict[str, str] = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def build_catalog(
    region: str,
    *,
    ec2: Any | None = None,
    pricing: Any | None = None,
    with_prices: bool = True,
    source: str | None = None,
    generated_by: str | None = None,
) -> CatalogFile:
    """The catalog of `region`: every type offered there, with prices unless `with_prices` is off.

    `ec2` and `pricing` are boto3 clients (made here when None). Prices are fetched first: a price
    list that fails or comes back empty is an error before anything else, so a refresh never
    overwrites a priced catalog with an unpriced one.
    """
    ec2 = ec2 or boto3.client("ec2", region_name=region)
    try:
        prices: dict[str, float] = {}
        if with_prices:
            pricing = pricing or boto3.client("pricing", region_name=PRICING_REGION)
            prices = on_demand_prices(pricing, region)
            if not prices:
                raise SizingError(
                    f"the Pricing API returned no on-demand Linux prices for {region}; nothing "
                    "written (use --no-prices for a specs-only catalog)"
                )
        offered = offered_instance_types(ec2, region)
        specs = [d for d in describe_instance_types(ec2) if d["InstanceType"] in offered]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise SizingError(f"cannot build the {region} catalog from AWS: {exc}") from exc
    if not specs:
        raise SizingError(f"AWS lists no instance types offered in region {region!r}")
    types = [instance_type_from_api(d, prices.get(d["InstanceType"])) for d in specs]
    priced = sum(t.hourly_price_usd is not None for t in types)
    generated_at = utc_now_iso()
    return CatalogFile(
        region=region,
        generated_at=generated_at,
        generated_by=generated_by or f"python -m sizing catalog --region {region}",
        source=source
        or "AWS EC2 DescribeInstanceTypes + DescribeInstanceTypeOfferings (location type region)"
        + (", Pricing API GetProducts (AmazonEC2)" if with_prices else ""),
        prices=(
            f"AWS on-demand Linux shared-tenancy USD/hour as of generated_at; {priced} of "
            f"{len(types)} types priced, the rest null"
            if with_prices
            else "unknown (null): specs only; refresh with AWS credentials: python -m sizing "
            f"catalog --region {region} --out FILE"
        ),
        price_source="AWS Pricing API GetProducts (AmazonEC2)" if with_prices else None,
        prices_as_of=generated_at[:10] if with_prices else None,
        instance_types=tuple(types),
    )


def offered_instance_types(ec2: Any, region: str) -> set[str]:
    """Names of the instance types offered in `region`."""
    pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
        LocationType="region", Filters=[{"Name": "location", "Values": [region]}]
    )
    return {o["InstanceType"] for page in pages for o in page["InstanceTypeOfferings"]}


def describe_instance_types(ec2: Any) -> list[dict[str, Any]]:
    """Every instance type the EC2 endpoint describes (all pages)."""
    pages = ec2.get_paginator("describe_instance_types").paginate()
    return [d for page in pages for d in page["InstanceTypes"]]


def instance_type_from_api(d: Mapping[str, Any], hourly_price_usd: float | None) -> InstanceType:
    """Our record of one DescribeInstanceTypes entry."""
    accel = d.get("InferenceAcceleratorInfo", {}).get("Accelerators", [])
    neuron = d.get("NeuronInfo", {}).get("NeuronDevices", [])
    return InstanceType(
        instance_type=d["InstanceType"],
        vcpus=d["VCpuInfo"]["DefaultVCpus"],
        memory_mib=d["MemoryInfo"]["SizeInMiB"],
        architectures=tuple(d["ProcessorInfo"]["SupportedArchitectures"]),
        current_generation=bool(d.get("CurrentGeneration", False)),
        burstable=bool(d.get("BurstablePerformanceSupported", False)),
        bare_metal=bool(d.get("BareMetal", False)),
        gpus=_count(d.get("GpuInfo", {}).get("Gpus", [])),
        # Inferentia shows up both as an inference accelerator and as Neuron devices.
        accelerators=_count(d.get("FpgaInfo", {}).get("Fpgas", []))
        + _count(d.get("MediaAcceleratorInfo", {}).get("Accelerators", []))
        + max(_count(accel), _count(neuron)),
        hourly_price_usd=hourly_price_usd,
    )


def on_demand_prices(pricing: Any, region: str) -> dict[str, float]:
    """Instance type -> on-demand Linux shared-tenancy USD/hour in `region`."""
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}] + [
        {"Type": "TERM_MATCH", "Field": field, "Value": value}
        for field, value in PRICE_ATTRIBUTES.items()
    ]
    pages = pricing.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1"
    )
    return prices_from_price_list(item for page in pages for item in page["PriceList"])


def prices_from_price_list(items: Iterable[str]) -> dict[str, float]:
    """Parse Pricing API PriceList entries (each a JSON document as a string) into hourly prices.

    Entries for other OSes, tenancies or capacity statuses are skipped even if the server sent
    them; should two entries price one type, the lower price wins (deterministic).
    """
    prices: dict[str, float] = {}
    for text in items:
        doc = json.loads(text)
        attributes = doc.get("product", {}).get("attributes", {})
        name = attributes.get("instanceType")
        if not name or any(attributes.get(k) != v for k, v in PRICE_ATTRIBUTES.items()):
            continue
        for term in doc.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if dimension.get("unit") != "Hrs" or usd is None or float(usd) <= 0:
                    continue
                prices[name] = min(float(usd), prices.get(name, float("inf")))
    return prices


def build_catalog_from_moto(region: str) -> CatalogFile:
    """Specs-only catalog from the real AWS instance data bundled with moto (no credentials).

    moto ships AWS's DescribeInstanceTypes output and per-region offerings; running the live
    builder against it under `mock_aws` gives reviewable, reproducible committed catalogs.
    """
    import moto  # dev dependency: only this path needs it

    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with mock.patch.dict(os.environ, fake), moto.mock_aws():
        return build_catalog(
            region,
            with_prices=False,
            source=f"moto {moto.__version__}'s bundled copy of AWS EC2 DescribeInstanceTypes and "
            "per-region DescribeInstanceTypeOfferings data, read through this builder under "
            "mock_aws",
            generated_by=f"python -m sizing catalog --region {region} --from-moto",
        )


def _count(devices: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(d.get("Count", 0)) for d in devices)
