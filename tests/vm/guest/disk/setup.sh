#!/bin/bash
# Boot test harness, before cloud-init on every boot: counts the boot and makes the orchestrator
# unit import the stand-in image first (the real image would be pulled; nothing is pullable here).
set -euo pipefail
# shellcheck source=/dev/null
. /vmtest/config.env

results=/vmtest/results
boot=$(($(cat "$results/boots" 2>/dev/null || echo 0) + 1))
mkdir -p "$results/boot-$boot"
echo "$boot" >"$results/boots"
cat /proc/sys/kernel/random/boot_id >"$results/boot-$boot/boot_id"
# What dpkg had done before this boot, so the test sees what this boot installed.
cp /var/log/dpkg.log "$results/boot-$boot/dpkg-at-start.log"

dropin="/etc/systemd/system/$ORCHESTRATOR_UNIT.d"
mkdir -p "$dropin"
cat >"$dropin/50-vmtest-image.conf" <<UNIT
# Boot test harness: the stand-in image must exist before docker compose looks for it.
[Unit]
Requires=vmtest-image.service
After=vmtest-image.service
UNIT
sync
echo "vmtest: boot $boot set up"
