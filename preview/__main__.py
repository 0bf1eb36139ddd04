"""`make check STACK=<stack>`: validate the stack file and show what `pulumi up` would create.

Needs no cloud credentials, no Pulumi CLI and no secrets. Exit 0 when the stack is valid; 1 with
every problem, one line each, when it is not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter

import sizing
import stackconfig
from program import FleetHost, fleet_monthly_cost_usd
from sizing.cli import render_table

from .checks import check_stack
from .engine import ProgramRun, run_program

#: Stand-ins for secrets in the preview; the program never sees a real token here.
PLACEHOLDER_SECRET = "preview-placeholder-not-a-token"


def _secret_placeholders(config: stackconfig.StackConfig) -> dict[str, str]:
    return {f"{stackconfig.NAMESPACE}:{key}": PLACEHOLDER_SECRET for key in config.secrets_needed}


def sizing_report(config: stackconfig.StackConfig, host: FleetHost) -> str:
    """The host estimate the program uses, with every figure's reason and its price warnings."""
    estimate = host.estimate
    table = render_table(estimate, sizing.load_catalog(config.region))
    warnings = [f"warning: {w}" for w in estimate.warnings(dt.date.today())]
    return "\n".join([table, *warnings])


#: A fleet above this many USD a month gets a warning: valid sizes can still be absurd (64 GiB x
#: 100 concurrent picks a 7.5 TiB instance); `monthlyBudgetUsd` makes a ceiling an error instead.
MONTHLY_COST_WARNING_USD = 2000


def host_title(host: FleetHost, several: bool) -> str:
    """`Host` or, in a fleet, `Host <key> (<stage>; queues a, b)`."""
    if not several:
        return "Host"
    group = host.group
    return f"Host {group.key} ({group.execution_stage}; queues {', '.join(group.queue_keys)})"


def cost_lines(config: stackconfig.StackConfig, hosts: tuple[FleetHost, ...]) -> list[str]:
    """Each host's monthly figure, up front, the fleet's total, and a warning above the
    threshold."""
    several = len(hosts) > 1
    if config.spec.host != "ec2":
        return [f"{host_title(h, several)}: self-hosted (no AWS cost)" for h in hosts]
    lines = [
        f"{host_title(h, several)}: {h.estimate.instance_type}, {h.estimate.root_volume_gib} GiB "
        f"root volume, {h.estimate.monthly_cost.summary()}"
        for h in hosts
    ]
    total = fleet_monthly_cost_usd(hosts)
    if several:
        figure = "unknown (see the hosts above)" if total is None else f"${total:,.2f}"
        lines.append(f"Fleet of {len(hosts)} hosts: {figure} a month")
    if (
        total is not None
        and total > MONTHLY_COST_WARNING_USD
        and not config.spec.monthly_budget_usd
    ):
        spec = max(hosts, key=lambda h: h.estimate.monthly_cost_usd or 0).config.spec
        lines.append(
            f"warning: {'the fleet costs' if several else 'this host costs'} ${total:,.0f} a "
            f"month, above ${MONTHLY_COST_WARNING_USD:,}: check perSubmissionMemoryGiB "
            f"({spec.per_submission_memory_gib}) x maxConcurrentSubmissions "
            f"({spec.max_concurrent_submissions}), or set "
            f"{stackconfig.NAMESPACE}:monthlyBudgetUsd to make a ceiling an error"
        )
    return lines


def made_up_values(run: ProgramRun) -> frozenset[str]:
    """IDs and addresses the offline preview's stand-ins invented (Synapse IDs, the instance ID,
    its private address): outputs holding one are placeholders, not what `pulumi up` reports."""
    made_up: set[str] = set()
    for resource in run.resources:
        if not resource.custom or not resource.id:
            continue
        if resource.id != resource.inputs.get("name"):  # a name the stack chose is real
            made_up.add(str(resource.id))
        for key in ("synapse_id", "private_dns", "private_ip", "public_ip", "public_dns"):
            if resource.state.get(key):
                made_up.add(str(resource.state[key]))
    return frozenset(made_up)


def output_lines(run: ProgramRun) -> list[str]:
    """The stack outputs, each made-up value marked `[placeholder]`."""
    made_up = made_up_values(run)
    lines = []
    for line, key in zip(run.output_lines(), sorted(run.outputs), strict=True):
        value = run.outputs[key]
        text = value if isinstance(value, str) else repr(value)
        invented = key not in run.secret_outputs and any(m in text for m in made_up)
        lines.append(f"{line}  [placeholder]" if invented else line)
    return lines


def report(config: stackconfig.StackConfig, hosts: tuple[FleetHost, ...], run: ProgramRun) -> str:
    spec = config.spec
    lines = [
        f"Stack {config.stack}: valid ({spec.name!r}, {spec.kind}, {len(spec.queues)} queue(s), "
        f"region {config.region})",
        *cost_lines(config, hosts),
    ]
    lines += [f"warning: {w}" for w in config.warnings]
    for key in config.secrets_missing:
        lines.append(
            f"warning: {key} is not set; `make up` needs it: "
            f"pulumi config set --secret {key} --stack {config.stack}"
        )
    for host in hosts:
        lines += [
            "",
            f"{host_title(host, len(hosts) > 1)} sizing:",
            *(f"  {line}".rstrip() for line in sizing_report(config, host).splitlines()),
        ]
    custom = [r for r in run.resources if r.custom]
    counts = Counter(r.provider_class or r.type for r in custom)
    lines.append("")
    lines.append(f"Resources `pulumi up` would create ({len(custom)}):")
    width = max((len(r.provider_class or r.type) for r in custom), default=0)
    for resource in custom:
        lines.append(
            f"  {(resource.provider_class or resource.type).ljust(width)}  {resource.name}"
        )
    lines.append("  by type: " + ", ".join(f"{t} x{n}" for t, n in sorted(counts.items())))
    if run.outputs:
        lines.append("")
        lines.append(
            "Stack outputs ([placeholder]: an ID the offline preview made up; `pulumi up` "
            "reports the real one):"
        )
        lines.extend(f"  {line}" for line in output_lines(run))
    return "\n".join(lines)


def _invalid(stack: str, problems: list[str]) -> int:
    print(f"Stack {stack}: invalid, {len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__)
    stackconfig.add_stack_arguments(parser)
    args = parser.parse_args(argv)
    try:
        raw, file_problems = stackconfig.load.read_stack_file_leniently(
            args.stack, args.project_dir
        )
    except stackconfig.ConfigError as error:
        return _invalid(args.stack, error.problems)
    checked = check_stack(args.stack, raw)
    if file_problems or checked.problems:
        return _invalid(args.stack, [*file_problems, *checked.problems])
    config, hosts = checked.config, checked.hosts
    assert config is not None and hosts is not None  # no problem: every layer ran
    try:
        run = run_program(raw, stack=args.stack, secret_values=_secret_placeholders(config))
    except Exception as error:  # the program's own errors (sizing, rendering) are user errors here
        print(f"Stack {args.stack}: the program failed: {error}", file=sys.stderr)
        return 1
    print(report(config, hosts, run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
