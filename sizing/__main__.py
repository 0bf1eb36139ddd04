"""`python -m sizing estimate ...` and `python -m sizing catalog ...`; see sizing/cli.py."""

import sys

from .cli import cli

sys.exit(cli())
