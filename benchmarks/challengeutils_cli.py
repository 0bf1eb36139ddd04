"""challengeutils 4.3's command line against the Synapse-compatible server: "N of M commands ok".

A held-out measure of `synapse_emulator/` (issue 14 §3): the commands an organiser runs on a
challenge with Sage's own tool, unchanged, against a fresh emulator with an organiser and a
participant. challengeutils is a measurement tool, not a dependency of this project: install it
in a scratch virtualenv (gitignored), with synapseclient 4.14.0 and the project's constraints
(unpinned, pip cannot resolve synapseclient's opentelemetry packages):

    python3 -m venv .scratch-venv
    .scratch-venv/bin/pip install "challengeutils==4.3.0" "synapseclient==4.14.0" -c constraints.txt

or pass `--python` naming another interpreter that has it. Without one, this prints how to
install it and exits 0.

Each command runs in a child process of that interpreter, logged in through `~/.synapseConfig`
in a temporary HOME (the organiser's token is in that file only, never on a command line or in
the output). The child calls challengeutils' own parser, login and command function; it does not
go through `challengeutils.__main__.main`, which turns any AttributeError into the help text and
exit status 0, hiding the error. The challenge's participant side (joining the team, submitting
a file, a Docker repository and a project) is done here in-process with synapseclient, as the
rehearsal's walk-through does.

Stand-ins for Sage's production objects, set by name in the child before the command runs:
`create-challenge` copies its wiki from the DREAM template project (syn18058986) and
`create-portal-challenge` reads a template project, a table template and the portal's project
view (syn52941681, syn52955244, syn51476218); here they are small copies made in the emulator
first.

`--emulator-path DIR` imports `synapse_emulator` from another checkout (e.g. a worktree of an
older commit) to measure before and after with the same commands.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PYTHON = REPO / ".scratch-venv" / "bin" / "python"
USERS = {"organiser": "tok-cu-organiser", "participant": "tok-cu-participant"}
CHALLENGE = "Emulator Bench Challenge"
PORTAL_CHALLENGE = "Emulator Bench Portal Challenge"
TIMEOUT_SECONDS = 180.0
PROJECT_TYPE = "org.sagebionetworks.repo.model.Project"
#: Runs one challengeutils command in the child: module attributes overridden from the
#: CU_OVERRIDES environment variable (JSON: "module.ATTR" -> value), then parse, log in, run.
CHILD = """
import importlib, json, os, sys
for dotted, value in json.loads(os.environ.get("CU_OVERRIDES", "{}")).items():
    module, attr = dotted.rsplit(".", 1)
    setattr(importlib.import_module(module), attr, value)
from challengeutils.__main__ import build_parser, synapse_login
args = build_parser().parse_args(sys.argv[1:])
args.func(synapse_login(args.synapse_config), args)
"""


@dataclass
class Outcome:
    command: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Bench:
    python: Path
    home: Path
    outcomes: list[Outcome] = field(default_factory=list)

    def run(
        self,
        label: str,
        argv: list[str],
        *,
        overrides: dict[str, Any] | None = None,
        check: Callable[[], str | None] | None = None,
        clean_exit: str | None = None,
    ) -> bool:
        """Run `challengeutils ARGV`; ``check`` returns why the result is wrong, or None;
        ``clean_exit`` is what the command prints when it exits non-zero with nothing wrong."""
        env = {**os.environ, "HOME": str(self.home), "CU_OVERRIDES": json.dumps(overrides or {})}
        for name in ("SYNAPSE_AUTH_TOKEN", "SYNAPSE_PROFILE", "PYTHONPATH"):
            env.pop(name, None)
        started = time.monotonic()
        try:
            done = subprocess.run(
                [str(self.python), "-c", CHILD, *argv],
                cwd=self.home,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
            ok = done.returncode == 0 or bool(clean_exit and clean_exit in done.stderr)
            detail = "" if ok else _error(done.stderr)
        except subprocess.TimeoutExpired:
            ok, detail = False, f"no answer in {TIMEOUT_SECONDS:.0f} s"
        if ok and check is not None:
            try:
                wrong = check()
            except Exception as exc:  # the check's own failure is the finding
                wrong = f"checking the result failed: {type(exc).__name__}: {exc}"
            ok, detail = wrong is None, wrong or ""
        outcome = Outcome(label, ok, detail, time.monotonic() - started)
        self.outcomes.append(outcome)
        print(f"{'ok' if ok else 'failed':6} {label}{': ' + detail if detail else ''}", flush=True)
        return ok


def _error(stderr: str) -> str:
    """The exception line of a traceback (the last line naming an error), else the last line."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Exit")) or head.startswith("synapseclient."):
            return line[:300]
    return lines[-1][:300] if lines else "exit status non-zero, nothing on stderr"


