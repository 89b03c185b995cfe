#!/usr/bin/env bash
# Cross-builds frugal for AArch64 (no trainer) and runs its test suites under
# qemu-aarch64 on an emulated CPU with SDOT: every NEON kernel against its
# scalar twin (tables ref, neon, neon-dotprod), and the model, runtime and
# tokenizer suites, real-model greedy and logit parity with llama.cpp
# included, on the best table. Then the SIMD-vs-ref suites again on a
# Cortex-A72 (the Raspberry Pi 4's core, no SDOT: ref, neon). The cli_*
# suites, which spawn the binary itself, are not built when cross-compiling.
# Emulation proves results only; its timings mean nothing.
#   scripts/test_arm64.sh [build-dir]     (default build-arm64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-arm64}"
jobs="$(nproc)"
export FRUGAL_MODEL_CACHE="${FRUGAL_MODEL_CACHE:-$HOME/.cache/frugal/models}"

"$root/scripts/setup_arm64.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DFRUGAL_TRAIN=OFF >/dev/null
cmake --build "$build" -j "$jobs"
FRUGAL_EXPECT_TABLES="ref, neon, neon-dotprod" \
  ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 1800
FRUGAL_EXPECT_TABLES="ref, neon" QEMU_CPU=cortex-a72 ctest --test-dir "$build" \
  --output-on-failure -j "$jobs" --timeout 900 -R 'KernelsSimd|SimdVsRef'
