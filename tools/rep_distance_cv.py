#!/usr/bin/env python3
"""How the error grows with the distance from the training records in the model's own
representation (docs/results.md §35).

The fold models of a host-grouped cross-validation (finetune --folds 5 --out CV.ionhop writes
CV.ionhop.fold1 … fold5) each get the training domain of their own training records
(`ionhop calibrate --data`, which stores every training record's head input); each fold's
held-out records are then predicted by `ionhop predict --data`, whose rep_distance column is
the distance the shipped applicability check uses. The errors are those of the cross-validated
predictions given with --cv (by default the 3-seed means of docs/results.md §34, whose folds
are those of seed 123, the run whose fold models are used here).

  /usr/bin/python3 tools/rep_distance_cv.py --folds runs/rep/cv123.ionhop --fold-cv runs/rep/cv123.cv.csv
"""
import argparse, csv, json, os, subprocess, tempfile

import numpy as np


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", required=True, help="fold model base: BASE.fold1 … BASE.foldK")
    ap.add_argument("--fold-cv", required=True, help="that run's cross-validated predictions (its fold column)")
    ap.add_argument("--cv", default="docs/cv/default_recipe_3seeds.cv.csv", help="the errors to relate")
    ap.add_argument("--data", default=os.path.join(os.environ.get("IONHOP_SHARED", "../shared"), "data/em/train.json"))
    ap.add_argument("--ionhop", default="build/ionhop")
    ap.add_argument("--work", default=None, help="keep the per-fold files here")
    ap.add_argument("--thresholds", default="1.25,1.5,2,2.5,3")
    a = ap.parse_args()
    recs = json.load(open(a.data))
    fold_rows = list(csv.DictReader(open(a.fold_cv)))
    fold = np.array([int(r["fold"]) for r in fold_rows])
    rows = list(csv.DictReader(open(a.cv)))
    assert len(rows) == len(recs) == len(fold)
    y = np.array([float(r["target"]) for r in rows])
    p = np.array([float(r["prediction"]) for r in rows])
    own = np.array([float(r["prediction"]) for r in fold_rows])
    work = a.work or tempfile.mkdtemp(prefix="repdist.")
    os.makedirs(work, exist_ok=True)
    dist = np.full(len(recs), np.nan)
    for f in sorted(set(fold)):
        tr = [recs[i] for i in range(len(recs)) if fold[i] != f]
        held = [i for i in range(len(recs)) if fold[i] == f]
        trf, hof = os.path.join(work, f"train{f}.json"), os.path.join(work, f"held{f}.json")
        json.dump(tr, open(trf, "w"))
        json.dump([recs[i] for i in held], open(hof, "w"))
        model = os.path.join(work, f"fold{f}.ionhop")
        run([a.ionhop, "calibrate", f"{a.folds}.fold{f}", "--cv", a.cv, "--members", "1", "--pred", "0.5",
             "--const", "0.02", "--data", trf, "--out", model])
        out = os.path.join(work, f"pred{f}.csv")
        run([a.ionhop, "predict", "--model", model, "--data", hof, "--out", out])
        got = list(csv.DictReader(open(out)))
        for i, r in zip(held, got):
            dist[i] = float(r["rep_distance"])
    np.savetxt(os.path.join(work, "rep_distance.txt"), dist, fmt="%.5f")
    err, err_own = np.abs(y - p), np.abs(y - own)
    print(f"records {len(dist)}; distance median {np.median(dist):.2f}, p90 {np.percentile(dist, 90):.2f}, "
          f"p99 {np.percentile(dist, 99):.2f}, max {dist.max():.2f}")
    print(f"Spearman rank correlation of distance and |error|: "
          f"{np.corrcoef(np.argsort(np.argsort(dist)), np.argsort(np.argsort(err)))[0, 1]:.3f}")
    print("\nby distance quintile: range | n | MAE (3-seed mean) | MAE (this run's fold models)")
    edges = np.percentile(dist, [0, 20, 40, 60, 80, 100])
    for k in range(5):
        m = (dist >= edges[k]) & ((dist < edges[k + 1]) if k < 4 else (dist <= edges[k + 1]))
        print(f"{edges[k]:.2f}-{edges[k + 1]:.2f} | {m.sum()} | {err[m].mean():.3f} | {err_own[m].mean():.3f}")
    print("\nthreshold | flagged | MAE flagged | MAE unflagged | own MAE flagged | own unflagged")
    for t in [float(x) for x in a.thresholds.split(",")]:
        m = dist > t
        if m.sum() == 0:
            print(f"{t} | 0 | - | {err.mean():.3f} | - | {err_own.mean():.3f}")
            continue
        print(f"{t} | {m.sum()} | {err[m].mean():.3f} | {err[~m].mean():.3f} | {err_own[m].mean():.3f} | "
              f"{err_own[~m].mean():.3f}")


if __name__ == "__main__":
    main()
