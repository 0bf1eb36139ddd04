"""`make check STACK=<stack>`: validate the stack file and show what `pulumi up` would create.

Needs no cloud credentials, no Pulumi CLI and no secrets. Exit 0 when the stack is valid; 1 with
every problem, one line each, when it is not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from pathlib import Path

import sizing
import stackconfig
from program import host_estimate
from sizing.cli import render_table

from .engine import ProgramRun, run_program

#: Stand-ins for secrets in the preview; the program never sees a real token here.
PLACEHOLDER_SECRET = "preview-placeholder-not-a-token"


def _secret_placeholders(config: stackconfig.StackConfig) -> dict[str, str]:
    return {f"{stackconfig.NAMESPACE}:{key}": PLACEHOLDER_SECRET for key in stackconfig.SECRET_KEYS}


def sizing_report(config: stackconfig.StackConfig) -> str:
    """The host estimate the program uses, with every figure's reason and its price warnings."""
    estimate = host_estimate(config)
    table = render_table(estimate, sizing.load_catalog(config.region))
    warnings = [f"warning: {w}" for w in estimate.warnings(dt.date.today())]
    return "\n".join([table, *warnings])


def report(config: stackconfig.StackConfig, run: ProgramRun) -> str:
    spec = config.spec
    lines = [
        f"Stack {config.stack}: valid ({spec.name!r}, {spec.kind}, {len(spec.queues)} queue(s), "
        f"region {config.region})",
    ]
    lines += [f"warning: {w}" for w in config.warnings]
    for key in config.secrets_missing:
        lines.append(
            f"warning: {key} is not set; `make up` needs it: "
            f"pulumi config set --secret {key} --stack {config.stack}"
        )
    lines += [
        "",
        "Host sizing:",
        *(f"  {line}".rstrip() for line in sizing_report(config).splitlines()),
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
        lines.append("Stack outputs:")
        lines.extend(f"  {line}" for line in run.output_lines())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__)
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="folder holding the stack file (default: here)",
    )
    args = parser.parse_args(argv)
    try:
        raw = stackconfig.read_stack_file(args.stack, args.project_dir)
        config = stackconfig.parse_config(args.stack, raw)
    except stackconfig.ConfigError as error:
        print(f"Stack {args.stack}: invalid, {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    try:
        run = run_program(raw, stack=args.stack, secret_values=_secret_placeholders(config))
    except Exception as error:  # the program's own errors (sizing, rendering) are user errors here
        print(f"Stack {args.stack}: the program failed: {error}", file=sys.stderr)
        return 1
    print(report(config, run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
