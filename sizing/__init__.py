"""Sizing: from a declared challenge workload to the cheapest instance type and disk that fit.

Pure functions, no Pulumi: the Pulumi program and `python -m sizing` share them.
"""

from .catalog import (
    DEFAULT_REGION,
    SUPPORTED_REGIONS,
    Catalog,
    CatalogFile,
    InstanceType,
    dump_catalog,
    load_catalog,
    parse_catalog,
)
from .chooser import (
    DEFAULT_ARCHITECTURES,
    HostEstimate,
    cheapest_fit,
    check_fleet_budget,
    choose_instance,
    estimate_host,
)
from .costs import (
    GP3_USD_PER_GIB_MONTH,
    MAX_PRICE_AGE_DAYS,
    PUBLIC_IPV4_USD_PER_HOUR,
    CostItem,
    MonthlyCost,
    monthly_cost,
    stale_price_warning,
    sum_usd,
)
from .errors import SizingError
from .model import (
    KINDS,
    MIN_ROOT_VOLUME_GIB,
    BreakdownItem,
    Requirements,
    VcpuItem,
    Workload,
    compute_requirements,
    usable_memory_gib,
)
from .prices import PriceFile, merge_prices, parse_price_file

__all__ = [
    "DEFAULT_ARCHITECTURES",
    "DEFAULT_REGION",
    "GP3_USD_PER_GIB_MONTH",
    "KINDS",
    "MAX_PRICE_AGE_DAYS",
    "MIN_ROOT_VOLUME_GIB",
    "PUBLIC_IPV4_USD_PER_HOUR",
    "SUPPORTED_REGIONS",
    "BreakdownItem",
    "Catalog",
    "CatalogFile",
    "CostItem",
    "HostEstimate",
    "InstanceType",
    "MonthlyCost",
    "PriceFile",
    "Requirements",
    "SizingError",
    "VcpuItem",
    "Workload",
    "cheapest_fit",
    "check_fleet_budget",
    "choose_instance",
    "compute_requirements",
    "dump_catalog",
    "estimate_host",
    "load_catalog",
    "merge_prices",
    "monthly_cost",
    "parse_catalog",
    "parse_price_file",
    "stale_price_warning",
    "sum_usd",
    "usable_memory_gib",
]
