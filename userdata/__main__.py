"""`python -m userdata render --stack dev`: see userdata/cli.py."""

import sys

from .cli import cli

sys.exit(cli())
