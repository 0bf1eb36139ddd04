"""synapseclient's own integration tests against the Synapse-compatible server: "N of M pass".

The measure of how faithful `synapse_emulator/` is (issue 14 §4): Sage-Bionetworks'
synapsePythonClient tests/integration, written against real Synapse, run unchanged against a
fresh emulator. They are not in synapseclient's sdist and not in this repository (their code is
theirs): put a copy of the directory, keeping its layout, under
`.cache/synapseclient-integration/tests/integration/` (e.g. from a checkout of the v4.14.0 tag:
`cp -r synapsePythonClient/tests/integration .cache/synapseclient-integration/tests/`), or pass
`--tests ROOT` (the directory holding `tests/integration`). Only the areas the emulator claims
are run: entities, ACLs, teams, evaluations and submissions, wikis, files, provenance (see
AREAS); `--files` picks others.

The tests log in through `~/.synapseConfig`, so HOME points at a temporary directory whose
config names the emulator's endpoints and the token of the tests' user; `DPETestUser2`, whom
the team tests invite, exists too. Pytest runs in a child process with its own ini (asyncio in
auto mode, one session loop, as upstream runs them), and its JUnit report is summarised here.

`--emulator-path DIR` imports `synapse_emulator` from another checkout (e.g. a worktree of an
older commit) to measure before and after with the same tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO / ".cache" / "synapseclient-integration"
MODELS = "tests/integration/synapseclient/models"
#: The emulator's areas, as upstream names its test modules: the synchronous model tests and the
#: async twins of those whose stored version matches 4.14.0's API.
AREAS = (
    tuple(
        f"{MODELS}/synchronous/test_{name}.py"
        for name in (
            "activity",
            "docker",
            "evaluation",
            "file",
            "folder",
            "permissions",
            "project",
            "submission",
            "submission_bundle",
            "submission_status",
            "team",
            "user",
            "wiki",
        )
    )
    + tuple(
        f"{MODELS}/async/test_{name}_async.py"
        for name in (
            "activity",
            "docker",
            "evaluation",
            "submission",
            "submission_bundle",
            "submission_status",
            "user",
        )
    )
    + (
        "tests/integration/synapseclient/integration_test.py",
        "tests/integration/synapseclient/test_evaluations.py",
        "tests/integration/synapseclient/test_wikis.py",
    )
)
#: Which stored upstream version of each module the measurement uses (synapsePythonClient
#: commits). Where several versions are stored, the one whose client API and error layout match
#: 4.14.0 (the client we pin) is taken: e.g. test_team's version that expects "404 Client Error:
#: <reason>" and uses get_user_membership_status, test_permissions' version built on list_acl and
#: delete_permissions rather than the removed Table.store_schema.
SOURCES = {
    "conftest.py": "0b8df91fbbace3547acb9dc3df82d8a9918f8b24",
    "test_activity.py": "0b8df91fbbace3547acb9dc3df82d8a9918f8b24",
    "test_evaluation.py": "0e220dece5a123b2f51eb8ef05ef83b4097c364f",
    "test_file.py": "0041fc9451c78d716aefda7c61a7d9a0397f69e7",
    "test_folder.py": "0041fc9451c78d716aefda7c61a7d9a0397f69e7",
    "test_permissions.py": "ae8d293d3e55e0dfbb98adc6260e9a0c7896b7a6",
    "test_project.py": "018cee6b6856a7ca0a9e4218af9f6097058d5711",
    "test_submission.py": "75bad9698e90d943312c2224ec8b4474e37089a3",
    "test_submission_bundle.py": "1168cae902dfbc725ef191dab82a8a4d5609aa32",
    "test_submission_status.py": "2021fb71858a8db0aa43db71c841734ba84bbf2c",
    "test_team.py": "the stored version with test_team_membership_status",
    "test_user.py": "0041fc9451c78d716aefda7c61a7d9a0397f69e7",
    "test_wiki.py": "255c54c427f6f7eb9a88cfb40bc53b8535392dd0",
    "test_docker.py": "d70197fce1f84419ab0d97c09124cb687d0dda9b",
    "async/test_activity_async.py": "0b8df91fbbace3547acb9dc3df82d8a9918f8b24",
    "async/test_docker_async.py": "972d5a2356e9b70b1aac7aa713d7624d64820d9a",
    "async/test_evaluation_async.py": "the stored version calling update_acl_async(access_type=)",
    "async/test_submission_async.py": "1fb0fbf8c83849c6eb09987f2168449b576d85a5",
    "async/test_submission_bundle_async.py": "1168cae902dfbc725ef191dab82a8a4d5609aa32",
    "async/test_submission_status_async.py": "0765d1cd15bc723851886c1eb5cf419a3e8045ed",
    "async/test_user_async.py": "0041fc9451c78d716aefda7c61a7d9a0397f69e7",
    "integration_test.py": "0284c603f259f7930125ea4dc3612289220783b8",
    "test_evaluations.py": "018cee6b6856a7ca0a9e4218af9f6097058d5711",
    "test_wikis.py": "9142e9755af04b059693e7e500096f3e94ef6464",
}
USERS = {"integration_tester": "tok-integration-tester", "DPETestUser2": "tok-dpe-test-user-2"}
#: The stored conftest is newer than 4.14.0: it clears an lru_cache on get_upload_destination
#: and passes the client to wrap_async_to_sync, neither of which 4.14.0 has. This plugin, loaded
#: before the conftest, lets both run on 4.14.0 without changing what the tests check.
HARNESS_PLUGIN = """
import synapseclient.api.entity_services as entity_services
import synapseclient.core.async_utils as async_utils

