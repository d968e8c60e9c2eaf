#!/usr/bin/python3
"""Generate the model test fixtures from the PyTorch reference (../shared/reference/torch-alignn).

Run once from the repository root with Debian's python3 (torch, numpy):
    /usr/bin/python3 tools/make_model_fixtures.py
Writes
    tests/fixtures/model_graphs.ihfx  crystal graphs (atoms, directed edges, edge vectors, bond
                                      lengths) of CsCl (both edge-key modes) and a few Em
                                      structures, plus the reference's triplet count and Σcos
    tests/fixtures/model_ref.ihfx     reference forward outputs and gradients for a few model
                                      sizes with name-keyed pseudo-random weights (below)
CI never runs this; the C tests read the fixtures.

Weights: both sides fill every tensor from a hash of its state-dict name, so no weights need to
be stored: u_i = splitmix64(fnv1a64(name) ^ i) >> 11 · 2^-53 (i = flat index), then
    Linear weight/bias: (2u − 1)/sqrt(in);  BatchNorm weight: 1 + 0.2(2u − 1);
    BatchNorm bias: 0.2(2u − 1);  running_mean: 0.3(2u − 1);  running_var: 0.5 + u.
Per case: forward in training mode (batch statistics, running statistics updated), loss
Σ w ⊙ out, backward; then evaluation mode (the updated running statistics), same loss,
backward with fresh gradients. Stored: outputs, pooled vectors, trace sums, running-stat norms,
and per parameter tensor the gradient norm and the entries at flat indices
0, n/3, 2n/3, n−1 (integer division).

Fixture format ("IHFX"): magic, u32 entry count; per entry: u16 name length, name, u8 dtype
(0 f32, 1 i32, 2 f64, 3 u8), u8 ndim, u32 dims, little-endian data.
"""
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REF = os.path.join(ROOT, "..", "shared", "reference", "torch-alignn")
sys.path.insert(0, REF)
import graphs  # noqa: E402
import model as refmodel  # noqa: E402

MASK = (1 << 64) - 1


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for c in s.encode():
        h ^= c
        h = (h * 0x100000001B3) & MASK
    return h


def hash_uniform(name, n):
    x = np.uint64(fnv1a64(name)) ^ np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def hash_init(model):
    with torch.no_grad():
        for mname, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear):
                fan = mod.in_features
                for pn in ("weight", "bias"):
                    p = getattr(mod, pn)
                    u = hash_uniform(f"{mname}.{pn}", p.numel())
                    p.copy_(torch.from_numpy(((2 * u - 1) / np.sqrt(fan)).astype(np.float32)).view_as(p))
            elif isinstance(mod, torch.nn.BatchNorm1d):
                C = mod.num_features
                vals = {"weight": lambda u: 1 + 0.2 * (2 * u - 1), "bias": lambda u: 0.2 * (2 * u - 1),
                        "running_mean": lambda u: 0.3 * (2 * u - 1), "running_var": lambda u: 0.5 + u}
                for pn, f in vals.items():
                    t = getattr(mod, pn)
                    t.copy_(torch.from_numpy(f(hash_uniform(f"{mname}.{pn}", C)).astype(np.float32)))


