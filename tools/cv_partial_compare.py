#!/usr/bin/env python3
"""Paired comparison of an unfinished cross-validation with finished ones on the same folds.

usage: tools/cv_partial_compare.py CV_OUT.partial DATA.json OTHER.cv.csv [OTHER2.cv.csv …]
The .partial file (`ionhop finetune --folds K`, kept until the last fold ends) lists the held-out
predictions of the finished folds by record index in DATA.json; each OTHER is a finished run's CSV
on the same folds (same --folds and --seed). Prints, as tools/cv_compare.py does, per finished fold
both MAEs and the paired difference MAE(partial) - MAE(other) with its standard error over records.
Plain Python; for docs/results.md, never needed by the build or the tests."""
import csv
import json
import sys

from cv_compare import folds_of, paired_report


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
        print(f"A = the partial run, B = {other}")
        paired_report(folds_of(b, list(pred)), lambda j: abs(pred[j] - float(b[j]["target"])),
                      lambda j: abs(float(b[j]["prediction"]) - float(b[j]["target"])))

if __name__ == "__main__":
    main()
