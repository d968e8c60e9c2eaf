#!/usr/bin/env python3
"""Paired comparison of two cross-validations on the same folds (CSVs of `ionhop finetune --folds K`).

usage: tools/cv_compare.py A.csv B.csv
A or B may be several CSVs joined by commas (runs on the same folds): their mean prediction, i.e.
the cross-validation of an ensemble of those runs (what `ionhop merge` builds).
Prints the MAE of each per fold and overall, and the paired difference of absolute errors
MAE(A) - MAE(B) with its standard error over records (records treated as independent, which
sister pathways of one host are not quite), and on how many records B is closer.
Plain Python; for docs/results.md, never needed by the build or the tests."""
import csv
import math
import sys


def paired_report(folds, err_a, err_b):
    """Per-fold MAEs of A and B and their paired difference; folds maps fold -> record ids."""
    print("fold | n | MAE A | MAE B")
    for f, ids in folds.items():
        print(f"{f} | {len(ids)} | {sum(map(err_a, ids)) / len(ids):.3f} | {sum(map(err_b, ids)) / len(ids):.3f}")
    ids = [j for f in folds for j in folds[f]]
    d = [err_a(j) - err_b(j) for j in ids]
    n = len(d)
    mean = sum(d) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
    print(f"all | {n} | {sum(map(err_a, ids)) / n:.3f} | {sum(map(err_b, ids)) / n:.3f}")
    print(f"paired MAE(A) - MAE(B) = {mean:.4f} ± {se:.4f} eV (standard error); B closer on "
          f"{sum(x > 0 for x in d)} of {n} records")


def folds_of(rows, ids):
    """fold -> the ids in it, folds in ascending order"""
    return {f: [j for j in ids if int(rows[j]["fold"]) == f] for f in sorted({int(rows[j]["fold"]) for j in ids})}


def load(arg):
    """jid -> row of one CSV, or of several (comma-joined) with the mean of their predictions"""
    runs = [{r["jid"]: r for r in csv.DictReader(open(f))} for f in arg.split(",")]
    first = runs[0]
    if any(r.keys() != first.keys() or any(r[j]["fold"] != first[j]["fold"] for j in first) for r in runs):
        sys.exit(f"cv_compare: the CSVs of {arg} do not hold the same records in the same folds")
    for j, row in first.items():
        row["prediction"] = str(sum(float(r[j]["prediction"]) for r in runs) / len(runs))
    return first


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    if a.keys() != b.keys() or any(a[j]["fold"] != b[j]["fold"] for j in a):
        sys.exit("cv_compare: the CSVs do not hold the same records in the same folds")
    err = lambda rows: lambda j: abs(float(rows[j]["prediction"]) - float(rows[j]["target"]))
    paired_report(folds_of(a, list(a)), err(a), err(b))


if __name__ == "__main__":
    main()
