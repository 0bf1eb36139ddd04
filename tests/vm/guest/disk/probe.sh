#!/bin/bash
# Boot test harness, on every boot: waits (bounded) for cloud-init and then for the orchestrator
# container, copies the evidence onto the harness disk and powers the VM off. The host reads it
# back with debugfs. Prints progress to the console; never prints a file that holds the token.
set -uo pipefail
# shellcheck source=/dev/null
. /vmtest/config.env

results=/vmtest/results
boot="$(cat "$results/boots")"
out="$results/boot-$boot"
mkdir -p "$out"

say() { echo "vmtest-probe: $*"; }
mark() {
  printf '%s %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$1" >>"$out/progress"
  sync
  say "$1"
}
power_off() {
  mark "powering off"
  sync
  systemctl --no-block poweroff
}
trap power_off EXIT

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 2 s; 0 once it succeeds, 1 on timeout.
wait_for() {
  local limit="$1" what="$2" start="$SECONDS"
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      mark "timeout: $what (${limit} s)"
      return 1
    fi
    sleep 2
  done
  mark "ready: $what"
}

cloud_init_done() { [ -e /run/cloud-init/result.json ]; }
orchestrator_id() {
  docker ps --quiet --no-trunc --filter status=running \
    --filter "label=com.docker.compose.project=$COMPOSE_PROJECT" 2>/dev/null | head -n 1
}
orchestrator_running() { [ -n "$(orchestrator_id)" ]; }
unit_active() { systemctl is-active --quiet "$ORCHESTRATOR_UNIT"; }
record_written() {
  local volume
  volume="$(docker volume inspect --format '{{ .Mountpoint }}' "${COMPOSE_PROJECT}_shared")" &&
    compgen -G "$volume/.vmtest/record-$(cat /proc/sys/kernel/random/boot_id)-*.checks" >/dev/null
}

# collect DIR: what the test asserts, copied as files (the host parses them).
collect() {
  local dir="$1" unit volume
  mkdir -p "$dir/units" "$dir/files"
  grep '^btime ' /proc/stat | cut -d' ' -f2 >"$dir/btime"
  cut -d' ' -f1 /proc/uptime >"$dir/uptime"
  cp -L /run/cloud-init/status.json "$dir/cloud-init-status.json" 2>/dev/null
  cp -L /run/cloud-init/result.json "$dir/cloud-init-result.json" 2>/dev/null
  cloud-init status --long --format json >"$dir/cloud-init-status-long.json" 2>&1
  echo "$?" >"$dir/cloud-init-status-long.rc"
  for unit in docker.service docker.socket "$ORCHESTRATOR_UNIT" "$CLEANUP_TIMER" \
    "$CLEANUP_SERVICE" amazon-ssm-agent.service vmtest-image.service cloud-final.service; do
    systemctl show "$unit" --no-pager >"$dir/units/$unit" 2>&1
  done
  systemctl list-timers --all --no-pager >"$dir/timers.txt" 2>&1
  systemctl --failed --no-legend --plain --no-pager >"$dir/failed-units.txt" 2>&1
  stat -c '%n|%a|%u|%g|%i|%Y|%s' "$ENV_PATH" "$COMPOSE_PATH" "$TOKEN_HELPER_PATH" \
    "$BOOTSTRAP_PATH" "$LOG_PATH" "$CLEANUP_PATH" "$INPUT_DATA_DIR" >"$dir/stat.txt" 2>&1
  install -m 0600 "$ENV_PATH" "$dir/files/env" 2>/dev/null
  cp "$COMPOSE_PATH" "$dir/files/docker-compose.yaml" 2>/dev/null
  cp /var/log/cloud-init.log /var/log/cloud-init-output.log /var/log/dpkg.log "$dir/files/" \
    2>/dev/null
  cp "$LOG_PATH" "$dir/files/bootstrap.log" 2>/dev/null
  cp /vmtest/results/token-fetch-calls "$dir/token-fetch-calls" 2>/dev/null
  cp -a /var/lib/cloud "$dir/files/var-lib-cloud" 2>/dev/null
  journalctl -b -o short-monotonic --no-pager >"$dir/journal.txt" 2>&1
  dpkg-query -W -f '${Package} ${Version} ${Status}\n' docker.io docker-cli docker-compose \
    amazon-ssm-agent apparmor python3-boto3 >"$dir/packages.txt" 2>&1
  if command -v docker >/dev/null; then
    docker ps --all --no-trunc --format '{{ json . }}' >"$dir/docker-ps.jsonl" 2>&1
    # shellcheck disable=SC2046 # one argument per container ID
    docker inspect $(docker ps --all --quiet --no-trunc) >"$dir/containers.json" 2>&1
    docker volume inspect "${COMPOSE_PROJECT}_shared" >"$dir/volume.json" 2>&1
    docker image ls --no-trunc --format '{{ json . }}' >"$dir/images.jsonl" 2>&1
    volume="$(docker volume inspect --format '{{ .Mountpoint }}' "${COMPOSE_PROJECT}_shared" 2>/dev/null)"
    if [ -n "$volume" ] && [ -d "$volume/.vmtest" ]; then
      cp -a "$volume/.vmtest" "$dir/records"
    fi
  fi
  systemd-analyze >"$dir/systemd-analyze.txt" 2>&1
  sync
}

