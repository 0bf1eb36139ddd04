"""Every stack value that reaches the host round-trips exactly through the parser that reads it.

Issue 12 item 1: `toilCliOptions: '--defaultMemory 100M \\'` once rendered `TOIL_CLI_OPTIONS='...
\\'`, which Docker Compose reads as an escaped quote: the value swallowed the next line and the
orchestrator never started. Here hypothesis sets each string stack key to arbitrary printable text;
either validation rejects it naming the key, or the bootstrap (real bash, stand-ins for the system
tools) writes `.env`, the real Docker Compose v2 reads `.env` and the compose file, and every value
arrives exactly; values the bootstrap passes to commands arrive as one exact argument.
"""

from __future__ import annotations

import datetime as dt
import shutil
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackconfig import ConfigError, parse_config
from stackconfig.model import STACK_KEYS, ChallengeSpec
from tests.compose import compose_environment, compose_service
from tests.fixtures.scratch_host import commands, scratch_host
from tests.fixtures.stacks import NOW, stack_with
from tests.fixtures.userdata import TOKEN
from userdata import ENV_PATH, ORCHESTRATOR_DIR, UserDataError, render_cloud_config
from userdata.cli import bootstrap_settings
from userdata.render import env_quote, orchestrator_env

#: Printable text as `str.isprintable` means it: any script, punctuation, space; no control
#: characters, no line or paragraph separators.
PRINTABLE = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
    | st.sampled_from(" '\"\\$#={}`!;&|<>()*?~"),
    max_size=40,
)
#: Values shaped like each key's legitimate ones, with hostile characters mixed in.
SHAPED = {
    "toilCliOptions": st.builds(
        lambda a, b: f"--defaultMemory 100M {a}{b}", PRINTABLE, st.sampled_from(["", "\\", "'"])
    ),
    "inputDataDir": st.builds(lambda a: f"/home/user/input_data/{a}", PRINTABLE),
    "inputDataS3Uri": st.builds(lambda a: f"s3://bucket-1/{a}", PRINTABLE),
    "orchestratorImage": st.builds(lambda a: f"ghcr.io/o/i:{a}", PRINTABLE)
    | st.from_regex(r"ghcr\.io/[a-z0-9]{1,8}/[a-z0-9._-]{1,8}:sha-[0-9a-f]{7}", fullmatch=True),
    "workflowEngineImage": st.builds(lambda a: f"docker.io/o/toil:{a}", PRINTABLE)
    | st.from_regex(r"[a-z0-9]{1,8}/toil:[0-9]\.[0-9]{1,2}(-[A-Za-z0-9_.]{1,5})?", fullmatch=True),
    "orchestratorSynapseUsername": PRINTABLE,
    "name": PRINTABLE | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _.+'(),-]{0,30}", fullmatch=True),
}


