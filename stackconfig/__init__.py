"""The challenge's stack config: one validated, typed spec that the rest of the program uses."""

from .load import (
    NAMESPACE,
    ConfigError,
    StackConfig,
    add_stack_arguments,
    from_pulumi_runtime,
    load_stack,
    parse_config,
    read_stack_file,
)
from .model import SECRET_KEYS, STACK_KEYS, ChallengeSpec, QueueConfig, Round, SubmissionLimits

__all__ = [
    "NAMESPACE",
    "SECRET_KEYS",
    "STACK_KEYS",
    "ChallengeSpec",
    "ConfigError",
    "QueueConfig",
    "Round",
    "StackConfig",
    "SubmissionLimits",
    "add_stack_arguments",
    "from_pulumi_runtime",
    "load_stack",
    "parse_config",
    "read_stack_file",
]
