"""What we render is what we ship: `python -m userdata render --stack S` with the Synapse IDs from
the stack outputs prints byte for byte the user data the program gives `aws.ec2.Instance` for S.

Both go through `userdata.host_settings` (one mapping from the stack to the host); this test is the
proof that nothing on either path adds, drops or changes a setting, for the dev stack and for a
stack that sets every key that reaches the host to a non-default value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from preview import run_program
from stackconfig import STACK_KEYS, ChallengeSpec, read_stack_file
from tests.fixtures.cli import run_module
from tests.fixtures.stacks import TEST_SECRETS
from userdata import HostSettings, write_files_of

ROOT = Path(__file__).resolve().parent.parent

#: Stack keys that reach the host: every HostSettings field named like a spec field, plus the
#: keys the mapping derives from (the challenge name, the AMI parameter's OS).
HOST_KEYS = sorted(
    {alias for alias, name in STACK_KEYS.items() if name in HostSettings.model_fields}
    | {"name", "amiSsmParameter"}
)

FULL_STACK: dict[str, Any] = {
    "aws:region": "eu-west-1",
    "challenge:name": "Render Parity Challenge 2099",
    "challenge:kind": "model-to-data",
    "challenge:queues": [
        {"name": "Parity Task 1", "description": "first"},
        {"name": "Parity Task 2", "key": "task-two"},
        {"name": "Parity Task 3"},
    ],
    "challenge:workflowArchiveUrl": "https://github.com/example/parity-workflow/archive/main.zip",
    "challenge:rootTemplate": "parity-workflow-main/workflow.cwl",
    "challenge:orchestratorSynapseUsername": "parity-bot",
    "challenge:perSubmissionMemoryGiB": 6,
    "challenge:maxConcurrentSubmissions": 3,
    "challenge:orchestratorImage": (
        "ghcr.io/sage-bionetworks/synapseworkfloworchestrator@sha256:" + "ab" * 32
    ),
    "challenge:workflowEngineImage": "registry.example.org:5000/toil/engine:8.2.0-py3.12",
    "challenge:amiSsmParameter": "/aws/service/debian/daily/13/latest/amd64",
    "challenge:inputDataDir": "/data/challenge/input-data",
    "challenge:inputDataS3Uri": "s3://parity-challenge-data/inputs/round1/",
    "challenge:jobRetentionDays": 3,
    "challenge:submitterNotificationMask": 6,
    "challenge:shareResultsImmediately": False,
    "challenge:toilCliOptions": "--defaultMemory 2G --retryCount 1 --defaultDisk 5G",
    "challenge:endDate": "2099-06-30T23:59:00+02:00",
    "challenge:stopHostAfterEnd": False,
    "challenge:runWorkflowContainerInPrivilegedMode": True,
    "challenge:executionStage": "EXECUTION",
    "challenge:rwVolumes": ["/data/scratch:/scratch", "/data/models:/models"],
    "challenge:dockerhubUsername": "paritybot",
    "challenge:dockerhubPassword": {"secure": "v1:cGFyaXR5:ZG9ja2VyaHVi"},
    "challenge:synapseAuthToken": {"secure": "v1:cGFyaXR5:b3JnYW5pc2Vy"},
    "challenge:orchestratorAuthToken": {"secure": "v1:cGFyaXR5:b3JjaGVzdHJhdG9y"},
}


#: The other kind; S3 input data is for model-to-data only.
DATA_TO_MODEL_STACK = {
    **{k: v for k, v in FULL_STACK.items() if k != "challenge:inputDataS3Uri"},
    "challenge:kind": "data-to-model",
}
PARITY_STACKS = {"full": FULL_STACK, "d2m": DATA_TO_MODEL_STACK}
SECRETS = {**TEST_SECRETS, "challenge:dockerhubPassword": "test-dockerhub-token-5678"}


@pytest.mark.parametrize("alias", HOST_KEYS)
def test_the_parity_stacks_set_every_key_that_reaches_the_host_to_a_non_default(alias: str):
    """Keeps the parity test complete: a new host setting fails here until a stack uses it."""
    default = ChallengeSpec.model_fields[STACK_KEYS[alias]].default
    values = [config.get(f"challenge:{alias}", default) for config in PARITY_STACKS.values()]
    assert any(v != default for v in values), f"no parity stack sets challenge:{alias}"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("parity")
    for stack, config in PARITY_STACKS.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    (directory / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    return directory


@pytest.mark.parametrize("stack", ["dev", *PARITY_STACKS])
def test_render_prints_exactly_the_user_data_the_program_ships(project: Path, stack: str):
    secrets = TEST_SECRETS if stack == "dev" else SECRETS
    run = run_program(read_stack_file(stack, project), stack=stack, secret_values=secrets)
    shipped = run.one("aws:ec2/instance:Instance").inputs["userData"]
    assert isinstance(shipped, str) and shipped.startswith("#cloud-config\n")
    logs_folder_id = run.outputs["logsFolderId"]
    templates = run.outputs["evaluationTemplates"]
    assert logs_folder_id.startswith("syn") and len(templates) == len(
        read_stack_file(stack, project)["challenge:queues"]
    )

    outputs = project / f"{stack}-outputs.json"
    outputs.write_text(json.dumps(run.outputs, default=str))  # as `pulumi stack output --json`
    rendered = run_module(
        "userdata",
        "render",
        "--stack",
        stack,
        "--project-dir",
        str(project),
        "--outputs-file",
        str(outputs),
        timeout_s=120,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "PLACEHOLDER" not in rendered.stdout
    assert rendered.stdout == shipped


def test_the_full_stack_values_reach_the_shipped_user_data(project: Path):
    """Guards the parity test against two equally empty documents: each value is in there."""
    run = run_program(read_stack_file("full", project), stack="full", secret_values=SECRETS)
    document = run.one("aws:ec2/instance:Instance").inputs["userData"]
    files = write_files_of(document)  # as the host gets them (bulky ones ship gzip+base64)
    shipped = document + "".join(entry["content"] for entry in files.values())
    for expected in (
        "Render Parity Challenge 2099",
        "SYNAPSE_USERNAME='parity-bot'",
        "MAX_CONCURRENT_WORKFLOWS='3'",
        FULL_STACK["challenge:orchestratorImage"],
        "WORKFLOW_ENGINE_DOCKER_IMAGE='registry.example.org:5000/toil/engine:8.2.0-py3.12'",
        "/data/challenge/input-data",
        "s3://parity-challenge-data/inputs/round1/",
        "-mmin +4320",  # 3 days of job folders
        "SUBMITTER_NOTIFICATION_MASK='6'",
        "SHARE_RESULTS_IMMEDIATELY='false'",
        "TOIL_CLI_OPTIONS='--defaultMemory 2G --retryCount 1 --defaultDisk 5G'",
        "2099-06-30T21:59:00Z",  # endDate, in UTC
        "CHALLENGE_STOP_HOST_AFTER_END=false",
        "RUN_WORKFLOW_CONTAINER_IN_PRIVILEGED_MODE='true'",
        "EXECUTION_STAGE='EXECUTION'",
        "RW_VOLUMES='/data/scratch:/scratch,/data/models:/models'",
        "DOCKERHUB_USERNAME='paritybot'",
        "/challenge/render-parity-challenge-2099/full/dockerhub-password",
        "/challenge/render-parity-challenge-2099/full/orchestrator-token",
        "REGION = 'eu-west-1'",
    ):
        assert expected in shipped, expected
    assert "debian-13" in shipped
    for secret in SECRETS.values():
        assert secret not in shipped
