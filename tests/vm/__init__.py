"""Boot-test harness: the rendered user data booted in a real Debian 13 VM under QEMU (TCG).

`run_boot_scenario()` builds (or reuses) the cached base image, renders the dev stack's user data
with the two offline stand-ins (token fetch, orchestrator image), boots it twice on one disk and
reads the results back with debugfs. See tests/test_boot_vm.py and benchmarks/boot.py.
"""

from .errors import VmTestError
from .image import PACKAGES, BaseImage, cache_key, cache_root, ensure_base_image
from .machine import BootOutcome
from .results import TOKEN_ALLOWED_ON_DISK, BootRecord, BootTimings, StandInRecord, find_on_disk
from .scenario import ScenarioResult, run_boot_scenario
from .seed import STAND_IN_IMAGE, GuestPlan, boot_test_settings, with_token_stand_in

__all__ = [
    "PACKAGES",
    "STAND_IN_IMAGE",
    "TOKEN_ALLOWED_ON_DISK",
    "BaseImage",
    "BootOutcome",
    "BootRecord",
    "BootTimings",
    "GuestPlan",
    "ScenarioResult",
    "StandInRecord",
    "VmTestError",
    "boot_test_settings",
    "cache_key",
    "cache_root",
    "ensure_base_image",
    "find_on_disk",
    "run_boot_scenario",
    "with_token_stand_in",
]
