#!/bin/sh
set -e
for w in /tmp/wt_old /tmp/wt_new; do (cd $w && make -j2 build/ionhop >/dev/null 2>&1); done
/tmp/bitcheck/run.sh /tmp/wt_old/build/ionhop /tmp/bitcheck/old17
/tmp/bitcheck/run.sh /tmp/wt_new/build/ionhop /tmp/bitcheck/new17
cd /tmp/bitcheck; for f in old17/*.csv; do n=$(basename $f); cmp -s $f new17/$n && echo "identical $n" || echo "DIFF $n"; done > full_result.txt
