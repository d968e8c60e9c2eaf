#!/usr/bin/python3
"""Reference AdamW + OneCycleLR trajectory from PyTorch for tests/test_optim.c.

Run once with Debian's python3 (needs python3-torch):
    /usr/bin/python3 tools/gen_adamw_fixture.py > tests/fixtures/adamw_onecycle_torch.json

A flat block of 19 floats holds a "weight" (12 values, decay group), a 2-value buffer that the
optimiser must not touch, and a "bias" (5 values, no decay), as the C model lays them out. The
gradients include exact zeros, a huge and a tiny value (the eps regime). OneCycleLR cycles beta1
each step, so the bias correction 1 - beta1^t uses a beta1 that changes with t.
"""
import json

import numpy as np
import torch

S, MAX_LR, WD = 12, 0.1, 0.05
N_W, N_BUF, N_B = 12, 2, 5
N = N_W + N_BUF + N_B


def f32list(t):
    # repr of each float32 value as a double: C reads it back bit-exactly
    return [float(x) for x in np.asarray(t, dtype=np.float32).ravel()]


def main():
    gen = torch.Generator().manual_seed(20240611)
    flat0 = torch.randn(N, generator=gen, dtype=torch.float32)
    w = torch.nn.Parameter(flat0[:N_W].clone().reshape(3, 4))
    b = torch.nn.Parameter(flat0[N_W + N_BUF:].clone())
    opt = torch.optim.AdamW([{"params": [w], "weight_decay": WD},
                             {"params": [b], "weight_decay": 0.0}], lr=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, total_steps=S, pct_start=0.3)
    grads, lrs, beta1s, params = [], [], [], []
    for step in range(S):
        g = torch.randn(N, generator=gen, dtype=torch.float32)
        g[3] = 0.0                   # exact zero gradient in the decay group
        g[N_W + N_BUF + 1] = 0.0     # and in the no-decay group
        if step == 2:
            g[5] = 1e3
        g[7] = 1e-7 * (1 + step % 3)  # always tiny: sqrt(v) ~ 1e-7, eps = 1e-8 matters
        grads.append(f32list(g))
        lrs.append(opt.param_groups[0]["lr"])
        beta1s.append(opt.param_groups[0]["betas"][0])
        w.grad = g[:N_W].clone().reshape(3, 4)
        b.grad = g[N_W + N_BUF:].clone()
        opt.step()
        sched.step()
        flat = flat0.clone()
        flat[:N_W] = w.detach().reshape(-1)
        flat[N_W + N_BUF:] = b.detach()
        params.append(f32list(flat))
    m = flat0.clone() * 0
    v = flat0.clone() * 0
    m[:N_W] = opt.state[w]["exp_avg"].reshape(-1)
    v[:N_W] = opt.state[w]["exp_avg_sq"].reshape(-1)
    m[N_W + N_BUF:] = opt.state[b]["exp_avg"]
    v[N_W + N_BUF:] = opt.state[b]["exp_avg_sq"]
    out = dict(torch_version=torch.__version__, total_steps=S, max_lr=MAX_LR, weight_decay=WD,
               ranges=[[0, N_W, 1], [N_W + N_BUF, N_B, 0]], init=f32list(flat0), grads=grads,
               lr=lrs, beta1=beta1s, params=params, m=f32list(m), v=f32list(v))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
