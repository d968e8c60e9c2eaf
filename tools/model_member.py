#!/usr/bin/env python3
"""Write member K of an ionhop ensemble model file (e.g. the K-th fold model of a cross-validation
run saved with --folds N --out MODEL) as a single model file, with that member's target scaling.
Optionally set the graph tie tolerance of its configuration, to measure what the graph change
alone does to a trained network.

Usage: model_member.py ENSEMBLE.ionhop K OUT.ionhop [--tie-tol A]

The files are safetensors: an 8-byte header length, a JSON header (tensor table and
"__metadata__"), then the tensor bytes. Ensemble tensors are named "member.K.<name>".
Plain Python; for docs/results.md, never needed by the build or the tests.
"""
import argparse
import json
import struct


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("k", type=int)
    p.add_argument("out")
    p.add_argument("--tie-tol", type=float, default=None)
    a = p.parse_args()
    with open(a.model, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__")
    info = json.loads(meta["ionhop"])
    if a.k < 0 or a.k >= info.get("ensemble", 1):
        raise SystemExit(f"{a.model}: no member {a.k}")
    prefix = f"member.{a.k}."
    table, blobs, off = {}, [], 0
    for name, t in header.items():
        if not name.startswith(prefix):
            continue
        b = data[t["data_offsets"][0]:t["data_offsets"][1]]
        table[name[len(prefix):]] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    if "member_scaling" in info:
        info["tasks"][0]["lo"], info["tasks"][0]["hi"] = info.pop("member_scaling")[a.k]
    info.pop("ensemble", None)
    if a.tie_tol is not None:
        info["config"]["tie_tol"] = a.tie_tol
    table["__metadata__"] = {"format": meta["format"], "ionhop": json.dumps(info)}
    hb = json.dumps(table).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(a.out, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))


if __name__ == "__main__":
    main()
