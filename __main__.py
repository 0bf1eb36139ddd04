"""Stand up a Synapse challenge's evaluation infrastructure from the stack file (see README.md).

Only composition lives here: the config model validates, `sizing` picks the host, components
create the Synapse side and the host.
"""

import pulumi

import stackconfig

try:
    config = stackconfig.from_pulumi_runtime(pulumi.get_stack())
except stackconfig.ConfigError as error:
    raise pulumi.RunError(f"invalid stack config for {pulumi.get_stack()}:\n{error}") from None

spec = config.spec
for warning in config.warnings:
    pulumi.log.warn(warning)

pulumi.export("challengeName", spec.name)
