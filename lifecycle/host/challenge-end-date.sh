#!/bin/bash
# After the challenge's end date: stop taking new submissions and, if configured, power the host
# off once no workflow container runs, so a forgotten challenge stops billing for compute.
# Run every 10 minutes by challenge-end-date.timer; settings come from its service unit.
set -Eeuo pipefail
# Empty on a host; tests set it to a scratch tree and put stand-in commands on PATH.
ROOT="${CHALLENGE_BOOTSTRAP_ROOT:-}"
SWITCH="$ROOT/usr/local/sbin/challenge-accept-submissions"
end_epoch="${CHALLENGE_END_EPOCH:-}"
stop_host="${CHALLENGE_STOP_HOST_AFTER_END:-}"

log() { printf 'challenge-end-date: %s\n' "$*"; }

case "$end_epoch" in
  '' | *[!0-9]*)
    log "CHALLENGE_END_EPOCH must be seconds since 1970-01-01 UTC, got '$end_epoch'"
    exit 2
    ;;
esac
case "$stop_host" in
  true | false) ;;
  *)
    log "CHALLENGE_STOP_HOST_AFTER_END must be true or false, got '$stop_host'"
    exit 2
    ;;
esac

now="$(date -u +%s)"
if [ "$now" -lt "$end_epoch" ]; then
  log "the challenge ends in $(((end_epoch - now) / 60)) min; nothing to do yet"
  exit 0
fi

[ -x "$SWITCH" ] || {
  log "$SWITCH is missing: cannot stop new submissions"
  exit 1
}
"$SWITCH" no
if [ "$stop_host" != true ]; then
  log "ended: new submissions stopped; the host keeps running (stopHostAfterEnd is false)"
  exit 0
fi

running="$(docker ps --quiet --filter name=workflow_job | wc -l)"
if [ "$running" -gt 0 ]; then
  log "ended: $running workflow container(s) still running; powering off once they finish"
  exit 0
fi
log "ended and drained: powering the host off"
systemctl poweroff