def _find_team(syn: Any, name: str) -> str | None:
    found = [t for t in syn._findTeam(name) if t["name"] == name] if name else []
    return str(found[0]["id"]) if found else None


def _template_project(syn: Any, name: str) -> str:
    """A small stand-in for Sage's challenge template: a root page and two sub-pages whose
    markdown holds the placeholders createchallenge replaces."""
    import synapseclient

    project = syn.store(synapseclient.Project(name))
    root = syn.store(
        synapseclient.Wiki(
            owner=project,
            title="{challengeName}",
            markdown="${challengebanner?challengeId=0} join ${jointeam?teamId=0} projectId=syn0",
        )
    )
    for title in ("Overview", "Task 1"):
        syn.store(
            synapseclient.Wiki(
                owner=project,
                title=title,
                parentWikiId=root.id,
                markdown=f"{title} of {{challengeName}}",
            )
        )
    return str(project.id)


def run_all(bench: Bench, emulator: Any, workdir: Path, walk_through: Callable[..., Any]) -> None:
    import synapseclient

    org = emulator.client("organiser")
    par = emulator.client("participant")
    participant_id = str(emulator.principal_id("participant"))
    organiser_id = str(emulator.principal_id("organiser"))

    template_id = _template_project(org, "Bench DREAM Template")
    override = {"challengeutils.createchallenge.DREAM_CHALLENGE_TEMPLATE_SYNID": template_id}
    staging_name = f"{CHALLENGE} - staging"

    def staging_copied() -> str | None:
        staging = org.findEntityId(staging_name)
        team = _find_team(org, f"{CHALLENGE} Participants")
        if staging is None or team is None:
            return "no staging project or participant team"
        titles = {h["title"] for h in org.getWikiHeaders(staging)}
        if not {"Overview", "Task 1"} <= titles:
            return f"staging wiki not copied from the template: titles {sorted(titles)}"
        markdown = org.getWiki(staging).markdown
        if f"teamId={team}" not in markdown or "challengeId=0" in markdown:
            return "template placeholders not replaced"
        return None

    bench.run(
        "create-challenge",
        ["create-challenge", CHALLENGE],
        overrides=override,
        check=staging_copied,
    )

    # What create-challenge should have made; made here when it did not, so the other
    # commands are still measured.
    live_id = org.findEntityId(CHALLENGE) or org.store(synapseclient.Project(CHALLENGE)).id
    staging_id = org.findEntityId(staging_name) or org.store(synapseclient.Project(staging_name)).id
    teams = {}
    for role in ("Participants", "Admin", "Organizers", "Preregistrants"):
        name = f"{CHALLENGE} {role}"
        teams[role] = _find_team(org, name) or str(
            org.store(synapseclient.Team(name=name, canPublicJoin=role == "Participants")).id
        )
    try:
        challenge = org.restGET(f"/entity/{live_id}/challenge")
    except synapseclient.core.exceptions.SynapseHTTPError:
        body = {"projectId": live_id, "participantTeamId": teams["Participants"]}
        challenge = org.restPOST("/challenge", json.dumps(body))
    writeup_name = f"{CHALLENGE} Project Submission"
    try:
        writeup_q = str(org.getEvaluationByName(writeup_name).id)
    except synapseclient.core.exceptions.SynapseHTTPError:
        writeup_q = str(
            org.store(synapseclient.Evaluation(name=writeup_name, contentSource=live_id)).id
        )
    main_q = str(
        org.store(synapseclient.Evaluation(name=f"{CHALLENGE} Main", contentSource=live_id)).id
    )
    docker_q = str(
        org.store(synapseclient.Evaluation(name=f"{CHALLENGE} Docker", contentSource=live_id)).id
    )
    if not org.getWikiHeaders(live_id):
        org.store(synapseclient.Wiki(owner=live_id, title="", markdown="live home"))

    def can_submit(queue: str) -> Callable[[], str | None]:
        def check() -> str | None:
            granted = _eval_access(org, queue, teams["Participants"])
            return None if "SUBMIT" in granted else "participant team lacks SUBMIT"

        return check

    for queue in (main_q, writeup_q, docker_q):
        bench.run(
            f"set-evaluation-acl submit ({queue})",
            ["set-evaluation-acl", queue, teams["Participants"], "submit"],
            check=can_submit(queue),
        )
    bench.run(
        "set-evaluation-acl score",
        ["set-evaluation-acl", main_q, teams["Organizers"], "score"],
    )
    bench.run(
        "set-entity-acl",
        ["set-entity-acl", live_id, teams["Participants"], "download"],
        check=lambda: (
            None
            if "DOWNLOAD" in org.getPermissions(live_id, teams["Participants"])
            else "participant team lacks DOWNLOAD"
        ),
    )
    bench.run("add-mod-flair", ["add-mod-flair", live_id, teams["Organizers"]])
    bench.run(
        "set-evaluation-quota",
        [
            "set-evaluation-quota",
            main_q,
            "--round_start",
            "2026-01-01T00:00:00",
            "--round_end",
            "2027-01-01T00:00:00",
            "--num_rounds",
            "1",
            "--sub_limit",
            "5",
        ],
    )
    bench.run("list-evaluations", ["list-evaluations", live_id])

    # Mirror: the live site gets a page titled as one of staging's, then staging is mirrored.
    live_root = org.getWiki(live_id)
    org.store(
        synapseclient.Wiki(owner=live_id, title="Overview", parentWikiId=live_root.id, markdown="")
    )
    bench.run(
        "mirror-wiki",
        ["mirror-wiki", staging_id, live_id],
        check=lambda: (
            None
            if any(
                org.getWiki(live_id, h["id"]).markdown.startswith("Overview of")
                for h in org.getWikiHeaders(live_id)
                if h["title"] == "Overview"
            )
            else "live Overview page not mirrored"
        ),
    )
    wiki_dir = workdir / "wiki"
    wiki_dir.mkdir()
    bench.run("pull-wiki", ["pull-wiki", staging_id, "--workdir", str(wiki_dir)])
    pages = sorted(wiki_dir.glob("*-Overview.md"))
    if pages:
        pages[0].write_text("Overview, edited locally")
    bench.run(
        "push-wiki",
        ["push-wiki", staging_id, "--workdir", str(wiki_dir)],
        check=lambda: (
            None
            if any(
                org.getWiki(staging_id, h["id"]).markdown == "Overview, edited locally"
                for h in org.getWikiHeaders(staging_id)
            )
            else "edited page not pushed"
        ),
    )

    # The participant's side, in-process: join, submit a file, a Docker image, a project.
    def participant_submits(kind: str, key: str, queue_id: str) -> Any:
        return walk_through(
            par,
            kind=kind,
            participants_team_id=teams["Participants"],
            queue_ids={key: queue_id},
            progress=lambda _: None,
        )[0]

    file_sub = participant_submits("data-to-model", "main", main_q)
    docker_sub = participant_submits("model-to-data", "docker", docker_q)
    work_project = par.findEntityId("participant challenge work")
    par.setPermissions(work_project, principalId=organiser_id, accessType=["READ", "DOWNLOAD"])
    writeup = par.submit(writeup_q, work_project, name="writeup")
    second = participant_submits("data-to-model", "main", main_q)
    for sub in (file_sub, docker_sub, second):
        if sub.submission_id is None:
            print(f"setup: the participant's submission was refused: {sub.refused}")
            return
    sub_id, second_id = str(file_sub.submission_id), str(second.submission_id)
    assert docker_sub.submission_id is not None

    bench.run(
        "list-registered-challenges",
        ["list-registered-challenges", "--userid", participant_id],
    )
    bench.run(
        "query",
        ["query", f"select * from evaluation_{main_q}", "--render"],
    )
    annotations = workdir / "annotations.json"
    annotations.write_text(json.dumps({"score": 0.75, "prediction_file_status": "SCORED"}))
    bench.run(
        "annotate-submission",
        ["annotate-submission", sub_id, str(annotations)],
        check=lambda: _annotation_check(org, sub_id, "score", 0.75),
    )
    public = workdir / "public.json"
    public.write_text(json.dumps({"met_cutoff": "true", "writeup_status": "VALIDATED"}))
    bench.run(
        "annotate-submission --to_public",
        ["annotate-submission", sub_id, str(public), "--to_public", "--force"],
        check=lambda: _annotation_check(org, sub_id, "met_cutoff", "true"),
    )
    bench.run(
        "change-status",
        ["change-status", sub_id, "SCORED"],
        check=lambda: (
            None if org.getSubmissionStatus(sub_id).status == "SCORED" else "status not SCORED"
        ),
    )
    bench.run(
        "query (annotation filter)",
        [
            "query",
            f"select objectId from evaluation_{main_q} where prediction_file_status == 'SCORED'",
        ],
    )
    bench.run(
        "download-submission",
        ["download-submission", sub_id, "--download_location", str(workdir)],
        check=lambda: (
            None if (workdir / "predictions.csv").is_file() else "predictions.csv not downloaded"
        ),
    )
    bench.run(
        "download-current-lead-submission",
        ["download-current-lead-submission", "-i", second_id, "-s", "VALIDATED"],
        check=lambda: (
            None
            if (bench.home / "previous_submission.csv").is_file()
            else "previous_submission.csv not written"
        ),
    )
    # What the writeup workflow leaves on the writeup: validated, and the archived copy's ID.
    status = org.getSubmissionStatus(writeup.id)
    status.annotations = {
        "stringAnnos": [
            {"key": "writeup_status", "value": "VALIDATED", "isPrivate": False},
            {"key": "archived", "value": work_project, "isPrivate": False},
        ]
    }
    org.store(status)
    bench.run(
        "attach-writeup",
        ["attach-writeup", writeup_q, main_q],
        check=lambda: (
            None
            if any(
                a["key"] == "writeUp"
                for a in org.getSubmissionStatus(sub_id)
                .get("annotations", {})
                .get("stringAnnos", [])
            )
            else "no writeUp annotation on the scored submission"
        ),
    )
    bench.run(
        "validate-project",
        [
            "validate-project",
            str(writeup.id),
            live_id,
            "--admin",
            "organiser",
            "--output",
            str(workdir / "validate.json"),
        ],
        check=lambda: _json_field(workdir / "validate.json", "submission_status", "VALIDATED"),
    )
    bench.run(
        "validate-project --public",
        [
            "validate-project",
            str(writeup.id),
            live_id,
            "--public",
            "--output",
            str(workdir / "public.json"),
        ],
        check=lambda: _json_field(workdir / "public.json", "submission_status", "INVALID"),
    )
    bench.run(
        "archive-project",
        ["archive-project", str(writeup.id), organiser_id, "--output", str(workdir / "a.json")],
    )
    bench.run(
        "validate-docker",
        ["validate-docker", str(docker_sub.submission_id), "-o", str(workdir / "docker.json")],
        check=lambda: _json_field(workdir / "docker.json", "submission_status", "VALIDATED"),
    )
    bench.run(
        "send-email",
        [
            "send-email",
            "--userids",
            participant_id,
            "--subject",
            "Hello",
            "--message",
            "Hi\\nthere",
        ],
    )
    # The view stop-submission-over-quota reads: the default columns and the orchestrator's two.
    columns = [
        synapseclient.Column(**c)
        for c in org.restGET("/column/tableview/defaults?viewEntityType=submissionview")["list"]
    ]
    columns += [
        synapseclient.Column(
            name=f"orgSagebionetworksSynapseWorkflowOrchestrator{key}", columnType="INTEGER"
        )
        for key in ("WorkflowLastUpdated", "ExecutionStarted")
    ]
    view = org.store(
        synapseclient.SubmissionViewSchema(
            name="Bench submissions",
            parent=live_id,
            scopes=[main_q],
            columns=columns,
            addDefaultViewColumns=False,
            addAnnotationColumns=False,
        )
    )
    bench.run("stop-submission-over-quota", ["stop-submission-over-quota", view.id, "1000"])
    # One participant: the scan ends with sys.exit("No linked users found"), its clean result.
    bench.run(
        "cheat-detection",
        ["cheat-detection", main_q, "-s", "SCORED", "RECEIVED"],
        clean_exit="No linked users found",
    )
    bench.run(
        "delete-submission",
        ["delete-submission", second_id],
        check=lambda: _gone(org, second_id),
    )

    # create-portal-challenge: stand-ins for the portal template project, table and view.
    portal_template = _template_project(org, "Bench Portal Template")
    org.set_annotations(
        synapseclient.Annotations(portal_template, org.get(portal_template).etag, {"Overview": ""})
    )
    columns = [synapseclient.Column(name="challengeRole", columnType="STRING_LIST")]
    table_template = org.store(
        synapseclient.Schema(name="Bench organizers", columns=columns, parent=portal_template)
    )
    portal_view = org.store(
        synapseclient.EntityViewSchema(
            name="Bench curated projects",
            parent=portal_template,
            scopes=[portal_template],
            includeEntityTypes=[synapseclient.EntityViewType.PROJECT],
            columns=[synapseclient.Column(name="id", columnType="ENTITYID")],
            addDefaultViewColumns=False,
            addAnnotationColumns=False,
        )
    )
    module = "challengeutils.create_portal_challenge"
    bench.run(
        "create-portal-challenge",
        ["create-portal-challenge", PORTAL_CHALLENGE],
        overrides={
            f"{module}.CHALLENGE_TEMPLATE_SYNID": portal_template,
            f"{module}.TABLE_TEMPLATE_SYNID": table_template.id,
            f"{module}.PORTAL_TABLE": portal_view.id,
        },
    )
    del challenge


