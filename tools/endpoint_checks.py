#!/usr/bin/python3
"""The figures behind the checks `ionhop predict` makes on a hop (docs/results.md, "Checked hops"; needs
/usr/bin/python3 with numpy; never used by the build or the tests).

usage: tools/endpoint_checks.py DATA.json

For the 5-image records of DATA.json (whose two end points share one host, docs/method.md §1.4,
so no host atom moves between them: tests/unit/test_checked_hops.c checks it):
  1. how far the non-mobile host atoms move between two records of the same host (sister paths,
     `sys_name` without its `_N`, same lattice): each atom against the nearest atom of its element
     in the other record, minimum image;
  2. how close each record's end sites (images 0 and 4) are to their nearest host atom, all
     periodic images;
  3. the hop lengths, for the ambiguity limit of the end-point matcher (a second atom moving more
     than 0.6 of the hop is an error).
Distances are independent of the C code: a plain search over the ±2 neighbouring cells of the
wrapped fractional offsets."""
import collections
import json
import sys

import numpy as np

SHIFTS = np.array([[a, b, c] for a in range(-2, 3) for b in range(-2, 3) for c in range(-2, 3)], dtype=float)


def distances(L, df):
    """Shortest Cartesian length over periodic images of fractional offsets df (..., 3)."""
    df = df - np.round(df)
    return np.linalg.norm((df[..., None, :] + SHIFTS) @ L, axis=-1).min(axis=-1)


def quantiles(label, v, unit="Å"):
    v = np.sort(np.asarray(v, dtype=float))
    qs = [(q, v[min(len(v) - 1, int(q * len(v)))]) for q in (0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99)]
    print(f"{label}: n {len(v)}, min {v[0]:.3f}, " + ", ".join(f"q{int(100 * q):02d} {x:.3f}" for q, x in qs) +
          f", max {v[-1]:.3f} {unit}")


def host_name(sys_name):
    head, _, tail = sys_name.rpartition("_")
    return head if head and tail.isdigit() else sys_name


def main():
    data = json.load(open(sys.argv[1]))
    lat = [np.array(r["atoms"]["lattice_mat"], dtype=float) for r in data]
    frac = [np.array(r["atoms"]["coords"], dtype=float) for r in data]
    els = [r["atoms"]["elements"] for r in data]

    # 1. sister paths of one host
    groups = collections.defaultdict(list)
    for i, r in enumerate(data):
        groups[host_name(r["sys_name"])].append(i)
    pairs = []
    for name, idx in groups.items():
        for x in range(len(idx)):
            for y in range(x + 1, len(idx)):
                i, j = idx[x], idx[y]
                if len(els[i]) != len(els[j]) or np.abs(lat[i] - lat[j]).max() > 1e-3:
                    continue
                ion = els[i][0]
                worst = 0.0
                hi, hj = np.array(els[i][5:]), np.array(els[j][5:])
                for el in set(hi) - {ion}:
                    a, b = frac[i][5:][hi == el], frac[j][5:][hj == el]
                    if len(b):
                        worst = max(worst, float(distances(lat[i], a[:, None, :] - b[None, :, :]).min(axis=1).max()))
                pairs.append((worst, name))
    quantiles("1. non-mobile host atoms between sister paths of one host (largest per pair)", [p[0] for p in pairs])
    print("   pairs identical to 1e-4 Å: %d of %d; the others: %s" % (
        sum(p[0] < 1e-4 for p in pairs), len(pairs),
        ", ".join(f"{n} {w:.3f}" for w, n in sorted(pairs) if w >= 1e-4)))

    # 2. end sites against their nearest host atom
    sites = []
    for r, L, f, e in zip(data, lat, frac, els):
        for k, which in ((0, "initial"), (4, "final")):
            d = distances(L, f[5:] - f[k])
            j = int(np.argmin(d))
            sites.append((float(d[j]), r["sys_name"], which, e[0], e[5 + j]))
    sites.sort()
    quantiles("2. end site to its nearest host atom", [s[0] for s in sites])
    print("   closest: " + "; ".join(f"{n} {w} site {ion}-{host} {d:.3f} Å" for d, n, w, ion, host in sites[:6]))

    # 3. hop lengths
    hops = [float(distances(L, (f[4] - f[0])[None])[0]) for L, f in zip(lat, frac)]
    quantiles("3. hop length", hops)
    print("   0.6 x the shortest hop (a second atom moving further is ambiguous): %.3f Å" % (0.6 * min(hops)))


if __name__ == "__main__":
    main()
