"""Run `__main__.py` for real under the Pulumi SDK's mock engine: no CLI, no cloud, no secrets.

The mocks stand in for the engine the way AWS and Synapse would answer: physical IDs and ARNs in
the services' own formats, auto-names like Pulumi's, and the public SSM/VPC look-ups the program
makes. Tests and `make check` both use `run_program`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import itertools
import logging
import runpy
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.sdk_internals import mocks as pulumi_mocks
from components.sdk_internals import run_fresh, sync_await
from components.sdk_internals import settings as pulumi_settings
from components.synapse._resource import type_of_token

PROJECT = "challenge"
PROJECT_DIR = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
DYNAMIC_TYPE = "pulumi-python:dynamic"
#: A Debian 13 AMI ID in the format the public SSM parameter returns.
MOCK_AMI_ID = "ami-0d0c3a1b2c3d4e5f6"


@dataclass(frozen=True)
class RegisteredResource:
    """One resource the program registered: its type token, logical name, inputs and state."""

    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    id: str | None
    custom: bool
    provider_class: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Resource options the engine received: delete_before_replace, ignore_changes, protect,
    retain_on_delete, replace_on_changes, parent (URN), dependencies (URNs); and the
    resource's own URN (`urn`), which the engine keys its state by."""

    @property
    def urn(self) -> str:
        return str(self.options.get("urn", ""))

    @property
    def label(self) -> str:
        kind = self.provider_class or self.type
        return f"{kind} {self.name}"


