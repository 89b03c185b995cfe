#!/usr/bin/env bash
# Runs the VNNI kernel tables (avx512-vnni, avx-vnni) on emulated x86 CPUs:
# Bochs' CPU models through bochscpu-python (PyPI), since QEMU implements
# neither extension. Each kernel call runs on Ice Lake, Sapphire Rapids and
# Arrow Lake models and must give the AVX2 kernels' bits; CPU detection must
# find exactly each model's extensions, and models without them (Haswell,
# Skylake-X) must refuse the instructions. tests/emulated/README.md.
#   scripts/test_vnni_emulated.sh [build-dir]     (default build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"

if [ "$(uname -m)" != "x86_64" ] || ! grep -qw avx2 /proc/cpuinfo; then
  echo "skipped: the emulated-CPU test compares with AVX2 kernels run natively (x86-64 with AVX2)"
  exit 0
fi
venv="$HOME/.cache/frugal/emu-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# The shim (tests/emulated/bochscpu_shim.c) is written for this wheel: its
# glibc symbols and its Bochs' CPU model list.
if ! "$venv/bin/pip" show -q bochscpu-python 2>/dev/null; then
  "$venv/bin/pip" install -q "bochscpu-python==0.4.0"
fi
cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$venv/bochscpu_shim.so" \
  "$root/tests/emulated/bochscpu_shim.c" -ldl
cmake --build "$build" --target frugal_vnni_emulated
LD_PRELOAD="$venv/bochscpu_shim.so" "$venv/bin/python" \
  "$root/tests/emulated/run_vnni_emulated.py" "$build/tests/frugal_vnni_emulated.so"
