"""Boot-test harness: the rendered user data booted in a real Debian 13 VM under QEMU (TCG).

`run_boot_scenario()` builds (or reuses) the cached base image, takes the dev stack's user data as
`python -m userdata render` prints it, swaps the token fetch for a stand-in (the orchestrator image
is a stand-in the harness imports under the stack's image name), boots it twice on one disk and
reads the results back with debugfs. See tests/test_boot_vm.py and benchmarks/boot.py.
"""

from .errors import VmTestError
from .image import PACKAGES, BaseImage, cache_key, cache_root, ensure_base_image
from .machine import BootOutcome
from .results import (
    TOKEN_ALLOWED_ON_DISK,
    BootRecord,
    BootTimings,
    StandInRecord,
    find_on_disk,
    replay_journal,
)
from .scenario import ScenarioResult, run_boot_scenario
from .seed import GuestPlan, boot_test_settings, rendered_user_data, with_token_stand_in

__all__ = [
    "PACKAGES",
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
    "rendered_user_data",
    "replay_journal",
    "run_boot_scenario",
    "with_token_stand_in",
]
