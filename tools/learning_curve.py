#!/usr/bin/env python3
"""Learning curve from cross-validations on the same folds with `finetune --train-fraction F`.

usage: tools/learning_curve.py F1=A.csv F2=B.csv ... [--target 0.22]
Each CSV is a `finetune --folds K` run on the same folds (same --seed) whose folds trained on a
share F of their training records (F=1: the full run). Prints, per F, the mean training-set size,
the held-out MAE per fold and overall, and the paired difference against the largest F (records
treated as independent, which sister pathways are not quite). Then two fits of MAE against the
training-set size N: a straight line in log2 N (the gain per doubling) and a power law a·N^-b
(log MAE linear in log N), both without a floor (no irreducible error), so optimistic; and, with
four or more runs, a power law over a floor c + a·N^-b (b on a grid of 0.01, the rest by least
squares), whose floor is poorly fixed by a few noisy points. Each fit is extrapolated to the N
at which it would reach --target.
Plain Python; for docs/results.md, never needed by the build or the tests."""
import csv
import math
import sys


def load(path):
    return {r["jid"]: r for r in csv.DictReader(open(path))}


def fit_line(xs, ys):
    """least squares y = a + b x"""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def main(argv):
    target = 0.22
    runs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--target":
            target = float(argv[i + 1])
            i += 2
            continue
        f, path = argv[i].split("=", 1)
        runs.append((float(f), path, load(path)))
        i += 1
    if len(runs) < 2:
        sys.exit(__doc__)
    runs.sort(key=lambda r: r[0])
    ref = runs[-1][2]
    ids = list(ref)
    folds = sorted({int(ref[j]["fold"]) for j in ids})
    for _, path, rows in runs:
        if rows.keys() != ref.keys() or any(rows[j]["fold"] != ref[j]["fold"] for j in ids):
            sys.exit(f"{path}: not the same records and folds as {runs[-1][1]}")
    n = len(ids)
    err = {path: {j: abs(float(rows[j]["prediction"]) - float(rows[j]["target"])) for j in ids}
           for _, path, rows in runs}
    # each fold trains on the other folds' records, a share F of them
    pool = sum(n - sum(int(ref[j]["fold"]) == f for j in ids) for f in folds) / len(folds)
    print(f"{n} records, {len(folds)} folds, {pool:.0f} training records per fold at F = 1")
    print("F | N (mean) | " + " | ".join(f"fold {f}" for f in folds) + " | MAE | paired vs F = %g" % runs[-1][0])
    xs, ys = [], []
    e_ref = err[runs[-1][1]]
    for frac, path, rows in runs:
        e = err[path]
        per = [sum(e[j] for j in ids if int(ref[j]["fold"]) == f) / sum(int(ref[j]["fold"]) == f for j in ids)
               for f in folds]
        mae = sum(e.values()) / n
        d = [e[j] - e_ref[j] for j in ids]
        md = sum(d) / n
        se = math.sqrt(sum((x - md) ** 2 for x in d) / (n - 1) / n)
        N = frac * pool
        xs.append(N)
        ys.append(mae)
        print(f"{frac:g} | {N:.0f} | " + " | ".join(f"{p:.3f}" for p in per) + f" | {mae:.3f} | "
              + (f"+{md:.3f} ± {se:.3f}" if path != runs[-1][1] else ""))
    a, b = fit_line([math.log2(x) for x in xs], ys)
    print(f"\nMAE = {a:.3f} {b:+.4f}·log2 N: {b:+.3f} eV per doubling of the training set")
    if b < 0:
        need = 2 ** ((target - a) / b)
        print(f"  reaches {target} eV at N ≈ {need:.3g} ({need / pool:.3g}× the {pool:.0f} records of a fold)")
    la, lb = fit_line([math.log(x) for x in xs], [math.log(y) for y in ys])
    print(f"MAE = {math.exp(la):.3f}·N^{lb:.3f}")
    if lb < 0:
        need = math.exp((math.log(target) - la) / lb)
        print(f"  reaches {target} eV at N ≈ {need:.3g} ({need / pool:.3g}× the {pool:.0f} records of a fold)")

    if len(xs) >= 4:
        best = None
        for k in range(1, 301):
            p = k / 100
            c, a_ = fit_line([x ** -p for x in xs], ys)
            r = sum((c + a_ * x ** -p - y) ** 2 for x, y in zip(xs, ys))
            if a_ > 0 and (best is None or r < best[0]):
                best = (r, p, a_, c)
        if best:
            r, p, a_, c = best
            print(f"MAE = {c:.3f} + {a_:.3g}·N^-{p:.2f} (rms residual {math.sqrt(r / len(xs)):.4f} eV)")
            if c < target:
                need = (a_ / (target - c)) ** (1 / p)
                print(f"  reaches {target} eV at N ≈ {need:.3g} ({need / pool:.3g}× the {pool:.0f} records of a fold)")
            else:
                print(f"  never reaches {target} eV (floor {c:.3f})")

if __name__ == "__main__":
    main(sys.argv[1:])