class Writer:
    def __init__(self):
        self.entries = []

    def add(self, name, arr):
        arr = np.ascontiguousarray(arr)
        code = {np.dtype(np.float32): 0, np.dtype(np.int32): 1, np.dtype(np.float64): 2,
                np.dtype(np.uint8): 3}[arr.dtype]
        self.entries.append((name, code, arr))

    def add_str(self, name, s):
        self.add(name, np.frombuffer(s.encode(), dtype=np.uint8))

    def write(self, path):
        with open(path + ".tmp", "wb") as fh:
            fh.write(b"IHFX")
            fh.write(struct.pack("<I", len(self.entries)))
            for name, code, arr in self.entries:
                nb = name.encode()
                fh.write(struct.pack("<H", len(nb)) + nb)
                fh.write(struct.pack("<BB", code, arr.ndim))
                for d in arr.shape:
                    fh.write(struct.pack("<I", d))
                fh.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        os.replace(path + ".tmp", path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def export_graph(w, key, atoms, canonical):
    g = graphs.build(atoms, canonical=canonical)
    r = torch.from_numpy(np.ascontiguousarray(g["r"]))
    blen = torch.norm(r, dim=1).numpy().astype(np.float32)
    st = graphs.graph_stats(g)
    w.add(f"{key}/z", g["z"].astype(np.int32))
    w.add(f"{key}/src", g["src"].astype(np.int32))
    w.add(f"{key}/dst", g["dst"].astype(np.int32))
    w.add(f"{key}/r", g["r"].astype(np.float32))
    w.add(f"{key}/len", blen)
    w.add(f"{key}/n_triplets", np.array([st["T"]], dtype=np.int32))
    w.add(f"{key}/sum_cos", np.array([st["sum_cos"]], dtype=np.float64))
    return g


def run_case(w, key, gs, hidden, n_hidden, outputs):
    torch.manual_seed(0)
    model = refmodel.ALIGNN(hidden, n_hidden=n_hidden, outputs=outputs)
    hash_init(model)
    gt = refmodel.to_torch(graphs.batch(gs))
    B = len(gs)
    wts = np.array([[np.cos(1.3 * b + 0.7 * p + 0.2) for p in range(outputs)] for b in range(B)],
                   dtype=np.float32)
    wt = torch.from_numpy(wts)
    names = [n for n, _ in model.named_parameters()]
    bufnames = [n for n, _ in model.named_buffers() if n.endswith(("running_mean", "running_var"))]
    w.add(f"{key}/config", np.array([hidden, n_hidden, outputs, B], dtype=np.int32))
    w.add(f"{key}/dout", wts)
    w.add_str(f"{key}/names", "\n".join(names))
    w.add_str(f"{key}/bufnames", "\n".join(bufnames))
    for mode in ("train", "eval"):
        model.train(mode == "train")
        model.zero_grad(set_to_none=True)
        model.trace = {}
        out = model(gt)
        (out * wt).sum().backward()
        tr = model.trace
        w.add(f"{key}/{mode}/out", out.detach().numpy().astype(np.float32))
        w.add(f"{key}/{mode}/trace", np.array([tr["x0"], tr["y0"], tr["z0"], tr["h"]], dtype=np.float64))
        norms, samples = [], []
        params = dict(model.named_parameters())
        for n in names:
            gr = params[n].grad  # None where the output is unused (last layer's z)
            g = (gr if gr is not None else torch.zeros_like(params[n])).detach().double().flatten()
            k = g.numel()
            norms.append(float(g.norm()))
            samples.append([float(g[i]) for i in (0, k // 3, (2 * k) // 3, k - 1)])
        w.add(f"{key}/{mode}/grad_norm", np.array(norms, dtype=np.float64))
        w.add(f"{key}/{mode}/grad_samples", np.array(samples, dtype=np.float64))
        bufs = dict(model.named_buffers())
        w.add(f"{key}/{mode}/buf_norm",
              np.array([float(bufs[n].double().norm()) for n in bufnames], dtype=np.float64))
        print(f"{key} {mode}: out {out.detach().numpy().ravel()[:4]}")


def main():
    torch.set_num_threads(2)
    data = graphs.load(os.path.join(ROOT, "..", "shared", "data", "em", "train.json"))
    wg = Writer()
    g = {}
    g["cscl"] = export_graph(wg, "cscl", graphs.CSCL, False)
    g["cscl_can"] = export_graph(wg, "cscl_can", graphs.CSCL, True)
    for jid in (7, 357, 88):
        g[f"jid{jid}"] = export_graph(wg, f"jid{jid}", data[jid]["atoms"], False)
    g["jid7_can"] = export_graph(wg, "jid7_can", data[7]["atoms"], True)
    os.makedirs(os.path.join(ROOT, "tests", "fixtures"), exist_ok=True)
    wg.write(os.path.join(ROOT, "tests", "fixtures", "model_graphs.ihfx"))

    wr = Writer()
    run_case(wr, "h32", [g["jid7"], g["jid357"], g["jid88"]], 32, 2, 1)
    run_case(wr, "h16m3", [g["cscl"], g["jid357"]], 16, 1, 3)
    run_case(wr, "h256", [g["jid7_can"]], 256, 2, 1)
    wr.write(os.path.join(ROOT, "tests", "fixtures", "model_ref.ihfx"))


if __name__ == "__main__":
    main()
