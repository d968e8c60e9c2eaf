#!/bin/sh
# usage: run.sh BINARY OUTDIR
B=$1; O=$2; mkdir -p $O
cd /work/main
for m in models/*.ionhop models/single_task/*.ionhop; do
  n=$(echo $m | tr / _)
  $B predict --model $m --data ../shared/data/em/train.json --out $O/$n.csv > $O/$n.log 2>&1
  echo "$m rc=$?" >> $O/done.txt
done
