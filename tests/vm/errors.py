"""The one error type of the boot-test harness."""


class VmTestError(RuntimeError):
    """The harness could not build, boot or read back the VM: says which step and how to fix it."""
