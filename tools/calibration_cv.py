#!/usr/bin/env python3
"""Conformal prediction intervals from host-grouped cross-validation (docs/results.md §34).

Reads cross-validated predictions of one recipe run with several seeds (each file: jid, fold,
target, prediction, spread; every prediction made by a model that never saw the record's host),
averages them per record (the ensemble mean; the seeds' population standard deviation is the
ensemble spread), and evaluates split-conformal intervals  pred ± q · scale  with
scale = spread + a · max(pred, 0) + b, q the ceil((n+1)·level)-th smallest calibration score
|target − pred| / scale. Coverage is measured by cross-conformal evaluation: the scores of four
folds calibrate the fifth; over all records, and per mobile ion (Mondrian: each ion with at least
40 calibration records has its own scores, the other ions share theirs), as the model stores them. Writes the combined CSV that `ionhop calibrate` stores in a model.

  /usr/bin/python3 tools/calibration_cv.py --out docs/cv/default_recipe_3seeds.cv.csv
"""
import argparse, csv, json, os
import numpy as np

BASE = "docs/cv/m3path_tt1e-3_val0_lr3e-3_pdesc_mpt_e20"
LEVELS = (0.68, 0.90, 0.95)
EM_BINS = ((0, 0.4), (0.4, 0.65), (0.65, 1.0), (1.0, 1.5), (1.5, 99))


def load(files):
    rows = [list(csv.DictReader(open(f))) for f in files]
    for rr in rows[1:]:
        assert [r["jid"] for r in rr] == [r["jid"] for r in rows[0]], "files hold other records"
    y = np.array([float(r["target"]) for r in rows[0]])
    p = np.array([[float(r["prediction"]) for r in rr] for rr in rows])
    fold = np.array([int(r["fold"]) for r in rows[0]])  # host-grouped folds of the first file
    jid = [r["jid"] for r in rows[0]]
    return jid, y, p.mean(0), p.std(0), fold


def quantile(scores, level):
    n = len(scores)
    k = min(n, int(np.ceil((n + 1) * level)))
    return np.sort(scores)[k - 1]


def cross_conformal(y, pred, scale, fold, level):
    """coverage flags and widths, each fold's interval from the other folds' scores"""
    cov = np.zeros(len(y), bool)
    width = np.zeros(len(y))
    score = np.abs(y - pred) / scale
    for k in np.unique(fold):
        te = fold == k
        q = quantile(score[~te], level)
        cov[te] = np.abs(y[te] - pred[te]) <= q * scale[te]
        width[te] = 2 * q * scale[te]
    return cov, width


def p_good(y, pred, scale, fold, threshold=0.65):
    """P(Em < threshold) from the other folds' signed scores, per record"""
    out = np.zeros(len(y))
    signed = (y - pred) / scale
    for k in np.unique(fold):
        te = fold == k
        cal = signed[~te]
        out[te] = [(pr + sc * cal < threshold).mean() for pr, sc in zip(pred[te], scale[te])]
    return out


GROUP_RECORDS, GROUP_MIN = 40, 20  # IH_CAL_GROUP_RECORDS, IH_CAL_GROUP_MIN (include/ionhop_train.h)


def ion_groups(ion, cal):
    """each record's calibration group as `ionhop calibrate` forms it from the records cal: its ion
    if that ion has GROUP_RECORDS calibration records, else "other" if the other ions have
    GROUP_MIN together, else "all" (every calibration record)"""
    ions, counts = np.unique(ion[cal], return_counts=True)
    own = set(ions[counts >= GROUP_RECORDS])
    n_other = counts[counts < GROUP_RECORDS].sum()
    return np.array([e if e in own else ("other" if n_other >= GROUP_MIN else "all") for e in ion])


def per_ion(y, pred, scale, fold, ion, level, threshold=0.65):
    """cross-conformal coverage, width and P(Em < threshold) with per-ion scores (Mondrian):
    each record calibrated by the other folds' records of its group"""
    cov, width, pg = np.zeros(len(y), bool), np.zeros(len(y)), np.zeros(len(y))
    score, signed = np.abs(y - pred) / scale, (y - pred) / scale
    for k in np.unique(fold):
        te, cal = fold == k, fold != k
        grp = ion_groups(ion, cal)
        for g in set(grp[te]):
            m = te & (grp == g)
            c = cal & (grp == g) if g != "all" else cal
            q = quantile(score[c], level)
            cov[m] = np.abs(y[m] - pred[m]) <= q * scale[m]
            width[m] = 2 * q * scale[m]
            pg[m] = [(pr + sc * signed[c] < threshold).mean() for pr, sc in zip(pred[m], scale[m])]
    return cov, width, pg


def report(name, y, pred, ion, results, pg):
    print("\n%s" % name)
    for lv, (c, w) in zip(LEVELS, results):
        print("\n%d %%: coverage %.3f, mean width %.3f eV, mean width for pred < 0.65 eV %.3f eV" %
              (round(lv * 100), c.mean(), w.mean(), w[pred < 0.65].mean()))
        print("  by ion: " + ", ".join("%s %.2f (%d)" % (e, c[ion == e].mean(), (ion == e).sum())
                                     for e in dict.fromkeys(ion)))
        rare = np.array([(ion == e).sum() < GROUP_RECORDS for e in ion])
        print("  ions with fewer than %d records together: %.2f (%d)" % (GROUP_RECORDS, c[rare].mean(), rare.sum()))
        print("  by target Em: " + ", ".join("%g-%g %.2f (%d)" % (lo, hi, c[(y >= lo) & (y < hi)].mean(),
                                                                  ((y >= lo) & (y < hi)).sum()) for lo, hi in EM_BINS))
        print("  by predicted Em: " + ", ".join("%g-%g %.2f (%d)" % (lo, hi, c[(pred >= lo) & (pred < hi)].mean(),
                                                                     ((pred >= lo) & (pred < hi)).sum())
                                                for lo, hi in EM_BINS))
    print("\nreliability of P(Em < 0.65): | p bin | n | mean p | observed fraction good |")
    for lo, hi in ((0, 0.1), (0.1, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)):
        m = (pg >= lo) & (pg < hi)
        if m.sum():
            print("| %.1f-%.1f | %d | %.2f | %.2f |" % (lo, min(hi, 1), m.sum(), pg[m].mean(), (y[m] < 0.65).mean()))
    print("Brier score %.3f (always the base rate: %.3f)" % (((pg - (y < 0.65)) ** 2).mean(),
                                                           (((y < 0.65).mean() - (y < 0.65)) ** 2).mean()))


