#!/usr/bin/env bash
# The whole test suite: builds frugal (Release) and runs every test, the
# VNNI kernels on emulated x86 CPUs, then
# cross-builds frugal for AArch64 and runs its tests under qemu, then
# rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs every
# test again, runs the server suite against a ThreadSanitizer build, then runs
# every fuzz harness for 60 s (scripts/fuzz.sh). Real-model
# tests use the models fetched into the cache ($FRUGAL_MODEL_CACHE, default
# ~/.cache/frugal/models).
#   scripts/test.sh            both passes, the TSan server pass and the fuzz stage
#   scripts/test.sh --fast     Release pass only
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FRUGAL_MODEL_CACHE="${FRUGAL_MODEL_CACHE:-$HOME/.cache/frugal/models}"
jobs="$(nproc)"

"$root/scripts/setup.sh"
python3 "$root/scripts/fetch_models.py" all

echo "== Release build and tests"
"$root/scripts/build.sh" "$root/build"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs" --timeout 600
echo "== Logit parity with llama.cpp on the scalar reference table (the suite above ran the best one)"
FRUGAL_KERNELS=ref "$root/build/tests/runtime_parity_test" --gtest_filter='Golden/Distributions.*'
echo "== VNNI kernel tables on emulated CPUs (scripts/test_vnni_emulated.sh)"
"$root/scripts/test_vnni_emulated.sh" "$root/build"

# The server suite drives a real `frugal serve` with the official openai client.
venv="$HOME/.cache/frugal/test-venv"
if ! "$venv/bin/python" -c "import pytest, openai" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "pytest>=8,<10" "openai>=1.40,<4"
fi
server_tests() {
  PYTHONDONTWRITEBYTECODE=1 FRUGAL_BIN="$1" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/tests/server"
}
echo "== Server API tests (pytest + openai client against build/frugal serve)"
server_tests "$root/build/frugal"

if [ "${1:-}" != "--fast" ]; then
  echo "== AArch64 build, tests under qemu-aarch64 (scripts/test_arm64.sh)"
  "$root/scripts/test_arm64.sh" "$root/build-arm64"
  echo "== ASan+UBSan build and tests"
  # Line tables only (-g1): sanitizer reports keep file:line, and the build
  # (libtorch-heavy train sources) takes about an eighth less time than with -g.
  "$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFRUGAL_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" --timeout 1200
  echo "== Server API tests against the ASan+UBSan build"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    server_tests "$root/build-asan/frugal"
  echo "== Server API tests against a ThreadSanitizer build"
  if [ ! -f "$root/build-tsan/build.ninja" ]; then
    cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFRUGAL_TSAN=ON -DFRUGAL_BUILD_TESTS=OFF -DFRUGAL_TRAIN=OFF >/dev/null
  fi
  cmake --build "$root/build-tsan" -j "$jobs" --target frugal
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 server_tests "$root/build-tsan/frugal"
  # --- fuzz stage (issue 6): every libFuzzer harness of fuzz/, ASan+UBSan, 60 s each.
  echo "== Fuzz harnesses (clang libFuzzer + ASan+UBSan, 60 s each)"
  "$root/scripts/fuzz.sh" 60
  # --- end fuzz stage
fi
echo "== all tests passed"
