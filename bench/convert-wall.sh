#!/bin/sh
# convert wall time before (git revision $2) and after (this checkout) on model $1: $3 rounds, each
# round one process per side (2 timed conversions each, after a load), sides alternating so that a
# busy machine slows both alike. Prints one JSON line per process; compare the medians.
#   sh bench/convert-wall.sh bench/out/vit_b16_224.onnx 7fe04fb 3
set -e
MODEL=$(realpath "$1"); REV=${2:-HEAD~1}; ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(mktemp -d)
git -C "$ROOT" archive "$REV" | tar -x -C "$BEFORE"
ln -s "$ROOT/node_modules" "$BEFORE/node_modules"
cp "$ROOT/bench/convert-wall.ts" "$BEFORE/bench/convert-wall.ts"
i=0
while [ $i -lt "$ROUNDS" ]; do
  printf 'before %s ' "$REV"; (cd "$BEFORE" && npx tsx bench/convert-wall.ts "$MODEL" 2 2>/dev/null)
  printf 'after  '; (cd "$ROOT" && npx tsx bench/convert-wall.ts "$MODEL" 2 2>/dev/null)
  i=$((i + 1))
done
rm -rf "$BEFORE"
