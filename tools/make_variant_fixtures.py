#!/usr/bin/python3
"""Reference outputs and gradients of the migration-path variants (spec §7) from PyTorch.

The PyTorch reference (../shared/reference/torch-alignn) implements only the plain network; this
script composes its modules into MODEL-1-ADD/SUB/CC, MODEL-2 and MODEL-4 as §7.2-7.5 describe
(Siamese trunk calls with their own batch statistics, in the reference's order; MODEL-2's delta
branch; attention pooling with LayerNorm) and lets autograd differentiate them. Run once from
the repository root with Debian's python3 (torch, numpy):
    /usr/bin/python3 tools/make_variant_fixtures.py
Writes tests/fixtures/variants_ref.ihfx: the graphs (edge lists as in model_graphs.ihfx) and,
per arch and mode (training, then evaluation with the updated running statistics), the
outputs, the fused vectors, per parameter tensor the gradient norm and four sampled entries,
and the running-statistics norms. CI never runs this; test_variants reads the fixture.

Weights come from the name hash of tools/make_model_fixtures.py (LayerNorm like BatchNorm:
weight 1 + 0.2(2u − 1), bias 0.2(2u − 1)). MODEL-4's dropout masks in training mode are drawn
as ionhop draws them (xoshiro256** seeded by splitmix64 from DROPOUT_SEED; per node, G1's
structures then G2's, a node dropped when u < 0.2, survivors scaled by 1/0.8).
"""
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import REF, Writer, export_graph, hash_uniform  # noqa: E402

sys.path.insert(0, REF)
import graphs  # noqa: E402
import model as refmodel  # noqa: E402

HIDDEN, ALIGNN_LAYERS, GCN_LAYERS, EMBED, HEAD = 16, 2, 1, 8, 8
DROPOUT_SEED = 1234
MASK64 = (1 << 64) - 1


def hash_init(model):
    with torch.no_grad():
        for mname, mod in model.named_modules():
            if isinstance(mod, nn.Linear):
                for pn in ("weight", "bias"):
                    p = getattr(mod, pn)
                    u = hash_uniform(f"{mname}.{pn}", p.numel())
                    p.copy_(torch.from_numpy(((2 * u - 1) / np.sqrt(mod.in_features)).astype(np.float32)).view_as(p))
            elif isinstance(mod, (nn.BatchNorm1d, nn.LayerNorm)):
                vals = {"weight": lambda u: 1 + 0.2 * (2 * u - 1), "bias": lambda u: 0.2 * (2 * u - 1)}
                if isinstance(mod, nn.BatchNorm1d):
                    vals.update(running_mean=lambda u: 0.3 * (2 * u - 1), running_var=lambda u: 0.5 + u)
                for pn, f in vals.items():
                    t = getattr(mod, pn)
                    t.copy_(torch.from_numpy(f(hash_uniform(f"{mname}.{pn}", t.numel())).astype(np.float32)))


