#!/bin/sh
# Screening throughput: the crystals of the first N shared Em records (each 5-image record stands
# for its host with the ion on both end sites; --ion auto takes each record's ion) through the
# default model at 1 and 2 threads. Prints structures/s, hop classes/s and hops/s per thread count.
#   sh bench/screen.sh [N]        (N = 100)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100}
BIN=build/ionhop
[ -x "$BIN" ] || { echo "build first: make -j2" >&2; exit 1; }
DATA=${IONHOP_SHARED:-../shared}/data/em/train.json
OUT=${TMPDIR:-/tmp}/ionhop-bench-screen
mkdir -p "$OUT"
python3 -c "import json,sys; json.dump(json.load(open('$DATA'))[:$N], open('$OUT/records.json','w'))"
for t in 2 1; do
  rm -f "$OUT/screen_$t.json" "$OUT/screen_$t.json.partial"
  start=$(date +%s.%N)
  OMP_NUM_THREADS=$t "$BIN" screen "$OUT/records.json" --ion auto --out "$OUT/screen_$t.json" 2>/dev/null
  end=$(date +%s.%N)
  python3 - "$OUT/screen_$t.json" "$start" "$end" "$t" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); s = float(sys.argv[3]) - float(sys.argv[2])
ok = [r for r in d if r["status"] == "ok"]
c = sum(len(r["classes"]) for r in ok); h = sum(len(r["hops"]) for r in ok)
print(f"threads {sys.argv[4]}: {len(d)} structures ({len(ok)} ok) in {s:.1f} s: "
      f"{len(d)/s:.2f} structures/s, {c/s:.1f} hop classes/s, {h/s:.0f} hops/s")
PY
done