def _eval_access(syn: Any, evaluation_id: str, principal_id: str) -> list[str]:
    acl = syn.restGET(f"/evaluation/{evaluation_id}/acl")
    for entry in acl["resourceAccess"]:
        if str(entry["principalId"]) == principal_id:
            return list(entry["accessType"])
    return []


def _annotation_check(syn: Any, submission_id: str, key: str, value: object) -> str | None:
    status = syn.getSubmissionStatus(submission_id)
    found = status.get("submissionAnnotations", {}).get(key)
    return None if found == [value] else f"annotation {key} is {found!r}, not [{value!r}]"


def _json_field(path: Path, key: str, expected: str) -> str | None:
    if not path.is_file():
        return f"{path.name} not written"
    got = json.loads(path.read_text())
    if got.get(key) == expected:
        return None
    return f"{key} {got.get(key)!r}, not {expected!r}: {got.get('submission_errors', '')!r}"


def _gone(syn: Any, submission_id: str) -> str | None:
    from synapseclient.core.exceptions import SynapseHTTPError

    try:
        syn.restGET(f"/evaluation/submission/{submission_id}")
    except SynapseHTTPError as exc:
        if exc.response.status_code == 404:
            return None
        raise
    return "the submission is still there"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="has challengeutils")
    parser.add_argument("--emulator-path", type=Path, help="import synapse_emulator from here")
    args = parser.parse_args(argv)
    probe = [
        str(args.python),
        "-c",
        "import challengeutils, synapseclient as s; print(s.__version__)",
    ]
    try:
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
    except OSError:
        found = None
    if found is None or found.returncode != 0:
        print(f"challengeutils is not importable by {args.python}; install it as this script's")
        print("docstring says (a scratch virtualenv), or pass --python")
        return 0
    print(f"challengeutils with synapseclient {found.stdout.strip()} ({args.python})")
    sys.path.insert(0, str(args.emulator_path or REPO))
    import synapse_emulator
    from synapse_emulator import SynapseEmulator

    sys.path.insert(0, str(REPO))  # the rest from here; synapse_emulator stays as imported
    from benchmarks.synapseclient_integration import synapse_config
    from rehearsal.walkthrough import walk_through

    print(f"emulator from {Path(synapse_emulator.__file__).parent}")

    started = time.monotonic()
    with SynapseEmulator(users=USERS) as emulator, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / ".synapseConfig").write_text(
            synapse_config(emulator.base_url, "organiser", USERS["organiser"])
        )
        bench = Bench(args.python, home)
        run_all(bench, emulator, Path(tmp), walk_through)
        unhandled = sorted({f"{m} {p}" for m, p in emulator.unhandled_requests()})
    if unhandled:
        print("requests the emulator could not serve:")
        for request in unhandled:
            print(f"  {request}")
    ok = sum(o.ok for o in bench.outcomes)
    print(f"{ok} of {len(bench.outcomes)} commands ok; {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
