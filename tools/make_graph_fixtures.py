#!/usr/bin/python3
"""Generate tests/fixtures/graphs_ref.bin: reference crystal graphs for tests/test_graph_ref.c.

Run once from the repository root with Debian's python3 (numpy), ../shared beside the checkout:
    /usr/bin/python3 tools/make_graph_fixtures.py
The graphs come from ../shared/reference/torch-alignn/graphs.py (spec §2), in both key modes.

For every structure the script also rebuilds the graph with an image box that is complete for
unwrapped coordinates (graphs.py's `_images` box can miss far images when the coordinates span
more than one cell) and prints any difference, so that such a case is known before the C test
compares against it.

File layout (little-endian):
  "IHGFIX1\\0", u32 n_records, then per record:
    u8 len, source name (e.g. "em/train.json#7"), i32 N, f64 lattice[9], f64 coords[3N], i32 z[N],
    then for non-canonical and canonical keys:
      f64 final cutoff, i32 retries, i32 E, E × (i32 src, i32 dst, f32 vec[3]) sorted,
      i32 T, f64 Σcos, sorted cosines as q = round(cos·2^24): zigzag varint of the first,
      varint deltas of the rest.
"""
import json
import math
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IONHOP_SHARED", os.path.join(ROOT, "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "reference", "torch-alignn"))
import graphs  # noqa: E402

# (file, record index): small cells, 1-atom cells (self-images only), triclinic cells, unwrapped
# coordinates (Em: -0.5 ... 1.34), and structures that need the retry rule.
PICKS = [
    ("em/train.json", 7), ("em/train.json", 87), ("em/train.json", 88), ("em/train.json", 357),
    ("em/train.json", 169), ("em/train.json", 404),
    ("pretrain/fe.json", 127), ("pretrain/fe.json", 1909), ("pretrain/fe.json", 2044),
    ("pretrain/fe.json", 4936), ("pretrain/fe.json", 260), ("pretrain/fe.json", 394),
    ("pretrain/gv.json", 368), ("pretrain/gv.json", 382), ("pretrain/gv.json", 4433),
    ("pretrain/bg.json", 913), ("pretrain/bg.json", 916), ("pretrain/bg.json", 9005),
    ("pretrain/bg.json", 5884),
    ("pretrain/dc.json", 947), ("pretrain/dc.json", 191),
    ("pretrain/ph.json", 1085), ("pretrain/ph.json", 184),
    ("pretrain/pz.json", 562), ("pretrain/pz.json", 276),
    ("pretrain/ebg.json", 1408), ("pretrain/ebg.json", 1297),
]


def varint(u):
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_cos(cos):
    q = np.sort(np.rint(cos.astype(np.float64) * (1 << 24)).astype(np.int64))
    out = bytearray()
    if len(q):
        first = int(q[0])
        out += varint((first << 1) ^ (first >> 63) if first < 0 else first << 1)
        for d in np.diff(q):
            out += varint(int(d))
    return bytes(out)


def complete_images(f, rec_len, r, L_raw):
    """An image box that covers every pair: n_k spans (min f − max f − m) … (max f − min f + m)."""
    ranges = []
    for k in range(3):
        m = math.ceil((r + 0.15) * rec_len[k] / (2.0 * math.pi))
        lo = math.floor(f[:, k].min() - f[:, k].max()) - m - 1
        hi = math.ceil(f[:, k].max() - f[:, k].min()) + m + 2
        ranges.append(np.arange(lo, hi, dtype=np.int64))
    n = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)
    nf = n.astype(np.float64)
    off = (nf[:, 0:1] * L_raw[0][None, :] + nf[:, 1:2] * L_raw[1][None, :]) + nf[:, 2:3] * L_raw[2][None, :]
    return n, off


def edge_set(g):
    return sorted(zip(g["src"].tolist(), g["dst"].tolist(), np.round(g["r"], 4).tolist()))


def main():
    cache = {}
    out = bytearray(b"IHGFIX1\0")
    out += struct.pack("<I", len(PICKS))
    for fn, idx in PICKS:
        if fn not in cache:
            cache[fn] = graphs.load(os.path.join(SHARED, "data", fn))
        atoms = cache[fn][idx]["atoms"]
        name = f"{fn}#{idx}".encode()
        coords = np.array(atoms["coords"], dtype=np.float64).reshape(-1, 3)
        z = [graphs.Z_OF[s] for s in atoms["elements"]]
        out += struct.pack("<B", len(name)) + name
        out += struct.pack("<i", len(z))
        out += struct.pack("<9d", *np.array(atoms["lattice_mat"], dtype=np.float64).ravel())
        out += struct.pack(f"<{coords.size}d", *coords.ravel())
        out += struct.pack(f"<{len(z)}i", *z)
        assert not atoms.get("cartesian", False)
        sizes = []
        for canonical in (False, True):
            g = graphs.build(atoms, canonical=canonical)
            # same graph with a complete image box
            saved = graphs._images
            graphs._images = complete_images
            try:
                gc = graphs.build(atoms, canonical=canonical, with_line_graph=False)
            finally:
                graphs._images = saved
            if edge_set(g) != edge_set(gc) or g["cutoff"] != gc["cutoff"]:
                print(f"NOTE {fn}#{idx} canonical={canonical}: the reference's image box changes the "
                      f"graph (E {len(g['src'])} vs {len(gc['src'])}, cutoff {g['cutoff']} vs {gc['cutoff']})")
            order = sorted(range(len(g["src"])),
                           key=lambda e: (int(g["src"][e]), int(g["dst"][e]), *np.round(g["r"][e], 3).tolist()))
            out += struct.pack("<d", float(g["cutoff"])) + struct.pack("<ii", g["retries"], len(order))
            for e in order:
                out += struct.pack("<ii3f", int(g["src"][e]), int(g["dst"][e]), *g["r"][e].tolist())
            cos = g["cos"]
            out += struct.pack("<id", len(cos), float(cos.astype(np.float64).sum()))
            out += encode_cos(cos)
            sizes.append((len(order), len(cos), g["cutoff"], g["retries"]))
        print(f"{fn}#{idx}: N={len(z)} (E, T, cutoff, retries) non-canonical {sizes[0]} canonical {sizes[1]}")
    path = os.path.join(ROOT, "tests", "fixtures", "graphs_ref.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as fh:
        fh.write(out)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {len(out)} bytes")


if __name__ == "__main__":
    main()
