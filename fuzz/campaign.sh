#!/usr/bin/env bash
# Long fuzz campaign outside CI (issue 6: each harness >= 30 CPU-minutes).
# Runs one harness at a time in chunks of wall time, each chunk resuming from
# the saved corpus (build-fuzz/corpus/<target>), until the harness has used
# CPU_GOAL seconds of CPU (measured with /usr/bin/time). Same flags as
# scripts/fuzz.sh. One line per chunk goes to build-fuzz/campaign/log.tsv:
#   target chunk wall_s cpu_s executions cov exit_code
# fuzz/campaign_table.py turns it into ROBUSTNESS.md's table.
#   TARGETS="gguf tokenizer" CPU_GOAL=1920 CHUNK=600 fuzz/campaign.sh
# Two campaigns with different TARGETS may run side by side (one per core).
# Build first: scripts/fuzz.sh 1 (or cmake --build build-fuzz).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=$root/build-fuzz
goal=${CPU_GOAL:-1920}
chunk=${CHUNK:-600}
mkdir -p "$dir/campaign" "$dir/artifacts"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in ${TARGETS:-gguf tokenizer chat_template request reasoning sse}; do
  case "$t" in gguf) ml=16384;; chat_template|request) ml=8192;; *) ml=4096;; esac
  cpu=0
  i=0
  while [ "$cpu" -lt "$goal" ]; do
    i=$((i+1))
    seeds=()
    [ -d "$root/fuzz/corpus/$t" ] && seeds+=("$root/fuzz/corpus/$t")
    [ -d "$dir/seeds/$t" ] && seeds+=("$dir/seeds/$t")
    d=(); [ -f "$root/fuzz/$t.dict" ] && d=(-dict="$root/fuzz/$t.dict")
    log=$dir/campaign/$t-$i.log
    mkdir -p "$dir/corpus/$t"
    /usr/bin/time -f "%U %S %e" -o "$dir/campaign/$t-$i.time" "$dir/fuzz/fuzz_$t" \
      -max_total_time="$chunk" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=$ml \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-" "${d[@]}" "$dir/corpus/$t" \
      "${seeds[@]}" >"$log" 2>&1
    rc=$?
    read -r u s e < <(tail -1 "$dir/campaign/$t-$i.time")
    c=$(python3 -c "print(int(float('$u') + float('$s')))")
    cpu=$((cpu + c))
    ex=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%s\t%d\t%s\t%d\t%s\t%s\t%s\n' "$t" "$i" "$e" "$c" "${ex:-?}" "${cov:-?}" "$rc" \
      >>"$dir/campaign/log.tsv"
    [ "$rc" -ne 0 ] && { echo "fuzz_$t: exit $rc, see $log and $dir/artifacts/"; break; }
  done
done
