#!/usr/bin/env bash
# Installs the build's Debian packages (if missing) and builds frugal.
#   scripts/build.sh [build-dir] [extra cmake args...]
# Default build dir: build (Release). Incremental: reruns only what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/build}"
shift || true
"$root/scripts/setup.sh"
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
