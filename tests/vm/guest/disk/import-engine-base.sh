#!/bin/bash
# Boot test harness (docker.service ExecStartPost, set up by setup.sh): imports the engine
# recipe's base image from Debian's own file system (debootstrapped on the test machine), since
# Docker Hub is unreachable here; once, before the bootstrap builds the engine.
set -euo pipefail
# shellcheck source=/dev/null
. /vmtest/config.env

if docker image inspect "$ENGINE_BASE_IMAGE" >/dev/null 2>&1; then
  exit 0
fi
docker import --message "challenge boot test: Debian minbase standing in for $ENGINE_BASE_IMAGE" \
  --change 'CMD ["bash"]' /vmtest/engine-base.tar.gz "$ENGINE_BASE_IMAGE" >/dev/null
echo "vmtest: imported $ENGINE_BASE_IMAGE"
