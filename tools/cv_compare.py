#!/usr/bin/env python3
"""Paired comparison of two cross-validations on the same folds (CSVs of `ionhop finetune --folds K`).

usage: tools/cv_compare.py A.csv B.csv
Prints the MAE of each per fold and overall, and the paired difference of absolute errors
MAE(A) - MAE(B) with its standard error over records (records treated as independent, which
sister pathways of one host are not quite), and on how many records B is closer.
Plain Python; for docs/results.md, never needed by the build or the tests."""
import csv
import math
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a = {r["jid"]: r for r in csv.DictReader(open(sys.argv[1]))}
    b = {r["jid"]: r for r in csv.DictReader(open(sys.argv[2]))}
    if a.keys() != b.keys() or any(a[j]["fold"] != b[j]["fold"] for j in a):
        sys.exit("cv_compare: the CSVs do not hold the same records in the same folds")
    err = lambda r: abs(float(r["prediction"]) - float(r["target"]))
    folds = sorted({int(r["fold"]) for r in a.values()})
    print("fold | n | MAE A | MAE B")
    for f in folds:
        ids = [j for j in a if int(a[j]["fold"]) == f]
        print(f"{f} | {len(ids)} | {sum(err(a[j]) for j in ids) / len(ids):.3f} | "
              f"{sum(err(b[j]) for j in ids) / len(ids):.3f}")
    d = [err(a[j]) - err(b[j]) for j in a]
    n = len(d)
    mean = sum(d) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
    print(f"all | {n} | {sum(err(r) for r in a.values()) / n:.3f} | {sum(err(r) for r in b.values()) / n:.3f}")
    print(f"paired MAE(A) - MAE(B) = {mean:.4f} ± {se:.4f} eV (standard error); B closer on "
          f"{sum(x > 0 for x in d)} of {n} records")


if __name__ == "__main__":
    main()
