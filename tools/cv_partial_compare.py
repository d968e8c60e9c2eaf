#!/usr/bin/env python3
"""Paired comparison of an unfinished cross-validation with finished ones on the same folds.

usage: tools/cv_partial_compare.py CV_OUT.partial DATA.json OTHER.cv.csv [OTHER2.cv.csv …]
The .partial file (`ionhop finetune --folds K`, kept until the last fold ends) lists the held-out
predictions of the finished folds by record index in DATA.json; each OTHER is a finished run's CSV
on the same folds (same --folds and --seed). Prints, per finished fold, both MAEs and the paired
difference MAE(partial) - MAE(other) with its standard error over records.
Plain Python; for docs/results.md, never needed by the build or the tests."""
import csv
import json
import math
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    recs = json.load(open(sys.argv[2]))
    lines = open(sys.argv[1]).read().split("\n")
    if not lines or lines[0] != "ionhop cv partial":
        sys.exit(f"cv_partial_compare: {sys.argv[1]}: not an ionhop cv .partial file")
    pred = {}
    for line in lines[3:]:
        if line.strip():
            f = line.split()
            pred[str(recs[int(f[0])]["jid"])] = float(f[1])
    for other in sys.argv[3:]:
        b = {r["jid"]: r for r in csv.DictReader(open(other))}
        if not pred.keys() <= b.keys():
            sys.exit(f"cv_partial_compare: {other} lacks records of the partial run")
        err_b = lambda j: abs(float(b[j]["prediction"]) - float(b[j]["target"]))
        err_a = lambda j: abs(pred[j] - float(b[j]["target"]))
        for fo in sorted({b[j]["fold"] for j in pred}, key=int):
            ids = [j for j in pred if b[j]["fold"] == fo]
            print(f"{other}: fold {fo}, {len(ids)} records: partial {sum(map(err_a, ids)) / len(ids):.3f}, "
                  f"other {sum(map(err_b, ids)) / len(ids):.3f}")
        d = [err_a(j) - err_b(j) for j in pred]
        m = sum(d) / len(d)
        se = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d))
        print(f"  {len(d)} records: MAE(partial) - MAE(other) = {m:+.4f} ± {se:.4f} eV (standard error)")


if __name__ == "__main__":
    main()
