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
# This machine's local CAs (HTTPS from here is re-signed by one), so pip in the engine build
# reaches PyPI: installed the Debian way, into the system bundle the build hands to pip.
if compgen -G "/vmtest/ca/*.crt" >/dev/null; then
  mkdir -p /usr/local/share/ca-certificates/vmtest
  cp /vmtest/ca/*.crt /usr/local/share/ca-certificates/vmtest/
  update-ca-certificates >/dev/null
fi
# The engine recipe's base image, imported when Docker starts (before the bootstrap builds).
mkdir -p /etc/systemd/system/docker.service.d
cat >/etc/systemd/system/docker.service.d/50-vmtest-engine-base.conf <<UNIT
# Boot test harness: the engine's base image is imported, not pulled (Docker Hub unreachable).
[Service]
ExecStartPost=/bin/bash /vmtest/import-engine-base.sh
TimeoutStartSec=15min
UNIT
sync
echo "vmtest: boot $boot set up"