@dataclass
class ProgramRun:
    """What one run of the program did: resources, invokes and resolved stack outputs."""

    resources: list[RegisteredResource]
    invokes: list[tuple[str, dict[str, Any]]]
    outputs: dict[str, Any]
    secret_outputs: frozenset[str] = field(default=frozenset())
    unknown_outputs: frozenset[str] = field(default=frozenset())
    logs: list[tuple[str, str]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[RegisteredResource]:
        return [r for r in self.resources if r.type == type_ or r.provider_class == type_]

    def output_lines(self) -> list[str]:
        """The stack outputs as `pulumi up` lists them: sorted, secrets hidden; a document (a
        multi-line string) by its size (`pulumi stack output NAME` prints it)."""
        lines = []
        for key in sorted(self.outputs):
            if key in self.secret_outputs:
                value = "[secret]"
            elif key in self.unknown_outputs:
                value = "(known after up)"
            elif isinstance(self.outputs[key], str) and "\n" in self.outputs[key].strip():
                text = self.outputs[key]
                value = f"({len(text.splitlines())} lines, {len(text.encode())} bytes)"
            else:
                value = str(self.outputs[key])
            lines.append(f"{key}: {value}")
        return lines

    def one(self, type_: str) -> RegisteredResource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {[r.name for r in found]}")
        return found[0]


def _short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _dynamic_kind(type_token: str) -> str | None:
    """The object kind of a dynamic resource type token (`...dynamic/synapse:Team` -> `Team`)."""
    if not type_token.startswith(DYNAMIC_TYPE):
        return None
    return type_token.rsplit(":", 1)[-1]


class PreviewMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes as AWS and the engine would, and records them."""

    def __init__(self, region: str, amis: Mapping[str, str] | None = None):
        self.region = region
        #: AMI ID -> architecture, for `aws.ec2.get_ami`; other AMIs' architecture is unknown
        #: offline, so the program says nothing of them (at `pulumi up`, EC2 answers).
        self.amis = {MOCK_AMI_ID: "x86_64", **(amis or {})}
        self.resources: list[RegisteredResource] = []
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self.registration_options: dict[tuple[str, str], dict[str, Any]] = {}
        """(type, name) -> options of the registration, filled before `new_resource` runs."""
        self._lock = threading.Lock()
        self._serial = itertools.count(1000)

    # -- resources ---------------------------------------------------------------------------
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        provider_class = _dynamic_kind(args.typ)
        state = {k: v for k, v in inputs.items() if k != "__provider"}
        resource_id = None
        if args.custom:
            resource_id, extra = self._physical(args.typ, args.name, state, provider_class)
            state.update(extra)
        with self._lock:
            self.resources.append(
                RegisteredResource(
                    type=args.typ,
                    name=args.name,
                    inputs=inputs,
                    state=state,
                    id=resource_id,
                    custom=bool(args.custom),
                    provider_class=provider_class,
                )
            )
        return resource_id, state

    def _physical(
        self, typ: str, name: str, state: dict[str, Any], provider_class: str | None
    ) -> tuple[str, dict[str, Any]]:
        region, account = self.region, ACCOUNT_ID
        auto_name = state.get("name") or f"{name}-{_short_hash(typ, name, length=7)}"
        if typ == "aws:ssm/parameter:Parameter":
            param = state.get("name") or f"/{auto_name}"
            return param, {
                "name": param,
                "arn": f"arn:aws:ssm:{region}:{account}:parameter/{param.lstrip('/')}",
                "version": 1,
            }
        if typ == "aws:iam/role:Role":
            return auto_name, {
                "name": auto_name,
                "arn": f"arn:aws:iam::{account}:role/{auto_name}",
                "unique_id": "AROA" + _short_hash(name, length=16).upper(),
            }
        if typ == "aws:iam/instanceProfile:InstanceProfile":
            return auto_name, {
                "name": auto_name,
                "arn": f"arn:aws:iam::{account}:instance-profile/{auto_name}",
            }
        if typ in {
            "aws:iam/rolePolicy:RolePolicy",
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        }:
            return f"{state.get('role', 'role')}:{auto_name}", {"name": auto_name}
        if typ == "aws:ec2/securityGroup:SecurityGroup":
            sg = f"sg-{_short_hash(typ, name, length=17)}"
            return sg, {
                "name": auto_name,
                "arn": f"arn:aws:ec2:{region}:{account}:security-group/{sg}",
                "owner_id": account,
            }
        if typ == "aws:ec2/instance:Instance":
            instance = f"i-{_short_hash(typ, name, length=17)}"
            octets = [int(_short_hash(name, str(i), length=2), 16) for i in range(3)]
            suffix = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
            public_suffix = (
                "compute-1.amazonaws.com"
                if region == "us-east-1"
                else f"{region}.compute.amazonaws.com"
            )
            private_ip = f"172.31.{octets[0]}.{octets[1] or 1}"
            public_ip = f"54.{octets[0]}.{octets[1]}.{octets[2] or 1}"
            return instance, {
                "arn": f"arn:aws:ec2:{region}:{account}:instance/{instance}",
                "private_ip": private_ip,
                "private_dns": f"ip-{private_ip.replace('.', '-')}.{suffix}",
                "public_ip": public_ip,
                "public_dns": f"ec2-{public_ip.replace('.', '-')}.{public_suffix}",
                "instance_state": "running",
            }
        if typ.startswith(DYNAMIC_TYPE):
            return self._synapse_object(typ, provider_class or "", state)
        return f"{name}-{_short_hash(typ, name)}", {}

    def _synapse_object(
        self, typ: str, provider_class: str, state: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Synapse IDs as the server assigns them, in the form the object type declares:
        `syn<n>` for entities, numbers for teams, challenges and queues, `<object>/<principal>`
        for one principal's permission."""
        serial = next(self._serial)
        registered = type_of_token(typ)
        id_kind = registered.PROVIDER.ID_KIND if registered else "entity"
        if id_kind == "grant":
            # A user name resolves to a numeric principal ID.
            grantee = state.get("principal_id") or str(3_300_000 + serial)
            object_id = f"{state.get('entity_id') or state.get('evaluation_id')}/{grantee}"
            return object_id, {"grantee_id": grantee, "inherited_principal_ids": []}
        numeric = id_kind == "numeric"
        object_id = str(9_600_000 + serial) if numeric else f"syn{50_000_000 + serial}"
        return object_id, {
            "synapse_id": object_id,
            "etag": _short_hash(provider_class, str(serial), length=32),
        }

    # -- invokes -----------------------------------------------------------------------------
    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The invoke's result and no check failures."""
        return self._invoke(args), []

    def _invoke(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:
        with self._lock:
            self.invokes.append((args.token, dict(args.args)))
        token, region = args.token, self.region
        if token == "aws:ssm/getParameter:getParameter":
            name = args.args.get("name", "")
            if name.startswith("/aws/service/debian/"):
                return {
                    "name": name,
                    "type": "String",
                    "value": MOCK_AMI_ID,
                    "arn": f"arn:aws:ssm:{region}::parameter{name}",
                    "version": 1,
                    "id": name,
                }
            raise ValueError(f"mock: no public SSM parameter {name!r}")
        if token == "aws:ec2/getAmi:getAmi":
            image_ids = [
                value
                for query in args.args.get("filters", [])
                if query.get("name") == "image-id"
                for value in query.get("values", [])
            ]
            image = image_ids[0] if image_ids else MOCK_AMI_ID
            found = {"id": image, "image_id": image}
            if image in self.amis:
                found["architecture"] = self.amis[image]
            return found
        if token == "aws:ec2/getVpc:getVpc":
            return {
                "id": "vpc-0a1b2c3d4e5f60718",
                "cidr_block": "172.31.0.0/16",
                "default": True,
                "arn": f"arn:aws:ec2:{region}:{ACCOUNT_ID}:vpc/vpc-0a1b2c3d4e5f60718",
            }
        if token == "aws:ec2/getSubnet:getSubnet":
            subnet = args.args.get("id", "subnet-0a1b2c3d4e5f60001")
            return {
                "id": subnet,
                "vpc_id": "vpc-0a1b2c3d4e5f60718",
                "availability_zone": f"{region}a",
                "cidr_block": "172.31.0.0/20",
                "arn": f"arn:aws:ec2:{region}:{ACCOUNT_ID}:subnet/{subnet}",
            }
        if token == "aws:ec2/getSubnets:getSubnets":
            return {
                "id": region,
                "ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            }
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "account_id": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/preview",
                "user_id": "AIDAPREVIEW",
                "id": ACCOUNT_ID,
            }
        if token in {"aws:index/getRegion:getRegion"}:
            return {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dns_suffix": "amazonaws.com", "id": "aws"}
        raise NotImplementedError(
            f"mock: invoke {token} is not stood in for; add it to preview/engine.py"
        )


class _CapturedLogs(logging.Handler):
    """Keeps what the program logs through `pulumi.log` instead of printing it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping the resource options each registration carried."""

    def __init__(self, mocks: PreviewMocks):
        super().__init__(mocks)
        self.options = mocks.registration_options

    def RegisterResource(self, request):
        self.options[(request.type, request.name)] = {
            "delete_before_replace": request.deleteBeforeReplace,
            "ignore_changes": list(request.ignoreChanges),
            "protect": request.protect,
            "retain_on_delete": request.retainOnDelete,
            "replace_on_changes": list(request.replaceOnChanges),
            "parent": request.parent,
            "dependencies": list(request.dependencies),
        }
        response = super().RegisterResource(request)
        self.options[(request.type, request.name)]["urn"] = response.urn
        return response


def _resolve(value: Any) -> tuple[Any, bool, bool]:
    """(value, is_secret, is_known) of a plain value or Output."""
    output = pulumi.Output.from_input(value)
    resolved = sync_await(output.future(with_unknowns=True))
    secret = sync_await(output.is_secret())
    known = sync_await(output.is_known())
    return resolved, secret, known


def run_program(
    config: Mapping[str, Any],
    *,
    stack: str = "test",
    secret_values: Mapping[str, str] | None = None,
    region: str | None = None,
    main: Path = PROJECT_DIR / "__main__.py",
    mocks: PreviewMocks | None = None,
    workdir: Path | None = None,
) -> ProgramRun:
    """Run the Pulumi program once under mocks with `config` (full `ns:key` keys) and secrets.

    Runs in a fresh context so repeated runs in one process do not share a root stack. `mocks`
    replaces the stand-ins (the rehearsal's send Synapse objects to the real providers).
    `workdir` is the program's working directory, where files it writes land (`pulumi up` runs it
    in the project folder); by default a temporary one, so a preview writes nothing here.
    """
    region = region or str(config.get("aws:region", "us-east-1"))
    mocks = mocks or PreviewMocks(region)
    flat = {k: v if isinstance(v, str) else _json(v) for k, v in config.items()}
    for key, value in (secret_values or {}).items():
        flat[key] = value

    captured = _CapturedLogs()
    logger = logging.getLogger(f"preview.program.{id(captured)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(captured)

    def _run() -> ProgramRun:
        monitor = _RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(
            mocks, project=PROJECT, stack=stack, preview=False, logger=logger, monitor=monitor
        )
        pulumi.runtime.set_all_config(flat, list(secret_values or {}))

        def program() -> None:
            runpy.run_path(str(main), run_name="__main__")

        run_fresh(program)
        root = pulumi_settings.get_root_resource()
        outputs: dict[str, Any] = {}
        secret: set[str] = set()
        unknown: set[str] = set()
        for key, value in getattr(root, "outputs", {}).items():
            outputs[key], is_secret, is_known = _resolve(value)
            if is_secret:
                secret.add(key)
            if not is_known:
                unknown.add(key)
        resources = [
            dataclasses.replace(r, options=monitor.options.get((r.type, r.name), {}))
            for r in mocks.resources
        ]
        return ProgramRun(
            resources=resources,
            invokes=list(mocks.invokes),
            outputs=outputs,
            secret_outputs=frozenset(secret),
            unknown_outputs=frozenset(unknown),
            logs=captured.records,
        )

    with contextlib.ExitStack() as scope:
        if workdir is None:
            workdir = Path(scope.enter_context(tempfile.TemporaryDirectory(prefix="preview-")))
        scope.enter_context(contextlib.chdir(workdir))
        return contextvars.Context().run(_run)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)
