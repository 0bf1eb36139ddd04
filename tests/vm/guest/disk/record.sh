#!/bin/sh
# The stand-in orchestrator (busybox sh, PID 1 of its container): records the environment and
# mounts it was started with into the shared volume, then stays up as the real one does.
set -eu
dir=/shared/.vmtest
mkdir -p "$dir"
name="$dir/record-$(cat /proc/sys/kernel/random/boot_id)-$(date +%s)-$(hostname)"
cat /proc/1/environ >"$name.environ.tmp"
cat /proc/1/mountinfo >"$name.mountinfo.tmp"
if [ -S /var/run/docker.sock ]; then
  echo "docker.sock=socket" >"$name.checks.tmp"
else
  echo "docker.sock=missing" >"$name.checks.tmp"
fi
for part in environ mountinfo checks; do
  mv "$name.$part.tmp" "$name.$part"
done
echo "vmtest stand-in orchestrator: recorded $name"
trap 'exit 0' TERM INT
while true; do
  sleep 3600 &
  wait $!
done
