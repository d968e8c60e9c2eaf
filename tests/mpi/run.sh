#!/bin/sh
# The MPI build's tests (make test-mpi): run from the repository root with the MPI build's tool,
# benchmark program and dist unit test. Two ranks on one machine, one OpenMP thread each (results
# depend on the thread count, so the one-process runs use one thread too):
#   dist       the unit test of src/core/dist.c on two ranks (rank-order sums, gathers, messages)
#   train      two epochs on two ranks give the one-process model: predictions within 1e-5 (in
#              fact every tensor the same, bit for bit)
#   repeat     two two-rank runs give the same model bit for bit
#   resume     a rank killed after the first epoch's checkpoint; --resume on two ranks finishes with
#              the model of an uninterrupted run
#   finetune   a two-fold cross-validation on two ranks writes the one-process predictions
#   screen     two ranks write the one-process results; a rank killed midway, the same command
#              resumes and finishes with the same results
#   errors     a bad input on two ranks ends both with the message, no hang; a one-process
#              command (info) on two ranks is refused
#   slurm      examples/slurm/pretrain.sbatch under a stand-in srun: killed, resubmitted, resumed
#   bench      the all-reduce benchmark runs on two ranks
# ../shared must be beside the checkout (IONHOP_SHARED overrides).
set -u
IONHOP=$1 BENCH=$2 TEST_DIST=$3
SHARED=${IONHOP_SHARED:-../shared}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
HERE=$(dirname "$0")
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPIRUN="mpirun -np 2"
if mpirun --version 2>&1 | grep -q "Open MPI"; then
    # more ranks than cores is allowed; root (containers, CI) must be allowed explicitly
    MPIRUN="$MPIRUN --oversubscribe -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS"
    [ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/ionhop-mpi.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail=0 n=0
pass() { n=$((n + 1)); echo "PASS $1"; }
bad() {
    n=$((n + 1)) fail=$((fail + 1))
    echo "FAIL $1"
    shift
    for f in "$@"; do [ -f "$f" ] && tail -25 "$f" | sed 's/^/    /'; done
}

# the rank (0, 1) of a child of mpirun process $1, from its environment (Open MPI, MPICH)
rank_pid() {
    for d in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$d/stat" 2>/dev/null)" = "$1" ] || continue
        if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qE "^(OMPI_COMM_WORLD_RANK|PMI_RANK)=$2$"; then
            echo "${d#/proc/}"
            return 0
        fi
    done
    return 1
}

# wait up to $2 s for command $1 to succeed
wait_for() {
    t=0
    while ! eval "$1"; do
        t=$((t + 1))
        [ $t -gt $(($2 * 5)) ] && return 1
        sleep 0.2
    done
}

# largest |difference| of the predictions of two `ionhop predict --data` CSVs (column 3)
max_diff() {
    paste -d, "$1" "$2" | awk -F, 'NR > 1 { d = $3 - $6; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g\n", m + 0 }'
}

# -- data: 64 Em records to train on, 10 to screen
"$PY" -c "
import json, sys
d = json.load(open(sys.argv[1]))
json.dump(d[:64], open(sys.argv[2] + '/em64.json', 'w'))
json.dump(d[64:74], open(sys.argv[2] + '/em10.json', 'w'))
" "$SHARED/data/em/train.json" "$W" || { echo "FAIL data: cannot read $SHARED/data/em/train.json"; exit 1; }

# -- dist unit test
if $MPIRUN "$TEST_DIST" > "$W/dist.log" 2>&1; then pass dist; else bad dist "$W/dist.log"; fi

# -- train: one process against two ranks, the same micro-batch split (4 per batch of 16)
TRAIN="train --data $W/em64.json --epochs 2 --batch 16 --micro-batch 4 --seed 7"
"$IONHOP" $TRAIN --out "$W/one.ionhop" > "$W/one.log" 2>&1 &&
    $MPIRUN "$IONHOP" $TRAIN --out "$W/two.ionhop" > "$W/two.log" 2>&1 &&
    "$IONHOP" predict --model "$W/one.ionhop" --data "$W/em64.json" --out "$W/one.csv" > /dev/null 2>&1 &&
    "$IONHOP" predict --model "$W/two.ionhop" --data "$W/em64.json" --out "$W/two.csv" > /dev/null 2>&1
rc=$?
d=$(max_diff "$W/one.csv" "$W/two.csv")
rows=$(wc -l < "$W/two.csv")
if [ $rc -eq 0 ] && [ "$rows" -eq 65 ] && awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' &&
    "$PY" "$HERE/same_weights.py" "$W/one.ionhop" "$W/two.ionhop" > "$W/same.log" 2>&1 &&
    grep -q "epoch   2/2" "$W/two.log"; then
    pass "train (2 ranks = 1 process: predictions differ by at most $d, $(cat "$W/same.log"))"