if not hasattr(entity_services.get_upload_destination, "cache_clear"):
    entity_services.get_upload_destination.cache_clear = lambda: None

_wrap = async_utils.wrap_async_to_sync


def _wrap_any(coroutine, *_client):
    return _wrap(coroutine)


async_utils.wrap_async_to_sync = _wrap_any


# A test module's `time` or `asyncio` with sleep capped: upstream's tests wait up to 30 s at a
# time for real Synapse's eventual consistency (team search, previews, ACL listings); the emulator
# is consistent at once. The client's own sleeps (retries, job polling) are untouched.
class _ShortWaits:

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def sleep(self, seconds, *args, **kwargs):
        return self._real.sleep(min(seconds, 0.05), *args, **kwargs)


def pytest_collection_modifyitems(items):
    import asyncio
    import time

    for module in {item.module for item in items if getattr(item, "module", None)}:
        for name, real in (("time", time), ("asyncio", asyncio)):
            if getattr(module, name, None) is real:
                setattr(module, name, _ShortWaits(real))
"""
#: Failures that come from the test being written for a newer client than 4.14.0, not from the
#: server: an argument or attribute 4.14.0 lacks, or an error text laid out as newer clients do
#: ("404 Client Error: \\n<reason>"; 4.14.0's httpx path prints "404 Client Error: <reason>").
#: Tests that do not talk to Synapse: they download from dev-versions.synapse.sagebase.org,
#: which this machine cannot reach and the emulator does not stand in for.
OFF_SYNAPSE = (
    "tests/integration/synapseclient/integration_test.py::test_downloadFile",
    "tests/integration/synapseclient/integration_test.py::test_version_check",
)
CLIENT_API_MISMATCH = (
    "unexpected keyword argument",
    "has no attribute",
    "does not have the attribute",
    "cannot import name",
    "Client Error: \\n",
    # 4.14.0's get_user_submissions_async is an async generator; older tests await a dict
    "can't be used in 'await' expression",
    # 4.14.0's Submission._fetch_latest_entity wraps any failure in LookupError; the test
    # expects the ValueError of an older client
    "LookupError: Unable to fetch entity information",
    # the reason twice ("...is in trash can.\nEntity ... is in trash can."): an older client's
    # httpx error text appended the JSON reason to a message that already held it; 4.14.0's
    # _raise_for_status_httpx writes "<status> Client Error: <reason>" once
    "is in trash can.\\nEntity",
)
PYTEST_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
filterwarnings = ignore::DeprecationWarning
"""


def synapse_config(base_url: str, username: str, token: str) -> str:
    return (
        f"[authentication]\nusername = {username}\nauthtoken = {token}\n\n"
        "[endpoints]\n"
        f"repoEndpoint = {base_url}/repo/v1\n"
        f"authEndpoint = {base_url}/auth/v1\n"
        f"fileHandleEndpoint = {base_url}/file/v1\n"
        f"portalEndpoint = {base_url}/\n"
    )


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """test id -> (passed|failed|error|skipped, first line of the message)."""
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
                lines = (child.get("message") or "").strip().splitlines()
                message = lines[0][:160] if lines else ""
                break
        found[test_id] = (outcome, message)
    return found


