"""Offline prices: merge a price file into a catalog (`python -m sizing catalog --prices FILE`).

The price file is the format of `../shared/data/ec2-ondemand-prices.json`: on-demand Linux
shared-tenancy USD/hour per region with each region's provenance, and the types AWS's own pricing
feed calls previous generation. Merging sets three things per type:

- `current_generation` from AWS's previous-generation list, not from DescribeInstanceTypes as moto
  bundles it (moto calls c5, m5, m6i, r5, r6i, g5 and r7g previous generation; AWS does not);
- the region's own price when the file has one;
- otherwise an estimate, marked `price_estimated`: the basis region's (us-east-1) price of the same
  type times the region's measured ratio (median of region / basis over the types priced in both).
  A type priced nowhere keeps no price; the chooser leaves it out and says how many it left out.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .catalog import CatalogFile, utc_now_iso
from .errors import SizingError

#: The region whose prices estimate the others': the Pricing API's most complete and recent list.
BASIS_REGION = "us-east-1"


class RegionSource(BaseModel):
    """Where one region's prices came from."""

    model_config = ConfigDict(frozen=True, extra="allow")

    repository: str
    path: str
    commit: str
    #: When the prices were published/generated; starts with an ISO date.
    generated: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}")
    note: str = ""

    @property
    def as_of(self) -> str:
        return self.generated[:10]

    def describe(self) -> str:
        return f"{self.repository} {self.path} at {self.commit[:12]}, generated {self.generated}"


class PriceFile(BaseModel):
    """A price file: prices and provenance per region, previous-generation types per region."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sources_by_region: dict[str, RegionSource]
    prices_usd_per_hour: dict[str, dict[str, float]]
    previous_generation: dict[str, list[str]]


def parse_price_file(text: str, *, origin: str = "<prices>") -> PriceFile:
    try:
        prices = PriceFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise SizingError(f"price file {origin} is malformed: {where}: {first['msg']}") from None
    for region, table in prices.prices_usd_per_hour.items():
        bad = sorted(name for name, usd in table.items() if not usd > 0)
        if bad:
            raise SizingError(
                f"price file {origin}: {region} prices must be > 0 USD/hour: {', '.join(bad[:5])}"
            )
    return prices


def regional_ratio(prices: PriceFile, region: str) -> tuple[float, int]:
    """Median of region price / basis price over the types priced in both, and how many."""
    own = prices.prices_usd_per_hour.get(region, {})
    basis = prices.prices_usd_per_hour.get(BASIS_REGION, {})
    ratios = [own[name] / basis[name] for name in own.keys() & basis.keys()]
    if not ratios:
        return 1.0, 0
    return round(statistics.median(ratios), 4), len(ratios)


def merge_prices(file: CatalogFile, prices: PriceFile, *, generated_by: str) -> CatalogFile:
    """`file` with prices, estimates and AWS's current-generation flag for its region."""
    region = file.region
    if region is None or region not in prices.prices_usd_per_hour:
        raise SizingError(
            f"the price file has no prices for region {region!r}; it covers "
            f"{', '.join(sorted(prices.prices_usd_per_hour))}"
        )
    if region not in prices.sources_by_region or BASIS_REGION not in prices.sources_by_region:
        raise SizingError(
            f"the price file does not say where the {region} or {BASIS_REGION} prices come from "
            "(sources_by_region); keep the provenance when refreshing it"
        )
    own = prices.prices_usd_per_hour[region]
    basis = prices.prices_usd_per_hour.get(BASIS_REGION, {})
    previous = set(prices.previous_generation.get(region, ()))
    ratio, pairs = regional_ratio(prices, region)
    types = []
    counts = {"own": 0, "estimated": 0, "none": 0}
    for t in file.instance_types:
        update: dict[str, object] = {"current_generation": t.instance_type not in previous}
        if t.instance_type in own:
            update |= {"hourly_price_usd": own[t.instance_type], "price_estimated": False}
            counts["own"] += 1
        elif region != BASIS_REGION and t.instance_type in basis:
            estimate = round(basis[t.instance_type] * ratio, 4)
            update |= {"hourly_price_usd": estimate, "price_estimated": True}
            counts["estimated"] += 1
        else:
            update |= {"hourly_price_usd": None, "price_estimated": False}
            counts["none"] += 1
        types.append(t.model_copy(update=update))
    source = prices.sources_by_region[region]
    dates = [source.as_of]
    estimates = None
    if counts["estimated"]:
        basis_source = prices.sources_by_region[BASIS_REGION]
        dates.append(basis_source.as_of)
        estimates = (
            f"{counts['estimated']} types without a {region} price: the {BASIS_REGION} price "
            f"(as of {basis_source.as_of}, {basis_source.describe()}) x {ratio:g}, the median "
            f"{region}/{BASIS_REGION} price ratio of the {pairs} types priced in both"
        )
    return file.model_copy(
        update={
            "generated_at": utc_now_iso(),
            "generated_by": generated_by,
            "prices": (
                f"AWS on-demand Linux shared-tenancy USD/hour: {counts['own']} of "
                f"{len(types)} types priced from {region}'s own data as of {source.as_of}, "
                f"{counts['estimated']} estimated (price_estimated), {counts['none']} without any "
                "price (never chosen); current_generation from AWS's previous-generation list"
            ),
            "price_source": f"{source.describe()}; {source.note}".rstrip("; "),
            "prices_as_of": min(dates),
            "price_estimates": estimates,
            "estimate_ratio": ratio if counts["estimated"] else None,
            "instance_types": tuple(types),
        }
    )
