"""Contract test: the Synapse providers as the Pulumi engine runs them, in their own process.

The engine runs Python dynamic providers in the `pulumi-python` resource plugin, a separate
process started the way this module starts it (pulumi/pulumi, read at master):

- `sdk/python/dist/pulumi-resource-pulumi-python`: `$PULUMI_RUNTIME_VIRTUALENV/bin/python -u -m
  pulumi.dynamic "$@"`, the virtualenv taken relative to the working directory, its `bin` put
  first on PATH and PYTHONHOME unset.
- `sdk/go/common/resource/plugin/provider_plugin.go` (`NewProvider`): the plugin gets the
  engine's address as its only argument, the CLI's environment plus `PULUMI_RUNTIME_<OPTION>`
  for each `runtime.options` entry of Pulumi.yaml and `PULUMI_PROJECT`; `plugin.go`
  (`newPlugin`, `ExecPlugin`) starts it in the program's directory (`ctx.Pwd`) and reads the
  port it listens on from the first line of its stdout. `Configure` sends the stack config
  (keys with their namespace, secrets marked as secrets in `args`).
- `sdk/python/lib/pulumi/dynamic/__main__.py`: unpickles `__provider` (dill) and calls the
  provider's `configure` with that config, once per process and serialized provider.

The pinned SDK (3.272) pickles a provider class defined outside `__main__` by reference (the
`__module__` rewrite of pulumi/pulumi#7755 is gone from `serialize_provider`): `__provider` is
about 80 bytes naming `components.synapse.<module>.<Class>`, which the plugin imports by name,
so it works only from the project directory. Each resource class is registered under the SDK's
mocks, so `__provider` is serialized by the SDK's own `pulumi.dynamic.Resource` code, and its
inputs are sent over gRPC as the engine sends them (numbers as doubles, no secrets: the plugin
answers `acceptSecrets: false`). The engine also exports the config as `PULUMI_CONFIG`; it is
left out here so that the organiser token reaches the plugin only through `Configure`. The one
addition to the environment is `PYTHONPROFILEIMPORTTIME`, to list what the plugin imports.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import importlib
import importlib.metadata
import json
import os
import pkgutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
import synapseclient
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from synapseclient.core.exceptions import SynapseHTTPError

import components.synapse
from components.sdk_internals import run_fresh
from components.synapse import (
    Challenge,
    EntityPermissions,
    EvaluationPermissions,
    EvaluationQueue,
    ExternalLinkFile,
    Folder,
    Project,
    Team,
)
from components.synapse._resource import SynapseResource, registered_types
from components.synapse.submission_view import SubmissionView
from components.synapse.wiki_copy import WikiCopy
from synapse_client import AUTH_TOKEN_CONFIG_KEY, AUTH_TOKEN_ENV_VAR
from synapse_client.access import ENTITY_ACCESS, EVALUATION_ACCESS, entry_of, level_of
from synapse_client.ownership import split_owner_marker
from synapse_emulator import SynapseEmulator
from tests.fixtures.cli import stop_process
from tests.fixtures.requirements import normalise, pins_of

PROJECT_DIR = Path(__file__).resolve().parent.parent
PULUMI_PROJECT = "challenge"
STACK = "contract"
ORGANISER_TOKEN = "contract-organiser-token-5f0c2e9a7d41"
USERS = {"organiser": ORGANISER_TOKEN, "orchestrator": "contract-orchestrator-token"}
PROVIDER_KEY = "__provider"
ENGINE_ADDRESS = "127.0.0.1:1"
"""The engine passes its own address; the Python dynamic provider never dials it."""
START_TIMEOUT_SECONDS = 60.0
CALL_TIMEOUT_SECONDS = 60.0


# ----- the plugin process ---------------------------------------------------------------------


@dataclass
class Plugin:
    """The `python -m pulumi.dynamic` process and a gRPC stub connected to it."""

    process: subprocess.Popen[bytes]
    stub: provider_pb2_grpc.ResourceProviderStub
    stdout: Path
    stderr: Path
    environment: Mapping[str, str]

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


def plugin_environment() -> dict[str, str]:
    """The CLI's environment as `NewProvider` extends it, without any Synapse credential."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (AUTH_TOKEN_ENV_VAR, "PULUMI_CONFIG", "PYTHONPATH", "PYTHONHOME")
    }
    runtime = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["runtime"]
    for option, value in (runtime.get("options") or {}).items():
        env[f"PULUMI_RUNTIME_{option.upper()}"] = str(value)
    env["PULUMI_PROJECT"] = PULUMI_PROJECT
    env["PYTHONPROFILEIMPORTTIME"] = "1"  # every import to stderr, for the requirements check
    return env