def scan_scales(y, pred, spread, fold, ion):
    """per-ion coverage of scale = s·spread + a·max(pred, 0)^k + b over a grid: the largest
    deviation from nominal over the predicted-Em bins and over the ion groups, and the widths"""
    grp = ion_groups(ion, np.ones(len(y), bool))
    rows = []
    for k in (0.5, 1.0, 1.5, 2.0):
        for aa in (0.1, 0.2, 0.5, 1.0):
            for bb in (0.0, 0.02, 0.05, 0.1):
                for sw in (0.0, 1.0):
                    if bb == 0 and sw == 0:
                        continue
                    scale = sw * spread + aa * np.clip(pred, 0, None) ** k + bb
                    if (scale <= 0).any():
                        continue
                    dev_bin = dev_ion = 0.0
                    for lv in LEVELS:
                        c, w, _ = per_ion(y, pred, scale, fold, ion, lv)
                        dev_ion = max([dev_ion] + [abs(c[grp == g].mean() - lv) for g in set(grp)])
                        dev_bin = max([dev_bin] + [abs(c[(pred >= lo) & (pred < hi)].mean() - lv) for lo, hi in EM_BINS])
                        if lv == 0.9:
                            w_low = w[pred < 0.65].mean()
                    rows.append((dev_bin, dev_ion, w_low, k, aa, bb, sw))
    rows.sort()
    print("| max deviation, predicted-Em bins | max deviation, ion groups | 90 % width, pred < 0.65 | scale |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %.3f | %.3f | %.2f eV | %g·spread + %g·pred^%g + %g |" % (r[0], r[1], r[2], r[6], r[4], r[3], r[5]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cv", nargs="+", default=[BASE + ".cv.csv", BASE + "_seed7.cv.csv", BASE + "_seed11.cv.csv"])
    ap.add_argument("--data", default=os.path.join(os.environ.get("IONHOP_SHARED", "../shared"), "data/em/train.json"))
    ap.add_argument("--out", help="combined CSV (jid,fold,target,prediction,spread)")
    ap.add_argument("--scan-scales", action="store_true",
                    help="only: per-ion coverage by predicted Em for other scale forms (results §34)")
    a = ap.parse_args()
    jid, y, pred, spread, fold = load(a.cv)
    ion = np.array([r["atoms"]["elements"][0] for r in json.load(open(a.data))])
    if a.scan_scales:
        scan_scales(y, pred, spread, fold, ion)
        return
    print("%d records, %d seeds; MAE of the seed mean %.3f eV; median spread %.3f eV" %
          (len(y), len(a.cv), np.abs(y - pred).mean(), np.median(spread)))
    cands = {}
    for aa in (0.0, 0.1, 0.2, 0.3, 0.5):
        for bb in (0.02, 0.05, 0.1, 0.2, 0.3):
            cands[(aa, bb)] = spread * 0 + spread + aa * np.clip(pred, 0, None) + bb
    cands[("abs", "")] = np.ones_like(y)
    print("\n| scale | 68 % | 90 % | 95 % | mean width at 90 % (pred < 0.65) | worst Em bin at 90 % |")
    print("|---|---|---|---|---|---|")
    best = None
    for key, scale in cands.items():
        cells, worst = [], 1
        for lv in LEVELS:
            c, w = cross_conformal(y, pred, scale, fold, lv)
            cells.append("%.3f" % c.mean())
            if lv == 0.90:
                w_low = w[pred < 0.65].mean()
                for lo, hi in EM_BINS:
                    m = (y >= lo) & (y < hi)
                    worst = min(worst, c[m].mean())
        name = "constant" if key[0] == "abs" else "spread + %g·pred + %g" % key
        print("| %s | %s | %.3f | %.2f |" % (name, " | ".join(cells), w_low, worst))
        ok = all(abs(float(x) - lv) <= 0.03 for x, lv in zip(cells, LEVELS))
        if ok and (best is None or w_low < best[1]):
            best = (key, w_low, scale)
    key, _, scale = best
    print("\nchosen (narrowest 90 %% interval below 0.65 eV with all three levels within 3 points): %s" % (key,))
    report("scores over all records", y, pred, ion, [cross_conformal(y, pred, scale, fold, lv) for lv in LEVELS],
           p_good(y, pred, scale, fold))
    res = [per_ion(y, pred, scale, fold, ion, lv) for lv in LEVELS]
    report("scores per mobile ion (what `ionhop calibrate --data` stores)", y, pred, ion,
           [(c, w) for c, w, _ in res], res[0][2])
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write("jid,fold,target,prediction,spread\n")
            for j, k, t, p, s in zip(jid, fold, y, pred, spread):
                f.write("%s,%d,%.6g,%.6f,%.6f\n" % (j, k, t, p, s))
        os.replace(tmp, a.out)
        print("combined predictions -> %s" % a.out)


if __name__ == "__main__":
    main()
