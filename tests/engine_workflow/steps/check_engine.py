"""Engine check step: what the template's run_docker.py needs, reported in results.json."""

import argparse
import json
import os
import sys

import docker
import requests
import synapseclient


def describe(value: str | bytes | None) -> str:
    """`str | bytes | None` at definition time: a TypeError before Python 3.10."""
    return value.decode() if isinstance(value, bytes) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-s", "--submissionid", required=True)
    parser.add_argument("--parentid", required=True)
    parser.add_argument("-c", "--synapse_config", required=True)
    parser.add_argument("-i", "--input_dir", required=True)
    args = parser.parse_args()
    results = {
        "submission_status": "VALIDATED",
        "submission_errors": "",
        "submission_id": describe(args.submissionid),
        "synapse_config_readable": os.access(args.synapse_config, os.R_OK),
        "python": list(sys.version_info[:3]),
        "docker": docker.__version__,
        "requests": requests.__version__,
        "synapseclient": synapseclient.__version__,
    }
    with open("results.json", "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
