#!/usr/bin/env bash
# Installs what scripts/test_arm64.sh needs, all from Debian: the AArch64
# cross compiler, qemu's user-mode emulator, and the arm64 (multiarch) builds
# of frugal's libraries and GoogleTest, which also bring the arm64 C library
# qemu loads the test binaries with. Idempotent: apt runs only when something
# is missing.
set -euo pipefail

PKGS=(
  g++-aarch64-linux-gnu qemu-user
  libfmt-dev:arm64 libgtest-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64
  libcpp-httplib-dev:arm64 nlohmann-json3-dev libcli11-dev
)

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

added_arch=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  added_arch=1
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})) || ((added_arch)); then
  echo "setup_arm64: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
