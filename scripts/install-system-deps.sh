#!/usr/bin/env bash
# Installs the Debian packages the tests use, only where one is missing:
#   cloud-init           -> `cloud-init schema` validates the rendered user data
#   nodejs               -> cwltool evaluates the engine test workflow's JavaScript with node
#   qemu-system-x86, qemu-utils, debootstrap, debian-archive-keyring, cloud-image-utils,
#   e2fsprogs                                                   -> the boot test (tests -m vm)
set -euo pipefail
declare -A wanted=(
  [cloud-init]=cloud-init
  [node]=nodejs
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [debootstrap]=debootstrap
  [cloud-localds]=cloud-image-utils
  [debugfs]=e2fsprogs
)
missing=()
for tool in "${!wanted[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${wanted[$tool]}")
done
# debootstrap verifies Debian's archive with this keyring (only a Recommends of debootstrap).
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the tests need these Debian packages: ${missing[*]}" >&2
  echo "       install them (sudo apt-get install ${missing[*]}) and run 'make test' again." >&2
  exit 1
fi
echo "installing system packages for the tests: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
