#!/usr/bin/env bash
# Installs every Debian package frugal's build and tests need. Idempotent and
# non-interactive: packages already present are left alone, apt runs only when
# something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev
  libfmt-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  libpcre2-dev libutf8proc-dev
  python3 python3-venv python3-pip
  clang libclang-rt-14-dev
  bible-kjv bible-kjv-text  # public-domain text for perplexity (scripts/fetch_text.sh)
  openssl  # the TLS test makes a self-signed certificate
  strace   # the no-outbound-connection test watches connect calls
  libtorch-dev  # autograd for the trainer (src/train); never linked into frugal
  # libtorch's matrix products go through libblas.so.3; without this it gets
  # Debian's reference BLAS, 6x slower (OpenMP build: libtorch uses libgomp).
  libopenblas0-openmp
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
