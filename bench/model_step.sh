#!/bin/sh
# Training step (forward, L1 loss, backward, AdamW) and inference of the ALIGNN model on the
# PyTorch reference's batch of 16 Em structures (shared/reference/torch-alignn/RESULTS.md),
# at H 64 and 256, canonical and non-canonical edge keys, plus the GEMM shapes.
# Usage (repository root, after `make`): sh bench/model_step.sh [THREADS] [REPEATS]
# The machine is shared: every configuration runs REPEATS times (default 2) with `uptime`
# logged before each run; report the best. Address space is capped at 18 GB so an oversized
# configuration fails with an allocation error instead of waking the OOM killer.
set -u
T=${1:-2}
N=${2:-2}
BIN=build/ionhop-bench
[ -x "$BIN" ] || { echo "build first: make -j2" >&2; exit 1; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) threads $T"
OMP_NUM_THREADS=$T $BIN gemm --rows 288220
for cfg in "64 --canonical" "64" "256 --canonical" "256"; do
  set -- $cfg
  h=$1; shift
  i=0
  while [ $i -lt "$N" ]; do
    echo "## H $h $* (run $((i + 1))) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    ( ulimit -v 18000000; OMP_NUM_THREADS=$T $BIN train --hidden "$h" "$@" --steps 3 --warmup 1 --infer 3 )
    i=$((i + 1))
  done
done
