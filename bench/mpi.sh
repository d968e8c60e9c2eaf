#!/bin/sh
# The figures of docs/mpi.md "Measured" (raw outputs: bench/results/mpi_20261205/): the gradient
# all-reduce at hidden 64 and 256, and 2 ranks × 1 thread against 1 rank × 2 threads on the Em data
# (hidden 64) and on 160 pre-training records drawn at random (hidden 256, full edges). Run from the
# repository root after `make MPI=1`, on an otherwise idle machine:
#   flock /tmp/ionhop-heavy.lock sh bench/mpi.sh OUTDIR
# `sh bench/mpi.sh OUTDIR micro` runs only the --micro-batch 8 comparisons (raw outputs of the
# balanced micro-batches: bench/results/mpi_balanced_20261205/).
set -eu
O=${1:-bench-mpi-out}
ONLY=${2:-all}
mkdir -p "$O/pt"
O=$(cd "$O" && pwd)
MPIRUN="mpirun -np 2 --oversubscribe -x OMP_NUM_THREADS"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export OPENBLAS_NUM_THREADS=1
B=$(pwd)/build-mpi/ionhop
uptime > "$O/uptime_start.txt"
D=../shared/data/em/train.json
if [ "$ONLY" != micro ]; then
OMP_NUM_THREADS=1 $MPIRUN build-mpi/ionhop-bench allreduce --repeat 200 > "$O/allreduce64.txt" 2>&1
OMP_NUM_THREADS=1 $MPIRUN build-mpi/ionhop-bench allreduce --hidden 256 --edges full --tasks 7 --repeat 200 > "$O/allreduce256.txt" 2>&1
# the default micro-batch split (one micro-batch per batch here: the second rank idles) ...
for rep in 1 2; do
    OMP_NUM_THREADS=2 $B train --data $D --out "$O/em_1x2.ionhop" --epochs 2 > "$O/em_1x2_$rep.log" 2>&1
    OMP_NUM_THREADS=1 $MPIRUN $B train --data $D --out "$O/em_2x1.ionhop" --epochs 2 > "$O/em_2x1_$rep.log" 2>&1
done
fi
# ... and two micro-batches per batch of 16, one per rank
OMP_NUM_THREADS=2 $B train --data $D --out "$O/em8_1x2.ionhop" --epochs 2 --micro-batch 8 > "$O/em8_1x2.log" 2>&1
OMP_NUM_THREADS=1 $MPIRUN $B train --data $D --out "$O/em8_2x1.ionhop" --epochs 2 --micro-batch 8 > "$O/em8_2x1.log" 2>&1
OMP_NUM_THREADS=1 $B train --data $D --out "$O/em8_1x1.ionhop" --epochs 2 --micro-batch 8 > "$O/em8_1x1.log" 2>&1
# pre-training: 160 records drawn at random (seed 0) from the seven files, one file per task
python3 - "$O/pt" <<'PY'
import glob, json, os, random, sys
rng = random.Random(0)
recs = [(os.path.basename(p)[:-5], r) for p in sorted(glob.glob("../shared/data/pretrain/*.json")) for r in json.load(open(p))]
by = {}
for name, r in rng.sample(recs, 160):
    by.setdefault(name, []).append(r)
for name, rs in by.items():
    json.dump(rs, open(os.path.join(sys.argv[1], name + ".json"), "w"))
PY
cd "$O/pt"
T=""
for f in bg dc ebg fe gv ph pz; do T="$T --task $f=$f.json"; done
PT="pretrain $T --hidden 256 --edges full --epochs 1 --val 0 --cache $O/pt"
for rep in 1 2; do
    [ "$ONLY" = micro ] && break
    OMP_NUM_THREADS=2 $B $PT --out "$O/pt_1x2.ionhop" > "$O/pt_1x2_$rep.log" 2>&1
    OMP_NUM_THREADS=1 $MPIRUN $B $PT --out "$O/pt_2x1.ionhop" > "$O/pt_2x1_$rep.log" 2>&1
done
OMP_NUM_THREADS=2 $B $PT --micro-batch 8 --out "$O/pt8_1x2.ionhop" > "$O/pt8_1x2.log" 2>&1
OMP_NUM_THREADS=1 $MPIRUN $B $PT --micro-batch 8 --out "$O/pt8_2x1.ionhop" > "$O/pt8_2x1.log" 2>&1
uptime > "$O/uptime_end.txt"
grep -H "^epoch" "$O"/*.log
