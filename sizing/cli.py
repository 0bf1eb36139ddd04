"""`python -m sizing`: estimate a host offline, or build a region's catalog from AWS."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .catalog import (
    DEFAULT_REGION,
    SUPPORTED_REGIONS,
    Catalog,
    CatalogFile,
    dump_catalog,
    load_catalog,
)
from .chooser import DEFAULT_ARCHITECTURES, HostEstimate, estimate_host
from .errors import SizingError
from .model import KINDS, MIN_ROOT_VOLUME_GIB, Workload
from .prices import merge_prices, parse_price_file

#: Stack key -> CLI flag, so an error about a key names the flag the user typed.
FLAG_FOR_KEY = {
    "perSubmissionMemoryGiB": "--memory-gib",
    "maxConcurrentSubmissions": "--concurrency",
    "vcpusPerSubmission": "--vcpus-per-submission",
    "dockerImageGiB": "--image-gib",
    "inputDataGiB": "--input-gib",
    "outputPerSubmissionGiB": "--output-gib",
    "jobRetentionDays": "--retention-days",
    "submissionsPerDay": "--submissions-per-day",
    "instanceType": "--instance-type",
    "allowedArchitectures": "--arch",
    "kind": "--kind",
    "aws:region": "--region",
    "monthlyBudgetUsd": "--monthly-budget-usd",
}


def cli(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a SizingError is printed in one line to stderr and exits 1."""
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except SizingError as err:
        message = str(err)
        flag = FLAG_FOR_KEY.get(err.key or "")
        if flag and err.key and message.startswith(err.key):
            message = message.replace(err.key, f"{flag} ({err.key})", 1)
        print(f"sizing: {message}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sizing", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    est = sub.add_parser("estimate", help="size a host for a workload (offline)")

    def workload_flag(
        flag: str, field: str, type_: type, about: str, default: float | None = None
    ) -> None:
        """A workload flag stored under the Workload field it sets, so `Workload.read_from` reads
        the parsed args; no default: required."""
        est.add_argument(
            flag,
            dest=field,
            metavar=flag.removeprefix("--").upper().replace("-", "_"),
            type=type_,
            required=default is None,
            default=default,
            help=about if default is None else f"{about} (default {default:g})",
        )

    workload_flag("--memory-gib", "per_submission_memory_gib", float, "memory per submission, GiB")
    workload_flag("--concurrency", "max_concurrent_submissions", int, "submissions run at once")
    workload_flag("--image-gib", "docker_image_gib", float, "Docker image size, GiB")
    workload_flag("--input-gib", "input_data_gib", float, "input data, GiB", 0.0)
    workload_flag(
        "--output-gib", "output_per_submission_gib", float, "output per submission, GiB", 1.0
    )
    est.add_argument(
        "--vcpus-per-submission", type=float, default=1, help="vCPUs per submission (default 1)"
    )
    est.add_argument("--kind", choices=KINDS, default="model-to-data")
    workload_flag("--retention-days", "job_retention_days", int, "days job folders are kept", 7)
    est.add_argument(
        "--submissions-per-day",
        type=float,
        default=None,
        help="evaluations finished per day (default: the concurrency)",
    )
    est.add_argument("--instance-type", default=None, help="check this type instead of choosing")
    est.add_argument(
        "--arch",
        action="append",
        default=None,
        help=f"allowed architecture, repeatable (default {', '.join(DEFAULT_ARCHITECTURES)})",
    )
    est.add_argument("--allow-gpu", action="store_true", help="let GPU types compete")
    est.add_argument(
        "--monthly-budget-usd",
        type=float,
        default=None,
        help="fail when the monthly cost is above this, naming the cheapest type that fits",
    )
    est.add_argument("--catalog", type=Path, default=None, help="catalog JSON file")
    est.add_argument(
        "--region",
        default=None,
        help=f"committed catalog to use: {', '.join(SUPPORTED_REGIONS)} (default {DEFAULT_REGION})",
    )
    est.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    est.set_defaults(run=_estimate)

    cat = sub.add_parser(
        "catalog",
        help="build a region's catalog from AWS (needs credentials), or merge a price file offline",
    )
    cat.add_argument("--region", required=True, help="AWS region, e.g. us-east-1")
    cat.add_argument("--out", type=Path, default=None, help="write here (default: stdout)")
    cat.add_argument("--no-prices", action="store_true", help="skip the Pricing API")
    cat.add_argument(
        "--prices",
        type=Path,
        default=None,
        help="offline: merge this price file (format of ec2-ondemand-prices.json) into the "
        "region's catalog (--catalog, default the committed one); no AWS access",
    )
    cat.add_argument(
        "--catalog", type=Path, default=None, help="with --prices: the catalog to merge into"
    )
    cat.add_argument(
        "--from-moto",
        action="store_true",
        help="specs from the AWS data bundled with moto, no credentials, no prices",
    )
    cat.set_defaults(run=_catalog)
    return parser


def _estimate(args: argparse.Namespace) -> None:
    workload = Workload.read_from(args)
    catalog = load_catalog(args.region, path=args.catalog)
    estimate = estimate_host(
        workload,
        catalog,
        args.instance_type,
        architectures=tuple(args.arch or DEFAULT_ARCHITECTURES),
        allow_gpu=args.allow_gpu,
        monthly_budget_usd=args.monthly_budget_usd,
    )
    if args.json:
        print(json.dumps(estimate.to_json_dict(), indent=2))
    else:
        print(render_table(estimate, catalog))
    for warning in estimate.warnings(dt.date.today()):
        print(f"warning: {warning}", file=sys.stderr)


def _catalog(args: argparse.Namespace) -> None:
    file = _merge_price_file(args) if args.prices is not None else _build_catalog(args)
    text = dump_catalog(file)
    if args.out is None:
        sys.stdout.write(text)
        return
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {len(file.instance_types)} instance types to {args.out}", file=sys.stderr)


def _merge_price_file(args: argparse.Namespace) -> CatalogFile:
    if args.from_moto:
        from .live import build_catalog_from_moto

        base = build_catalog_from_moto(args.region)
    else:
        base_catalog = load_catalog(args.region, path=args.catalog)
        if base_catalog.metadata is None or base_catalog.metadata.region is None:
            raise SizingError(f"catalog {base_catalog.origin} does not say its region")
        base = base_catalog.metadata
    try:
        text = args.prices.read_text(encoding="utf-8")
    except OSError as exc:
        raise SizingError(f"cannot read price file {args.prices}: {exc.strerror or exc}") from exc
    prices = parse_price_file(text, origin=str(args.prices))
    return merge_prices(base, prices, generated_by=merge_command(args))


def merge_command(args: argparse.Namespace) -> str:
    """The `generated_by` of a merged catalog: the command with every flag that shaped it."""
    words = ["python -m sizing catalog --region", args.region]
    if args.from_moto:
        words.append("--from-moto")
    elif args.catalog is not None:
        words += ["--catalog", str(args.catalog)]
    words += ["--prices", str(args.prices)]
    return " ".join(words)


def _build_catalog(args: argparse.Namespace) -> CatalogFile:
    from .live import build_catalog, build_catalog_from_moto

    if args.from_moto:
        return build_catalog_from_moto(args.region)
    return build_catalog(args.region, with_prices=not args.no_prices)


def render_table(estimate: HostEstimate, catalog: Catalog) -> str:
    """The human-readable estimate: figures with reasons, then the choice."""
    w, req, inst = estimate.workload, estimate.required, estimate.instance
    rows: list[tuple[str, str, str, str]] = [
        (i.resource, i.item, f"{i.gib:.1f} GiB", i.reason) for i in estimate.breakdown
    ]
    rows += [("vcpus", i.item, f"{i.vcpus:g}", i.reason) for i in estimate.vcpu_breakdown]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    lines = [
        f"Workload  {w.kind}: {w.max_concurrent_submissions} concurrent x "
        f"{w.per_submission_memory_gib:g} GiB, {w.vcpus_per_submission:g} vCPU each; image "
        f"{w.docker_image_gib:g} GiB, input {w.input_data_gib:g} GiB, output "
        f"{w.output_per_submission_gib:g} GiB each",
        f"Catalog   {catalog.region or '-'} ({catalog.origin}), "
        f"{len(catalog.instance_types)} types",
        "",
    ]
    lines += [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}" for r in rows
    ]
    if estimate.prices_known:
        price = f"${estimate.hourly_price_usd:.4f}/hour on demand" + (
            " (estimated)" if estimate.price_estimated else ""
        )
    else:
        price = (
            "unknown: the catalog has no price for it (refresh the catalog with "
            "`python -m sizing catalog --region R --out FILE` or merge a price file with "
            "`--prices FILE`, and pass --catalog FILE)"
        )
    cost = estimate.monthly_cost
    lines += [
        "",
        f"Required  {req.memory_gib:.1f} GiB usable memory ({req.nominal_memory_gib:.1f} GiB "
        f"nominal), {req.vcpus} vCPUs, {req.disk_gib:.1f} GiB disk",
        f"Instance  {inst.instance_type}: {inst.vcpus} vCPUs, {inst.memory_gib:g} GiB memory "
        f"({inst.usable_memory_gib:.1f} usable), {'/'.join(inst.architectures)}",
        f"Chosen by {estimate.selection}",
        f"Root      {estimate.root_volume_gib} GiB gp3 (required disk rounded up, at least "
        f"{MIN_ROOT_VOLUME_GIB} GiB)",
        f"Price     {price}",
        f"Monthly   {cost.summary()}",
        *(f"          {i.item}: {i.reason}" for i in cost.items),
    ]
    return "\n".join(lines)
