"""A job folder laid out as SynapseWorkflowOrchestrator lays it out for the engine, holding the
engine check workflow (`tests/engine_workflow/`): used on this machine and inside the boot VM."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path, PurePosixPath

from userdata import DEFAULT_TOIL_CLI_OPTIONS
from userdata.engine import parameters_yaml, toil_command

WORKFLOW_DIR = Path(__file__).parent / "engine_workflow"
#: The archive's top folder, as GitHub's "Download ZIP" names it, and the ROOT_TEMPLATE inside.
ARCHIVE_FOLDER = "engine-check-main"
ROOT_TEMPLATE = f"{ARCHIVE_FOLDER}/workflow.cwl"
SUBMISSION_ID = "9700101"


def lay_out_job(target: Path, job_path: str) -> list[str]:
    """Fills `target` as the job folder the engine will see at `job_path` (the same absolute path
    on the host and in the engine, WorkflowManagerDocker): the unzipped archive, `.synapseConfig`
    (no real token) and the parameters file (createWorkflowParametersYamlFile). Returns the
    engine container's command, as the orchestrator builds it with the default TOIL_CLI_OPTIONS.
    """
    folder = PurePosixPath(job_path)
    shutil.copytree(WORKFLOW_DIR, target / ARCHIVE_FOLDER)
    (target / ".synapseConfig").write_text(
        "[authentication]\nusername=engine-test\nauthtoken=not-a-token\n"
    )
    parameters = f"TMP{uuid.uuid4().int % 10**19}.yaml"
    (target / parameters).write_text(
        parameters_yaml(
            SUBMISSION_ID,
            "syn70000001",
            "syn70000002",
            "syn70000003",
            str(folder / ".synapseConfig"),
        )
    )
    return toil_command(DEFAULT_TOIL_CLI_OPTIONS, job_path, ROOT_TEMPLATE, str(folder / parameters))
