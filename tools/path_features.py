#!/usr/bin/python3
"""Exploration only (needs /usr/bin/python3 with numpy and python3-sklearn; never used by the build
or the tests): do a handful of hand-made geometric descriptors of the hop carry information that the
network's cross-validated predictions lack?

usage: tools/path_features.py DATA.json CV.csv[,CV2.csv...] [gbm|gbm-huber|rf|et|et-geom]
Folds are read from the CV CSV (grouped by host, as `ionhop finetune --folds` made them), so every
figure below is on the same held-out folds as the network's. Prints the grouped-CV MAE of
(a) a gradient-boosted model on the descriptors alone, (b) the network, (c) their mean, and
(d) a second-level model on [network prediction, descriptors] fitted on the other folds."""
import csv
import json
import sys

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor

# Pauling electronegativities of the elements in the shared data (None-free for those).
PAULING = {
    'H': 2.20, 'Li': 0.98, 'B': 2.04, 'C': 2.55, 'N': 3.04, 'O': 3.44, 'F': 3.98, 'Na': 0.93,
    'Mg': 1.31, 'Al': 1.61, 'Si': 1.90, 'P': 2.19, 'S': 2.58, 'Cl': 3.16, 'K': 0.82, 'Ca': 1.00,
    'Sc': 1.36, 'Ti': 1.54, 'V': 1.63, 'Cr': 1.66, 'Mn': 1.55, 'Fe': 1.83, 'Co': 1.88, 'Ni': 1.91,
    'Cu': 1.90, 'Zn': 1.65, 'Ga': 1.81, 'Ge': 2.01, 'As': 2.18, 'Se': 2.55, 'Br': 2.96, 'Rb': 0.82,
    'Sr': 0.95, 'Y': 1.22, 'Zr': 1.33, 'Nb': 1.6, 'Mo': 2.16, 'Tc': 1.9, 'Ru': 2.2, 'Rh': 2.28,
    'Pd': 2.20, 'In': 1.78, 'Sn': 1.96, 'Te': 2.1, 'I': 2.66, 'La': 1.10, 'Pr': 1.13, 'Nd': 1.14,
    'Pm': 1.13, 'Sm': 1.17, 'Tb': 1.1, 'Dy': 1.22, 'Ho': 1.23, 'Er': 1.24, 'Tm': 1.25, 'Lu': 1.27,
    'W': 2.36, 'Ir': 2.20, 'Pt': 2.28,
}
IONS = ['Li', 'Na', 'K', 'Mg', 'Ca', 'Zn', 'Al']


def min_image(L, df):
    """Cartesian minimum-image vectors (n,3) of fractional differences df (n,3)."""
    df = df - np.round(df)
    shifts = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])
    cart = (df[:, None, :] + shifts[None, :, :]) @ L
    r = np.linalg.norm(cart, axis=2)
    return r.min(axis=1)


def features(rec):
    a = rec['atoms']
    L = np.array(a['lattice_mat'])
    f = np.array(a['coords']) % 1.0
    el = a['elements']
    ion = el[0]
    host_f, host_el = f[5:], el[5:]
    en = np.array([PAULING[e] for e in host_el])
    anion = en > 2.3
    start, end = f[0], f[4]
    hop = min_image(L, (end - start)[None])[0]
    # nearest host atoms along 21 points of the straight segment
    ts = np.linspace(0, 1, 21)
    d_end = (end - start) - np.round(end - start)
    near, near_an, near_cat = [], [], []
    for t in ts:
        r = min_image(L, host_f - (start + t * d_end))
        near.append(r.min())
        near_an.append(r[anion].min() if anion.any() else 9.0)
        near_cat.append(r[~anion].min() if (~anion).any() else 9.0)
    near, near_an, near_cat = map(np.array, (near, near_an, near_cat))
    r_mid = min_image(L, host_f - (start + 0.5 * d_end))
    r_0 = min_image(L, host_f - start)
    vol = abs(np.linalg.det(L))
    n = len(el)
    x = [IONS.index(ion) if ion in IONS else len(IONS)]
    x += [hop, near.min(), near[[0, -1]].min(), near[8:13].min(), near_an.min(), near_cat.min(),
          near_an[0], near_cat[0],
          (r_mid < 2.5).sum(), (r_mid < 3.0).sum(), (r_0 < 2.6).sum(), (r_0 < 3.0).sum(),
          vol / (n - 4), n - 4, sum(e == ion for e in host_el) / (n - 4),
          en.mean(), en.max(), en[~anion].mean() if (~anion).any() else 0.0,
          PAULING[host_el[int(np.argmin(r_mid))]]]
    return x


