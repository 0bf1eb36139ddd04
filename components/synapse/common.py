"""The provider base of the Synapse dynamic providers: check/diff from a declarative property
list, credentials read at run time, and the property validators they share.

The REST side (session, endpoints, errors, retries, ownership marker) is the Pulumi-free client
layer ``synapse_client``.

Credentials: a Pulumi Python dynamic provider is pickled (dill) into the state and run in a
separate provider process. Since pulumi/pulumi#17673 (Nov 2024; in the 3.272 SDK's
``pulumi/dynamic/__main__.py``) the engine sends that process the whole stack configuration
(``Configure``: keys keep their namespace, secrets arrive decrypted) and the process calls
``ResourceProvider.configure(ConfigureRequest)`` once per deserialized provider. The token is
read there, kept only in the provider process's memory and excluded from pickling; the
``SYNAPSE_AUTH_TOKEN`` environment variable is the fallback. Nothing credential-like is ever
an input, an output or part of the serialized provider.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from components.sdk_internals import UNKNOWN
from synapse_client.endpoints import DEFAULT_SYNAPSE_ENDPOINT, endpoint_problem
from synapse_client.errors import SynapseProvisioningError
from synapse_client.names import validate_name
from synapse_client.ownership import not_ours, split_owner_marker, with_owner_marker
from synapse_client.session import (
    AUTH_TOKEN_CONFIG_KEY,
    AUTH_TOKEN_ENV_VAR,
    LOG,
    SynapseSession,
    open_session,
    update_object,
)

# --- provider base ---------------------------------------------------------------------------

IN_PLACE = "in_place"
REPLACE = "replace"
STATE_ONLY = "state_only"


@dataclass(frozen=True)
class Prop:
    """One input property: type, default, how a change is applied, and an extra validator."""

    name: str
    types: type | tuple[type, ...]
    required: bool = True
    default: Any = None
    change: str = IN_PLACE
    validate: Callable[[Any], str | None] | None = None
    normalize: Callable[[Any], Any] | None = None


def is_unknown(value: Any) -> bool:
    """Whether a preview value is not known yet: the wire marker, or the ``Unknown`` the provider
    process makes of it (pulumi/dynamic/__main__.py deserializes Check and Diff inputs with
    ``keep_unknowns``)."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


ENDPOINT_PROP = Prop(
    "synapse_endpoint",
    str,
    required=False,
    default=DEFAULT_SYNAPSE_ENDPOINT,
    change=REPLACE,
    validate=endpoint_problem,
    normalize=lambda url: url.rstrip("/"),
)
MAX_DESCRIPTION_LENGTH = 800
"""Synapse keeps 1,000 characters of an entity's description; the ownership marker needs room."""


def _owner_key_problem(value: Any) -> str | None:
    if "]" in value or "\n" in value:
        return f"must not contain ']' or a line break, got {value!r}"
    return validate_name(value)


def _description_problem(value: Any) -> str | None:
    if len(value) > MAX_DESCRIPTION_LENGTH:
        return f"must be at most {MAX_DESCRIPTION_LENGTH} characters, got {len(value)}"
    return None


OWNER_KEY_PROP = Prop("owner_key", str, validate=_owner_key_problem)
DESCRIPTION_PROP = Prop(
    "description",
    str,
    required=False,
    default="",
    validate=_description_problem,
    normalize=str.rstrip,
)
"""Trailing white space is dropped: the marker follows the description after a blank line."""


def retain_prop(default: bool) -> Prop:
    return Prop("retain_on_delete", bool, required=False, default=default, change=STATE_ONLY)


def described(props: Mapping[str, Any]) -> str:
    """The description to store: the input's, then this stack's ownership marker."""
    return with_owner_marker(props.get("description") or "", props["owner_key"])


def observed(found: Mapping[str, Any]) -> dict[str, Any]:
    """The input-shaped view of a stored name, description and ownership marker."""
    description, key = split_owner_marker(found.get("description"))
    return {"name": found.get("name"), "description": description, "owner_key": key}


def owned_props(*own: Prop, retain: bool) -> tuple[Prop, ...]:
    """The properties of an object that carries the ownership marker: its own, then the
    description, owner key, endpoint and ``retain_on_delete`` (default ``retain``)."""
    return (*own, DESCRIPTION_PROP, OWNER_KEY_PROP, ENDPOINT_PROP, retain_prop(retain))


