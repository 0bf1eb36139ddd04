"""`python -m userdata render --stack dev`: the host's user data from the stack file alone.

No secrets and no cloud. The Synapse IDs that `pulumi up` creates are marked placeholders unless
given (`--outputs-file`, the JSON of `pulumi stack output --json`): then the output is byte for
byte the user data `pulumi up` ships (tests/test_render_matches_program.py). The token is
read on the host at boot (SSM by default; a local file or an environment variable for a
self-hosted "sensitive data" site). Only `--include-token-insecurely` writes it in, warning."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stackconfig import ConfigError, StackConfig, add_stack_arguments, load_stack
from stackconfig.hosts import DEFAULT_HOST_KEY, host_groups, queue_key

from .errors import UserDataError
from .render import MAX_USER_DATA_BYTES, render_cloud_config
from .settings import (
    PLACEHOLDER_LOGS_FOLDER_ID,
    BootstrapSettings,
    EnvToken,
    FileToken,
    InlineToken,
    TokenSource,
    host_settings,
    placeholder_evaluation_templates,
)


def bootstrap_settings(
    config: StackConfig,
    token_source: TokenSource | None = None,
    *,
    host_key: str | None = None,
    logs_folder_id: str | None = None,
    evaluation_templates: Mapping[str, str] | None = None,
) -> BootstrapSettings:
    """The stack's settings with the given Synapse IDs, or marked placeholders without them."""
    settings = host_settings(config, token_source, host_key=host_key)
    if logs_folder_id is None and evaluation_templates is None:
        return settings.with_synapse_ids(
            PLACEHOLDER_LOGS_FOLDER_ID,
            placeholder_evaluation_templates(len(config.spec.queues)),
            placeholder_ids=True,
        )
    if logs_folder_id is None or evaluation_templates is None:
        raise UserDataError("logs_folder_id and evaluation_templates go together")
    return settings.with_synapse_ids(logs_folder_id, evaluation_templates)


def _read_token_now(args: argparse.Namespace) -> str:
    if args.token_from_file:
        path = Path(args.token_from_file)
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise UserDataError(f"--token-from-file: cannot read {path}: {exc.strerror}") from exc
        return lines[0].strip() if lines else ""
    value = os.environ.get(args.token_from_env, "")
    if not value:
        raise UserDataError(
            f"--token-from-env: environment variable {args.token_from_env} is empty"
        )
    return value.strip()


def _token_source(args: argparse.Namespace) -> TokenSource | None:
    if args.include_token_insecurely:
        if not (args.token_from_file or args.token_from_env):
            raise UserDataError(
                "--include-token-insecurely needs --token-from-file or --token-from-env to say "
                "where to read the token now"
            )
        return InlineToken(_read_token_now(args))
    if args.token_from_file:
        if not Path(args.token_from_file).is_absolute():
            raise UserDataError(
                f"--token-from-file: {args.token_from_file!r} is relative, but it is the path ON "
                "THE SERVER where the bootstrap reads the token at boot (this machine's folders "
                "mean nothing there): give it absolute, e.g. /etc/challenge/orchestrator-token"
            )
        return FileToken(args.token_from_file)
    if args.token_from_env:
        return EnvToken(args.token_from_env)
    return None


def _created_ids(outputs_file: str | None) -> dict[str, Any]:
    """`logs_folder_id` and `evaluation_templates` from `pulumi stack output --json`, if given."""
    if not outputs_file:
        return {}
    try:
        outputs = json.loads(Path(outputs_file).read_text())
        return {
            "logs_folder_id": str(outputs["logsFolderId"]),
            "evaluation_templates": {
                str(k): str(v) for k, v in outputs["evaluationTemplates"].items()
            },
        }
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise UserDataError(
            f"--outputs-file {outputs_file}: needs the JSON of `pulumi stack output --json` "
            f"with logsFolderId and evaluationTemplates ({exc!r})"
        ) from None