def main():
    data = json.load(open(sys.argv[1]))
    runs = [{int(r['jid']): r for r in csv.DictReader(open(p))} for p in sys.argv[2].split(',')]
    n = len(data)
    X = np.array([features(r) for r in data], dtype=float)
    y = np.array([r['target'] for r in data])
    fold = np.array([int(runs[0][j]['fold']) for j in range(n)])
    gnn = np.mean([[float(run[j]['prediction']) for j in range(n)] for run in runs], axis=0)
    ion_onehot = np.eye(len(IONS) + 1)[X[:, 0].astype(int)]
    kind = sys.argv[3] if len(sys.argv) > 3 else 'gbm'
    # et-geom: the ion and 7 geometric columns (hop, bottleneck, nearest at the sites and the
    # midpoint, neighbours of the midpoint and the start, volume per atom)
    Xf = np.hstack([ion_onehot, X[:, [1, 2, 4, 3, 9, 11, 13]] if kind == 'et-geom' else X[:, 1:]])
    models = {
        'gbm': lambda: GradientBoostingRegressor(loss='absolute_error', n_estimators=300, max_depth=3,
                                                 learning_rate=0.05, subsample=0.8, random_state=0),
        'gbm-huber': lambda: GradientBoostingRegressor(loss='huber', n_estimators=300, max_depth=3,
                                                       learning_rate=0.05, subsample=0.8, random_state=0),
        'rf': lambda: RandomForestRegressor(500, min_samples_leaf=2, criterion='absolute_error', random_state=0),
        'et': lambda: ExtraTreesRegressor(500, min_samples_leaf=2, random_state=0),
    }
    models['et-geom'] = models['et']
    pred_f = np.zeros(n)
    pred_s = np.zeros(n)
    for k in sorted(set(fold)):
        tr, te = fold != k, fold == k
        m = models[kind]()
        m.fit(Xf[tr], y[tr])
        pred_f[te] = m.predict(Xf[te])
        Xs = np.hstack([gnn[:, None], Xf])
        m2 = GradientBoostingRegressor(loss='absolute_error', n_estimators=300, max_depth=3,
                                       learning_rate=0.05, subsample=0.8, random_state=0)
        m2.fit(Xs[tr], y[tr])
        pred_s[te] = m2.predict(Xs[te])

    def rep(name, p):
        e = np.abs(p - y)
        per = ' '.join(f'{e[fold == k].mean():.3f}' for k in sorted(set(fold)))
        print(f'{name:28s} MAE {e.mean():.3f}  folds {per}')
    rep(f'descriptors ({kind})', pred_f)
    rep('network', gnn)
    rep('mean of the two', 0.5 * (pred_f + gnn))
    rep('stacked [network, descr.]', pred_s)
    d = np.abs(0.5 * (pred_f + gnn) - y) - np.abs(gnn - y)
    print(f'paired mean - network: {d.mean():.4f} ± {d.std(ddof=1) / np.sqrt(n):.4f} eV')
    print('correlation of the errors:', np.corrcoef(pred_f - y, gnn - y)[0, 1].round(3))


if __name__ == '__main__':
    main()
