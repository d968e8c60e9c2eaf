#!/usr/bin/env python3
"""Rewrite 5-image path records in a supercell, to measure how much a prediction depends on the
cell the user happens to give.

Usage: supercell_records.py IN.json OUT.json [--axis shortest|a|b|c] [--times 2]

A record holds the ion at five points of its hop (sites 0-4) and the host without the ion. The
supercell repeats the host `times` times along one lattice vector; the five path points stay in
the first copy, and every other copy gets the ion at its initial site (the path's first point),
since there only one ion hops and its periodic copies stay put. The barrier is the same hop, at a
lower concentration of moving ions.
"""
import argparse
import json

import numpy as np


def supercell(rec, axis, times):
    at = rec["atoms"]
    lat = np.array(at["lattice_mat"], dtype=float)
    xyz = np.array(at["coords"], dtype=float)
    frac = xyz @ np.linalg.inv(lat) if at.get("cartesian") else xyz
    el = list(at["elements"])
    if axis == "shortest":
        ax = int(np.argmin(np.linalg.norm(lat, axis=1)))
    else:
        ax = "abc".index(axis)
    path, host = frac[:5], frac[5:]
    new_frac = [p.copy() for p in path]
    new_el = el[:5]
    for copy in range(times):
        if copy > 0:
            ion = path[0].copy()
            ion[ax] += copy
            new_frac.append(ion)
            new_el.append(el[0])
        for k, h in enumerate(host):
            x = h.copy()
            x[ax] += copy
            new_frac.append(x)
            new_el.append(el[5 + k])
    new_frac = np.array(new_frac)
    new_frac[:, ax] /= times
    new_lat = lat.copy()
    new_lat[ax] *= times
    out = dict(rec)
    out["atoms"] = {
        "lattice_mat": new_lat.tolist(),
        "coords": new_frac.tolist(),
        "elements": new_el,
        "cartesian": False,
    }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--axis", default="shortest", choices=["shortest", "a", "b", "c"])
    ap.add_argument("--times", type=int, default=2)
    a = ap.parse_args()
    recs = json.load(open(a.inp))
    json.dump([supercell(r, a.axis, a.times) for r in recs], open(a.out, "w"))
    print(f"{len(recs)} records -> {a.out} ({a.times}x along {a.axis})")


if __name__ == "__main__":
    main()
