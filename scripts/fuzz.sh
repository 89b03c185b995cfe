#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang under ASan+UBSan (in
# build-fuzz/) and runs each for a bounded time. Any crash, sanitizer report,
# leak, timeout (> 10 s on one input) or oversized allocation fails the script.
#   scripts/fuzz.sh [seconds-per-target]      default 60
# Environment:
#   FRUGAL_FUZZ_BUILD    build folder (default <repo>/build-fuzz)
#   FRUGAL_FUZZ_TARGETS  space-separated subset, e.g. "gguf request"
#   FRUGAL_FUZZ_NICE     nice level for the fuzzers (default 0)
# The corpus each run finds is kept in $FRUGAL_FUZZ_BUILD/corpus/<target>
# (and grows across runs); crashing inputs go to $FRUGAL_FUZZ_BUILD/artifacts/.
# Reproduce a crash: $FRUGAL_FUZZ_BUILD/fuzz/fuzz_<target> <artifact file>.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
dir="${FRUGAL_FUZZ_BUILD:-$root/build-fuzz}"
targets="${FRUGAL_FUZZ_TARGETS:-gguf tokenizer chat_template request reasoning sse}"
nice_level="${FRUGAL_FUZZ_NICE:-0}"

"$root/scripts/setup.sh"
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFRUGAL_SANITIZE=ON -DFRUGAL_FUZZ=ON \
    -DFRUGAL_BUILD_TESTS=OFF -DFRUGAL_TRAIN=OFF >/dev/null
fi
cmake --build "$dir" --target fuzz -j "$(nproc)"
rm -rf "$dir/seeds"
"$dir/fuzz/fuzz_make_seeds" "$dir/seeds"
mkdir -p "$dir/artifacts"

# Largest input per target: room for the seeds (real-shaped GGUF headers,
# whole chat templates) without slowing the search down with huge inputs.
max_len() {
  case "$1" in
    gguf) echo 16384 ;;
    chat_template | request) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
summary=()
status=0
for t in $targets; do
  bin="$dir/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no harness fuzz_$t" >&2; exit 2; }
  corpus="$dir/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "$root/fuzz/corpus/$t" ] && seeds+=("$root/fuzz/corpus/$t")
  [ -d "$dir/seeds/$t" ] && seeds+=("$dir/seeds/$t")
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512
        -max_len="$(max_len "$t")" -print_final_stats=1
        -artifact_prefix="$dir/artifacts/$t-")
  [ -f "$root/fuzz/$t.dict" ] && args+=(-dict="$root/fuzz/$t.dict")
  log="$dir/fuzz-$t.log"
  echo "== fuzz_$t for ${secs} s"
  rc=0
  nice -n "$nice_level" "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  n_corpus="$(find "$corpus" -type f | wc -l)"
  if [ "$rc" -ne 0 ]; then
    status=1
    summary+=("$(printf '%-14s FAILED (exit %d), see %s' "$t" "$rc" "$log")")
    grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY|Test unit written' "$log" | head -20 >&2 || true
  else
    summary+=("$(printf '%-14s %12s execs  %6s s  cov %6s  corpus %6s' "$t" "${execs:-?}" "$secs" \
      "${cov:-?}" "$n_corpus")")
  fi
done
echo "== fuzz summary (ASan+UBSan, libFuzzer)"
printf '%s\n' "${summary[@]}"
exit "$status"
