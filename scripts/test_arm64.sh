#!/usr/bin/env bash
# Cross-builds the layers up to kernels (FRUGAL_KERNELS_ONLY) for AArch64 and
# runs their tests under qemu-aarch64: every NEON kernel against its scalar
# twin, on an emulated CPU with SDOT (tables ref, neon, neon-dotprod) and
# again on one without (Cortex-A72, the Raspberry Pi 4's core: ref, neon).
# Emulation proves correctness only; its timings mean nothing.
#   scripts/test_arm64.sh [build-dir]     (default build-arm64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-arm64}"
jobs="$(nproc)"

"$root/scripts/setup_arm64.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DFRUGAL_KERNELS_ONLY=ON -DFRUGAL_TRAIN=OFF >/dev/null
cmake --build "$build" -j "$jobs"
FRUGAL_EXPECT_TABLES="ref, neon, neon-dotprod" \
  ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 900
FRUGAL_EXPECT_TABLES="ref, neon" QEMU_CPU=cortex-a72 ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 900 \
  -R 'KernelsSimd|SimdVsRef'
