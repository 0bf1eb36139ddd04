"""Instance catalog: the EC2 types of one region with their specs and (maybe) on-demand prices.

The committed catalogs under `sizing/catalogs/` make `pulumi up` deterministic and reviewable: the
program never reads a live price list, so a price change cannot replace a running host. Files are
written one instance type per line, sorted by family then size, so a refresh diffs line by line.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import SizingError
from .model import usable_memory_gib

CATALOG_DIR = Path(__file__).resolve().parent / "catalogs"
DEFAULT_REGION = "us-east-1"
#: Regions with a committed catalog, i.e. the `aws:region` values `pulumi up` supports offline.
SUPPORTED_REGIONS: tuple[str, ...] = tuple(sorted(p.stem for p in CATALOG_DIR.glob("*.json")))


class InstanceType(BaseModel):
    """One EC2 instance type as the chooser sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    #: API name, e.g. `m7i.large`.
    instance_type: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*\.[a-z0-9-]+$")
    #: Default vCPUs.
    vcpus: int = Field(gt=0)
    #: Nominal memory, MiB (as DescribeInstanceTypes reports it).
    memory_mib: int = Field(gt=0)
    #: Supported architectures, e.g. `["x86_64"]`, `["arm64"]`, `["i386", "x86_64"]`.
    architectures: tuple[str, ...] = Field(min_length=1)
    current_generation: bool
    #: Burstable (T family): CPU credits, not a steady share.
    burstable: bool
    bare_metal: bool
    #: Number of GPUs.
    gpus: int = Field(ge=0)
    #: Other accelerators: FPGAs, Inferentia/Trainium devices, media accelerators.
    accelerators: int = Field(0, ge=0)
    #: On-demand Linux shared-tenancy price, USD per hour; None when unknown.
    hourly_price_usd: float | None = Field(gt=0)
    #: True when `hourly_price_usd` is not the region's own price but an estimate (see the
    #: catalog's `price_estimates`): shown as "estimated" wherever the price is shown.
    price_estimated: bool = False

    @property
    def family(self) -> str:
        return self.instance_type.split(".", 1)[0]

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024

    @property
    def usable_memory_gib(self) -> float:
        return usable_memory_gib(self.memory_gib)


class CatalogFile(BaseModel):
    """A catalog file: metadata saying where its data came from, then the instance types."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    region: str | None = None
    #: When the file was generated, ISO 8601 UTC.
    generated_at: str | None = None
    #: The command that generated it.
    generated_by: str | None = None
    #: Where specs and prices came from.
    source: str | None = None
    #: What the prices are: AWS on-demand as of `generated_at`, or unknown.
    prices: str | None = None
    #: Where the region's prices came from (publisher, file, commit).
    price_source: str | None = None
    #: Date (YYYY-MM-DD) of the oldest price data the catalog uses; prices older than
    #: MAX_PRICE_AGE_DAYS get a warning.
    prices_as_of: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    #: How prices the region's own data lacks were estimated (types marked `price_estimated`).
    price_estimates: str | None = None
    #: The factor of those estimates: region price / us-east-1 price, median over shared types.
    estimate_ratio: float | None = Field(None, gt=0)
    instance_types: tuple[InstanceType, ...] = Field(min_length=1)


_BARE_LIST = TypeAdapter(tuple[InstanceType, ...])


@dataclass(frozen=True)
class Catalog:
    """The instance types of one region, in file order, with the file's metadata."""

    instance_types: tuple[InstanceType, ...]
    #: Region the catalog describes, None if the file does not say.
    region: str | None
    #: Where it was read from (a path), for messages.
    origin: str
    metadata: CatalogFile | None = None
    _by_name: dict[str, InstanceType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {t.instance_type: t for t in self.instance_types})

    def get(self, name: str) -> InstanceType | None:
        return self._by_name.get(name)

    @property
    def prices_known(self) -> bool:
        """True when at least one type has a price."""
        return any(t.hourly_price_usd is not None for t in self.instance_types)

    def with_prices(self, prices_usd_per_hour: dict[str, float]) -> Catalog:
        """A copy with these hourly prices set (others keep theirs)."""
        types = tuple(
            t.model_copy(update={"hourly_price_usd": prices_usd_per_hour[t.instance_type]})
            if t.instance_type in prices_usd_per_hour
            else t
            for t in self.instance_types
        )
        return Catalog(types, self.region, self.origin, self.metadata)


def utc_now_iso() -> str:
    """Now, ISO 8601 UTC to the second (a catalog's `generated_at`)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def load_catalog(region: str | None = None, *, path: str | Path | None = None) -> Catalog:
    """The committed catalog of `region` (default us-east-1), or the catalog file at `path`."""
    if path is None:
        region = region or DEFAULT_REGION
        if region not in SUPPORTED_REGIONS:
            raise SizingError(
                f"aws:region {region!r} has no committed instance catalog; supported regions: "
                f"{', '.join(SUPPORTED_REGIONS)} (or build one with `python -m sizing catalog "
                f"--region {region} --out FILE` and pass the file)",
                key="aws:region",
            )
        path = CATALOG_DIR / f"{region}.json"
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SizingError(f"cannot read catalog file {path}: {exc.strerror or exc}") from exc
    catalog = parse_catalog(text, origin=str(path))
    if region is not None and catalog.region is not None and catalog.region != region:
        raise SizingError(
            f"catalog file {path} describes region {catalog.region}, not {region}; "
            f"supported regions: {', '.join(SUPPORTED_REGIONS)}"
        )
    return catalog


def parse_catalog(text: str, *, origin: str = "<catalog>") -> Catalog:
    """Validate catalog JSON: an object with `instance_types`, or a bare list of types."""
    try:
        if text.lstrip().startswith("["):
            types = _BARE_LIST.validate_json(text)
            if not types:
                raise SizingError(f"catalog file {origin} is malformed: no instance types")
            file = CatalogFile(instance_types=types)
        else:
            file = CatalogFile.model_validate_json(text)
    except ValidationError as exc:
        raise SizingError(f"catalog file {origin} is malformed: {_describe(exc)}") from None
    counts = Counter(t.instance_type for t in file.instance_types)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise SizingError(
            f"catalog file {origin} is malformed: duplicate instance types {', '.join(duplicates)}"
        )
    return Catalog(file.instance_types, file.region, origin, file)


def dump_catalog(file: CatalogFile) -> str:
    """Catalog JSON with one instance type per line, sorted by family then size, for small diffs."""
    head = file.model_dump(exclude={"instance_types"})
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append('  "instance_types": [')
    ordered = sorted(file.instance_types, key=catalog_order)
    rows = [
        "    " + json.dumps(t.model_dump(mode="json"), separators=(", ", ": ")) for t in ordered
    ]
    lines.append(",\n".join(rows))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def catalog_order(t: InstanceType) -> tuple[str, int, int, str]:
    """File order: family, then vCPUs, memory and name (a family's sizes read as a ladder)."""
    return (t.family, t.vcpus, t.memory_mib, t.instance_type)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "file"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