mark "boot $boot: waiting for cloud-init (at most ${CLOUD_INIT_TIMEOUT_S} s)"
wait_for "$CLOUD_INIT_TIMEOUT_S" "cloud-init finished" cloud_init_done
limit="$ORCHESTRATOR_TIMEOUT_S"
cloud_init_clean() {
  python3 -c 'import json, sys; sys.exit(1 if json.load(open(sys.argv[1]))["v1"]["errors"] else 0)' \
    /run/cloud-init/result.json
}
if ! cloud_init_done || ! cloud_init_clean; then
  limit=20 # a failed bootstrap will not bring it up; a short look is enough
fi
wait_for "$limit" "orchestrator container running" orchestrator_running &&
  wait_for 60 "$ORCHESTRATOR_UNIT active" unit_active &&
  wait_for 60 "stand-in orchestrator recorded its environment" record_written
mark "collecting"
collect "$out"
mark "collected"

# engine_check DIR: the engine check workflow in the engine image named in .env, as the
# orchestrator starts it (WorkflowManagerDocker): same path for the job folder inside and out,
# TMPDIR/TEMP/TMP and DOCKER_HOST, docker.sock, no-new-privileges.
engine_check() {
  local dir="$1" image job="$ENGINE_JOB_DIR" start rc
  local -a command
  mkdir -p "$dir"
  image="$(sed -n "s/^WORKFLOW_ENGINE_DOCKER_IMAGE='\(.*\)'$/\1/p" "$ENV_PATH")"
  echo "$image" >"$dir/image"
  docker image inspect "$image" >"$dir/image.json" 2>&1
  docker image inspect "$ENGINE_TAG" --format '{{ .Id }}' >"$dir/tag-id" 2>&1
  mkdir -p "$job"
  cp -a /vmtest/engine-job/. "$job/"
  mapfile -t command </vmtest/engine-command
  mark "engine check: toil-cwl-runner in $image"
  start="$(date +%s)"
  timeout "$ENGINE_RUN_TIMEOUT_S" docker run --name workflow_job.vmtest-engine-check \
    --security-opt no-new-privileges -v "$job:$job" -v /var/run/docker.sock:/var/run/docker.sock \
    -w "$job" -e "TMPDIR=$job" -e "TEMP=$job" -e "TMP=$job" \
    -e DOCKER_HOST=unix:///var/run/docker.sock "$image" "${command[@]}" \
    >"$dir/stdout" 2>"$dir/stderr"
  rc=$?
  echo "$rc" >"$dir/rc"
  echo "$(($(date +%s) - start))" >"$dir/wall_s"
  cp "$job/results.json" "$dir/results.json" 2>/dev/null
  docker rm --force workflow_job.vmtest-engine-check >/dev/null 2>&1
  mark "engine check: exit $rc after $(cat "$dir/wall_s") s"
  sync
}
if [ "$boot" = 1 ] && [ -n "$ENGINE_JOB_DIR" ] && cloud_init_done; then
  engine_check "$out/engine"
fi

if [ "$boot" = "$RERUN_BOOTSTRAP_ON_BOOT" ]; then
  mark "running $BOOTSTRAP_PATH again"
  "$BOOTSTRAP_PATH" >"$out/rerun.log" 2>&1
  echo "$?" >"$out/rerun.rc"
  mark "bootstrap re-run exited $(cat "$out/rerun.rc")"
  wait_for 60 "orchestrator container running after the re-run" orchestrator_running
  collect "$out/after-rerun"

  # The clean-up once, now: a job folder past the retention goes, a fresh one and the running
  # orchestrator's image stay.
  mark "running $CLEANUP_SERVICE once"
  volume="$(docker volume inspect --format '{{ .Mountpoint }}' "${COMPOSE_PROJECT}_shared")"
  mkdir -p "$volume/vmtest-old-job" "$volume/vmtest-new-job"
  touch -d "$((JOB_RETENTION_DAYS + 1)) days ago" "$volume/vmtest-old-job"
  timeout 300 systemctl start "$CLEANUP_SERVICE"
  echo "$?" >"$out/cleanup.rc"
  systemctl show "$CLEANUP_SERVICE" --no-pager >"$out/cleanup-unit.txt"
  journalctl -b -u "$CLEANUP_SERVICE" --no-pager >"$out/cleanup.log" 2>&1
  for job in old new; do
    if [ -e "$volume/vmtest-$job-job" ]; then echo "$job=present"; else echo "$job=absent"; fi
  done >"$out/cleanup-jobs.txt"
  docker image inspect "$ORCHESTRATOR_IMAGE" >/dev/null 2>&1 && echo "image=present" >>"$out/cleanup-jobs.txt"
  docker image inspect "$ENGINE_TAG" >/dev/null 2>&1 && echo "engine=present" >>"$out/cleanup-jobs.txt"
  orchestrator_running && echo "orchestrator=running" >>"$out/cleanup-jobs.txt"
  cp "$IMAGES_SEEN_PATH" "$out/images-seen.txt" 2>/dev/null || true
  for image in "$ORCHESTRATOR_IMAGE" "$ENGINE_TAG"; do
    docker image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true
  done >"$out/cleanup-image-ids.txt"
  mark "clean-up exited $(cat "$out/cleanup.rc")"
fi
mark "done"