def _host(config: StackConfig, key: str | None) -> tuple[StackConfig, str | None]:
    """The stack as host `key` of `challenge:hosts` sees it, and its key for the SSM parameter
    (None for `default`); a stack with several hosts needs `--host`."""
    groups = {group.key: group for group in host_groups(config.spec)}
    if key is None and len(groups) == 1:
        key = next(iter(groups))
    if key not in groups:
        raise UserDataError(
            f"--host: {'give' if key is None else f'{key!r} is not'} one of the stack's hosts "
            f"({', '.join(groups)}); each host has its own user data"
        )
    return config.for_host(groups[key]), None if key == DEFAULT_HOST_KEY else key


def _host_ids(
    created: dict[str, Any], outputs_file: str | None, config: StackConfig, fleet: bool
) -> None:
    """Keep only the host's own queues in `created`'s evaluation templates (one host of several:
    the outputs' queueIds say which evaluation is which queue)."""
    if not created or not fleet:
        return
    queue_ids = json.loads(Path(str(outputs_file)).read_text()).get("queueIds") or {}
    missing = [queue_key(q) for q in config.spec.queues if queue_key(q) not in queue_ids]
    if missing:
        raise UserDataError(
            f"--outputs-file {outputs_file}: queueIds has no {', '.join(missing)}; it needs the "
            "JSON of `pulumi stack output --json`"
        )
    own = {str(queue_ids[queue_key(q)]) for q in config.spec.queues}
    created["evaluation_templates"] = {
        k: v for k, v in created["evaluation_templates"].items() if k in own
    }


def _render(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack, args.project_dir)
    config, host_key = _host(stack, args.host)
    source = _token_source(args)
    created = _created_ids(args.outputs_file)
    _host_ids(created, args.outputs_file, config, fleet=bool(stack.spec.hosts))
    settings = bootstrap_settings(config, source, host_key=host_key, **created)
    inline = isinstance(source, InlineToken)
    if inline:
        print(
            "WARNING: --include-token-insecurely: the orchestrator's token is written into this "
            "user data; anyone who can read the file (or the instance's user data) can use it.",
            file=sys.stderr,
        )
    document = render_cloud_config(settings, allow_inline_token=inline)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if inline else 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(document)
    else:
        sys.stdout.write(document)
    note = "; Synapse IDs are PLACEHOLDERS" if settings.placeholder_ids else ""
    print(
        f"userdata: stack {config.stack}: {len(document.encode())} of {MAX_USER_DATA_BYTES} bytes"
        f"{note}{' -> ' + args.out if args.out else ''}",
        file=sys.stderr,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m userdata", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render the orchestrator host's #cloud-config")
    add_stack_arguments(render, stack_required=True)
    render.add_argument("--out", help="write here instead of standard output")
    render.add_argument(
        "--host",
        metavar="KEY",
        help="with several challenge:hosts, the key of the host to render (each has its own)",
    )
    render.add_argument(
        "--outputs-file",
        metavar="JSON",
        help="the Synapse IDs from `pulumi stack output --json` instead of placeholders",
    )
    token = render.add_mutually_exclusive_group()
    token.add_argument(
        "--token-from-file",
        metavar="PATH",
        help="self-hosted: the host reads the token from this file at boot",
    )
    token.add_argument(
        "--token-from-env",
        metavar="VAR",
        help="self-hosted: the bootstrap reads the token from this environment variable",
    )
    render.add_argument(
        "--include-token-insecurely",
        action="store_true",
        help="write the token (read now from --token-from-file/--token-from-env) into the output",
    )
    return parser


def cli(argv: Sequence[str] | None = None) -> int:
    """Entry point: one line on stderr and exit status 1 for any user-facing error."""
    args = _parser().parse_args(argv)
    try:
        return _render(args)
    except ConfigError as exc:
        print(f"error: {'; '.join(exc.problems)}", file=sys.stderr)
    except UserDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1
