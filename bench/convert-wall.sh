#!/bin/sh
# convert wall time before (git revision $2) and after (this checkout) on model $1, in turn, $3 runs each.
#   sh bench/convert-wall.sh bench/out/vit_b16_224.onnx 7fe04fb 3
set -e
MODEL=$(realpath "$1"); REV=${2:-HEAD~1}; RUNS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(mktemp -d)
git -C "$ROOT" archive "$REV" | tar -x -C "$BEFORE"
ln -s "$ROOT/node_modules" "$BEFORE/node_modules"
cp "$ROOT/bench/convert-wall.ts" "$BEFORE/bench/convert-wall.ts"
echo "before ($REV):"; (cd "$BEFORE" && npx tsx bench/convert-wall.ts "$MODEL" "$RUNS")
echo "after (working tree):"; (cd "$ROOT" && npx tsx bench/convert-wall.ts "$MODEL" "$RUNS")
rm -rf "$BEFORE"
