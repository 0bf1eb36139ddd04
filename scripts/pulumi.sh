#!/usr/bin/env bash
# `make up|destroy|secrets|status STACK=...`: validate offline first, make sure the Pulumi CLI is there,
# use the embedded local state backend unless PULUMI_BACKEND_URL says otherwise, then run Pulumi.
set -euo pipefail
usage="usage: scripts/pulumi.sh up|destroy|secrets|status STACK"
action=${1:?$usage}
stack=${2:?$usage}
cd "$(dirname "$0")/.."
if ! [[ $stack =~ ^[A-Za-z0-9_.-]{1,100}$ ]]; then
  echo "error: stack name '$stack' may use only letters, digits and _.- (at most 100)" >&2
  exit 2
fi

: "${PULUMI_BACKEND_URL:=file://$PWD/.pulumi-state}"
export PULUMI_BACKEND_URL

if [ "$action" = status ]; then
  # Only reads: validates offline, then the stack's outputs; never installs or creates anything
  # (without the Pulumi CLI, lifecycle says what to do instead).
  .venv/bin/python -m preview --stack "$stack" >/dev/null
  exec .venv/bin/python -m lifecycle status --stack "$stack"
fi

if [[ $PULUMI_BACKEND_URL == file://* ]]; then
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi

if ! command -v pulumi >/dev/null 2>&1; then
  if [ -x "$HOME/.pulumi/bin/pulumi" ]; then
    PATH="$HOME/.pulumi/bin:$PATH"
  else
    echo "The Pulumi CLI is missing; installing it with Pulumi's official installer (get.pulumi.com)..."
    if ! curl -fsSL --max-time 60 https://get.pulumi.com | sh; then
      echo "error: could not install the Pulumi CLI (offline?). Install it yourself, see" >&2
      echo "       https://www.pulumi.com/docs/iac/download-install/ , then run 'make $action STACK=$stack' again." >&2
      exit 1
    fi
    PATH="$HOME/.pulumi/bin:$PATH"
  fi
fi

# Validate the stack file before anything is created or destroyed.
.venv/bin/python -m preview --stack "$stack" >/dev/null

pulumi stack select --create "$stack" --non-interactive >/dev/null
case $action in
  up) exec pulumi up --stack "$stack" ;;
  destroy) exec pulumi destroy --stack "$stack" ;;
  secrets)
    # The stack's secrets (dockerhubPassword only with dockerhubUsername). Pulumi prompts for each
    # value, so no token lands on a command line or in shell history.
    mapfile -t keys < <(.venv/bin/python -c 'import sys, stackconfig
for key in stackconfig.load_stack(sys.argv[1], env={}).secrets_needed:
    print(f"{stackconfig.NAMESPACE}:{key}")' "$stack")
    for key in "${keys[@]}"; do
      if pulumi config get "$key" --stack "$stack" >/dev/null 2>&1; then
        echo "$key is already set (run 'pulumi config set --secret $key --stack $stack' to change it)"
      else
        echo "Enter $key (input hidden):"
        pulumi config set --secret "$key" --stack "$stack"
      fi
    done
    ;;
  *) echo "error: unknown action $action ($usage)" >&2; exit 2 ;;
esac
