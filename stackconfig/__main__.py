"""Print what is derived from the config model; tests keep the committed copies current.

python -m stackconfig table        the README's table of stack keys
python -m stackconfig pulumi-yaml  Pulumi.yaml
"""

import sys

from .schema import pulumi_yaml, readme_table

COMMANDS = {"table": readme_table, "pulumi-yaml": pulumi_yaml}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m stackconfig {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        sys.exit(2)
    print(COMMANDS[sys.argv[1]](), end="")
