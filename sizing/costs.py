"""Monthly cost of one host: the instance, its encrypted gp3 root volume, its public IPv4 address.

Each figure is a `CostItem` with its reason, and the total says how old its prices are. The rates
below are facts with their sources; they change rarely, so they are constants, not catalog data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .model import HOURS_PER_MONTH

#: gp3 storage, USD per GB-month (EBS bills the volume's provisioned GiB), per region. EBS
#: encryption is free; the 3,000 IOPS and 125 MB/s baseline is included, and we provision no more.
#: AWS's pricing page renders its table with JavaScript; the us-east-1 figure is also stated in
#: AWS's aws/agent-toolkit-for-aws (skills/.../aws-billing-and-cost-management/references/
#: ebs-optimization.md: "$0.08 vs $0.10 in us-east-1"). Refresh these with the Price List API
#: (`pricing:GetProducts`, ServiceCode AmazonEC2, productFamily Storage, volumeApiName gp3).
GP3_USD_PER_GIB_MONTH: dict[str, float] = {
    "us-east-1": 0.08,
    "us-west-2": 0.08,
    "eu-west-1": 0.088,
}
GP3_PRICE_SOURCE = (
    "AWS, Amazon EBS pricing, https://aws.amazon.com/ebs/pricing/ (General Purpose SSD gp3 "
    "storage per GB-month; AWS Price List usage types EBS:VolumeUsage.gp3, "
    "USW2-EBS:VolumeUsage.gp3, EU-EBS:VolumeUsage.gp3), unchanged since gp3's launch "
    "(https://aws.amazon.com/blogs/aws/new-amazon-ebs-gp3-volume-lets-you-provision-performance-"
    "separate-from-capacity-and-offers-20-lower-price/, 2020-12-01)"
)
#: Every public IPv4 address, in use or idle, since 2024-02-01, in every region.
PUBLIC_IPV4_USD_PER_HOUR = 0.005
PUBLIC_IPV4_PRICE_SOURCE = (
    "AWS, 'New - AWS Public IPv4 Address Charge + Public IP Insights' (2023-07-28), "
    "https://aws.amazon.com/blogs/aws/new-aws-public-ipv4-address-charge-public-ip-insights/, "
    "and https://aws.amazon.com/vpc/pricing/: $0.005 per IP per hour from 2024-02-01"
)
#: Prices older than this get a warning saying how to refresh them.
MAX_PRICE_AGE_DAYS = 180


@dataclass(frozen=True)
class CostItem:
    """One line of a monthly cost: what, how many USD a month, why, and where the rate is from."""

    item: str
    usd_per_month: float | None
    reason: str
    #: Who publishes the rate (long: shown in `--json`, not in the text lines).
    source: str | None = None

    def to_json_dict(self, *, with_source: bool = False) -> dict[str, object]:
        found: dict[str, object] = {
            "item": self.item,
            "usd_per_month": self.usd_per_month,
            "reason": self.reason,
        }
        if with_source:
            found["source"] = self.source
        return found


@dataclass(frozen=True)
class MonthlyCost:
    """A host's monthly on-demand cost (730 hours), line by line."""

    items: tuple[CostItem, ...]
    #: Sum of the items, USD; None when any is unknown (see `unknown_items`).
    total_usd: float | None
    #: Date of the oldest price behind the instance figure (YYYY-MM-DD), None if unknown.
    prices_as_of: str | None
    #: True when the instance price is an estimate, not the region's own price.
    estimated: bool

    @property
    def unknown_items(self) -> tuple[CostItem, ...]:
        """The items without a figure, which make the total unknown."""
        return tuple(i for i in self.items if i.usd_per_month is None)

    def summary(self) -> str:
        """One line: total, parts, price date; "estimated" when it is; what is unknown if any."""
        if self.total_usd is None:
            unknown = self.unknown_items
            return (
                f"unknown: no price for the {' and the '.join(i.item for i in unknown)} ("
                + "; ".join(i.reason for i in unknown)
                + ")"
            )
        parts = " + ".join(
            f"{i.item} ${i.usd_per_month:,.2f}" for i in self.items if i.usd_per_month is not None
        )
        mark = "estimated " if self.estimated else ""
        return f"${self.total_usd:,.2f}/month {mark}({parts}; prices as of {self.prices_as_of})"

    def to_json_dict(self, *, with_sources: bool = False) -> dict[str, object]:
        """The stack output `monthlyCost`; `with_sources` adds each rate's source (`--json`)."""
        return {
            "total_usd": self.total_usd,
            "prices_as_of": self.prices_as_of,
            "estimated": self.estimated,
            "items": [i.to_json_dict(with_source=with_sources) for i in self.items],
        }


