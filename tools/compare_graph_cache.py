#!/usr/bin/python3
"""Compare every graph of an ionhop graph cache with the PyTorch reference's graphs.py.

Not run by CI (needs Debian's python3 with numpy). Full-data check of the C graphs, edge by edge:
    build/ionhop bench graph --data ../shared/data/em/train.json --cache /tmp/em.ihgc
    /usr/bin/python3 tools/compare_graph_cache.py /tmp/em.ihgc ../shared/data/em/train.json
(add --canonical to both for canonical keys). For each structure: the final cutoff, the multiset
of (src, dst) pairs exactly, edge vectors to 1e-5 Å, and the cosine multiset (recomputed from the
cached vectors by the reference's line_graph) to 1e-6. The cache layout is documented in
src/graph_cache.c.
"""
import argparse
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IONHOP_SHARED", os.path.join(ROOT, "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "reference", "torch-alignn"))
import graphs  # noqa: E402

HEADER = struct.Struct("<8sIIiiiid")


def read_cache(path):
    with open(path, "rb") as fh:
        buf = fh.read()
    pos = 0
    while pos < len(buf):
        magic, version, flags, S, N, E, _, cutoff = HEADER.unpack_from(buf, pos)
        assert magic == b"IHGRAPH\0" and version == 1, "not an ionhop graph cache (version 1)"
        pos += HEADER.size

        def take(dtype, n):
            nonlocal pos
            a = np.frombuffer(buf, dtype=dtype, count=n, offset=pos)
            pos += a.nbytes
            return a
        atom_ptr = take("<i4", S + 1)
        take("<i4", S + 1)  # edge offsets
        z = take("<i4", N)
        src = take("<i4", E)
        dst = take("<i4", E)
        vec = take("<f4", 3 * E).reshape(E, 3)
        pos += 8  # checksum (checked by the C reader)
        assert S == 1, "one structure per cached graph expected"
        yield dict(N=N, z=z, src=src, dst=dst, r=vec, cutoff=cutoff, atom_ptr=atom_ptr)


def canonical_edges(src, dst, r):
    order = np.lexsort((np.round(r[:, 2], 3), np.round(r[:, 1], 3), np.round(r[:, 0], 3), dst, src))
    return src[order], dst[order], r[order]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cache")
    ap.add_argument("data")
    ap.add_argument("--canonical", action="store_true")
    args = ap.parse_args()
    records = graphs.load(args.data)
    n = bad = 0
    for idx, got in enumerate(read_cache(args.cache)):
        want = graphs.build(records[idx]["atoms"], canonical=args.canonical)
        problems = []
        if got["cutoff"] != want["cutoff"]:
            problems.append(f"cutoff {got['cutoff']} vs {want['cutoff']}")
        if len(got["src"]) != len(want["src"]):
            problems.append(f"E {len(got['src'])} vs {len(want['src'])}")
        else:
            gs, gd, gr = canonical_edges(got["src"], got["dst"], got["r"])
            ws, wd, wr = canonical_edges(want["src"], want["dst"], want["r"])
            if not (np.array_equal(gs, ws) and np.array_equal(gd, wd)):
                problems.append("(src, dst) multisets differ")
            elif np.abs(gr - wr).max() > 1e-5:
                problems.append(f"edge vectors differ by {np.abs(gr - wr).max():.3g} Å")
            # cosines from the cached vectors through the reference's line graph
            mine = graphs.line_graph(dict(z=np.zeros(got["N"]), src=got["src"].astype(np.int64),
                                          dst=got["dst"].astype(np.int64), r=got["r"]))["cos"]
            ref = want["cos"]
            if len(mine) != len(ref):
                problems.append(f"T {len(mine)} vs {len(ref)}")
            elif np.abs(np.sort(mine) - np.sort(ref)).max() > 1e-6:
                problems.append("cosine multisets differ")
        n += 1
        if problems:
            bad += 1
            print(f"record {idx} (jid {records[idx].get('jid')}): " + "; ".join(problems))
    print(f"compared {n} graphs with graphs.py ({'canonical' if args.canonical else 'non-canonical'} keys): "
          f"{bad} differ")
    return 1 if bad or n != len(records) else 0


if __name__ == "__main__":
    sys.exit(main())
