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
from .chooser import DEFAULT_ARCHITECTURES, HostEstimate, choose_instance, estimate_host
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

__all__ = [
    "DEFAULT_ARCHITECTURES",
    "DEFAULT_REGION",
    "KINDS",
    "MIN_ROOT_VOLUME_GIB",
    "SUPPORTED_REGIONS",
    "BreakdownItem",
    "Catalog",
    "CatalogFile",
    "HostEstimate",
    "InstanceType",
    "Requirements",
    "SizingError",
    "VcpuItem",
    "Workload",
    "choose_instance",
    "compute_requirements",
    "dump_catalog",
    "estimate_host",
    "load_catalog",
    "parse_catalog",
    "usable_memory_gib",
]
