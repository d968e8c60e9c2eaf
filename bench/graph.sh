#!/usr/bin/env bash
# Graph-construction benchmark (bench/README.md, "Graph construction"): throughput on the Em
# training set and the largest pre-training file at 1 and 2 threads, and the graph-size totals of
# every shared data file in both key modes, checked against the reference's (docs/method.md §10.9 and
# ../shared/reference/torch-alignn/RESULTS.md). About a minute on 2 cores.
# Usage: bash bench/graph.sh            (from the repository root, after `make`)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/ionhop-bench
DATA=${IONHOP_SHARED:-../shared}/data
[ -x "$BIN" ] || { echo "build first: make" >&2; exit 1; }

echo "== throughput (best of 5 repeats; wall clock; machine load: $(cut -d' ' -f1-3 /proc/loadavg))"
for f in em/train.json pretrain/fe.json; do
  for t in 1 2; do
    OMP_NUM_THREADS=$t /usr/bin/time -f "  process: wall %e s, user %U s, sys %S s, max RSS %M kB" \
      "$BIN" graph --data "$DATA/$f" --repeat 5 2>&1
  done
done

echo "== totals of all files, both key modes (non-canonical / canonical)"
for mode in "" --canonical; do
  sn=0; se=0; st=0
  for f in pretrain/fe.json pretrain/bg.json pretrain/gv.json pretrain/ebg.json pretrain/dc.json \
           pretrain/ph.json pretrain/pz.json; do
    line=$("$BIN" graph --data "$DATA/$f" $mode | grep 'totals:')
    read -r n e t <<<"$(sed -E 's/.*ΣN ([0-9]+)  ΣE ([0-9]+)  ΣT ([0-9]+).*/\1 \2 \3/' <<<"$line")"
    sn=$((sn + n)); se=$((se + e)); st=$((st + t))
  done
  em=$("$BIN" graph --data "$DATA/em/train.json" $mode | grep 'totals:')
  echo "  em/train.json ${mode:-(non-canonical)}: $em"
  if [ -z "$mode" ]; then want="672791 16242450 394878058"; else want="672791 8877614 118525784"; fi
  got="$sn $se $st"
  echo "  pre-training (7 files) ${mode:-(non-canonical)}: ΣN ΣE ΣT = $got  reference $want  $([ "$got" = "$want" ] && echo MATCH || echo MISMATCH)"
done
