#!/usr/bin/env bash
# Writes the public-domain text used for perplexity and parity figures and
# prints its path: the Book of Genesis, King James Version, from the Debian
# package bible-kjv-text (/usr/lib/bible.data, read with the `bible` program
# of package bible-kjv), verse references stripped, one verse per line.
# Cached as $FRUGAL_MODEL_CACHE/../text/kjv-genesis.txt.
set -euo pipefail
cache="${FRUGAL_MODEL_CACHE:-$HOME/.cache/frugal/models}/../text"
out="$cache/kjv-genesis.txt"
if [ ! -s "$out" ]; then
  command -v bible >/dev/null || { echo "fetch_text: install bible-kjv (scripts/setup.sh)" >&2; exit 1; }
  mkdir -p "$cache"
  # `bible -f` prints "Ge1:1 In the beginning ..."; keep the verse text only.
  bible -f "Gen1:1-Gen50:26" | sed -E 's/^[A-Za-z0-9]+:[0-9]+ //' >"$out.tmp"
  mv "$out.tmp" "$out"
fi
realpath "$out"
