#!/usr/bin/python3
"""Independent (numpy) implementation of the path descriptors of ih_path_descriptors (src/path.c),
for the test fixture tests/data/path_desc_ref.txt and for the normalisation constants.

usage: tools/path_desc_ref.py DATA.json [N]   prints jid-index and the 8 raw descriptors of the first
N records (default all), then the mean and standard deviation of each over them."""
import json
import sys

import numpy as np

SHIFTS = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)], float)


def dists(L, host_frac, p_frac):
    """(n_host, 27) Cartesian distances from point p to the 27 images of each host atom's reduced offset."""
    df = host_frac - p_frac
    df = df - np.round(df)
    return np.linalg.norm((df[:, None, :] + SHIFTS[None]) @ L, axis=2)


def descriptors(rec):
    a = rec['atoms']
    L = np.array(a['lattice_mat'], float)
    f = np.array(a['coords'], float)
    img, host = f[:5], f[5:]
    steps = [(img[k + 1] - img[k]) - np.round(img[k + 1] - img[k]) for k in range(4)]
    hop = sum(np.linalg.norm(s @ L) for s in steps)
    pts = [img[k] + (q / 4.0) * steps[k] for k in range(4) for q in range(4)] + [img[0] + sum(steps)]
    near = [dists(L, host, p).min() for p in pts]
    d_mid = dists(L, host, img[2])
    d_0 = dists(L, host, img[0])
    vol = abs(np.linalg.det(L))
    return [hop, min(near), near[0], near[16], near[8], (d_mid < 3.0).sum(), (d_0 < 3.0).sum(),
            vol / len(host)]


def main():
    data = json.load(open(sys.argv[1]))
    n = int(sys.argv[2]) if len(sys.argv) > 2 else len(data)
    D = np.array([descriptors(r) for r in data[:n]])
    for i, d in enumerate(D):
        print(i, ' '.join(f'{x:.6f}' for x in d))
    print('# mean', ' '.join(f'{x:.3f}' for x in D.mean(0)))
    print('# std ', ' '.join(f'{x:.3f}' for x in D.std(0)))


if __name__ == '__main__':
    main()
