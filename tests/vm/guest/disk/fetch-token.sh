#!/bin/bash
# Boot test stand-in for challenge-fetch-token (SSM Parameter Store is unreachable here): prints
# the run's test token, kept on the harness disk so it is never part of the user data.
set -euo pipefail
printf '%s %s\n' "$(cat /proc/sys/kernel/random/boot_id)" "$(cut -d' ' -f1 /proc/uptime)" \
  >>/vmtest/results/token-fetch-calls
cat /vmtest/token
