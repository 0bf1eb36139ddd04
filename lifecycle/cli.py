"""`python -m lifecycle status --stack dev`: what the challenge is doing right now."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, endpoint_problem
from synapse_client.session import open_session

from .errors import LifecycleError
from .outputs import SELF_HOSTED, read_outputs, synapse_token_from_stack
from .status import collect_status, render_table, to_json


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m lifecycle", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    status = commands.add_parser(
        "status",
        help="submissions per queue and status, oldest in flight, host state and disk",
    )
    status.add_argument("--stack", required=True, help="Pulumi stack name, e.g. dev")
    status.add_argument(
        "--outputs-file",
        type=Path,
        help="JSON of `pulumi stack output --json` instead of asking the Pulumi CLI",
    )
    status.add_argument(
        "--synapse-endpoint", help="Synapse base URL (default: the stack's synapseEndpoint)"
    )
    status.add_argument("--region", help="AWS region (default: the stack's awsRegion)")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return root


def run_status(args: argparse.Namespace) -> int:
    outputs = read_outputs(args.stack, args.outputs_file)
    endpoint = args.synapse_endpoint or outputs.synapse_endpoint or DEFAULT_SYNAPSE_ENDPOINT
    problem = endpoint_problem(endpoint)
    if problem:
        raise LifecycleError(f"--synapse-endpoint {problem}")
    token = synapse_token_from_stack(args.stack)
    reason = (
        ""
        if token
        else "no Synapse token: set SYNAPSE_AUTH_TOKEN (or the stack secret "
        "challenge:synapseAuthToken)"
    )
    factory = (lambda: open_session(endpoint, token)) if token else None
    region = args.region or outputs.aws_region or os.environ.get("AWS_REGION")
    ec2 = ssm = None
    if region and outputs.host != SELF_HOSTED:
        import boto3

        session = boto3.session.Session(region_name=region)
        ec2, ssm = session.client("ec2"), session.client("ssm")
    status = collect_status(
        outputs,
        synapse_endpoint=endpoint,
        session_factory=factory,
        no_session_reason=reason,
        ec2=ec2,
        ssm=ssm,
        now=dt.datetime.now(dt.UTC),
    )
    if args.json:
        print(json.dumps(to_json(status), indent=2, sort_keys=True))
    else:
        print(render_table(status))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run_status(args)
    except LifecycleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