def plugin_command(env: dict[str, str]) -> list[str]:
    """What `pulumi-resource-pulumi-python` runs: the project's virtualenv's Python."""
    virtualenv = PROJECT_DIR / env["PULUMI_RUNTIME_VIRTUALENV"]
    python = virtualenv / "bin" / "python"
    assert python.is_file(), f"Pulumi.yaml's virtualenv {virtualenv} has no bin/python"
    env["PATH"] = f"{virtualenv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return [str(python), "-u", "-m", "pulumi.dynamic", ENGINE_ADDRESS]


def read_port(process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> int:
    """The port from the first line of stdout, as `newPlugin` reads it."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        text = stdout.read_text()
        if "\n" in text:
            return int(text.split("\n", 1)[0].strip())
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the plugin printed no port; stderr:\n{stderr.read_text()}")


@pytest.fixture(scope="module")
def emulator() -> Iterator[SynapseEmulator]:
    with SynapseEmulator(users=USERS) as emu:
        yield emu


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    logs = tmp_path_factory.mktemp("plugin")
    stdout, stderr = logs / "stdout", logs / "stderr"
    env = plugin_environment()
    command = plugin_command(env)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=out, stderr=err)
    try:
        port = read_port(process, stdout, stderr)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_SECONDS)
        yield Plugin(process, provider_pb2_grpc.ResourceProviderStub(channel), stdout, stderr, env)
        channel.close()
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def configured(plugin: Plugin) -> Plugin:
    """The plugin after the engine's start-up calls: Handshake, GetPluginInfo, Configure."""
    assert ORGANISER_TOKEN not in json.dumps(dict(plugin.environment)), "only Configure has it"
    with pytest.raises(grpc.RpcError) as handshake:
        plugin.stub.Handshake(provider_pb2.ProviderHandshakeRequest(engine_address=ENGINE_ADDRESS))
    assert handshake.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert plugin.stub.GetPluginInfo(empty_pb2.Empty()).version
    stack_config = {AUTH_TOKEN_CONFIG_KEY: ORGANISER_TOKEN, "challenge:name": "Contract"}
    secret = {AUTH_TOKEN_CONFIG_KEY}
    answer = plugin.stub.Configure(
        provider_pb2.ConfigureRequest(
            variables={f"pulumi-python:config:{k}": v for k, v in stack_config.items()},
            args=_struct(
                {
                    k: {rpc._special_sig_key: rpc._special_secret_sig, "value": v}
                    if k in secret
                    else v
                    for k, v in stack_config.items()
                }
            ),
            acceptSecrets=True,
            acceptResources=True,
        ),
        timeout=CALL_TIMEOUT_SECONDS,
    )
    assert answer.acceptSecrets is False, "so the engine strips secrets from every later call"
    return plugin


#: A property map as the Engine below sends it.
Props = Mapping[str, Any]


def _struct(props: Props) -> struct_pb2.Struct:
    """A property map as the engine marshals plain values (numbers become doubles)."""
    message = struct_pb2.Struct()
    message.update(dict(props))
    return message


def _props(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


# ----- the engine's side of one resource ------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """What the program sent the engine for one resource: type token, name and inputs."""

    type: str
    name: str
    inputs: dict[str, Any]

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{STACK}::{PULUMI_PROJECT}::{self.type}::{self.name}"


class _Capture(pulumi.runtime.Mocks):
    """Records the resource registrations, `__provider` included."""

    def __init__(self) -> None:
        self.registered: list[Registration] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.registered.append(Registration(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


def without_secrets(value: Any) -> Any:
    """A property as the engine marshals it for a provider that does not accept secrets."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def registered(build: Callable[[], SynapseResource]) -> Registration:
    """The registration a program makes when it declares the resource ``build`` returns."""
    capture = _Capture()

    def run() -> None:
        pulumi.runtime.set_mocks(capture, project=PULUMI_PROJECT, stack=STACK, preview=False)

        def program() -> None:
            build()

        run_fresh(program)

    contextvars.Context().run(run)
    [registration] = capture.registered
    return registration


@dataclass
class Engine:
    """Drives one resource through the plugin the way the engine's step executor does."""

    stub: provider_pb2_grpc.ResourceProviderStub
    registration: Registration
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def urn(self) -> str:
        return self.registration.urn

    @property
    def type_token(self) -> str:
        return self.registration.type

    def _keep(self, props: dict[str, Any]) -> dict[str, Any]:
        self.seen.append(props)
        return props

    def _call(self, method: str, **fields: Any) -> Any:
        """One RPC as the engine sends it: `<method>Request` naming this resource's URN and type,
        each mapping as a protobuf Struct."""
        request = getattr(provider_pb2, f"{method}Request")(
            urn=self.urn,
            type=self.type_token,
            **{k: _struct(v) if isinstance(v, Mapping) else v for k, v in fields.items()},
        )
        return getattr(self.stub, method)(request, timeout=CALL_TIMEOUT_SECONDS)

    def check(self, olds: Props, news: Props) -> dict[str, Any]:
        answer = self._call("Check", name=self.registration.name, olds=olds, news=news)
        failures = [(f.property, f.reason) for f in answer.failures]
        assert not failures, failures
        return self._keep(_props(answer.inputs))

    def create(self, inputs: Props) -> tuple[str, dict[str, Any]]:
        answer = self._call("Create", properties=inputs)
        return answer.id, self._keep(_props(answer.properties))

    def diff(
        self, id_: str, old_inputs: Props, olds: Props, news: Props
    ) -> provider_pb2.DiffResponse:
        response: provider_pb2.DiffResponse = self._call(
            "Diff", id=id_, old_inputs=old_inputs, olds=olds, news=news
        )
        return response

    def update(self, id_: str, old_inputs: Props, olds: Props, news: Props) -> dict[str, Any]:
        answer = self._call("Update", id=id_, old_inputs=old_inputs, olds=olds, news=news)
        return self._keep(_props(answer.properties))

    def read(self, id_: str, props: Props, inputs: Props) -> tuple[str, dict[str, Any]]:
        answer = self._call("Read", id=id_, properties=props, inputs=inputs)
        return answer.id, self._keep(_props(answer.properties))

    def delete(self, id_: str, props: Props, old_inputs: Props) -> None:
        self._call("Delete", id=id_, properties=props, old_inputs=old_inputs)


# ----- what Synapse holds ---------------------------------------------------------------------


def _get(syn: synapseclient.Synapse, uri: str, **kw: Any) -> dict[str, Any] | None:
    """GET ``uri``; None when Synapse says the object is gone (404, or 403 once trashed)."""
    try:
        return syn.restGET(uri, **kw)
    except SynapseHTTPError as exc:
        if exc.response is not None and exc.response.status_code in (403, 404):
            return None
        raise


def _post(syn: synapseclient.Synapse, uri: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return syn.restPOST(uri, json.dumps(dict(body)))


@dataclass(frozen=True)
class Existing:
    """Objects the resources under test point at, made directly in the emulator."""

    parent: str
    team: str
    other_team: str
    queue: str
    staging: str
    live: str
    staging_wiki: str


def _owned_view(found: Mapping[str, Any]) -> dict[str, Any]:
    """Name, description and owner key of an object whose description carries the owner marker."""
    description, owner_key = split_owner_marker(found.get("description"))
    return {"name": found["name"], "description": description, "owner_key": owner_key}


def _entity_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    entity = _get(syn, f"/entity/{id_}")
    return None if entity is None else {**_owned_view(entity), "parent_id": entity.get("parentId")}


def _project_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    view = _entity_view(syn, id_)
    return None if view is None else {k: v for k, v in view.items() if k != "parent_id"}


def _view_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    view = _entity_view(syn, id_)
    entity = _get(syn, f"/entity/{id_}")
    if view is None or entity is None:
        return None
    return {**view, "scope_ids": sorted(str(s) for s in entity.get("scopeIds") or [])}


def _file_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    view = _entity_view(syn, id_)
    entity = _get(syn, f"/entity/{id_}")
    if view is None or entity is None:
        return None
    handle = syn.restGET(
        f"/fileHandle/{entity['dataFileHandleId']}", endpoint=syn.fileHandleEndpoint
    )
    stored = syn.restGET(f"/entity/{id_}/annotations2")["annotations"]
    annotations = {k: [str(v) for v in a["value"]] for k, a in stored.items()}
    return {**view, "external_url": handle["externalURL"], "annotations": annotations}


def _team_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    team = _get(syn, f"/team/{id_}")
    if team is None:
        return None
    return {**_owned_view(team), "can_public_join": bool(team.get("canPublicJoin"))}


def _challenge_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    challenge = _get(syn, f"/challenge/{id_}")
    if challenge is None:
        return None
    return {
        "project_id": challenge["projectId"],
        "participant_team_id": str(challenge["participantTeamId"]),
    }


def _queue_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    queue = _get(syn, f"/evaluation/{id_}")
    if queue is None:
        return None
    description, owner_key = split_owner_marker(queue.get("description"))
    rounds = syn.restPOST(f"/evaluation/{id_}/round/list", "{}")["page"]
    return {
        "name": queue["name"],
        "description": description,
        "owner_key": owner_key,
        "content_source": queue["contentSource"],
        "submission_instructions_message": queue.get("submissionInstructionsMessage") or "",
        "rounds": [
            {
                "start": r["roundStart"],
                "end": r["roundEnd"],
                **{
                    f"{lim['limitType'].lower()}_submissions": lim["maximumSubmissions"]
                    for lim in r.get("limits") or []
                },
            }
            for r in rounds
        ],
    }


def _acl_view(kind: str, levels: Mapping[Any, frozenset[str]]) -> Callable[..., Any]:
    def view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
        target, grantee = id_.split("/")
        acl = _get(syn, f"/{kind}/{target}/acl")
        entry = entry_of(acl or {}, grantee)
        return None if entry is None else {"access": level_of(entry, levels)}

    return view


def _wiki_view(syn: synapseclient.Synapse, id_: str) -> dict[str, Any] | None:
    """The live project's root page, in the staging page's terms."""
    _, live = id_.split("->")
    root = _get(syn, f"/entity/{live}/wiki")
    return None if root is None else {"title": root["title"], "markdown": root["markdown"]}


# ----- one object of every type ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    resource: type[SynapseResource]
    inputs: Callable[[Existing], dict[str, Any]]
    """Keyword arguments of the resource class (the endpoint is added)."""
    change: Callable[[Existing], dict[str, Any]]
    """Inputs Synapse changes in place."""
    observe: Callable[[synapseclient.Synapse, str], dict[str, Any] | None]
    """Synapse's view of the object in input terms; None when it is gone."""
    retained_by_default: bool | None
    """Whether Delete keeps the object unless `retain_on_delete: false`; None: never deletes."""
    touch: Callable[[synapseclient.Synapse, Existing], None] | None = None
    """A change made in Synapse that Diff must notice (for resources that mirror Synapse)."""
    expect: Callable[[synapseclient.Synapse, Existing], dict[str, Any]] | None = None
    """What ``observe`` must find; default: the inputs of the same names."""
    read_observes: bool = True
    """Whether Read asks Synapse (False: it returns the recorded state, and Diff asks)."""


def _grant_case(
    resource: type[SynapseResource],
    kind: str,
    target: Callable[[Existing], str],
    levels: Mapping[Any, frozenset[str]],
    access: str,
    changed_access: str,
) -> Case:
    """A grant to the orchestrator user on the `kind` object `target` names, then a changed level:
    the permission resources differ only in the object they grant on."""
    return Case(
        resource,
        lambda ex: {
            f"{kind}_id": target(ex),
            "principal_username": "orchestrator",
            "access": access,
        },
        lambda ex: {"access": changed_access},
        _acl_view(kind, levels),
        retained_by_default=False,
    )


def _staging_page(syn: synapseclient.Synapse, existing: Existing) -> dict[str, Any]:
    page = syn.restGET(f"/entity/{existing.staging}/wiki/{existing.staging_wiki}")
    return {"title": page["title"], "markdown": page["markdown"]}


def _edit_staging_page(syn: synapseclient.Synapse, existing: Existing) -> None:
    uri = f"/entity/{existing.staging}/wiki/{existing.staging_wiki}"
    page = syn.restGET(uri)
    syn.restPUT(uri, json.dumps({**page, "markdown": "Rules, second edition."}))


def _queue_rounds(daily: int) -> list[dict[str, Any]]:
    return [
        {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z", "daily_submissions": daily}
    ]


CASES: dict[str, Case] = {
    "Project": Case(
        Project,
        lambda ex: {"name": "Contract Site", "description": "the site"},
        lambda ex: {"name": "Contract Site Renamed", "description": "new words"},
        _project_view,
        retained_by_default=True,
    ),
    "Folder": Case(
        Folder,
        lambda ex: {"name": "Logs", "parent_id": ex.parent},
        lambda ex: {"name": "Logs 2", "description": "where logs go"},
        _entity_view,
        retained_by_default=True,
    ),
    "Team": Case(
        Team,
        lambda ex: {"name": "Contract Solvers", "can_public_join": True},
        lambda ex: {"name": "Contract Solvers 2", "can_public_join": False},
        _team_view,
        retained_by_default=True,
    ),
    "Challenge": Case(
        Challenge,
        lambda ex: {"project_id": ex.parent, "participant_team_id": ex.team},
        lambda ex: {"participant_team_id": ex.other_team},
        _challenge_view,
        retained_by_default=True,
    ),
    "EvaluationQueue": Case(
        EvaluationQueue,
        lambda ex: {
            "name": "Contract Task",
            "content_source": ex.parent,
            "rounds": _queue_rounds(2),
        },
        lambda ex: {
            "name": "Contract Task One",
            "submission_instructions_message": "Submit a Docker image.",
            "rounds": _queue_rounds(3),
        },
        _queue_view,
        retained_by_default=True,
    ),
    "ExternalLinkFile": Case(
        ExternalLinkFile,
        lambda ex: {
            "name": "workflow.zip",
            "parent_id": ex.parent,
            "external_url": "https://example.org/v1/workflow.zip",
            "annotations": {"ROOT_TEMPLATE": "wf-main/main.cwl"},
        },
        lambda ex: {
            "external_url": "https://example.org/v2/workflow.zip",
            "annotations": {"ROOT_TEMPLATE": "wf-main/v2.cwl"},
        },
        _file_view,
        retained_by_default=False,
    ),
    "EntityPermissions": _grant_case(
        EntityPermissions, "entity", lambda ex: ex.parent, ENTITY_ACCESS, "download", "edit"
    ),
    "EvaluationPermissions": _grant_case(
        EvaluationPermissions,
        "evaluation",
        lambda ex: ex.queue,
        EVALUATION_ACCESS,
        "score",
        "admin",
    ),
    "SubmissionView": Case(
        SubmissionView,
        lambda ex: {"name": "Submissions", "parent_id": ex.parent, "scope_ids": [ex.queue]},
        lambda ex: {"name": "All submissions", "description": "one row per submission"},
        _view_view,
        retained_by_default=False,
    ),
    "WikiCopy": Case(
        WikiCopy,
        lambda ex: {"staging_project_id": ex.staging, "live_project_id": ex.live},
        lambda ex: {},
        _wiki_view,
        retained_by_default=None,
        touch=_edit_staging_page,
        expect=_staging_page,
        read_observes=False,
    ),
}


def synapse_object_types() -> set[type[SynapseResource]]:
    """Every Synapse object type (one dynamic provider each), from the types' registry once every
    module of components/synapse is imported (each type registers itself on import)."""
    for module in pkgutil.iter_modules(components.synapse.__path__):
        importlib.import_module(f"components.synapse.{module.name}")
    return set(registered_types().values())


def test_every_provider_type_is_driven_over_grpc() -> None:
    assert synapse_object_types() == {case.resource for case in CASES.values()}


@pytest.fixture(scope="module")
def organiser(emulator: SynapseEmulator) -> synapseclient.Synapse:
    return emulator.client("organiser")


@pytest.fixture(scope="module")
def existing(organiser: synapseclient.Synapse) -> Existing:
    def project(name: str) -> str:
        return _post(
            organiser,
            "/entity",
            {"name": name, "concreteType": "org.sagebionetworks.repo.model.Project"},
        )["id"]

    parent, staging, live = (
        project("Contract Parent"),
        project("Contract Staging"),
        project("Contract Live"),
    )
    wiki = _post(organiser, f"/entity/{staging}/wiki", {"title": "Contract", "markdown": "Rules."})
    return Existing(
        parent=parent,
        team=str(_post(organiser, "/team", {"name": "Contract Team A"})["id"]),
        other_team=str(_post(organiser, "/team", {"name": "Contract Team B"})["id"]),
        queue=str(
            _post(organiser, "/evaluation", {"name": "Contract Queue", "contentSource": parent})[
                "id"
            ]
        ),
        staging=staging,
        live=live,
        staging_wiki=str(wiki["id"]),
    )


def _expected(
    case: Case,
    syn: synapseclient.Synapse,
    ex: Existing,
    inputs: Mapping[str, Any],
    seen: Mapping[str, Any],
) -> dict[str, Any]:
    if case.expect is not None:
        return case.expect(syn, ex)
    return {k: inputs[k] for k in seen}


def _unknown_where(value: Any, ids: set[str]) -> Any:
    """``value`` with every one of ``ids`` replaced by the engine's unknown marker."""
    if isinstance(value, dict):
        return {k: _unknown_where(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknown_where(v, ids) for v in value]
    return rpc.UNKNOWN if isinstance(value, str) and value in ids else value


def _server_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def declare(kind: str, existing: Existing, endpoint: str, **overrides: Any) -> Registration:
    """The registration of the ``kind`` object as a program declares it."""
    case = CASES[kind]
    kwargs = {**case.inputs(existing), "synapse_endpoint": endpoint, **overrides}
    return registered(lambda: case.resource(f"contract-{kind.lower()}", **kwargs))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_lifecycle_in_the_plugin_process(
    kind: str,
    configured: Plugin,
    emulator: SynapseEmulator,
    organiser: synapseclient.Synapse,
    existing: Existing,
) -> None:
    case = CASES[kind]
    url = emulator.base_url

    def sent(**overrides: Any) -> dict[str, Any]:
        """The inputs as the engine passes them to Check."""
        return without_secrets(declare(kind, existing, url, **overrides).inputs)

    registration = declare(kind, existing, url)
    provider = registration.inputs[PROVIDER_KEY]
    assert rpc.is_rpc_secret(provider), "the SDK registers __provider as a secret"
    inputs = without_secrets(registration.inputs)
    assert ORGANISER_TOKEN.encode() not in base64.b64decode(inputs[PROVIDER_KEY])
    engine = Engine(configured.stub, registration)

    # pulumi preview before the first up: the IDs of objects made in the same run are unknown.
    planned = _unknown_where(inputs, set(vars(existing).values()))
    pending = {k: v for k, v in planned.items() if v != inputs[k]}
    assert {k: engine.check({}, planned)[k] for k in pending} == pending

    # pulumi up, first time: Check then Create.
    checked = engine.check({}, inputs)
    id_, created = engine.create(checked)
    seen = case.observe(organiser, id_)
    assert seen is not None, f"{kind} {id_} is not in Synapse after Create"
    assert seen == _expected(case, organiser, existing, checked, seen)
    before = seen

    # pulumi up again, nothing changed: no diff.
    again = engine.check(checked, sent())
    assert engine.diff(id_, checked, created, again).changes == provider_pb2.DiffResponse.DIFF_NONE

    # A change in place: Diff says so without replacing, Update applies it.
    change = case.change(existing)

    # pulumi preview, the changed values still unknown: Check keeps them, Diff says "changes".
    pending = engine.check(checked, {**sent(**change), **dict.fromkeys(change, rpc.UNKNOWN)})
    assert {k: pending[k] for k in change} == dict.fromkeys(change, rpc.UNKNOWN)
    if change:
        diff = engine.diff(id_, checked, created, pending)
        assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []

    if case.touch is not None:
        case.touch(organiser, existing)
    news = engine.check(checked, sent(**change))
    diff = engine.diff(id_, checked, created, news)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME, f"{kind}: {change} is a change"
    assert list(diff.replaces) == []
    updated = engine.update(id_, checked, created, news)
    seen = case.observe(organiser, id_)
    assert seen == _expected(case, organiser, existing, news, seen)
    assert seen != before

    # pulumi refresh with the state from before the update: Read returns what Synapse holds.
    read_id, read = engine.read(id_, created if case.read_observes else updated, checked)
    assert read_id == id_
    assert _server_inputs(read) == _server_inputs(updated)
    assert engine.diff(id_, news, read, news).changes == provider_pb2.DiffResponse.DIFF_NONE

    # Another endpoint is another object: a replacement.
    moved = engine.check(news, sent(**change, synapse_endpoint="http://127.0.0.1:9"))
    diff = engine.diff(id_, news, updated, moved)
    assert list(diff.replaces) == ["synapse_endpoint"]

    # pulumi destroy: data-bearing objects stay unless the stack lets them go.
    engine.delete(id_, updated, news)
    if case.retained_by_default is None:
        assert case.observe(organiser, id_) is not None, f"{kind}: Delete must leave Synapse alone"
    else:
        if case.retained_by_default:
            assert case.observe(organiser, id_) is not None, f"{kind} {id_} must be retained"
            released = engine.check(news, sent(**change, retain_on_delete=False))
            diff = engine.diff(id_, news, updated, released)
            assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and not diff.replaces
            updated, news = engine.update(id_, news, updated, released), released
            assert case.observe(organiser, id_) is not None, "retain_on_delete is state only"
            engine.delete(id_, updated, news)
        assert case.observe(organiser, id_) is None, f"{kind} {id_} still in Synapse after Delete"
        assert engine.read(id_, updated, news)[0] == "", "refresh reports it gone"

    # The token reached the provider (objects were made) but never left it.
    assert all(ORGANISER_TOKEN not in json.dumps(props) for props in engine.seen)
    assert configured.process.poll() is None, configured.output()
    assert ORGANISER_TOKEN not in configured.output()


def test_concurrent_creates_in_one_plugin_process(
    configured: Plugin,
    emulator: SynapseEmulator,
    organiser: synapseclient.Synapse,
    existing: Existing,
) -> None:
    """The engine sends independent resources' steps at once; the plugin serves them on a
    thread pool with one unpickled provider, so logins and sessions are shared across threads."""
    declared = {
        name: registered(
            functools.partial(
                Folder,
                name.lower().replace(" ", "-"),
                name=name,
                parent_id=existing.parent,
                synapse_endpoint=emulator.base_url,
                retain_on_delete=False,
            )
        )
        for name in (f"Parallel {n}" for n in range(8))
    }

    def up_and_down(name: str) -> tuple[str, dict[str, Any] | None]:
        engine = Engine(configured.stub, declared[name])
        inputs = engine.check({}, without_secrets(declared[name].inputs))
        id_, outs = engine.create(inputs)
        seen = _entity_view(organiser, id_)
        engine.delete(id_, outs, inputs)
        return id_, seen

    with ThreadPoolExecutor(max_workers=len(declared)) as pool:
        results = list(pool.map(up_and_down, declared))
    assert [seen and seen["name"] for _, seen in results] == list(declared)
    assert len({id_ for id_, _ in results}) == len(declared)
    assert all(_entity_view(organiser, id_) is None for id_, _ in results)
    assert configured.process.poll() is None, configured.output()


def imported_top_level_modules(trace: str) -> set[str]:
    """Top-level names in a `PYTHONPROFILEIMPORTTIME` trace (`import time: ... | a.b.c`)."""
    names = set()
    for line in trace.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            module = line.rsplit("|", 1)[1].strip()
            if module != "imported package":
                names.add(module.split(".", 1)[0])
    return names


def test_the_plugin_imports_only_what_requirements_txt_installs(
    configured: Plugin, emulator: SynapseEmulator, existing: Existing
) -> None:
    """`pulumi install` builds the venv from requirements.txt alone (no dev tools): every
    third-party module the plugin imported while serving this module's tests (run last, it sees
    them all; alone, at least every provider unpickled by a Check) comes from a pinned one."""
    for kind in CASES:
        registration = declare(kind, existing, emulator.base_url)
        Engine(configured.stub, registration).check({}, without_secrets(registration.inputs))
    modules = imported_top_level_modules(configured.stderr.read_text())
    assert {"pulumi", "dill", "components"} <= modules, "the providers were unpickled"
    local = {m for m in modules if (PROJECT_DIR / m).is_dir() or (PROJECT_DIR / f"{m}.py").exists()}
    pinned = set(pins_of(PROJECT_DIR / "requirements.txt"))
    owners = {  # modules tried but not installed were optional imports that failed: skipped
        module: {normalise(d) for d in dists}
        for module, dists in importlib.metadata.packages_distributions().items()
    }
    unpinned = {
        module: sorted(owners[module])
        for module in modules - local
        if module in owners and not owners[module] & pinned
    }
    assert not unpinned, (
        f"imported by the providers but not installed by requirements.txt: {unpinned}"
    )
