"""`python -m lifecycle ...`, see ``lifecycle.cli``."""

import sys

from lifecycle.cli import main

sys.exit(main())