else
    bad "train (rc $rc, largest prediction difference $d)" "$W/one.log" "$W/two.log" "$W/same.log"
fi

# -- repeat: two two-rank runs
$MPIRUN "$IONHOP" $TRAIN --out "$W/two_b.ionhop" > "$W/two_b.log" 2>&1
if [ $? -eq 0 ] && "$PY" "$HERE/same_weights.py" "$W/two.ionhop" "$W/two_b.ionhop" > "$W/same_b.log" 2>&1; then
    pass "repeat (two 2-rank runs: $(cat "$W/same_b.log"))"
else
    bad repeat "$W/two_b.log" "$W/same_b.log"
fi

# -- resume: rank 1 killed once the first epoch's checkpoint is there
LONG="train --data $W/em64.json --epochs 4 --batch 16 --micro-batch 4 --seed 7"
"$IONHOP" $LONG --out "$W/whole.ionhop" > "$W/whole.log" 2>&1
$MPIRUN "$IONHOP" $LONG --out "$W/cut.ionhop" > "$W/cut.log" 2>&1 &
mp=$!
killed=""
if wait_for "[ -f '$W/cut.ionhop.ckpt.state' ]" 300; then
    victim=$(rank_pid $mp 1) && kill -9 "$victim" && killed=yes
fi
wait $mp
cut_rc=$?
$MPIRUN "$IONHOP" $LONG --out "$W/cut.ionhop" --resume > "$W/resume.log" 2>&1
res_rc=$?
if [ -n "$killed" ] && [ $cut_rc -ne 0 ] && [ $res_rc -eq 0 ] && grep -q "resuming after epoch" "$W/resume.log" &&
    [ ! -f "$W/cut.ionhop.ckpt.state" ] &&
    "$PY" "$HERE/same_weights.py" "$W/whole.ionhop" "$W/cut.ionhop" > "$W/same_r.log" 2>&1; then
    pass "resume (rank 1 killed after epoch $(grep -c '^epoch' "$W/cut.log"), resumed on 2 ranks: $(cat "$W/same_r.log"))"
else
    bad "resume (killed: ${killed:-no}, interrupted rc $cut_rc, resumed rc $res_rc)" "$W/cut.log" "$W/resume.log" "$W/same_r.log"
fi

# -- finetune: two-fold cross-validation
FT="finetune --data $W/em64.json --folds 2 --epochs 2 --batch 16 --micro-batch 4"
"$IONHOP" $FT --cv-out "$W/ft1.csv" --out "$W/ft1.ionhop" > "$W/ft1.log" 2>&1 &&
    $MPIRUN "$IONHOP" $FT --cv-out "$W/ft2.csv" --out "$W/ft2.ionhop" > "$W/ft2.log" 2>&1
rc=$?
# the fold ensemble is calibrated from its own held-out predictions once, by rank 0
if [ $rc -eq 0 ] && [ "$(wc -l < "$W/ft2.csv")" -eq 65 ] && cmp -s "$W/ft1.csv" "$W/ft2.csv" &&
    [ "$(grep -c 'calibrated from its own' "$W/ft2.log")" -eq 1 ] &&
    "$PY" "$HERE/same_weights.py" "$W/ft1.ionhop" "$W/ft2.ionhop" > "$W/same_ft.log" 2>&1; then
    pass "finetune (2-fold cross-validation: the same predictions' CSV and calibrated fold ensemble)"
else
    bad "finetune (rc $rc)" "$W/ft1.log" "$W/ft2.log"
fi

# -- screen: one process against two ranks; then a rank killed midway and the run resumed
SCREEN="screen $W/em10.json --ion auto --csv"
"$IONHOP" $SCREEN "$W/s1.csv" --out "$W/s1.json" > "$W/s1.log" 2>&1
rc1=$?
$MPIRUN "$IONHOP" $SCREEN "$W/s2.csv" --out "$W/s2.json" > "$W/s2.log" 2>&1
rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$W/s1.json" "$W/s2.json" && cmp -s "$W/s1.csv" "$W/s2.csv" &&
    [ "$(grep -c '"file"' "$W/s2.json")" -eq 10 ] && [ ! -f "$W/s2.json.partial" ]; then
    pass "screen (2 ranks write the 1-process results: 10 structures)"
else
    bad "screen (rc $rc1, $rc2)" "$W/s1.log" "$W/s2.log"
fi
$MPIRUN "$IONHOP" $SCREEN "$W/s3.csv" --out "$W/s3.json" > "$W/s3.log" 2>&1 &
mp=$!
killed=""
if wait_for "[ \$(wc -l 2>/dev/null < '$W/s3.json.partial' || echo 0) -ge 4 ]" 300; then
    victim=$(rank_pid $mp 0) && kill -9 "$victim" && killed=yes
