#!/usr/bin/env bash
# Line coverage of a fuzz target's library code reached by its corpus:
# builds the harness with clang source-based coverage in build-cov/ (no
# sanitizers), replays build-fuzz/corpus/<target> plus the seeds once
# (-runs=0), and prints llvm-cov's report for the given source files.
#   fuzz/coverage.sh [target] [source files...]
#   default: gguf src/gguf/gguf_file.cpp src/gguf/gguf_value.cpp
# Needs llvm-profdata-14 / llvm-cov-14 (Debian llvm-14, pulled in by clang).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-gguf}"
shift || true
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(src/gguf/gguf_file.cpp src/gguf/gguf_value.cpp)
cov="${FRUGAL_COV_BUILD:-$root/build-cov}"
fuzz="${FRUGAL_FUZZ_BUILD:-$root/build-fuzz}"

if [ ! -f "$cov/build.ninja" ]; then
  cmake -S "$root" -B "$cov" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-fprofile-instr-generate -fcoverage-mapping" -DFRUGAL_FUZZ=ON \
    -DFRUGAL_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$cov" --target "fuzz_$target" fuzz_make_seeds -j "$(nproc)"
"$cov/fuzz/fuzz_make_seeds" "$cov/seeds" >/dev/null
dirs=()
for d in "$fuzz/corpus/$target" "$root/fuzz/corpus/$target" "$cov/seeds/$target"; do
  [ -d "$d" ] && dirs+=("$d")
done
rm -f "$cov/$target.profraw"
LLVM_PROFILE_FILE="$cov/$target.profraw" "$cov/fuzz/fuzz_$target" -runs=0 "${dirs[@]}" \
  >"$cov/$target-replay.log" 2>&1
llvm-profdata-14 merge -sparse "$cov/$target.profraw" -o "$cov/$target.profdata"
echo "corpus: $(find "${dirs[@]}" -type f -printf '%s\n' | awk '{s += $1} END {print s}') bytes" \
  "in $(find "${dirs[@]}" -type f | wc -l) files"
(cd "$root" && llvm-cov-14 report "$cov/fuzz/fuzz_$target" -instr-profile="$cov/$target.profdata" \
  "${files[@]}")