def run(root: Path, files: list[str], emulator_path: Path | None) -> dict[str, tuple[str, str]]:
    sys.path.insert(0, str(emulator_path or REPO))
    from synapse_emulator import SynapseEmulator

    with SynapseEmulator(users=USERS) as emulator, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / ".synapseConfig").write_text(
            synapse_config(emulator.base_url, "integration_tester", USERS["integration_tester"])
        )
        (home / "pytest.ini").write_text(PYTEST_INI)
        (home / "emulator_harness.py").write_text(HARNESS_PLUGIN)
        report = home / "report.xml"
        env = {**os.environ, "HOME": str(home), "PYTHONPATH": f"{root}{os.pathsep}{home}"}
        env.pop("SYNAPSE_AUTH_TOKEN", None)
        command = [
            sys.executable,
            "-m",
            "pytest",
            *files,
            "-c",
            str(home / "pytest.ini"),
            "--rootdir",
            str(root),
            "-p",
            "no:cacheprovider",
            "-p",
            "emulator_harness",
            "-q",
            *(f"--deselect={test}" for test in OFF_SYNAPSE),
            f"--junitxml={report}",
        ]
        subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, check=False)
        if not report.is_file():
            sys.exit("pytest wrote no report; run it by hand to see why")
        found = outcomes(report)
        unhandled = Counter(f"{m} {p}" for m, p in emulator.unhandled_requests())
    if unhandled:
        print("requests the emulator could not serve:")
        for request, count in unhandled.most_common(15):
            print(f"  {count:4d}  {request}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=Path, default=DEFAULT_ROOT, help="holds tests/integration")
    parser.add_argument("--files", nargs="*", default=list(AREAS), help="test modules to run")
    parser.add_argument("--emulator-path", type=Path, help="import synapse_emulator from here")
    parser.add_argument("--list-failures", action="store_true", help="every test that did not pass")
    args = parser.parse_args(argv)
    root = args.tests.resolve()
    present = [f for f in args.files if (root / f).is_file()]
    missing = [Path(f).name for f in args.files if f not in present]
    if missing:
        print(
            f"{len(missing)} of {len(args.files)} test modules missing under {root}: "
            f"{', '.join(missing)} (copy synapsePythonClient's tests/integration there)"
        )
    if not present:
        return 0 if args.tests == DEFAULT_ROOT else 1
    started = time.monotonic()
    found = run(root, present, args.emulator_path)
    by_outcome = Counter(outcome for outcome, _ in found.values())
    per_file: dict[str, Counter[str]] = {}
    for test_id, (outcome, _) in found.items():
        parts = test_id.split("::")[0].split(".")
        module = ".".join(parts[:-1] if parts[-1][:1].isupper() else parts)
        per_file.setdefault(module, Counter())[outcome] += 1
    print(f"{'module':42} passed / run")
    for module, counts in sorted(per_file.items()):
        print(f"  {module.rsplit('.', 1)[-1]:40} {counts['passed']:4d} / {sum(counts.values())}")
    reasons = Counter(message for outcome, message in found.values() if outcome != "passed")
    if reasons:
        print("failures, most frequent first:")
        for message, count in reasons.most_common(20):
            print(f"  {count:4d}  {message}")
    if args.list_failures:
        for test_id, (outcome, message) in sorted(found.items()):
            if outcome != "passed":
                print(f"  {outcome:7} {test_id.rsplit('.', 1)[-1]}: {message}")
    total = len(found)
    passed = by_outcome["passed"]
    client_side = sum(
        1
        for outcome, message in found.values()
        if outcome != "passed" and any(m in message for m in CLIENT_API_MISMATCH)
    )
    print(
        f"{passed} of {total} pass ({100 * passed / max(total, 1):.0f}%); "
        f"failed {by_outcome['failed']}, errors {by_outcome['error']}, "
        f"skipped {by_outcome['skipped']}; {time.monotonic() - started:.0f} s"
    )
    if client_side:
        served = total - client_side
        print(
            f"{client_side} of the others fail on client API the tests expect but 4.14.0 lacks; "
            f"without them: {passed} of {served} pass ({100 * passed / max(served, 1):.0f}%)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
