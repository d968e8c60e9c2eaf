#!/bin/sh
# Runs every test binary given; prints a summary; exits non-zero if any failed.
# ASan: leak detection on; OpenMP/OpenBLAS threads limited to keep CI predictable.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OPENBLAS_NUM_THREADS=1
fail=0; n=0
for t in "$@"; do
  n=$((n+1))
  start=$(date +%s)
  if "$t" > "$t.log" 2>&1; then
    echo "PASS $(basename "$t") ($(( $(date +%s) - start ))s)"
  else
    echo "FAIL $(basename "$t") — log:"; sed 's/^/    /' "$t.log" | tail -40
    fail=$((fail+1))
  fi
done
echo "$((n-fail))/$n test programs passed"
[ "$fail" -eq 0 ]
