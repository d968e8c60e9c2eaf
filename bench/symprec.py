#!/usr/bin/env python3
"""How the symmetry tolerance (--symprec) copes with relaxed-like structures.

1. Perturbed crystals: every atom of a structure displaced by a Gaussian step of rms `sigma` Å
   per Cartesian component (seeded), for several sigma; for each tolerance, the space group
   ionhop finds, its number of hop classes and the wall time of `ionhop predict FILE --ion EL`.
2. Relaxed cells: the crystals of the shared training records (5-image NEB paths from relaxed
   DFT calculations; the crystal is the host with the ion on both end sites) through spglib at
   each tolerance: how many keep only P1, and the median space-group number.

    /usr/bin/python3 bench/symprec.py [--structure examples/LiFePO4/LiFePO4.vasp --ion Li]
"""
import argparse, json, os, re, subprocess, sys, tempfile, time

import numpy as np
import spglib


def read_poscar(path):
    lines = open(path).read().split("\n")
    scale = float(lines[1])
    lat = np.array([[float(x) for x in lines[2 + i].split()[:3]] for i in range(3)]) * scale
    symbols = lines[5].split()
    counts = [int(x) for x in lines[6].split()]
    cart = lines[7].strip().lower().startswith(("c", "k"))
    n = sum(counts)
    pos = np.array([[float(x) for x in lines[8 + i].split()[:3]] for i in range(n)])
    frac = pos @ np.linalg.inv(lat) if cart else pos
    species = [s for s, c in zip(symbols, counts) for _ in range(c)]
    return lat, frac, species


def write_poscar(path, lat, frac, species):
    order = list(dict.fromkeys(species))
    with open(path, "w") as f:
        f.write("perturbed\n1.0\n")
        for v in lat:
            f.write("%.10f %.10f %.10f\n" % tuple(v))
        f.write(" ".join(order) + "\n" + " ".join(str(species.count(s)) for s in order) + "\nDirect\n")
        for s in order:
            for x, sp in zip(frac, species):
                if sp == s:
                    f.write("%.10f %.10f %.10f\n" % tuple(x))


def ionhop_classes(binary, path, ion, symprec):
    t = time.time()
    out = subprocess.run([binary, "predict", path, "--ion", ion, "--symprec", str(symprec), "--top", "1"],
                         capture_output=True, text=True)
    dt = time.time() - t
    m = re.search(r"space group (\S+) \((\d+)\) at tolerance \S+ Å; (\d+) hops up to \S+ Å in (\d+) symmetry", out.stdout)
    if out.returncode != 0 or not m:
        return None, 0, 0, dt
    return m.group(1), int(m.group(3)), int(m.group(4)), dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--structure", default="examples/LiFePO4/LiFePO4.vasp")
    ap.add_argument("--ion", default="Li")
    ap.add_argument("--binary", default="build/ionhop")
    ap.add_argument("--data", default=os.path.join(os.environ.get("IONHOP_SHARED", "../shared"), "data/em/train.json"))
    ap.add_argument("--sigmas", default="0,0.003,0.01,0.03,0.05")
    ap.add_argument("--symprecs", default="0.01,0.05,0.1,0.2")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-records", action="store_true", help="only the perturbed structure")
    a = ap.parse_args()
    sigmas = [float(x) for x in a.sigmas.split(",")]
    precs = [float(x) for x in a.symprecs.split(",")]
    lat, frac, species = read_poscar(a.structure)
    rng = np.random.default_rng(a.seed)
    tmp = tempfile.mkdtemp()
    print("## perturbed %s (%d atoms), --ion %s" % (a.structure, len(species), a.ion))
    print("| sigma (Å) | " + " | ".join("symprec %g" % p for p in precs) + " |")
    print("|---|" + "---|" * len(precs))
    for sigma in sigmas:
        step = rng.normal(0.0, sigma, size=frac.shape) if sigma > 0 else np.zeros_like(frac)
        f2 = frac + step @ np.linalg.inv(lat)
        path = os.path.join(tmp, "s%g.vasp" % sigma)
        write_poscar(path, lat, f2, species)
        cells = []
        for p in precs:
            sg, hops, classes, dt = ionhop_classes(a.binary, path, a.ion, p)
            cells.append("%s, %d classes, %.1f s" % (sg, classes, dt) if sg else "error")
        print("| %g | %s |" % (sigma, " | ".join(cells)))
    sys.stdout.flush()

    if a.skip_records:
        return
    recs = json.load(open(a.data))
    print("\n## crystals of the %d training records (host + ion on both end sites)" % len(recs))
    print("| symprec (Å) | P1 only | median space group | records whose group changes from the previous tolerance |")
    print("|---|---|---|---|")
    prev = None
    for p in precs:
        groups = []
        for r in recs:
            s = r["atoms"] if "atoms" in r else r
            lat_r = np.array(s["lattice_mat"])
            coords = np.array(s["coords"])
            if not s.get("cartesian", False):
                fr = coords
            else:
                fr = coords @ np.linalg.inv(lat_r)
            el = s["elements"]
            # 5-image record: sites 0..4 are the ion's path images; the crystal keeps 0 and 4
            keep = [0, 4] + list(range(5, len(el)))
            nums = [el[i] for i in keep]
            z = {e: k for k, e in enumerate(sorted(set(nums)))}
            ds = spglib.get_symmetry_dataset((lat_r, fr[keep], [z[e] for e in nums]), symprec=p)
            groups.append(ds["number"] if ds else 0)
        groups = np.array(groups)
        changed = "" if prev is None else str(int((groups != prev).sum()))
        print("| %g | %d | %g | %s |" % (p, int((groups <= 1).sum()), float(np.median(groups)), changed))
        prev = groups


if __name__ == "__main__":
    main()
