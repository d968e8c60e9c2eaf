#!/bin/sh
# ionhop against the PyTorch reference (../shared/reference/torch-alignn) in one run, on the same
# machine, the same batch (the reference's 16 Em structures) and the same configuration: a
# training step (forward, L1, backward, AdamW) and batched inference, C and PyTorch interleaved
# per configuration so that both see the same machine state. Prints one line per configuration
# with the ratios; raw outputs go to bench/results/compare_<date>/.
# Usage (repository root, after `make`): sh bench/compare_torch.sh [THREADS] [CONFIGS...]
#   IONHOP_BIN=PATH times that binary instead of build/ionhop-bench.
#   CONFIGS like "64c" (hidden 64, canonical) or "256f" (hidden 256, full edges); default 64c 256c.
# Needs Debian's python3-torch for the reference side (CI never runs this).
set -eu
T=${1:-2}
[ $# -gt 0 ] && shift
CONFIGS=${*:-"64c 256c"}
REF=${IONHOP_SHARED:-../shared}/reference/torch-alignn
BIN=${IONHOP_BIN:-build/ionhop-bench}  # IONHOP_BIN: a frozen copy while other work rebuilds
[ -x "$BIN" ] || { echo "build first: make -j2" >&2; exit 1; }
OUT=bench/results/compare_$(date -u +%Y%m%dT%H%M)
mkdir -p "$OUT/ref"
# the reference reads its GEMM probe and data-set sizes from its results folder
cp "$REF/results/gemm.json" "$REF/results/sizes_em.json" "$OUT/ref/"
{ grep -m1 'model name' /proc/cpuinfo; nproc; date -u; } > "$OUT/machine.txt"
TUNED="glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
printf "%-6s %10s %10s %8s %11s %11s %8s %10s %10s\n" config "C step s" "ref step s" ratio "C infer s" "ref infer s" ratio "C RSS MiB" "ref RSS MiB"
for cfg in $CONFIGS; do
  h=${cfg%?}; kind=${cfg#$h}
  flag=""; [ "$kind" = c ] && flag="--canonical"
  OMP_NUM_THREADS=$T $BIN train --hidden "$h" $flag --steps 3 --warmup 1 --infer 3 > "$OUT/c_$cfg.txt" 2>&1
  GLIBC_TUNABLES=$TUNED OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T \
    /usr/bin/python3 "$REF/bench.py" step --hidden "$h" $flag --max-th 75e6 --outdir "$OUT/ref" \
    --out "$OUT/ref/step_$cfg.json" > /dev/null 2>"$OUT/ref/step_$cfg.err"
  /usr/bin/python3 - "$OUT/c_$cfg.txt" "$OUT/ref/step_$cfg.json" "$cfg" <<'PY'
import json, re, sys
c = open(sys.argv[1]).read(); r = json.load(open(sys.argv[2]))
step = float(re.search(r"train step: best ([0-9.]+) s", c).group(1))
inf = float(re.search(r"inference \(evaluation mode.*?best ([0-9.]+) s", c).group(1))
rss = float(re.findall(r"peak RSS[^0-9]*([0-9.]+) MiB", c)[-1])
rs = r["train"]["median_s"]; ri = r["inference_batch"]["median_s"]
rr = r.get("process_maxrss_mb", float("nan"))
print("%-6s %10.3f %10.3f %7.2fx %11.3f %11.3f %7.2fx %10.0f %10.0f" % (sys.argv[3], step, rs, rs / step, inf, ri, ri / inf, rss, rr))
PY
done
echo "raw outputs: $OUT"
