#!/usr/bin/env python3
"""Summarise cross-validated predictions (the CSV of `ionhop finetune --folds K`):
overall metrics as ionhop prints them, then by mobile ion, by barrier range and by how close the
straight path comes to a host atom (as `ionhop predict` reports it). Bias = mean(prediction - target).

usage: tools/cv_summary.py CV.csv[,CV2.csv,...] [DATA.json]   (DATA: the records, for the mobile ion)
Several CSVs (comma-separated): the mean of their held-out predictions, i.e. the cross-validation
of an ensemble of those recipes. Their fold assignments must be identical (same records and
--seed), so no member saw a record it predicts; the script checks this.
With an ensemble (an --ensemble run's spread column, or several CSVs) it also says how well the
spread ranks the errors and how often the error lies within one and two spreads.
Plain Python (no numpy); for docs/results.md, never needed by the build or the tests."""
import csv
import json
import math
import sys


def metrics(rows):
    n = len(rows)
    if n == 0:
        return None
    y = [r[0] for r in rows]
    p = [r[1] for r in rows]
    err = [a - b for a, b in zip(p, y)]
    mae = sum(abs(e) for e in err) / n
    rmse = math.sqrt(sum(e * e for e in err) / n)
    mean = sum(y) / n
    sst = sum((v - mean) ** 2 for v in y)
    r2 = 1 - sum(e * e for e in err) / sst if sst > 0 else float("nan")
    tp = sum(1 for a, b in zip(y, p) if a < 0.65 and b < 0.65)
    fp = sum(1 for a, b in zip(y, p) if a >= 0.65 and b < 0.65)
    fn = sum(1 for a, b in zip(y, p) if a < 0.65 and b >= 0.65)
    tn = n - tp - fp - fn
    acc = (tp + tn) / n
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    return dict(n=n, mae=mae, rmse=rmse, r2=r2, acc=acc, prec=prec, rec=rec, bias=sum(err) / n)


def line(name, m, col="prediction"):
    if not m:
        return
    print(f"| {name} | {m['n']} | {m['mae']:.3f} | {m['rmse']:.3f} | {m['r2']:.3f} | "
          f"{100 * m['acc']:.1f} % | {100 * m['prec']:.1f} % | {100 * m['rec']:.1f} % | {m['bias']:+.3f} |")


def closest_approach(atoms):
    """Closest distance of the segment image 0 -> image 4 to sites 5.. (translations -2..2 of each
    site's offset from the midpoint reduced to [-0.5, 0.5]; the records' hops are short enough)."""
    L = atoms["lattice_mat"]
    f = atoms["coords"]
    cart = lambda v: [sum(v[i] * L[i][k] for i in range(3)) for k in range(3)]
    mid = [(f[0][c] + f[4][c]) / 2 for c in range(3)]
    p, q = cart(f[0]), cart(f[4])
    v = [q[k] - p[k] for k in range(3)]
    vv = sum(x * x for x in v)
    best = float("inf")
    for j in range(5, len(f)):
        d = [f[j][c] - mid[c] for c in range(3)]
        d = [x - round(x) for x in d]
        for a in range(-2, 3):
            for b in range(-2, 3):
                for c in range(-2, 3):
                    x = cart([d[0] + a + mid[0], d[1] + b + mid[1], d[2] + c + mid[2]])
                    w = [x[k] - p[k] for k in range(3)]
                    t = min(1.0, max(0.0, sum(w[k] * v[k] for k in range(3)) / vv))
                    r = math.sqrt(sum((w[k] - t * v[k]) ** 2 for k in range(3)))
                    best = min(best, r)
    return best


def main():
    runs = [list(csv.DictReader(open(f))) for f in sys.argv[1].split(",")]
    rows = runs[0]
    if len(runs) > 1:
        for run in runs[1:]:
            fold = {r["jid"]: r["fold"] for r in run}
            if len(run) != len(rows) or any(fold.get(r["jid"]) != r["fold"] for r in rows):
                sys.exit("cv_summary: the CSVs do not hold the same records in the same folds")
        pred, sq = {}, {}
        for run in runs:
            for r in run:
                y = float(r["prediction"])
                pred[r["jid"]] = pred.get(r["jid"], 0.0) + y / len(runs)
                sq[r["jid"]] = sq.get(r["jid"], 0.0) + y * y / len(runs)
        spread = {j: math.sqrt(max(0.0, sq[j] - pred[j] ** 2)) for j in pred}
        rows = [dict(r, prediction=str(pred[r["jid"]]), single=str(pred[r["jid"]]), spread=str(spread[r["jid"]]))
                for r in rows]
    ion, approach = {}, {}
    if len(sys.argv) > 2:
        for r in json.load(open(sys.argv[2])):
            ion[str(r["jid"])] = r["atoms"]["elements"][0]
            approach[str(r["jid"])] = closest_approach(r["atoms"])
    print("| subset | n | MAE (eV) | RMSE (eV) | R² | accuracy | precision | recall | bias (eV) |")
    print("|---|---|---|---|---|---|---|---|---|")
    cols = ["prediction"] + (["single"] if any(r["single"] != r["prediction"] for r in rows) else [])
    for col in cols:
        data = [(float(r["target"]), float(r[col]), r["jid"]) for r in rows]
        tag = "" if col == "prediction" else " (single model)"
        line("all" + tag, metrics([(a, b) for a, b, _ in data]))
        if col != "prediction":
            continue
        for el in sorted(set(ion.values())):
            sub = [(a, b) for a, b, j in data if ion.get(j) == el]
            if len(sub) >= 10:
                line(f"mobile {el}", metrics(sub))
        for lo, hi in [(0, 0.65), (0.65, 1.5), (1.5, 100)]:
            line(f"Em {lo}–{hi} eV" if hi < 100 else f"Em ≥ {lo} eV",
                 metrics([(a, b) for a, b, _ in data if lo <= a < hi]))
        for lo, hi in [(0, 1.0), (1.0, 1.4), (1.4, 100)] if approach else []:
            line(f"path within {hi} Å of an atom" if lo == 0 else
                 f"closest approach {lo}–{hi} Å" if hi < 100 else f"closest approach ≥ {lo} Å",
                 metrics([(a, b) for a, b, j in data if lo <= approach[j] < hi]))
    spread_report(rows)


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va > 0 and vb > 0 else float("nan")


def spread_report(rows):
    """Is the ensemble spread worth printing? Its rank correlation with the error, the error by
    spread tercile, and how often the error lies within one and two spreads."""
    sp = [float(r.get("spread") or 0) for r in rows]
    if not any(s > 0 for s in sp):
        return
    err = [abs(float(r["prediction"]) - float(r["target"])) for r in rows]
    n = len(rows)
    print(f"\nspread vs |error| ({n} records): Spearman {spearman(sp, err):.2f}; "
          f"|error| <= spread {100 * sum(e <= s for e, s in zip(err, sp)) / n:.0f} %, "
          f"<= 2 spread {100 * sum(e <= 2 * s for e, s in zip(err, sp)) / n:.0f} %")
    order = sorted(range(n), key=lambda i: sp[i])
    for t, name in enumerate(["lowest", "middle", "highest"]):
        part = order[t * n // 3:(t + 1) * n // 3]
        print(f"  {name} third of spread ({sp[part[0]]:.3f}-{sp[part[-1]]:.3f} eV): "
              f"MAE {sum(err[i] for i in part) / len(part):.3f} eV")


if __name__ == "__main__":
    main()