def _is_str(annotation: object) -> bool:
    """`str`, or a constrained string of rules.py (`Annotated[str, ...]`)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is str


def string_keys() -> list[str]:
    keys = []
    for alias, name in STACK_KEYS.items():
        annotation = ChallengeSpec.model_fields[name].annotation
        if _is_str(annotation) or any(_is_str(a) for a in typing.get_args(annotation)):
            keys.append(alias)
    return keys


def test_every_string_key_is_covered():
    assert {"toilCliOptions", "inputDataDir", "orchestratorSynapseUsername"} <= set(string_keys())
    assert set(SHAPED) <= set(string_keys())


def render_or_reject(key: str, value: str):
    """The stack's settings and user data, or None when validation rejected the value naming
    the key."""
    try:
        config = parse_config("dev", stack_with({key: value}), env={}, now=NOW)
        settings = bootstrap_settings(config)
        return settings, render_cloud_config(settings)
    except ConfigError as error:
        assert any(p.startswith(f"challenge:{key}") for p in error.problems), error.problems
    except UserDataError as error:
        assert f"challenge:{key}" in str(error), str(error)
    return None


HOST_KEYS = [
    "toilCliOptions",
    "inputDataDir",
    "inputDataS3Uri",
    "orchestratorSynapseUsername",
    "orchestratorImage",
    "workflowEngineImage",
    "name",
]


@pytest.mark.parametrize("key", HOST_KEYS)
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_values_round_trip_through_bash_and_docker_compose(key, data, tmp_path):
    value = data.draw(st.one_of(SHAPED[key], PRINTABLE), label=key)
    rendered = render_or_reject(key, value)
    if rendered is None:
        return
    bootstrap_settings, document = rendered
    host = host_for(tmp_path / "host", document)
    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    environment = compose_environment(host.path(ORCHESTRATOR_DIR), "workflow-orchestrator")
    service = compose_service(host.path(ORCHESTRATOR_DIR), "workflow-orchestrator")
    assert service["image"].replace("$$", "$") == bootstrap_settings.orchestrator_image
    expected = dict(orchestrator_env(bootstrap_settings))
    expected.update(SYNAPSE_PAT=TOKEN, DOCKERHUB_PASSWORD="", ACCEPT_NEW_SUBMISSIONS="")
    if bootstrap_settings.workflow_engine_image is None:  # built on the host, passed by ID
        assert environment.pop("WORKFLOW_ENGINE_DOCKER_IMAGE").startswith("sha256:")
    assert environment == expected
    if bootstrap_settings.kind == "model-to-data":
        target = host.path(bootstrap_settings.input_data_dir)
        assert target.is_dir()
        syncs = commands(host.calls(), "aws", "s3", "sync")
        if bootstrap_settings.input_data_s3_uri:
            assert syncs[0][-2:] == [bootstrap_settings.input_data_s3_uri, str(target)]


@pytest.mark.parametrize(
    "options",
    ["--defaultMemory 100M \\", '--label "a b"', "--x $HOME ${PATH} $$", "--y # not a comment"],
)
def test_hostile_but_legitimate_toil_options_reach_the_orchestrator_exactly(options, tmp_path):
    rendered = render_or_reject("toilCliOptions", options)
    assert rendered is not None, options
    _, document = rendered
    host = host_for(tmp_path / "host", document)
    result = host.run()
    assert result.returncode == 0, result.stdout + result.stderr
    environment = compose_environment(host.path(ORCHESTRATOR_DIR), "workflow-orchestrator")
    assert environment["TOIL_CLI_OPTIONS"] == options
    assert environment["SHARE_RESULTS_IMMEDIATELY"] == "true", "the next line is intact"


def host_for(base, document):
    """A fresh scratch host per example (hypothesis reuses the test's tmp_path)."""
    shutil.rmtree(base, ignore_errors=True)
    host = scratch_host(base, document)
    # The engine build copies the host's CA bundle into its context (stand-in content).
    bundle = host.path("/etc/ssl/certs/ca-certificates.crt")
    bundle.parent.mkdir(parents=True)
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    return host


@given(values=st.lists(PRINTABLE, min_size=1, max_size=40))
@settings(max_examples=25, deadline=None)
def test_env_quote_round_trips_through_docker_compose_in_bulk(values, tmp_path_factory):
    """Many values per compose run: the quoting itself, on every printable value."""
    directory = tmp_path_factory.mktemp("env")
    names = [f"V{i}" for i in range(len(values))] + ["AFTER"]
    (directory / "docker-compose.yaml").write_text(
        "services:\n  s:\n    image: busybox:1\n    environment:\n"
        + "".join(f"      - {n}=${{{n}}}\n" for n in names)
    )
    lines = [f"{n}={env_quote(v)}\n" for n, v in zip(names, values, strict=False)]
    (directory / ".env").write_text("".join(lines) + "AFTER='after'\n")
    expected = dict(zip(names, [*values, "after"], strict=True))
    assert compose_environment(directory, "s") == expected


def test_a_trailing_backslash_no_longer_swallows_the_next_line(tmp_path):
    value = "--defaultMemory 100M \\"
    (tmp_path / "docker-compose.yaml").write_text(
        "services:\n  s:\n    image: busybox:1\n    environment:\n      - V=${V}\n      - W=${W}\n"
    )
    (tmp_path / ".env").write_text(f"V={env_quote(value)}\nW='next line'\n")
    assert compose_environment(tmp_path, "s") == {"V": value, "W": "next line"}


@pytest.mark.parametrize("value", ["a\nb", "tab\there", "nul\x00", "bell\x07"])
def test_control_characters_are_refused_not_rendered(value):
    with pytest.raises(UserDataError, match="newline or control character"):
        env_quote(value)


def test_end_date_passes_as_epoch_seconds():
    """endDate reaches systemd as digits only: nothing of the text the organiser wrote."""
    config = parse_config(
        "dev", stack_with({"endDate": "2027-06-30T23:59:00+02:00"}), env={}, now=NOW
    )
    assert config.spec.end_date == dt.datetime(2027, 6, 30, 21, 59, tzinfo=dt.UTC)


assert ENV_PATH.startswith(ORCHESTRATOR_DIR)


def test_a_new_env_compose_cannot_read_never_replaces_the_old_one(tmp_path):
    """The check runs on the new `.env` before it moves into place (it used to run after)."""
    from tests.fixtures.scratch_host import read_env
    from tests.fixtures.userdata import make_settings

    document = render_cloud_config(make_settings(workflow_engine_image="ghcr.io/o/engine:1.0"))
    host = host_for(tmp_path / "host", document)
    first = host.run()
    assert first.returncode == 0, first.stdout + first.stderr
    env_file = host.path(ENV_PATH)
    before = env_file.read_bytes()
    host.set_token("rotated.token-value")
    failed = host.run(STANDIN_FAIL="docker")
    assert failed.returncode != 0
    assert "FAILED in step 'check the compose file with the new .env'" in failed.stdout
    assert "the previous one stays in place" in failed.stdout
    assert env_file.read_bytes() == before
    assert read_env(env_file)["SYNAPSE_PAT"] == TOKEN
    assert sorted(p.name for p in env_file.parent.glob(".env*")) == [".env"], "no temp file left"
    host.reset_calls()
    again = host.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert read_env(env_file)["SYNAPSE_PAT"] == "rotated.token-value"
