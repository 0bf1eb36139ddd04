#!/bin/bash
# Boot test harness: builds the stand-in orchestrator image from the static busybox with
# `docker import`, once. Only the applets record.sh uses, linked relatively (an absolute link
# would point outside the image).
set -euo pipefail
# shellcheck source=/dev/null
. /vmtest/config.env

if docker image inspect "$ORCHESTRATOR_IMAGE" >/dev/null 2>&1; then
  echo "vmtest: image $ORCHESTRATOR_IMAGE already present"
  exit 0
fi
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/bin" "$tree/etc" "$tree/tmp" "$tree/shared"
cp /usr/bin/busybox "$tree/bin/busybox"
for applet in sh cat mkdir mv date hostname sleep; do
  ln -s busybox "$tree/bin/$applet"
done
install -m 0755 /vmtest/record.sh "$tree/vmtest-record"
tar -C "$tree" -c . |
  docker import --message "challenge boot test stand-in orchestrator" \
    --change 'CMD ["/bin/sh", "/vmtest-record"]' - "$ORCHESTRATOR_IMAGE" >/dev/null
echo "vmtest: imported $ORCHESTRATOR_IMAGE"
