#!/usr/bin/env bash
# Regenerates the figures of bench/RESULTS.md: random-weight DeepSeek-R1-Distill-
# Qwen-1.5B files in Q4_0, Q8_0, Q4_K_M (frugal mkmodel) and the real
# Qwen2.5-Coder-0.5B Q4_K_M, each through bench/side_by_side.py.
# Env: FRUGAL (binary, default build/frugal), THREADS (2), P (512), N (128), R (3),
# KV (f16,f32), OUT (bench/out), MODELS (~/.cache/frugal/bench-models).
set -euo pipefail
cd "$(dirname "$0")/.."
FRUGAL=${FRUGAL:-build/frugal}; THREADS=${THREADS:-2}; P=${P:-512}; N=${N:-128}; R=${R:-3}
KV=${KV:-f16,f32}; OUT=${OUT:-bench/out}; MODELS=${MODELS:-$HOME/.cache/frugal/bench-models}
VOCAB=${VOCAB:-/work/shared/testdata/vocab/constructed-vocab-deepseek-r1-qwen.gguf}
mkdir -p "$OUT" "$MODELS"
files=()
for type in q4_0 q8_0 q4_k_m; do
  f="$MODELS/r1-qwen-1.5b-random-$type.gguf"
  [ -f "$f" ] || "$FRUGAL" mkmodel --shape r1-qwen-1.5b --type "$type" --vocab "$VOCAB" -o "$f"
  files+=("$f")
done
real="${FRUGAL_MODEL_CACHE:-$HOME/.cache/frugal/models}/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
[ -f "$real" ] && files+=("$real")
for f in "${files[@]}"; do
  name=$(basename "$f" .gguf)
  echo "== $name: $(uptime)" >&2
  python3 bench/side_by_side.py "$f" -t "$THREADS" -p "$P" -n "$N" -r "$R" --kv "$KV" \
    --frugal "$FRUGAL" ${DEPTH:+-d "$DEPTH"} | tee "$OUT/$name.md"
done
