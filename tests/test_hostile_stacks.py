"""Hostile and mistaken stack files (issue 12): each is rejected naming its key, or accepted.

`HOSTILE` is the table of every kind of bad input tried, with its expected outcome: the start of
one problem line, or None where the input is legitimate and must pass. Every case runs through
the same checks as `make check` (config, sizing, the components' own checks), all layers at once.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from stackconfig import ConfigError, parse_config, read_stack_file

#: What "now" is for the endDate cases: before the dev stack's first round.
NOW = dt.datetime(2027, 1, 15, tzinfo=dt.UTC)
ENCRYPTED = {"secure": "v1:AAAABBBBCCCC"}


def dev_config() -> dict[str, Any]:
    return copy.deepcopy(read_stack_file("dev"))


def stack_with(changes: dict[str, Any]) -> dict[str, Any]:
    raw = dev_config()
    for key, value in changes.items():
        full = key if ":" in key else f"challenge:{key}"
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value
    return raw


def problems_of(changes: dict[str, Any]) -> list[str]:
    try:
        parse_config("hostile", stack_with(changes), env={}, now=NOW)
    except ConfigError as error:
        return error.problems
    return []


def _rounds(end: str) -> list[dict[str, Any]]:
    return [{"name": "Task 1", "rounds": [{"start": "2027-02-01T00:00:00Z", "end": end}]}]


# (kind of input, changes to the dev stack, start of the expected problem or None: accepted)
HOSTILE: list[tuple[str, dict[str, Any], str | None]] = [
    # --- 3: synapseEndpoint receives the organiser's token ---------------------------------
    (
        "endpoint any https host",
        {"synapseEndpoint": "https://any.host"},
        "challenge:synapseEndpoint: 'https://any.host' would receive the organiser's token",
    ),
    (
        "endpoint look-alike of production",
        {"synapseEndpoint": "https://repo-prod.prod.sagebase.org.evil.example"},
        "challenge:synapseEndpoint: 'https://repo-prod.prod.sagebase.org.evil.example' would",
    ),
    (
        "endpoint http to a remote host",
        {"synapseEndpoint": "http://repo-prod.prod.sagebase.org"},
        "challenge:synapseEndpoint: 'http://repo-prod.prod.sagebase.org': plain http",
    ),
    (
        "endpoint with user info",
        {"synapseEndpoint": "https://evil@repo-prod.prod.sagebase.org"},
        "challenge:synapseEndpoint: 'https://evil@repo-prod.prod.sagebase.org' is not a base URL",
    ),
    (
        "endpoint with a path",
        {"synapseEndpoint": "https://repo-prod.prod.sagebase.org/repo/v1"},
        "challenge:synapseEndpoint: 'https://repo-prod.prod.sagebase.org/repo/v1' is not a base",
    ),
    (
        "endpoint with an embedded newline",
        {"synapseEndpoint": "https://repo-prod.prod.sage\nbase.org"},
        "challenge:synapseEndpoint: 'https://repo-prod.prod.sage\\nbase.org' has spaces",
    ),
    (
        "endpoint file scheme",
        {"synapseEndpoint": "file:///etc/passwd"},
        "challenge:synapseEndpoint: 'file:///etc/passwd' is not a base URL",
    ),
    (
        "endpoint trusted host opt-in",
        {
            "synapseEndpoint": "https://repo-staging.prod.sagebase.org",
            "trustedSynapseHost": "repo-staging.prod.sagebase.org",
            "host": "self-hosted",
        },
        None,
    ),
    (
        "trusted host opt-in names another host",
        {"synapseEndpoint": "https://any.host", "trustedSynapseHost": "other.host"},
        "challenge:synapseEndpoint: 'https://any.host' would receive",
    ),
    (
        "trusted host is a URL, not a host",
        {"trustedSynapseHost": "https://any.host"},
        "challenge:trustedSynapseHost: 'https://any.host' does not match",
    ),
    (
        "non-production endpoint with an EC2 host",
        {"synapseEndpoint": "http://127.0.0.1:8080"},
        "challenge:synapseEndpoint: 'http://127.0.0.1:8080' is not production Synapse, but the "
        "orchestrator always talks to production Synapse",
    ),
    (
        "emulator endpoint, self-hosted rehearsal",
        {"synapseEndpoint": "http://127.0.0.1:8080", "host": "self-hosted"},
        None,
    ),
    # --- issue 10 §3: what the host runs ------------------------------------------------------
    (
        "orchestrator image on master",
        {"orchestratorImage": "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:master"},
        "challenge:orchestratorImage: 'ghcr.io/sage-bionetworks/synapseworkfloworchestrator:master'"
        " follows the moving tag `master`",
    ),
    (
        "orchestrator image latest",
        {"orchestratorImage": "ghcr.io/o/i:latest"},
        "challenge:orchestratorImage: 'ghcr.io/o/i:latest' follows the moving tag `latest`",
    ),
    (
        "orchestrator image untagged",
        {"orchestratorImage": "ghcr.io/o/i"},
        "challenge:orchestratorImage: 'ghcr.io/o/i' has no tag",
    ),
    (
        "registry port is not a tag",
        {"orchestratorImage": "registry.example:5000/o/i"},
        "challenge:orchestratorImage: 'registry.example:5000/o/i' ",
    ),
    (
        "orchestrator image on master, allowed",
        {"orchestratorImage": "ghcr.io/o/i:master", "allowMovingImageTags": True},
        None,
    ),
    ("orchestrator image by digest", {"orchestratorImage": "ghcr.io/o/i@sha256:" + "a" * 64}, None),
    ("orchestrator image commit tag", {"orchestratorImage": "ghcr.io/o/i:sha-1a2b3c4"}, None),
    (
        "engine image on main",
        {"workflowEngineImage": "docker.io/o/toil:main"},
        "challenge:workflowEngineImage: 'docker.io/o/toil:main' follows the moving tag `main`",
    ),
    (
        "arm64 AMI",
        {"amiSsmParameter": "/aws/service/debian/release/13/latest/arm64"},
        "challenge:amiSsmParameter: '/aws/service/debian/release/13/latest/arm64' is an arm64 AMI",
    ),
    # --- 2: inputDataDir -----------------------------------------------------------------------
    *[
        (
            f"input data dir {path}",
            {"inputDataDir": path},
            f"challenge:inputDataDir: {path!r} ",
        )
        for path in (
            "/etc/cron.d",
            "/usr/local/sbin",
            "/root/.ssh",
            "/run",
            "/proc",
            "/home",
            "/var/lib/docker/volumes",
            "/opt/orchestrator",
            "/home/user",
            "/home/user/input_data_evil",
            "/",
        )
    ],
    (
        "input data dir escaping with ..",
        {"inputDataDir": "/home/user/input_data/../.ssh"},
        "challenge:inputDataDir: '/home/user/input_data/../.ssh' must be an absolute path",
    ),
    (
        "input data dir relative",
        {"inputDataDir": "input_data"},
        "challenge:inputDataDir: 'input_data' must be an absolute path",
    ),
    (
        "input data dir with shell characters",
        {"inputDataDir": "/data/$(reboot)"},
        "challenge:inputDataDir: '/data/$(reboot)' must be an absolute path",
    ),
    ("input data dir below the default", {"inputDataDir": "/home/user/input_data/round2"}, None),
    ("input data dir under /data", {"inputDataDir": "/data/challenge/input"}, None),
    # --- 4: namespace typos --------------------------------------------------------------------
    (
        "namespace typo",
        {"challange:endDate": "2027-06-30T23:59:00Z"},
        "challange:endDate: unknown namespace 'challange' (did you mean challenge:endDate?)",
    ),
    (
        "foreign namespace",
        {"gcp:project": "x"},
        "gcp:project: unknown namespace 'gcp'",
    ),
    ("aws namespace is read", {"aws:profile": "default"}, None),
    # --- 6: plaintext secrets ------------------------------------------------------------------
    (
        "plaintext orchestrator token",
        {"orchestratorAuthToken": "eyJhbGciOi.plain.text"},
        "challenge:orchestratorAuthToken: is set in plain text",
    ),
    (
        "plaintext organiser token",
        {"synapseAuthToken": "eyJhbGciOi.plain.text"},
        "challenge:synapseAuthToken: is set in plain text",
    ),
    ("encrypted orchestrator token", {"orchestratorAuthToken": ENCRYPTED}, None),
    (
        "secret as a mapping that is not Pulumi's",
        {"orchestratorAuthToken": {"secure": "x", "value": "plain"}},
        "challenge:orchestratorAuthToken: is set in plain text",
    ),
    # --- 7: endDate ----------------------------------------------------------------------------
    (
        "end date in the past",
        {"endDate": "2026-12-31T00:00:00Z"},
        "challenge:endDate: 2026-12-31T00:00:00+00:00 is in the past",
    ),
    (
        "end date before a round ends",
        {"endDate": "2027-03-01T00:00:00Z", "queues": _rounds("2027-05-01T00:00:00Z")},
        "challenge:endDate: 2027-03-01T00:00:00+00:00 is before the end of round 1 of queue",
    ),
    (
        "end date after the last round",
        {"endDate": "2027-05-02T00:00:00Z", "queues": _rounds("2027-05-01T00:00:00Z")},
        None,
    ),
]


@pytest.mark.parametrize(("kind", "changes", "expected"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input_is_rejected_naming_its_key(kind, changes, expected):
    problems = problems_of(changes)
    if expected is None:
        assert problems == [], f"{kind}: {problems}"
    else:
        assert any(p.startswith(expected) for p in problems), f"{kind}: {problems}"


def test_the_hostile_table_covers_at_least_60_kinds():
    assert len({kind for kind, _, _ in HOSTILE}) == len(HOSTILE)


def write_stack(tmp_path: Path, text: str, name: str = "hostile") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text)
    return path


def test_duplicate_keys_are_errors_naming_both_lines(tmp_path):
    write_stack(
        tmp_path,
        "config:\n"
        "  aws:region: us-east-1\n"
        "  challenge:endDate: 2027-06-30T23:59:00Z\n"
        "  challenge:queues:\n"
        "    - name: A\n"
        "      name: B\n"
        "  challenge:endDate: 2028-06-30T23:59:00Z\n",
    )
    with pytest.raises(ConfigError) as caught:
        read_stack_file("hostile", tmp_path)
    assert caught.value.problems == [
        "challenge:endDate: set twice in Pulumi.hostile.yaml (lines 3 and 7); keep one",
        "name: set twice in Pulumi.hostile.yaml (lines 5 and 6); keep one",
    ]


def test_decrypted_secrets_at_pulumi_up_count_only_when_pulumi_holds_them_as_secrets():
    raw = stack_with({"orchestratorAuthToken": "decrypted-by-pulumi"})
    config = parse_config(
        "dev", raw, env={}, secret_keys={"challenge:orchestratorAuthToken"}, now=NOW
    )
    assert "orchestratorAuthToken" in config.secrets_set
    with pytest.raises(ConfigError) as caught:
        parse_config("dev", raw, env={}, secret_keys=set(), now=NOW)
    assert caught.value.problems == [
        "challenge:orchestratorAuthToken: is set in plain text; a token must be a Pulumi "
        "secret: delete the line from Pulumi.dev.yaml, revoke that token in Synapse (it is in a "
        "file now), and run: pulumi config set --secret challenge:orchestratorAuthToken --stack "
        "dev (Pulumi prompts for the value)"
    ]


def test_readme_key_table_shows_defaults_as_yaml():
    from stackconfig.schema import readme_table

    table = readme_table()
    assert "| `shareResultsImmediately` | boolean |  | `true` |" in table
    assert "| `deleteSynapseDataOnDestroy` | boolean |  | `false` |" in table
    assert "| `existingTeamIds` | object |  | none |" in table
    for python_repr in ("`True`", "`False`", "ExistingTeamIds(", "None"):
        assert python_repr not in table