class SynapseProvider(ResourceProvider):
    """Base of every Synapse provider: credentials at run time, check/diff from ``PROPS``."""

    KIND: ClassVar[str] = "object"
    PROPS: ClassVar[tuple[Prop, ...]] = ()
    OUTPUTS: ClassVar[tuple[str, ...]] = ()
    DELETE_BEFORE_REPLACE: ClassVar[bool] = False
    ID_KIND: ClassVar[str] = "entity"
    """What the object's ID looks like: ``entity`` (syn123), ``numeric`` (9614045) or ``grant``
    (one principal's entry on an object); the preview's stand-in IDs follow it."""
    URI: ClassVar[str] = ""
    """The object's REST path, ``{id}`` for its ID (e.g. ``/team/{id}``): read, update and
    delete go there unless a provider says otherwise."""
    PUT_URI: ClassVar[str] = ""
    """Where an update is PUT when not ``URI`` (teams: ``/team``)."""

    def __init__(self) -> None:
        super().__init__()
        self._auth_token: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        token = req.config.get(AUTH_TOKEN_CONFIG_KEY)
        self._auth_token = token or None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_auth_token"] = None
        return state

    def session(self, props: Mapping[str, Any]) -> SynapseSession:
        token = getattr(self, "_auth_token", None) or os.environ.get(AUTH_TOKEN_ENV_VAR)
        if not token:
            raise SynapseProvisioningError(
                f"no Synapse credentials: set `pulumi config set --secret {AUTH_TOKEN_CONFIG_KEY} "
                f"<personal access token>` or the {AUTH_TOKEN_ENV_VAR} environment variable"
            )
        return open_session(props.get("synapse_endpoint") or DEFAULT_SYNAPSE_ENDPOINT, token)

    # check / diff ---------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs: dict[str, Any] = {}
        failures: list[CheckFailure] = []
        known = {p.name for p in self.PROPS} | set(self.OUTPUTS) | {"__provider"}
        for name in sorted(set(news) - known):
            failures.append(CheckFailure(name, f"unknown property of a Synapse {self.KIND}"))
        for prop in self.PROPS:
            value = news.get(prop.name)
            if is_unknown(value):
                inputs[prop.name] = value
                continue
            if value is None:
                if prop.required:
                    failures.append(CheckFailure(prop.name, f"{prop.name} is required"))
                    continue
                value = prop.default
            elif not _has_type(value, prop.types):
                failures.append(
                    CheckFailure(
                        prop.name,
                        f"{prop.name} must be {_type_names(prop.types)}, "
                        f"got {type(value).__name__} {value!r}",
                    )
                )
                continue
            if value is not None and isinstance(value, float) and prop.types is int:
                value = int(value)
            problem = prop.validate(value) if prop.validate and value is not None else None
            if problem:
                failures.append(CheckFailure(prop.name, f"{prop.name} {problem}"))
                continue
            if prop.normalize and value is not None:
                value = prop.normalize(value)
            inputs[prop.name] = value
        if not failures:
            failures.extend(self.check_together(inputs))
        if "__provider" in news:
            inputs["__provider"] = news["__provider"]
        return CheckResult(inputs, failures)

    def check_together(self, inputs: dict[str, Any]) -> list[CheckFailure]:
        """Rules that involve several properties; the checked inputs may hold unknowns."""
        return []

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [p for p in self.PROPS if _differs(olds.get(p.name), news.get(p.name))]
        replaces = [p.name for p in changed if p.change == REPLACE]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[],
            delete_before_replace=self.DELETE_BEFORE_REPLACE,
        )

    def server_changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> set[str]:
        """Names of changed properties that need a call to Synapse (not state-only ones)."""
        return {
            p.name
            for p in self.PROPS
            if p.change != STATE_ONLY and _differs(olds.get(p.name), news.get(p.name))
        }

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("retain_on_delete"):
            label = f"{id_} ({props['name']})" if props.get("name") else id_
            LOG.warning(
                "Synapse %s %s is retained: removing it from the stack leaves it in Synapse "
                "(retain_on_delete is true)",
                self.KIND,
                label,
            )
            return
        self.delete_object(self.session(props), id_, props)

    def delete_object(self, session: SynapseSession, id_: str, props: dict[str, Any]) -> None:
        """DELETE the object; already gone counts as deleted (entities go to the trash can)."""
        session.delete(self.URI.format(id=id_), object_id=id_, missing_ok=True)

    def conflict_hint(self, props: Mapping[str, Any]) -> str:
        """What to do when the wanted name is taken by an object this stack does not own."""
        return ""

    def find_existing(
        self, session: SynapseSession, props: Mapping[str, Any], body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The object a create refused as a name conflict refers to, if this account sees it."""
        raise NotImplementedError

    def create_or_adopt(
        self, session: SynapseSession, uri: str, body: Mapping[str, Any], props: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """POST ``body`` to ``uri``; on 409 (name taken) adopt the object only when it carries
        this stack's ownership marker (a retried create whose first attempt committed), else a
        clear error. Returns the object and whether it was adopted: then the caller re-applies
        the wanted state (``settle``), since the first attempt may not have finished."""
        try:
            return session.post(uri, dict(body)), False
        except SynapseProvisioningError as exc:
            if exc.status != 409:
                raise
        name, hint = props["name"], self.conflict_hint(props)
        found = self.find_existing(session, props, body)
        if found is None:
            raise SynapseProvisioningError(
                f"Synapse refused to create {self.KIND} {name!r} as a name conflict but this "
                f"account cannot see one of that name (someone else's, or Synapse's name index "
                f"is behind). {hint}",
                status=409,
            )
        _, key = split_owner_marker(found.get("description"))
        if key != props["owner_key"]:
            raise not_ours(self.KIND, name, str(found["id"]), key, hint)
        return found, True

    def wanted(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The object's fields as the inputs set them."""
        raise NotImplementedError

    def create_owned(
        self, session: SynapseSession, uri: str, props: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Create the wanted object at ``uri`` or adopt and settle this stack's half-made one."""
        wanted = self.wanted(props)
        found, adopted = self.create_or_adopt(session, uri, wanted, props)
        if adopted:
            self.settle(session, found, wanted)
        return found, adopted

    def differs(self, found: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
        return any(found.get(k) != v for k, v in wanted.items())

    def settle(
        self, session: SynapseSession, found: dict[str, Any], wanted: Mapping[str, Any]
    ) -> None:
        """Bring an adopted object to the wanted state."""
        if self.differs(found, wanted):
            self.write(session, str(found["id"]), wanted, first=found)

    def observe(self, session: SynapseSession, found: Mapping[str, Any]) -> dict[str, Any]:
        """The input-shaped view of what Synapse holds (drift shows after a refresh)."""
        return observed(found)

    def computed(self, props: Mapping[str, Any], id_: str) -> dict[str, Any]:
        """Outputs beyond the inputs (e.g. a project's web address)."""
        return {}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        session = self.session(props)
        found = self.fetch(session, id_)
        if found is None:
            return ReadResult("", {})
        seen = {**props, **self.observe(session, found)}
        return ReadResult(id_, self.outputs(seen, **self.computed(seen, id_)))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self.server_changes(olds, news):
            self.write(self.session(news), id_, self.wanted(news))
        return UpdateResult(self.outputs(news, **self.computed(news, id_)))

    def fetch(self, session: SynapseSession, id_: str) -> dict[str, Any] | None:
        """The object as Synapse has it, or None when it is gone."""
        return session.get(self.URI.format(id=id_), object_id=id_, missing_ok=True)

    def write(
        self,
        session: SynapseSession,
        id_: str,
        fields: Mapping[str, Any],
        first: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write ``fields`` onto the object, re-reading and re-applying on a stale etag."""
        return update_object(
            session,
            self.URI.format(id=id_),
            dict(fields),
            f"{self.KIND} {id_}",
            object_id=id_,
            put_uri=self.PUT_URI.format(id=id_) or None,
            first=first,
        )

    def outputs(self, news: Mapping[str, Any], **computed: Any) -> dict[str, Any]:
        """State to record: the inputs (so diffs see drift after a read) plus computed values."""
        outs = {p.name: news.get(p.name, p.default) for p in self.PROPS}
        outs.update(computed)
        return outs


def _has_type(value: Any, types: type | tuple[type, ...]) -> bool:
    wanted = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool):
        return bool in wanted
    if int in wanted and isinstance(value, float) and value.is_integer():
        return True
    return isinstance(value, wanted)


def _type_names(types: type | tuple[type, ...]) -> str:
    wanted = types if isinstance(types, tuple) else (types,)
    names = {str: "a string", bool: "true or false", int: "an integer", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in wanted)


def _differs(old: Any, new: Any) -> bool:
    if is_unknown(new):
        return True
    return _canonical(old) != _canonical(new)


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_canonical(v) for v in value]
    return value
