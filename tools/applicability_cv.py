#!/usr/bin/env python3
"""How the error grows outside the training domain (docs/results.md §35).

For each record of the cross-validated predictions, the domain is built from the records of the
other folds only (as a new structure meets the bundled model's training set), and the record is
flagged when
  * its mobile ion has fewer than --rare records in that domain (or none),
  * a host element of it occurs in no domain record,
  * its hop length or its volume per atom falls outside the domain's [1st, 99th] percentile range,
  * its straight path passes closer to a host atom than the domain's 1st percentile.
Prints the MAE, the 90 % interval coverage of flagged against unflagged records for each reason.

  /usr/bin/python3 tools/applicability_cv.py [--cv docs/cv/default_recipe_3seeds.cv.csv]
"""
import argparse, csv, json, os
from collections import Counter

import numpy as np


def geometry(rec):
    a = rec["atoms"]
    L = np.array(a["lattice_mat"], float)
    X = np.array(a["coords"], float)
    F = X @ np.linalg.inv(L) if a.get("cartesian") else X
    el = a["elements"]
    start, end = F[0], F[4]
    d = end - start
    hop = np.linalg.norm(d @ L)
    host = F[5:]
    closest = 1e9
    for t in np.linspace(0, 1, 21):
        p = start + t * d
        diff = host - p
        diff -= np.round(diff)
        closest = min(closest, np.linalg.norm(diff @ L, axis=1).min())
    vol = abs(np.linalg.det(L)) / (len(el) - 4)  # the ion once + host atoms
    return el[0], set(el[5:]), hop, closest, vol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cv", default="docs/cv/default_recipe_3seeds.cv.csv")
    ap.add_argument("--data", default=os.path.join(os.environ.get("IONHOP_SHARED", "../shared"), "data/em/train.json"))
    ap.add_argument("--rare", type=int, default=40)
    ap.add_argument("--level-q", type=float, default=None)
    a = ap.parse_args()
    rows = list(csv.DictReader(open(a.cv)))
    recs = json.load(open(a.data))
    y = np.array([float(r["target"]) for r in rows])
    p = np.array([float(r["prediction"]) for r in rows])
    s = np.array([float(r["spread"]) for r in rows])
    fold = np.array([int(r["fold"]) for r in rows])
    geo = [geometry(r) for r in recs]
    ion = np.array([g[0] for g in geo])
    hop = np.array([g[2] for g in geo])
    close = np.array([g[3] for g in geo])
    vol = np.array([g[4] for g in geo])
    err = np.abs(y - p)
    # 90 % conformal coverage, cross-fitted with the bundled scale
    scale = s + 0.5 * np.clip(p, 0, None) + 0.02
    cover = np.zeros(len(y), bool)
    flags = {k: np.zeros(len(y), bool) for k in ("rare ion", "unseen host element", "hop length", "closest approach",
                                                 "volume per atom")}
    for k in np.unique(fold):
        te, tr = fold == k, fold != k
        sc = np.sort(np.abs(y[tr] - p[tr]) / scale[tr])
        q = sc[min(len(sc), int(np.ceil((len(sc) + 1) * 0.9))) - 1]
        cover[te] = err[te] <= q * scale[te]
        count = Counter(ion[tr])
        seen = set().union(*[geo[i][1] for i in np.where(tr)[0]])
        for i in np.where(te)[0]:
            flags["rare ion"][i] = count[ion[i]] < a.rare
            flags["unseen host element"][i] = bool(geo[i][1] - seen)
            for name, v in (("hop length", hop), ("volume per atom", vol)):
                lo, hi = np.percentile(v[tr], [1, 99])
                flags[name][i] = not (lo <= v[i] <= hi)
            # a path closer to a host atom than almost any training path (the low tail only)
            flags["closest approach"][i] = close[i] < np.percentile(close[tr], 1)
    anyf = np.zeros(len(y), bool)
    print("| reason | flagged | MAE flagged | MAE unflagged | 90 % coverage flagged | unflagged |")
    print("|---|---|---|---|---|---|")
    for name, f in flags.items():
        anyf |= f
        if f.sum():
            print("| %s | %d | %.3f | %.3f | %.2f | %.2f |" % (name, f.sum(), err[f].mean(), err[~f].mean(),
                                                            cover[f].mean(), cover[~f].mean()))
        else:
            print("| %s | 0 | | %.3f | | |" % (name, err.mean()))
    print("| any | %d | %.3f | %.3f | %.2f | %.2f |" % (anyf.sum(), err[anyf].mean(), err[~anyf].mean(),
                                                      cover[anyf].mean(), cover[~anyf].mean()))
    print("\nrecords per ion:", dict(Counter(ion)))


if __name__ == "__main__":
    main()
