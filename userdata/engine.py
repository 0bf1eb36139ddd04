"""The workflow engine image the host builds at first boot, and how the orchestrator runs it.

The orchestrator's default engine (untagged `sagebionetworks/synapse-workflow-orchestrator-toil`,
Dockerfile.Toil: python 3.8, toil 4.1.0) knows CWL v1.0/v1.1 only, while Sage's templates are
v1.2 and run steps on the engine's own Python >= 3.10. The recipe under `engine/` (Dockerfile and
an exactly pinned requirements.txt) is shipped in the user data; the host builds it once per
recipe (the tag carries the recipe's hash) and hands the orchestrator the image ID, which it uses
without pulling (DockerUtils.createContainer skips the pull for references starting `sha256:`).
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import PurePosixPath

#: Files of the recipe, in the order they are hashed and written into the build context.
RECIPE_FILES = ("Dockerfile", "requirements.txt")
ENGINE_REPOSITORY = "challenge-workflow-engine"
#: Image label holding the full recipe hash (the tag holds its first 16 hex digits).
RECIPE_LABEL = "org.sagebionetworks.challenge.engine-recipe"


def recipe() -> dict[str, str]:
    """File name -> content of the engine recipe (package data `userdata/engine/`), as shipped:
    without its comment lines, which explain it here but would only eat the 16 KB of user data
    (and a comment-only edit then rebuilds nothing)."""
    folder = resources.files("userdata") / "engine"
    return {
        name: "".join(
            line
            for line in (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
            if not line.lstrip().startswith("#")
        )
        for name in RECIPE_FILES
    }


def recipe_hash() -> str:
    """sha256 over the recipe's file names and contents: a changed recipe is a new image."""
    digest = hashlib.sha256()
    for name, content in recipe().items():
        digest.update(name.encode() + b"\0" + content.encode() + b"\0")
    return digest.hexdigest()


def engine_tag() -> str:
    """The local tag of the image built from this recipe: `challenge-workflow-engine:<hash16>`."""
    return f"{ENGINE_REPOSITORY}:{recipe_hash()[:16]}"


def base_image() -> str:
    """The recipe's FROM reference (a dated tag of Docker's official Debian image)."""
    for line in recipe()["Dockerfile"].splitlines():
        if line.startswith("FROM "):
            return line.split()[1]
    raise ValueError("engine Dockerfile: no FROM line")


def pinned_requirements() -> dict[str, str]:
    """Package name (lower case) -> exact version, from the recipe's requirements.txt."""
    pins = {}
    for line in recipe()["requirements.txt"].splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, separator, version = line.partition("==")
        if not separator or not version:
            raise ValueError(f"engine requirements.txt: {line!r} is not pinned with ==")
        pins[name.strip().lower()] = version.strip()
    return pins


def toil_command(
    toil_cli_options: str, job_folder: str, root_template: str, parameters_file: str
) -> list[str]:
    """The engine container's command, as WorkflowManagerDocker.createWorkflowJob builds it.

    `TOIL_CLI_OPTIONS` split on whitespace, then `--workDir <job folder> --noLinkImports`, the
    entry point inside the job folder and the parameters file the orchestrator wrote there.
    """
    folder = PurePosixPath(job_folder)
    return [
        "toil-cwl-runner",
        *toil_cli_options.split(),
        "--workDir",
        str(folder),
        "--noLinkImports",
        str(folder / root_template),
        parameters_file,
    ]


def toil_environment(job_folder: str, docker_engine_url: str) -> dict[str, str]:
    """The variables the orchestrator sets in the engine container (WorkflowManagerDocker)."""
    return {
        "TMPDIR": job_folder,
        "TEMP": job_folder,
        "TMP": job_folder,
        "DOCKER_HOST": docker_engine_url,
    }


def parameters_yaml(
    submission_id: str,
    workflow_synapse_id: str,
    submitter_upload_syn_id: str,
    admin_upload_syn_id: str,
    synapse_config_path: str,
) -> str:
    """The job's parameters file, as createWorkflowParametersYamlFile writes it."""
    return (
        f"submissionId: {submission_id}\n"
        f"workflowSynapseId: {workflow_synapse_id}\n"
        f"submitterUploadSynId: {submitter_upload_syn_id}\n"
        f"adminUploadSynId: {admin_upload_syn_id}\n"
        f"synapseConfig:\n  class: File\n  path: {synapse_config_path}\n"
    )
