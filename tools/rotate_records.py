#!/usr/bin/env python3
"""Rewrite records with their cell turned by a rotation: the same crystal in another Cartesian
frame, to measure whether a prediction depends on the frame the user's file happens to use.

Usage: rotate_records.py IN.json OUT.json [--angle 0.7] [--axis z]

Fractional coordinates are kept; the lattice rows are rotated by `angle` radians about the
Cartesian axis (and Cartesian coordinates with them, for records stored that way).
Plain Python; for docs/results.md, never needed by the build or the tests.
"""
import argparse
import json
import math


def rotation(angle, axis):
    c, s = math.cos(angle), math.sin(angle)
    a, b = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    R = [[1.0 if i == j else 0.0 for j in range(3)] for i in range(3)]
    R[a][a], R[a][b], R[b][a], R[b][b] = c, -s, s, c
    return R


def turn(v, R):
    return [sum(R[i][k] * v[k] for k in range(3)) for i in range(3)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--angle", type=float, default=0.7)
    p.add_argument("--axis", choices=["x", "y", "z"], default="z")
    a = p.parse_args()
    R = rotation(a.angle, a.axis)
    recs = json.load(open(a.inp))
    for r in recs:
        at = r["atoms"]
        at["lattice_mat"] = [turn(v, R) for v in at["lattice_mat"]]
        if at.get("cartesian"):
            at["coords"] = [turn(v, R) for v in at["coords"]]
    json.dump(recs, open(a.out, "w"))


if __name__ == "__main__":
    main()