def monthly_cost(
    *,
    instance_type: str,
    hourly_price_usd: float | None,
    price_estimated: bool,
    root_volume_gib: int,
    region: str | None,
    prices_as_of: str | None,
    estimate_note: str | None = None,
    price_source: str | None = None,
) -> MonthlyCost:
    """The instance, root volume and public IPv4 address for a month of 730 hours;
    `price_source` says where the catalog's instance prices come from."""
    if hourly_price_usd is None:
        instance = CostItem(
            "instance",
            None,
            f"{instance_type} has no on-demand price in the catalog",
            price_source,
        )
    else:
        how = f"estimated: {estimate_note}" if price_estimated and estimate_note else "estimated"
        instance = CostItem(
            "instance",
            round(hourly_price_usd * HOURS_PER_MONTH, 2),
            f"{instance_type} on demand, ${hourly_price_usd:g}/hour x {HOURS_PER_MONTH} hours"
            + (f" ({how})" if price_estimated else ""),
            price_source,
        )
    rate = GP3_USD_PER_GIB_MONTH.get(region or "")
    volume = CostItem(
        "root volume",
        None if rate is None else round(root_volume_gib * rate, 2),
        (
            f"{root_volume_gib} GiB encrypted gp3 x ${rate:g}/GB-month in {region} (encryption "
            "free, baseline IOPS and throughput included)"
            if rate is not None
            else f"no gp3 price recorded for region {region!r} in sizing/costs.py"
        ),
        GP3_PRICE_SOURCE,
    )
    ipv4 = CostItem(
        "public IPv4",
        round(PUBLIC_IPV4_USD_PER_HOUR * HOURS_PER_MONTH, 2),
        f"the host's public IPv4 address (default-VPC subnets assign one), "
        f"${PUBLIC_IPV4_USD_PER_HOUR:g}/hour x {HOURS_PER_MONTH} hours since 2024-02-01",
        PUBLIC_IPV4_PRICE_SOURCE,
    )
    items = (instance, volume, ipv4)
    return MonthlyCost(
        items=items,
        total_usd=sum_usd(i.usd_per_month for i in items),
        prices_as_of=prices_as_of if hourly_price_usd is not None else None,
        estimated=price_estimated and hourly_price_usd is not None,
    )


def sum_usd(figures: Iterable[float | None]) -> float | None:
    """The sum of USD figures (a host's items, a fleet's hosts), to the cent; None when any is
    unknown."""
    known = list(figures)
    return None if None in known else round(sum(f for f in known if f is not None), 2)


def stale_price_warning(prices_as_of: str | None, today: dt.date, region: str | None) -> str | None:
    """A warning when the catalog's prices are older than MAX_PRICE_AGE_DAYS, else None."""
    if prices_as_of is None:
        return None
    age_days = (today - dt.date.fromisoformat(prices_as_of)).days
    if age_days <= MAX_PRICE_AGE_DAYS:
        return None
    where = region or "REGION"
    return (
        f"the {where} prices are as of {prices_as_of}, {age_days} days old (more than "
        f"{MAX_PRICE_AGE_DAYS}); refresh them: `python -m sizing catalog --region {where} --out "
        f"sizing/catalogs/{where}.json` with AWS credentials, or offline from a newer price "
        f"file with `--prices FILE`; review the diff and commit it"
    )
