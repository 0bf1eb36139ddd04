"""Hostile and mistaken stack files (issue 12): each is rejected naming its key, or accepted.

`HOSTILE` is the table of every kind of bad input tried, with its expected outcome: the start of
one problem line, or None where the input is legitimate and must pass. Every case runs through
the same checks as `make check` (config, sizing, the components' own checks), all layers at once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from preview.checks import check_stack
from stackconfig import ConfigError, parse_config, read_stack_file
from tests.fixtures.stacks import NOW, run_make_check, stack_with

ENCRYPTED = {"secure": "v1:AAAABBBBCCCC"}


def problems_of(changes: dict[str, Any], stack: str = "hostile") -> list[str]:
    """What `make check` reports: every layer (config, sizing, the components' checks)."""
    return list(check_stack(stack, stack_with(changes), env={}, now=NOW).problems)


def hash_hex(i: int) -> str:
    """Incompressible text: the user data is gzipped where that is shorter."""
    return hashlib.sha256(str(i).encode()).hexdigest()[:24]


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
        "orchestrator image on an upstream branch tag",
        {"orchestratorImage": "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:fix-retry"},
        "challenge:orchestratorImage: 'ghcr.io/sage-bionetworks/synapseworkfloworchestrator:"
        "fix-retry': upstream CI re-points `fix-retry`",
    ),
    (
        "orchestrator image on a major.minor release line",
        {"orchestratorImage": "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:1.3"},
        "challenge:orchestratorImage: 'ghcr.io/sage-bionetworks/synapseworkfloworchestrator:1.3'"
        " follows the release line `1.3`",
    ),
    (
        "orchestrator image on a full upstream version",
        {"orchestratorImage": "ghcr.io/sage-bionetworks/synapseworkfloworchestrator:1.3.0"},
        None,
    ),
    (
        "engine image on a major release line",
        {"workflowEngineImage": "docker.io/o/toil:v9"},
        "challenge:workflowEngineImage: 'docker.io/o/toil:v9' follows the release line `v9`",
    ),
    (
        "engine image on a dated tag of its own",
        {"workflowEngineImage": "docker.io/o/toil:2026.11.02"},
        None,
    ),
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
    # --- 1: values that reach .env, the compose file or a script ------------------------------
    ("toil options ending in a backslash", {"toilCliOptions": "--defaultMemory 100M \\"}, None),
    (
        "toil options with a newline",
        {"toilCliOptions": "--retryCount 0\nSYNAPSE_PAT=stolen"},
        "challenge:toilCliOptions: ",
    ),
    (
        "toil options setting workDir",
        {"toilCliOptions": "--workDir /etc"},
        "challenge:toilCliOptions: '--workDir /etc' must not contain --workDir",
    ),
    (
        "username with shell characters",
        {"orchestratorSynapseUsername": "bot$(reboot)"},
        "challenge:orchestratorSynapseUsername: 'bot$(reboot)' does not match",
    ),
    (
        "username with a quote",
        {"orchestratorSynapseUsername": "bot'x"},
        "challenge:orchestratorSynapseUsername: ",
    ),
    (
        "S3 URI with command substitution",
        {"inputDataS3Uri": "s3://bucket-1/$(reboot)"},
        "challenge:inputDataS3Uri: ",
    ),
    (
        "S3 URI with a space",
        {"inputDataS3Uri": "s3://bucket-1/a b"},
        "challenge:inputDataS3Uri: ",
    ),
    ("S3 URI prefix", {"inputDataS3Uri": "s3://bucket-1/m2d/input/"}, None),
    (
        "engine image with a variable",
        {"workflowEngineImage": "docker.io/o/${SYNAPSE_PAT}:1"},
        "challenge:workflowEngineImage: ",
    ),
    (
        "image with a newline",
        {"orchestratorImage": "ghcr.io/o/i:1\nprivileged: true"},
        "challenge:orchestratorImage: ",
    ),
    (
        "challenge name with a newline",
        {"name": "Challenge\n#cloud-config"},
        "challenge:name: ",
    ),
    (
        "root template escaping the archive",
        {"rootTemplate": "../../etc/passwd.cwl"},
        "challenge:rootTemplate: '../../etc/passwd.cwl' must be a relative path",
    ),
    (
        "archive URL over http",
        {"workflowArchiveUrl": "http://example.org/w.zip"},
        "challenge:workflowArchiveUrl: 'http://example.org/w.zip' must be an https URL",
    ),
    (
        "archive file name Synapse refuses",
        {"workflowArchiveUrl": "https://example.org/a%2Fb.zip"},
        "challenge:workflowArchiveUrl: file name may contain only",
    ),
    (
        "AMI parameter of another OS",
        {
            "amiSsmParameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        },
        "challenge:amiSsmParameter: ",
    ),
    ("AMI ID with shell characters", {"amiId": "ami-1;reboot"}, "challenge:amiId: "),
    ("subnet ID of another kind", {"subnetId": "sg-0123456789abcdef0"}, "challenge:subnetId: "),
    # --- sizing and the components' own checks -------------------------------------------------
    (
        "instance type too small",
        {"instanceType": "t3.small"},
        "challenge:instanceType t3.small: 2 GiB memory",
    ),
    (
        "arm64 instance type",
        {"instanceType": "m7g.16xlarge"},
        "challenge:instanceType m7g.16xlarge is arm64",
    ),
    ("unknown instance type", {"instanceType": "zz9.huge"}, "challenge:instanceType"),
    (
        "toil options that overflow 16 KB of user data",
        {"toilCliOptions": " ".join(f"--x{hash_hex(i)}" for i in range(700))},
        "challenge:queues: rendered user data is",
    ),
    (
        "user data overflow and a bad AMI ID, one problem each",
        {
            "toilCliOptions": " ".join(f"--x{hash_hex(i)}" for i in range(700)),
            "amiId": "ami-zz",
        },
        "challenge:amiId: ",
    ),
    (
        "two queues with the same key",
        {"queues": [{"name": "A", "key": "same"}, {"name": "B", "key": "same"}]},
        "challenge:queues[1].key: 'same' is used by two queues",
    ),
    (
        "memory beyond any instance",
        {"perSubmissionMemoryGiB": 4096, "maxConcurrentSubmissions": 100},
        "challenge:",
    ),
    (
        "absurd but valid size",
        {"perSubmissionMemoryGiB": 64, "maxConcurrentSubmissions": 100},
        None,
    ),
    (
        "existing team ID that is a name",
        {"existingTeamIds": {"admin": "Admins"}},
        "challenge:existingTeamIds.admin: 'Admins' does not match",
    ),
    (
        "existing team of an unknown role",
        {"existingTeamIds": {"owners": "123"}},
        "challenge:existingTeamIds.owners: unknown key",
    ),
    ("boolean as a word", {"forceReplace": "sometimes"}, "challenge:forceReplace: 'sometimes'"),
    (
        "count as a boolean",
        {"maxConcurrentSubmissions": True},
        "challenge:maxConcurrentSubmissions",
    ),
    ("retention of zero days", {"jobRetentionDays": 0}, "challenge:jobRetentionDays: 0"),
    (
        "notification mask out of range",
        {"submitterNotificationMask": 64},
        "challenge:submitterNotificationMask: 64",
    ),
    ("phase misspelt", {"phase": "production"}, "challenge:phase: 'production' is not one of"),
    ("unknown key", {"maxConcurrentSubmision": 3}, "challenge:maxConcurrentSubmision: unknown key"),
    ("key without namespace is the project's", {"jobRetentionDays": 3}, None),
    ("region not in the catalogs", {"aws:region": "ap-south-2"}, ""),
    (
        "endpoint on another port of production",
        {"synapseEndpoint": "https://repo-prod.prod.sagebase.org:8443"},
        "challenge:synapseEndpoint: 'https://repo-prod.prod.sagebase.org:8443' would receive",
    ),
    (
        "endpoint with a look-alike letter",
        {"synapseEndpoint": "https://repo-prod.prod.sagebase.\u043erg"},
        "challenge:synapseEndpoint: ",
    ),
    (
        "endpoint production with a slash",
        {"synapseEndpoint": "https://repo-prod.prod.sagebase.org/"},
        None,
    ),
    (
        "input data dir with an empty component",
        {"inputDataDir": "/data//etc"},
        "challenge:inputDataDir: '/data//etc' must be an absolute path",
    ),
    (
        "end date that is not a date",
        {"endDate": "2027-13-01T00:00:00Z"},
        "challenge:endDate: ",
    ),
    (
        "end date without a zone",
        {"endDate": "2027-06-30T23:59:00"},
        "challenge:endDate: '2027-06-30T23:59:00' needs a time zone",
    ),
    (
        "challenge name too long for its teams",
        {"name": "N" * 250},
        "challenge:name: ",
    ),
    ("empty orchestrator token counts as not set", {"orchestratorAuthToken": ""}, None),
    (
        "read-write volume of the whole disk",
        {"rwVolumes": ["/:/host"]},
        "challenge:rwVolumes[0]: host path '/' ",
    ),
    (
        "read-write volume of /etc",
        {"rwVolumes": ["/data/shared:/shared", "/etc:/etc"]},
        "challenge:rwVolumes[1]: host path '/etc' is outside the input data directories",
    ),
    ("read-write volume under /data", {"rwVolumes": ["/data/shared:/shared"]}, None),
    (
        "read-write volume of docker's socket",
        {"rwVolumes": ["/var/run/docker.sock:/var/run/docker.sock"]},
        "challenge:rwVolumes[0]: host path '/var/run/docker.sock' is outside",
    ),
    (
        "Docker Hub password without the user",
        {"dockerhubPassword": ENCRYPTED},
        "challenge:dockerhubPassword is set without challenge:dockerhubUsername",
    ),
    (
        "plaintext Docker Hub password",
        {"dockerhubUsername": "abcd", "dockerhubPassword": "dckr_pat_plain"},
        "challenge:dockerhubPassword: is set in plain text",
    ),
    (
        "a host group's engine image on a moving tag",
        {
            "queues": [{"name": "Task 1", "key": "t1"}, {"name": "Task 2", "key": "t2"}],
            "hosts": [
                {"key": "a", "queues": ["t1"], "workflowEngineImage": "docker.io/o/toil:master"},
                {"key": "b", "queues": ["t2"]},
            ],
        },
        "challenge:hosts[0].workflowEngineImage: 'docker.io/o/toil:master' follows the moving",
    ),
    (
        "a host group's input data in /etc",
        {
            "queues": [{"name": "Task 1", "key": "t1"}, {"name": "Task 2", "key": "t2"}],
            "hosts": [
                {"key": "a", "queues": ["t1"], "inputDataDir": "/etc/cron.d"},
                {"key": "b", "queues": ["t2"]},
            ],
        },
        "challenge:hosts[0].inputDataDir: '/etc/cron.d' is outside the input data directories",
    ),
    (
        "a host group's arm64 instance type",
        {
            "queues": [{"name": "Task 1", "key": "t1"}, {"name": "Task 2", "key": "t2"}],
            "hosts": [
                {"key": "a", "queues": ["t1"], "instanceType": "m7g.large"},
                {"key": "b", "queues": ["t2"]},
            ],
        },
        "challenge:hosts[0].instanceType m7g.large is arm64",
    ),
    (
        "execution stage misspelt",
        {"executionStage": "validate"},
        "challenge:executionStage: 'validate' is not one of",
    ),
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
    # --- audit 2, item 1: aws: keys send or weaken the SSM write carrying the token ------------
    (
        "aws endpoint for SSM",
        {"aws:endpoints": [{"ssm": "https://collector.evil.example"}]},
        "aws:endpoints: refused: it sends API calls to other servers than AWS's",
    ),
    ("aws TLS checks off", {"aws:insecure": True}, "aws:insecure: refused: it turns off"),
    (
        "aws credentials check skipped",
        {"aws:skipCredentialsValidation": True},
        "aws:skipCredentialsValidation: refused: it skips",
    ),
    (
        "aws account lookup skipped",
        {"aws:skipRequestingAccountId": "true"},
        "aws:skipRequestingAccountId: refused: it skips",
    ),
    (
        "aws proxy",
        {"aws:httpsProxy": "http://proxy.evil.example:3128"},
        "aws:httpsProxy: refused: it routes every API call through a proxy",
    ),
    (
        "aws extra certificate authority",
        {"aws:customCaBundle": "./ca.pem"},
        "aws:customCaBundle: refused: it trusts another certificate authority",
    ),
    (
        "aws metadata server elsewhere",
        {"aws:ec2MetadataServiceEndpoint": "http://metadata.evil.example"},
        "aws:ec2MetadataServiceEndpoint: refused: it takes credentials from another",
    ),
    (
        "aws shared config file from the repository",
        {"aws:sharedConfigFiles": ["./aws-config"]},
        "aws:sharedConfigFiles: ['./aws-config']: './aws-config' is not a file directly in a "
        ".aws folder; name files in your home's .aws folder only",
    ),
    (
        "aws key misspelt",
        {"aws:profil": "default"},
        "aws:profil: not a key of the AWS provider this program uses (did you mean aws:profile?)",
    ),
    (
        "plaintext aws secret key",
        {"aws:secretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
        "aws:secretKey: is set in plain text; a token must be a Pulumi secret: delete the line "
        "from Pulumi.hostile.yaml, revoke that token in AWS IAM (it is in a file now), and run: "
        "pulumi config set --secret aws:secretKey --stack hostile",
    ),
    (
        "plaintext aws access key",
        {"aws:accessKey": "AKIAIOSFODNN7EXAMPLE"},
        "aws:accessKey: is set in plain text",
    ),
    ("plaintext aws session token", {"aws:token": "FwoGZXIvYXdzEXAMPLE"}, "aws:token: is set in"),
    (
        "plaintext aws web identity token",
        {
            "aws:assumeRoleWithWebIdentity": {
                "roleArn": "arn:aws:iam::1:role/r",
                "webIdentityToken": "x",
            }
        },
        "aws:assumeRoleWithWebIdentity: has webIdentityToken in plain text",
    ),
    (
        "encrypted aws endpoints are still endpoints",
        {"aws:endpoints": ENCRYPTED},
        "aws:endpoints: refused",
    ),
    (
        "aws settings that pick account, credentials, tags",
        {
            "aws:profile": "challenge-admin",
            "aws:allowedAccountIds": ["123456789012"],
            "aws:assumeRoles": [{"roleArn": "arn:aws:iam::123456789012:role/deploy"}],
            "aws:defaultTags": {"tags": {"project": "challenge"}},
            "aws:sharedCredentialsFiles": ["~/.aws/credentials"],
            "aws:secretKey": ENCRYPTED,
            "aws:insecure": False,
            "aws:maxRetries": 5,
        },
        None,
    ),
    # --- audit 2, item 2: rwVolumes container paths --------------------------------------------
    (
        "read-write volume over the container's root",
        {"rwVolumes": ["/data/x:/"]},
        "challenge:rwVolumes[0]: container path '/' would hide /bin",
    ),
    (
        "read-write volume hiding the docker socket",
        {"rwVolumes": ["/data/shared:/shared", "/data/x:/var/run"]},
        "challenge:rwVolumes[1]: container path '/var/run' is /var/run or below it",
    ),
    (
        "read-write volume hiding the job folder",
        {"rwVolumes": ["/data/x:/var/lib"]},
        "challenge:rwVolumes[0]: container path '/var/lib' would hide /var/lib/docker",
    ),
    (
        "read-write volume over /etc",
        {"rwVolumes": ["/data/x:/etc/cron.d"]},
        "challenge:rwVolumes[0]: container path '/etc/cron.d' is /etc or below it",
    ),
    (
        "read-write volume over /proc",
        {"rwVolumes": ["/data/x:/proc/"]},
        "challenge:rwVolumes[0]: container path '/proc/' is /proc or below it",
    ),
    (
        "read-write volume escaping with ..",
        {"rwVolumes": ["/data/x:/shared/../etc"]},
        "challenge:rwVolumes[0]: container path '/shared/../etc' must be an absolute path",
    ),
    (
        "two read-write volumes on one container path",
        {"rwVolumes": ["/data/a:/shared", "/data/b:/shared/"]},
        "challenge:rwVolumes[1]: container path '/shared/' is also entry [0]'s",
    ),
    # --- audit 2, item 3: one team in two roles ------------------------------------------------
    (
        "participants team is the admin team",
        {"existingTeamIds": {"participants": "3412345", "admin": "3412345"}},
        "challenge:existingTeamIds: participants and admin name the same team 3412345",
    ),
    (
        "participants team is the organizers team",
        {"existingTeamIds": {"participants": "3412345", "organizers": "3412345", "admin": "7"}},
        "challenge:existingTeamIds: participants and organizers name the same team 3412345",
    ),
    (
        "existing teams, one per role",
        {"existingTeamIds": {"participants": "3412345", "admin": "3412346"}},
        None,
    ),
    # --- audit 2, item 4: workflowArchiveUrl as strict as synapseEndpoint ----------------------
    (
        "archive URL with a token as user info",
        {"workflowArchiveUrl": "https://token:ghp_x@github.com/o/r/archive/main.zip"},
        "challenge:workflowArchiveUrl: has user info (a name or token before '@')",
    ),
    (
        "archive URL with a look-alike host",
        {"workflowArchiveUrl": "https://g\u0456thub.com/o/r/archive/main.zip"},
        "challenge:workflowArchiveUrl: 'https://g\u0456thub.com/o/r/archive/main.zip' has "
        "non-ASCII characters (U+0456)",
    ),
    (
        "archive URL with a NUL",
        {"workflowArchiveUrl": "https://github.com/o/r/archive/ma\x00in.zip"},
        "challenge:workflowArchiveUrl: 'https://github.com/o/r/archive/ma\\x00in.zip' has "
        "spaces or control characters",
    ),
    (
        "archive URL with an escape character",
        {"workflowArchiveUrl": "https://github.com/o/r/\x1b[2Jarchive/main.zip"},
        "challenge:workflowArchiveUrl: ",
    ),
    (
        "archive URL with a query and a fragment",
        {"workflowArchiveUrl": "https://github.com/o/r/archive/main.zip?x=1#y.zip"},
        "challenge:workflowArchiveUrl: 'https://github.com/o/r/archive/main.zip?x=1#y.zip' has a "
        "fragment",
    ),
    (
        "archive URL with a fragment",
        {"workflowArchiveUrl": "https://github.com/o/r/archive/main.zip#x"},
        "challenge:workflowArchiveUrl: 'https://github.com/o/r/archive/main.zip#x' has a fragment",
    ),
    (
        "archive URL with a bad port",
        {"workflowArchiveUrl": "https://github.com:99999/o/r/archive/main.zip"},
        "challenge:workflowArchiveUrl: 'https://github.com:99999/o/r/archive/main.zip' has an "
        "invalid port",
    ),
    (
        "archive URL of a tag",
        {"workflowArchiveUrl": "https://github.com/o/r/archive/refs/tags/v1.2.0.zip"},
        None,
    ),
    # --- audit 2, item 5: rootTemplate ---------------------------------------------------------
    *[
        (
            f"root template {kind}",
            {"rootTemplate": path},
            f"challenge:rootTemplate: {path!r} must be a relative path inside the archive",
        )
        for kind, path in (
            ("with a newline", "w/a\nb.cwl"),
            ("with a NUL", "w/a\x00b.cwl"),
            ("with shell characters", "w/$(reboot)'x\".cwl"),
            ("with an empty part", "w//workflow.cwl"),
            ("in the current directory of the archive", "w/./workflow.cwl"),
        )
    ],
    # --- audit 2, item 6: inputDataS3Uri bucket names and prefixes -----------------------------
    *[
        (
            f"S3 bucket {kind}",
            {"inputDataS3Uri": uri},
            f"challenge:inputDataS3Uri: {uri!r} {expected}",
        )
        for kind, uri, expected in (
            ("with two adjacent periods", "s3://a..b/x", "has bucket 'a..b' with two adjacent"),
            ("like an IP address", "s3://192.168.1.1/x", "has bucket '192.168.1.1' formatted as"),
            ("with the IDN prefix", "s3://xn--bcher-kva/x", "has bucket 'xn--bcher-kva': AWS"),
            ("alias suffix", "s3://data-s3alias/x", "has bucket 'data-s3alias': AWS reserves"),
            ("with a wildcard prefix", "s3://bucket-1/in*put/", "has a wildcard in the prefix"),
        )
    ],
    ("S3 bucket with dots", {"inputDataS3Uri": "s3://challenge.data-1/input/"}, None),
    # --- audit 2, item 7: toilCliOptions abbreviations of the orchestrator's options ----------
    *[
        (
            f"toil options {options}",
            {"toilCliOptions": options},
            f"challenge:toilCliOptions: {options!r} must not contain {word}",
        )
        for options, word in (
            ("--workD /etc", "--workD: argparse may read it as an abbreviation of --workDir"),
            ("--defaultMemory 1G --noLinkImp", "--noLinkImp: argparse may read it as an"),
            ("--linkImp=true", "--linkImp: argparse may read it as an abbreviation of --link"),
            ("--retryCount 0 --", "a bare '--'"),
        )
    ],
    (
        "a host group's toil options abbreviating --workDir",
        {
            "queues": [{"name": "Task 1", "key": "t1"}, {"name": "Task 2", "key": "t2"}],
            "hosts": [
                {"key": "a", "queues": ["t1"], "toilCliOptions": "--workD=/etc"},
                {"key": "b", "queues": ["t2"], "inputDataS3Uri": "s3://a..b/x"},
            ],
        },
        "challenge:hosts[0].toilCliOptions: '--workD=/etc' must not contain --workD:",
    ),
    ("toil options log level", {"toilCliOptions": "--logLevel DEBUG --retryCount 1"}, None),
    # --- audit 3: legitimate stacks the strict checks refused ---------------------------------
    (
        "existing team ID as a YAML number (pulumi config set --path)",
        {"existingTeamIds": {"participants": 3412345, "admin": 3412346}},
        None,
    ),
    (
        "existing team ID as a decimal number",
        {"existingTeamIds": {"participants": 3412345.0}},
        "challenge:existingTeamIds.participants: 3412345.0 is a decimal number, not an ID",
    ),
    (
        "existing team ID as true",
        {"existingTeamIds": {"admin": True}},
        "challenge:existingTeamIds.admin: true is true/false, not an ID",
    ),
    (
        "host queue keys as YAML numbers",
        {
            "queues": [{"name": "Task 1", "key": "1"}, {"name": "Task 2", "key": "2"}],
            "hosts": [{"key": "a", "queues": [1]}, {"key": "b", "queues": [2]}],
        },
        None,
    ),
    (
        "host queue key as a decimal number",
        {
            "queues": [{"name": "Task 1", "key": "1"}, {"name": "Task 2", "key": "2"}],
            "hosts": [{"key": "a", "queues": [1.5]}, {"key": "b", "queues": ["1", "2"]}],
        },
        "challenge:hosts[0].queues[0]: 1.5 is a decimal number, not an ID or key",
    ),
    (
        "archive URL with Zenodo's download query",
        {"workflowArchiveUrl": "https://zenodo.org/records/1234567/files/workflow.zip?download=1"},
        None,
    ),
    (
        "archive URL ending in .ZIP",
        {"workflowArchiveUrl": "https://example.org/releases/Workflow-1.0.ZIP"},
        None,
    ),
    (
        "archive URL of a GA4GH TRS tool version (Dockstore)",
        {
            "workflowArchiveUrl": "https://dockstore.org/api/ga4gh/v2/tools/"
            "%23workflow%2Fgithub.com%2Forg%2Frepo/versions/v1.0/CWL"
        },
        None,
    ),
    (
        "archive URL of GitHub's codeload without .zip",
        {"workflowArchiveUrl": "https://codeload.github.com/o/r/zip/refs/heads/main"},
        "challenge:workflowArchiveUrl: 'https://codeload.github.com/o/r/zip/refs/heads/main' must "
        "be an https URL whose path ends in .zip, or a GA4GH TRS tool version URL",
    ),
    (
        "archive URL of the GitHub API's zipball",
        {"workflowArchiveUrl": "https://api.github.com/repos/o/r/zipball/main"},
        "challenge:workflowArchiveUrl: 'https://api.github.com/repos/o/r/zipball/main' must be",
    ),
    (
        "archive URL presigned with a signature",
        {
            "workflowArchiveUrl": "https://b.s3.amazonaws.com/w.zip?X-Amz-Credential=AKIA1"
            "&X-Amz-Signature=abc"
        },
        "challenge:workflowArchiveUrl: has a query parameter that looks like a credential",
    ),
    (
        "archive URL with an api_key parameter",
        {"workflowArchiveUrl": "https://example.org/w.zip?download=1&api_key=abc"},
        "challenge:workflowArchiveUrl: has a query parameter that looks like a credential",
    ),
    (
        "archive URL of a TRS tool with a query",
        {"workflowArchiveUrl": "https://dockstore.org/api/ga4gh/v2/tools/x/versions/v1/CWL?a=b"},
        "challenge:workflowArchiveUrl: 'https://dockstore.org/api/ga4gh/v2/tools/x/versions/v1/"
        "CWL?a=b' is a GA4GH TRS URL with a query",
    ),
    ("engine image on a date tag", {"workflowEngineImage": "docker.io/o/toil:20260701"}, None),
    ("engine image on a year.month tag", {"workflowEngineImage": "docker.io/o/toil:2026.07"}, None),
    ("engine image on a build number tag", {"workflowEngineImage": "docker.io/o/toil:420"}, None),
    (
        "engine image on a two-digit release line",
        {"workflowEngineImage": "docker.io/o/toil:v3.10"},
        "challenge:workflowEngineImage: 'docker.io/o/toil:v3.10' follows the release line",
    ),
    (
        "aws shared credentials file in a home written in full",
        {"aws:sharedCredentialsFiles": ["/home/alice/.aws/credentials"]},
        None,
    ),
    (
        "aws shared config file escaping ~/.aws with ..",
        {"aws:sharedConfigFiles": ["~/.aws/../work/repo/evil-config"]},
        "aws:sharedConfigFiles: ['~/.aws/../work/repo/evil-config']: "
        "'~/.aws/../work/repo/evil-config' has a '..' component",
    ),
    (
        "aws shared config file in a checkout's .aws folder",
        {"aws:sharedConfigFiles": ["/home/runner/work/repo/repo/.aws/config"]},
        "aws:sharedConfigFiles: ['/home/runner/work/repo/repo/.aws/config']: "
        "'/home/runner/work/repo/repo/.aws/config' is in a .aws folder outside a home directory",
    ),
    ("aws metadata API check skipped", {"aws:skipMetadataApiCheck": True}, None),
    (
        "participants and preregistrants share a team",
        {"existingTeamIds": {"participants": "3412345", "preregistrants": "3412345"}},
        None,
    ),
    (
        "admin team is the organizers team",
        {"existingTeamIds": {"admin": "3412345", "organizers": "3412345"}},
        "challenge:existingTeamIds: admin and organizers name the same team 3412345: that team "
        "would get two different grants on each project (ADMIN as admin; MODERATE on the live "
        "project and EDIT on staging as organizers) that conflict",
    ),
    (
        "preregistrants team is the organizers team",
        {"existingTeamIds": {"preregistrants": "3412345", "organizers": "3412345"}},
        "challenge:existingTeamIds: organizers and preregistrants name the same team 3412345: "
        "the preregistrants would get the rights of organizers on the projects",
    ),
    (
        "toil options --cleanWorkDir, refused by the orchestrator itself",
        {"toilCliOptions": "--cleanWorkDir onSuccess"},
        "challenge:toilCliOptions: '--cleanWorkDir onSuccess' must not contain --workDir or "
        "LinkImports: the orchestrator sets them itself and refuses any TOIL_CLI_OPTIONS "
        "containing 'workdir' or 'linkimports'",
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
    kinds = [kind for kind, _, _ in HOSTILE]
    assert len(set(kinds)) == len(kinds) >= 60
    assert sum(expected is not None for _, _, expected in HOSTILE) >= 60, "rejected kinds"


def test_make_check_reports_every_layer_in_one_run():
    """The issue's example took three runs: a bad image, a too-small type, an http endpoint."""
    problems = problems_of(
        {
            "orchestratorImage": "ghcr.io/o/i:master",
            "instanceType": "t3.small",
            "synapseEndpoint": "http://evil.example",
            "challange:endDate": "2027-06-30T23:59:00Z",
            "workflowArchiveUrl": "https://example.org/a%2Fb.zip",
        },
        stack="bad name",
    )
    starts = [p.split(":", 2)[0] + ":" + p.split(":", 2)[1].split(" ")[0] for p in problems]
    assert problems[0].startswith("stack 'bad name': a stack name may use only")
    assert starts[1:] == [
        "challange:endDate",
        "challenge:synapseEndpoint",
        "challenge:orchestratorImage",
        "challenge:instanceType",  # sizing, with the remaining keys
        "challenge:workflowArchiveUrl",  # the Synapse side's own check
    ], problems


def test_a_user_data_overflow_is_one_problem_with_its_advice():
    options = " ".join(f"--x{hash_hex(i)}" for i in range(700))
    problems = problems_of({"toilCliOptions": options})
    assert len(problems) == 1, problems
    assert problems[0].startswith("challenge:queues: rendered user data is ")
    assert problems[0].endswith("shorten challenge:toilCliOptions")


def test_component_messages_name_stack_keys_not_fields():
    import program

    assert (
        program.in_stack_terms(
            "challenge site setting `workflow_archive_url` file name may contain only letters"
        )
        == "challenge:workflowArchiveUrl: file name may contain only letters"
    )
    assert program.in_stack_terms("instance_type: 'x' is not an EC2 instance type") == (
        "challenge:instanceType: 'x' is not an EC2 instance type"
    )
    assert program.in_stack_terms(
        "rendered user data is 17000 bytes; shorten toil_cli_options"
    ) == ("challenge:queues: rendered user data is 17000 bytes; shorten challenge:toilCliOptions")
    for field in ("synapse_endpoint", "workflow_archive_url", "input_data_dir"):
        assert field not in "\n".join(
            problems_of({"workflowArchiveUrl": "https://e.org/a%2Fb.zip"})
        )


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


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    """Nine levels of nine aliases would be 387 million strings once expanded."""
    levels = ["  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    write_stack(
        tmp_path,
        "bomb:\n" + "\n".join(levels) + "\nconfig:\n  aws:region: us-east-1\n"
        "  challenge:name: *a9\n",
    )
    with pytest.raises(ConfigError) as caught:
        read_stack_file("hostile", tmp_path)
    assert caught.value.problems[0].startswith("Pulumi.hostile.yaml line ")
    assert "a YAML alias (*name) repeats a value" in caught.value.problems[0]


#: Stack files broken as text, before any key is read: (kind, file text, start of the problem).
HOSTILE_FILES = [
    (
        "python object tag",
        "config:\n  challenge:name: !!python/object/apply:os.system [id]\n",
        "Pulumi.hostile.yaml: not valid YAML",
    ),
    ("config is a list", "config:\n  - challenge:name: x\n", "Pulumi.hostile.yaml: `config:`"),
    ("not YAML at all", "config: {challenge:name: [\n", "Pulumi.hostile.yaml: not valid YAML"),
    (
        "alias of a mapping",
        "x: &t {participants: '1'}\nconfig:\n  challenge:existingTeamIds: *t\n",
        "Pulumi.hostile.yaml line ",
    ),
]


@pytest.mark.parametrize(
    ("kind", "text", "expected"), HOSTILE_FILES, ids=[c[0] for c in HOSTILE_FILES]
)
def test_hostile_stack_file_text_is_refused(kind, text, expected, tmp_path):
    write_stack(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_stack_file("hostile", tmp_path)
    assert caught.value.problems[0].startswith(expected), (kind, caught.value.problems)


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


def test_decrypted_aws_credentials_at_pulumi_up_count_only_when_pulumi_holds_them_as_secrets():
    raw = stack_with(
        {
            "aws:secretKey": "decrypted-by-pulumi",
            "aws:sharedConfigFiles": '["~/.aws/config"]',  # a list, as Pulumi hands it over
        }
    )
    parse_config("dev", raw, env={}, secret_keys={"aws:secretKey"}, now=NOW)
    with pytest.raises(ConfigError) as caught:
        parse_config("dev", raw, env={}, secret_keys=set(), now=NOW)
    assert caught.value.problems == [
        "aws:secretKey: is set in plain text; a token must be a Pulumi secret: delete the line "
        "from Pulumi.dev.yaml, revoke that token in AWS IAM (it is in a file now), and run: "
        "pulumi config set --secret aws:secretKey --stack dev (Pulumi prompts for the value)"
    ]


def test_a_credential_in_the_archive_url_is_never_repeated():
    for url in (
        "https://token:ghp_SECRET123@github.com/o/r/archive/main.zip",
        "https://github.com/o/r/archive/main.zip?token=ghp_SECRET123",
        "https://b.s3.amazonaws.com/w.zip?X-Amz-Signature=SECRET123#x",
        "https://e.org/w.zip?dl=1&ghp_SECRET123",
        "https://e.org/w.zip?AccessKey=SECRET123",
    ):
        problems = problems_of({"workflowArchiveUrl": url})
        assert problems and problems[0].startswith("challenge:workflowArchiveUrl: has "), problems
        assert "SECRET123" not in "\n".join(problems)


def test_an_invalid_queue_entry_is_the_only_problem_reported():
    """pydantic adds "needs at least 1 item(s)" for a list whose one item failed; not shown."""
    assert problems_of({"queues": [{"name": "Task: 1"}]}) == [
        "challenge:queues[0].name: 'Task: 1' does not match ^[A-Za-z0-9 _\\-.+'(),]+$"
    ]
    assert problems_of({"queues": []}) == ["challenge:queues: needs at least 1 item(s), got []"]


def test_a_bad_aws_key_still_lets_the_other_layers_run():
    problems = problems_of(
        {"aws:endpoints": [{"ssm": "https://x.example"}], "instanceType": "t3.small"}
    )
    assert [p.split(":", 2)[0] + ":" + p.split(":", 2)[1].split(" ")[0] for p in problems] == [
        "aws:endpoints",
        "challenge:instanceType",
    ], problems


def test_readme_key_table_says_what_each_structured_key_holds():
    from stackconfig.schema import readme_table

    rows = {row.split(" | ")[0].strip("| `"): row for row in readme_table().splitlines()}
    assert rows["rwVolumes"].startswith("| `rwVolumes` | list of strings |  | none |")
    assert rows["queues"].startswith("| `queues` | list |  | required |")
    assert "SYNAPSE_AUTH_TOKEN" not in rows["dockerhubPassword"]
    assert rows["synapseAuthToken"].startswith(
        "| `synapseAuthToken` | secret string |  | or SYNAPSE_AUTH_TOKEN |"
    )


def test_readme_key_table_shows_defaults_as_yaml():
    from stackconfig.schema import readme_table

    table = readme_table()
    assert "| `shareResultsImmediately` | boolean |  | `true` |" in table
    assert "| `deleteSynapseDataOnDestroy` | boolean |  | `false` |" in table
    assert "| `existingTeamIds` | object |  | none |" in table
    for python_repr in ("`True`", "`False`", "ExistingTeamIds(", "None"):
        assert python_repr not in table


def test_make_check_labels_made_up_ids_as_placeholders(tmp_path, capsys):
    code, out, _ = run_make_check(tmp_path, {}, capsys)
    assert code == 0
    outputs = dict(
        line.strip().split(": ", 1) for line in out.split("Stack outputs", 1)[1].splitlines()[1:]
    )
    for invented in ("instanceId", "liveProjectId", "logsFolderId", "queueIds", "privateDns"):
        assert outputs[invented].endswith("  [placeholder]"), (invented, outputs[invented])
    for real in ("awsRegion", "instanceType", "tokenParameterName", "synapseEndpoint", "phase"):
        assert not outputs[real].endswith("[placeholder]"), (real, outputs[real])


def test_make_check_puts_the_monthly_cost_first_and_warns_when_absurd(tmp_path, capsys):
    code, out, _ = run_make_check(
        tmp_path, {"perSubmissionMemoryGiB": 64, "maxConcurrentSubmissions": 100}, capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("Host: u7i-8tb.112xlarge, ")
    assert "/month" in lines[1]
    assert lines[2].startswith("warning: this host costs $")
    assert "above $2,000" in lines[2]
    code, out, _ = run_make_check(tmp_path, {}, capsys)
    assert code == 0
    assert "warning: this host costs" not in out, "the dev stack is well under the threshold"


def test_make_check_reports_duplicate_keys_with_the_other_problems(tmp_path, capsys):
    from preview.__main__ import main

    (tmp_path / "Pulumi.dup.yaml").write_text(
        (Path(__file__).parent.parent / "Pulumi.dev.yaml").read_text()
        + "  challenge:jobRetentionDays: 0\n"
    )
    assert main(["--stack", "dup", "--project-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Stack dup: invalid, 2 problem(s):" in err
    assert "challenge:jobRetentionDays: set twice in Pulumi.dup.yaml" in err
    assert "challenge:jobRetentionDays: 0" in err


# --- item 10: the Makefile, scripts and the render CLI -----------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_make_passes_a_hostile_stack_name_as_one_word(tmp_path):
    import subprocess

    marker = tmp_path / "injected"
    result = subprocess.run(
        # -o: never (re)build the shared virtualenv from here.
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.runtime",
            "check",
            f"STACK=x; touch {marker}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert not marker.exists(), "the stack name ran as shell"
    assert f"stack 'x; touch {marker}': a stack name may use only" in result.stderr


def test_make_status_never_installs_the_pulumi_cli(tmp_path):
    import os
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "curl-calls"
    (bin_dir / "curl").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    (bin_dir / "curl").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    assert subprocess.run(["sh", "-c", "command -v pulumi"], env=env, check=False).returncode
    result = subprocess.run(
        ["bash", "scripts/pulumi.sh", "status", "dev"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert not calls.exists(), "status tried to download the Pulumi CLI"
    assert "installing it" not in result.stdout
    assert result.returncode != 0
    assert "pulumi" in (result.stdout + result.stderr).lower()
    assert not os.path.exists(tmp_path / ".pulumi")


@pytest.mark.parametrize("stack", ["../Pulumi.dev", "/etc/passwd", "a b", "", "x" * 101])
def test_a_stack_name_never_becomes_a_path(stack):
    with pytest.raises(ConfigError) as caught:
        read_stack_file(stack)
    assert caught.value.problems[0].startswith(f"stack {stack!r}: a stack name may use only")


def test_render_refuses_a_relative_token_file_path(capsys):
    from userdata.cli import cli

    assert cli(["render", "--stack", "dev", "--token-from-file", "orchestrator-token"]) == 1
    err = capsys.readouterr().err
    assert "--token-from-file: 'orchestrator-token' is relative" in err
    assert str(Path.cwd()) not in err


@pytest.mark.parametrize(
    ("dockerhub", "asked"),
    [
        (False, ["challenge:synapseAuthToken", "challenge:orchestratorAuthToken"]),
        (
            True,
            [
                "challenge:synapseAuthToken",
                "challenge:orchestratorAuthToken",
                "challenge:dockerhubPassword",
            ],
        ),
    ],
)
def test_make_secrets_asks_pulumi_for_every_secret_the_stack_needs(dockerhub, asked, tmp_path):
    """`make secrets` has Pulumi prompt for each of the stack's secrets, the Docker Hub access
    token only with dockerhubUsername, and never puts a value on a command line."""
    import subprocess

    stack = f"secrets-test-{os.getpid()}-{int(dockerhub)}"
    config = dict(read_stack_file("dev"))
    if dockerhub:
        config["challenge:dockerhubUsername"] = "examplebot"
    stack_file = ROOT / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "pulumi-calls"
    (bin_dir / "pulumi").write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n[ "$1 $2" = "config get" ] && exit 1\nexit 0\n'
    )
    (bin_dir / "pulumi").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PULUMI_BACKEND_URL": f"file://{tmp_path}/state",
    }
    try:
        result = subprocess.run(
            ["bash", "scripts/pulumi.sh", "secrets", stack],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stack_file.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    sets = [c.split() for c in calls.read_text().splitlines() if c.startswith("config set")]
    assert sets == [["config", "set", "--secret", key, "--stack", stack] for key in asked]