class Rng:
    """ionhop's ih_rng: xoshiro256** seeded by splitmix64 (src/util.c)."""

    def __init__(self, seed):
        x = seed
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & MASK64  # noqa: E731
        result = (rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


class Attention(nn.Module):
    """§7.5 attention pooling, one structure at a time."""

    def __init__(self, h):
        super().__init__()
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.layer_norm = nn.LayerNorm(h)

    def forward(self, x, gid, B, keep):
        outs = []
        for b in range(B):
            X = x[gid == b]
            Q, K, V = F.relu(self.query(X)), F.relu(self.key(X)), F.relu(self.value(X))
            a = torch.softmax(torch.tanh(K @ Q.T).sum(1), 0)
            if keep is not None:
                a = a * keep[gid == b]
            outs.append(self.layer_norm(X.mean(0) + (a.unsqueeze(1) * V).sum(0)))
        return torch.stack(outs)


class Variant(refmodel.ALIGNN):
    def __init__(self, arch):
        super().__init__(HIDDEN, alignn_layers=ALIGNN_LAYERS, gcn_layers=GCN_LAYERS, embedding=EMBED, fc=HEAD,
                         n_hidden=2, outputs=1)
        self.arch = arch
        if arch == "model2":
            self.alignn_layers_1 = nn.ModuleList([refmodel.ALIGNNLayer(HIDDEN)])
            self.gcn_layers_1 = nn.ModuleList([refmodel.EGGC(HIDDEN)])
        if arch == "model4":
            self.attention = Attention(HIDDEN)
            self.attention1 = Attention(HIDDEN)
        if arch in ("model1-cc", "model2", "model4"):
            self.fc = nn.Linear(2 * HIDDEN, HIDDEN)

    def nodes(self, g, alignn, gcn):
        x = self.atom_embedding(g["feat"])
        y = self.edge_embedding(torch.norm(g["r"], dim=1))
        z = self.angle_embedding(g["cos"])
        for layer in alignn:
            x, y, z = layer(g, x, y, z)
        for layer in gcn:
            x, y = layer(g["src"], g["dst"], x, y)
        return x

    @staticmethod
    def pool(x, g):
        return torch.zeros(g["n_graphs"], x.shape[1]).index_add_(0, g["graph_id"], x) / g["counts"]

    def head(self, h):
        a = F.silu(self.conv_to_fc[0](F.silu(h)))
        a = F.silu(self.fc_hp[0](a))
        return self.fc_out[0](a)

    def forward(self, g1, g2, keeps=None):
        A, G = self.alignn_layers, self.gcn_layers
        if self.arch in ("model1-add", "model1-sub", "model1-cc"):
            h1 = self.pool(self.nodes(g1, A, G), g1)
            h2 = self.pool(self.nodes(g2, A, G), g2)
        elif self.arch == "model2":
            d2 = self.pool(self.nodes(g2, self.alignn_layers_1, self.gcn_layers_1), g2)
            d1 = self.pool(self.nodes(g1, self.alignn_layers_1, self.gcn_layers_1), g1)
            h1 = self.pool(self.nodes(g1, A, G), g1)
            h2 = d1 - d2
        else:
            x1, x2 = self.nodes(g1, A, G), self.nodes(g2, A, G)
            h1 = self.attention(x1, g1["graph_id"], g1["n_graphs"], keeps[0] if keeps else None)
            h2 = self.attention1(x2, g2["graph_id"], g2["n_graphs"], keeps[1] if keeps else None)
        if self.arch == "model1-add":
            h = h1 + h2
        elif self.arch == "model1-sub":
            h = h1 - h2
        else:
            h = self.fc(torch.cat([h1, h2], dim=1))
        self.fused = h
        return self.head(h)


def dropout_keeps(n1, n2):
    rng = Rng(DROPOUT_SEED)
    keeps = []
    for n in (n1, n2):
        keeps.append(torch.tensor([0.0 if rng.uniform() < 0.2 else 1.0 / 0.8 for _ in range(n)], dtype=torch.float32))
    return keeps


def endpoints(atoms):
    """§1.4: initial = site 0 + host, final = site 4 + host of a 5-image structure."""
    ini, fin = dict(atoms), dict(atoms)
    for d, site in ((ini, 0), (fin, 4)):
        d["coords"] = [atoms["coords"][site]] + atoms["coords"][5:]
        d["elements"] = [atoms["elements"][site]] + atoms["elements"][5:]
    return ini, fin


def run_arch(w, arch, gs1, gs2):
    torch.manual_seed(0)
    model = Variant(arch)
    hash_init(model)
    g1, g2 = refmodel.to_torch(graphs.batch(gs1)), refmodel.to_torch(graphs.batch(gs2))
    B = len(gs1)
    wts = np.array([[np.cos(1.3 * b + 0.2)] for b in range(B)], dtype=np.float32)
    names = [n for n, _ in model.named_parameters()]
    bufnames = [n for n, _ in model.named_buffers() if n.endswith(("running_mean", "running_var"))]
    key = arch
    w.add(f"{key}/dout", wts)
    w.add_str(f"{key}/names", "\n".join(names))
    w.add_str(f"{key}/bufnames", "\n".join(bufnames))
    for mode in ("train", "eval"):
        model.train(mode == "train")
        model.zero_grad(set_to_none=True)
        keeps = dropout_keeps(g1["feat"].shape[0], g2["feat"].shape[0]) if mode == "train" and arch == "model4" else None
        out = model(g1, g2, keeps)
        (out * torch.from_numpy(wts)).sum().backward()
        w.add(f"{key}/{mode}/out", out.detach().numpy().astype(np.float32))
        w.add(f"{key}/{mode}/fused", model.fused.detach().numpy().astype(np.float32))
        norms, samples = [], []
        params = dict(model.named_parameters())
        for n in names:
            gr = params[n].grad
            g = (gr if gr is not None else torch.zeros_like(params[n])).detach().double().flatten()
            k = g.numel()
            norms.append(float(g.norm()))
            samples.append([float(g[i]) for i in (0, k // 3, (2 * k) // 3, k - 1)])
        w.add(f"{key}/{mode}/grad_norm", np.array(norms, dtype=np.float64))
        w.add(f"{key}/{mode}/grad_samples", np.array(samples, dtype=np.float64))
        bufs = dict(model.named_buffers())
        w.add(f"{key}/{mode}/buf_norm", np.array([float(bufs[n].double().norm()) for n in bufnames], dtype=np.float64))
        print(f"{arch} {mode}: out {out.detach().numpy().ravel()}")


def main():
    torch.set_num_threads(2)
    data = graphs.load(os.path.join(REF, "..", "..", "data", "em", "train.json"))
    w = Writer()
    g = {}
    ini, fin = endpoints(data[7]["atoms"])
    g["jid7"] = export_graph(w, "jid7", data[7]["atoms"], False)
    g["jid7_ini"] = export_graph(w, "jid7_ini", ini, False)
    g["jid7_fin"] = export_graph(w, "jid7_fin", fin, False)
    g["cscl"] = export_graph(w, "cscl", graphs.CSCL, False)
    g["cscl_can"] = export_graph(w, "cscl_can", graphs.CSCL, True)
    w.add("config", np.array([HIDDEN, ALIGNN_LAYERS, GCN_LAYERS, EMBED, HEAD, DROPOUT_SEED], dtype=np.int32))
    # G1/G2 batches: the end points of jid 7 and CsCl for the pair models; for MODEL-4 the 5-image
    # structure and CsCl, with small second graphs standing in for local sub-graphs (the wiring
    # is what is compared; the sub-graph builder has its own tests)
    pairs = [g["jid7_ini"], g["cscl"]], [g["jid7_fin"], g["cscl_can"]]
    for arch in ("model1-add", "model1-sub", "model1-cc", "model2"):
        run_arch(w, arch, *pairs)
    run_arch(w, "model4", [g["jid7"], g["cscl"]], [g["cscl_can"], g["cscl"]])
    out = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "variants_ref.ihfx")
    w.write(out)


if __name__ == "__main__":
    main()
