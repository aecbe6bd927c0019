#!/bin/sh
# convert wall time before (git revision $2) and after (this checkout) on model $1: $3 rounds, each
# round one process per side (2 timed conversions each, each on a freshly loaded model), sides
# alternating so that a busy machine slows both alike. Prints one JSON line per process, then the
# median of every timed conversion per side and the ratio after / before.
#   sh bench/convert-wall.sh bench/out/vit_b16_224.onnx 7fe04fb 3
set -e
MODEL=$(realpath "$1"); REV=${2:-HEAD~1}; ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(mktemp -d)
LINES=$(mktemp)
git -C "$ROOT" archive "$REV" | tar -x -C "$BEFORE"
ln -s "$ROOT/node_modules" "$BEFORE/node_modules"
cp "$ROOT/bench/convert-wall.ts" "$BEFORE/bench/convert-wall.ts"
i=0
while [ $i -lt "$ROUNDS" ]; do
  line=$(cd "$BEFORE" && npx tsx bench/convert-wall.ts "$MODEL" 2 2>/dev/null); echo "before $line" | tee -a "$LINES"
  line=$(cd "$ROOT" && npx tsx bench/convert-wall.ts "$MODEL" 2 2>/dev/null); echo "after $line" | tee -a "$LINES"
  i=$((i + 1))
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
const side = (name) => lines.filter((l) => l.startsWith(name + " ")).flatMap((l) => JSON.parse(l.slice(name.length + 1)).ms);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const before = side("before"), after = side("after");
console.log(`before (${process.argv[2]}): median ${median(before)} ms of ${before.length} conversions`);
console.log(`after  (this checkout): median ${median(after)} ms of ${after.length} conversions`);
console.log(`ratio after / before: ${(median(after) / median(before)).toFixed(2)}x`);
' "$LINES" "$REV"
rm -rf "$BEFORE" "$LINES"
