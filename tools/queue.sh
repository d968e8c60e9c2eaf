#!/bin/sh
# Long jobs one at a time (the 2-core machine must never run two heavy jobs at once).
# Usage: nohup sh tools/queue.sh QUEUE_FILE LOG_DIR > LOG_DIR/queue.out 2>&1 &
# QUEUE_FILE holds lines "NAME<TAB>shell command". Lines may be appended (or not-yet-started
# lines edited) while the queue runs; it re-reads the file before each job and stops when no
# line is left. Each job's output goes to LOG_DIR/NAME.log; start, end, exit code and seconds
# to LOG_DIR/queue.log. Give resumable jobs their resume flag (finetune --folds … --resume,
# pretrain --resume) so that restarting the queue after an interruption loses at most one fold
# or epoch. A job whose NAME already ended with rc=0 in LOG_DIR/queue.log is skipped, so starting
# the queue again on the same files runs only what is left (it never overwrites a finished job's
# output).
set -u
Q=$1
D=$2
mkdir -p "$D"
i=1
while :; do
  line=$(sed -n "${i}p" "$Q")
  if [ -z "$line" ]; then
    sleep 20
    line=$(sed -n "${i}p" "$Q")
    [ -z "$line" ] && break
  fi
  name=${line%%	*}
  cmd=${line#*	}
  if [ -f "$D/queue.log" ] && grep -qF " end $name rc=0 " "$D/queue.log"; then
    i=$((i + 1))
    continue
  fi
  echo "$(date -u +%FT%TZ) start $name: $cmd" >> "$D/queue.log"
  t0=$(date +%s)
  sh -c "$cmd" > "$D/$name.log" 2>&1
  rc=$?
  echo "$(date -u +%FT%TZ) end $name rc=$rc $(( $(date +%s) - t0 )) s" >> "$D/queue.log"
  i=$((i + 1))
done