fi
wait $mp
cut_rc=$?
done_before=$(($(wc -l < "$W/s3.json.partial") - 1))
$MPIRUN "$IONHOP" $SCREEN "$W/s3.csv" --out "$W/s3.json" > "$W/s3b.log" 2>&1
rc=$?
if [ -n "$killed" ] && [ $cut_rc -ne 0 ] && [ $rc -eq 0 ] && grep -q "screen: resuming" "$W/s3b.log" &&
    cmp -s "$W/s1.json" "$W/s3.json" && cmp -s "$W/s1.csv" "$W/s3.csv"; then
    pass "screen resume (rank 0 killed with $done_before of 10 done; resumed to the 1-process results)"
else
    bad "screen resume (killed: ${killed:-no}, interrupted rc $cut_rc, resumed rc $rc)" "$W/s3.log" "$W/s3b.log"
fi

# -- errors: a missing data file on two ranks ends the job with the message
timeout 120 $MPIRUN "$IONHOP" train --data "$W/missing.json" --out "$W/x.ionhop" > "$W/err.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "missing.json" "$W/err.log"; then
    pass "errors (a missing file on 2 ranks: exit $rc with the message)"
else
    bad "errors (rc $rc)" "$W/err.log"
fi
# a one-process command under mpirun is refused (each rank would do the whole job)
timeout 120 $MPIRUN "$IONHOP" info models/mpt.ionhop > "$W/one.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "info runs as one process, but was launched as one of 2" "$W/one.log"; then
    pass "one-process commands refused on 2 ranks (exit $rc with the message)"
else
    bad "one-process commands on 2 ranks (rc $rc)" "$W/one.log"
fi

# -- the Slurm example script, with srun standing in as mpirun on two ranks (a tiny network and
#    data, 40 epochs): killed after its third epoch, submitted again it resumes and finishes
mkdir -p "$W/bin" "$W/mptdata"
cat > "$W/bin/srun" <<EOF
#!/bin/sh
for a in "\$@"; do shift; case "\$a" in --cpu-bind=*) ;; *) set -- "\$@" "\$a";; esac; done
exec $MPIRUN "\$@" --epochs 40 --hidden 16 --batch 8 --micro-batch 4
EOF
chmod +x "$W/bin/srun"
"$PY" - "$SHARED/data/pretrain" "$W/mptdata" <<'EOF'
import json, sys
for t in ("fe", "bg", "gv", "ebg", "dc", "ph", "pz"):
    json.dump(json.load(open(f"{sys.argv[1]}/{t}.json"))[:12], open(f"{sys.argv[2]}/{t}.json", "w"))
EOF
SLURM_ENV="PATH=$W/bin:$PATH SLURM_CPUS_PER_TASK=1 DATA=$W/mptdata OUT=$W/mpt.ionhop CACHE=$W/cache"
env $SLURM_ENV bash examples/slurm/pretrain.sbatch > "$W/slurm1.log" 2>&1 &
sp=$!
killed=""
if wait_for "[ -f '$W/mpt.ionhop.ckpt.state' ] && grep -q '^epoch *3/' '$W/slurm1.log'" 300; then
    pkill -9 -f "pretrain.*$W/mpt.ionhop" && killed=yes
fi
wait $sp
cut_rc=$?
env $SLURM_ENV bash examples/slurm/pretrain.sbatch > "$W/slurm2.log" 2>&1
rc=$?
if [ -n "$killed" ] && [ $cut_rc -ne 0 ] && [ $rc -eq 0 ] && grep -q "resuming after epoch" "$W/slurm2.log" &&
    grep -q "^done: 40 epochs" "$W/slurm2.log" && [ -f "$W/mpt.ionhop" ] && [ ! -f "$W/mpt.ionhop.ckpt.state" ]; then
    pass "slurm (examples/slurm/pretrain.sbatch killed after epoch 3, submitted again: resumed and finished)"
else
    bad "slurm (killed: ${killed:-no}, interrupted rc $cut_rc, resubmitted rc $rc)" "$W/slurm1.log" "$W/slurm2.log"
fi

# -- the benchmark on two ranks (sizes only checked: no timed assertions)
if $MPIRUN "$BENCH" allreduce --repeat 3 > "$W/bench.log" 2>&1 && grep -q "2 ranks, hidden 64" "$W/bench.log"; then
    pass "bench allreduce"
else
    bad "bench allreduce" "$W/bench.log"
fi

echo "$((n - fail))/$n MPI tests passed"
[ "$fail" -eq 0 ]
