"""`host: self-hosted`: the Synapse side and the site server's bootstrap, no AWS at all.

Under the mocks: no aws:* resource or invoke, no drain guard; the bootstrap output (and the file
`pulumi up` writes) is exactly what `python -m userdata render --token-from-file` prints with the
stack's IDs; `make status` says what to run on the site's server instead of asking AWS.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

import program
from lifecycle.outputs import parse_outputs
from lifecycle.status import collect_status, render_table
from stackconfig import read_stack_file
from tests.fixtures.stacks import TEST_SECRETS
from userdata import write_files_of
from userdata.cli import cli as userdata_cli

STACK = "site"


@pytest.fixture
def self_hosted(tmp_path: Path):
    """The dev stack with `host: self-hosted`, run where `pulumi up` would write out/."""
    config = dict(read_stack_file("dev"))
    config["challenge:host"] = "self-hosted"
    del config["aws:region"]  # only the sizing catalog's region; not needed without AWS
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    from preview import run_program

    return run_program(config, stack=STACK, secret_values=TEST_SECRETS, workdir=tmp_path), tmp_path


def test_no_aws_resource_invoke_or_drain_guard(self_hosted):
    run, _ = self_hosted
    types = {r.type for r in run.resources}
    assert not [t for t in types if t.startswith("aws:")]
    assert not [token for token, _ in run.invokes if token.startswith("aws:")]
    assert not run.of_type("DrainGuard")
    assert "challenge:index:OrchestratorHost" not in types
    assert len(run.of_type("EvaluationQueue")) == 2
    assert run.outputs["host"] == "self-hosted"
    for ec2_only in ("instanceId", "ssmSessionCommand", "tokenParameterName", "awsRegion"):
        assert ec2_only not in run.outputs


def test_bootstrap_output_and_file_equal_userdata_render_token_from_file(self_hosted, capsys):
    run, project = self_hosted
    document = run.outputs["selfHostedBootstrap"]
    assert document.startswith("#cloud-config")
    assert (project / run.outputs["selfHostedBootstrapFile"]).read_text() == document
    files = "".join(str(f["content"]) for f in write_files_of(document).values())
    assert program.SELF_HOSTED_TOKEN_FILE in files
    for secret in TEST_SECRETS.values():
        assert secret not in files
    assert run.outputs["logsFolderId"] in files

    outputs_file = project / "outputs.json"
    outputs_file.write_text(json.dumps(run.outputs))
    capsys.readouterr()
    code = userdata_cli(
        [
            "render",
            "--stack",
            STACK,
            "--project-dir",
            str(project),
            "--token-from-file",
            program.SELF_HOSTED_TOKEN_FILE,
            "--outputs-file",
            str(outputs_file),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.out == document
    assert "PLACEHOLDERS" not in printed.err


def test_status_names_the_site_commands_instead_of_asking_aws(self_hosted):
    run, _ = self_hosted
    outputs = parse_outputs(STACK, json.loads(json.dumps(run.outputs)), "test")
    assert outputs.host_instance_id is None
    status = collect_status(
        outputs,
        synapse_endpoint="http://127.0.0.1:1",
        session_factory=None,
        no_session_reason="no token",
        ec2=None,
        ssm=None,
        now=dt.datetime.now(dt.UTC),
    )
    table = render_table(status)
    assert "self-hosted" in table
    assert program.SELF_HOSTED_COMMANDS["status"] in table
    assert "AWS region" not in table


@pytest.mark.parametrize(
    ("endpoint", "warned"),
    [("http://127.0.0.1:8080", True), ("https://repo-prod.prod.sagebase.org", False)],
)
def test_a_server_whose_orchestrator_cannot_serve_the_endpoint_is_warned_of(
    endpoint, warned, tmp_path, capsys
):
    """The orchestrator talks to production Synapse only: a self-hosted stack against another
    server is valid (a rehearsal), but `pulumi up` and `make check` say it evaluates nothing."""
    from preview import run_program
    from preview.__main__ import main as make_check

    config = dict(read_stack_file("dev"))
    config.update({"challenge:host": "self-hosted", "challenge:synapseEndpoint": endpoint})
    run = run_program(config, stack=STACK, secret_values=TEST_SECRETS, workdir=tmp_path)
    said = [m for level, m in run.logs if level == "warning" and "synapseEndpoint" in m]
    (tmp_path / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    assert make_check(["--stack", STACK, "--project-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    shown = [line for line in out if line.startswith("warning:") and "synapseEndpoint" in line]
    if not warned:
        assert said == [] and shown == []
        return
    assert len(said) == 1 and "will evaluate none of this stack's queues" in said[0], said
    assert shown == [f"warning: {said[0]}"]
