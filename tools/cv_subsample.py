#!/usr/bin/env python3
"""How a held-out figure on a small test split scatters: MAE, R² and accuracy of random 60-record
subsets (20 000 draws, seeded) of cross-validated predictions, the size of the published
reference's test split. usage: tools/cv_subsample.py CV.csv [CV2.csv ...]
Prints the median and 5-95 % range, and how often a subset reaches the published MAE 0.261 eV,
R² 0.703 and accuracy 80 %. Plain Python; for docs/results.md only."""
import csv
import random
import sys


def main():
    for f in sys.argv[1:]:
        rows = [(float(r["target"]), float(r["prediction"])) for r in csv.DictReader(open(f))]
        rng = random.Random(1)
        maes, r2s, accs = [], [], []
        for _ in range(20000):
            s = rng.sample(rows, 60)
            maes.append(sum(abs(p - t) for t, p in s) / 60)
            m = sum(t for t, _ in s) / 60
            sst = sum((t - m) ** 2 for t, _ in s)
            r2s.append(1 - sum((p - t) ** 2 for t, p in s) / sst)
            accs.append(sum((t < 0.65) == (p < 0.65) for t, p in s) / 60)
        maes.sort()
        r2s.sort()
        q = lambda a, x: a[int(x * len(a))]
        print(f"{f}: MAE median {q(maes, .5):.3f}, 5-95 % {q(maes, .05):.3f}-{q(maes, .95):.3f}, "
              f"P(MAE <= 0.261) {sum(x <= 0.261 for x in maes) / len(maes):.2f}; "
              f"R² median {q(r2s, .5):.2f}, 5-95 % {q(r2s, .05):.2f}-{q(r2s, .95):.2f}, "
              f"P(R² >= 0.703) {sum(x >= 0.703 for x in r2s) / len(r2s):.2f}; "
              f"P(accuracy >= 80 %) {sum(a >= 0.8 for a in accs) / len(accs):.2f}")


if __name__ == "__main__":
    main()
