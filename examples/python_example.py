"""ionhop from Python: a hop from a pymatgen structure, a small screen, Em per hop class.

    python3 examples/python_example.py          (after installing the package, or with
                                                 PYTHONPATH=build/python/lib after make python)
pymatgen and matplotlib are used when present; the rest needs only numpy.
"""
import os

import ionhop

HERE = os.path.dirname(os.path.abspath(__file__))
OLIVINE = os.path.join(HERE, "LiFePO4", "LiFePO4.vasp")
HOP = os.path.join(HERE, "LiFePO4_hop")

model = ionhop.Model()  # the bundled default model, loaded once for everything below

# 1. one hop: Li 1 into the vacancy of the example cell, from a pymatgen Structure if pymatgen is here
try:
    from pymatgen.core import Structure

    host = Structure.from_file(os.path.join(HOP, "initial.vasp"))
except ImportError:
    host = ionhop.read(os.path.join(HOP, "initial.vasp"))
r = model.predict_hop(host, ion=0, to=(0.75, 0.75, 0.5))
print(f"hop: {r.length:.2f} Å, Em {r.em:.3f} ± {r.spread:.3f} eV ({'good' if r.good else 'poor'}), "
      f"closest approach to a host atom {r.closest_approach:.2f} Å")

# 2. screen a few structures: errors come back as rows, the run goes on
rows = model.screen([OLIVINE, os.path.join(HOP, "final.vasp"), "missing.cif"], "Li")
for row in rows:
    if row["status"] == "ok":
        p = row["percolation"]
        print(f"{os.path.basename(row['file'])}: {row['formula']}, 1D {p['1d']:.3f} eV, "
              f"2D {p['2d'] if p['2d'] is None else round(p['2d'], 3)}, {row['verdict']}")
    else:
        print(f"{row['file']}: error: {row['error']}")

# 3. Em per hop class of the olivine
net = model.hops(OLIVINE, "Li", max_hop=5.0)
for c in sorted(net.classes, key=lambda c: c["em"]):
    print(f"class {c['class']}: {c['length']:.2f} Å × {c['count']}, Em {c['em']:.3f} eV")
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.bar([f"{c['length']:.2f} Å" for c in net.classes], [c["em"] for c in net.classes])
    plt.axhline(ionhop.GOOD_CONDUCTOR_EV, ls="--", c="k")
    plt.ylabel("Em (eV)")
    plt.title("LiFePO4: Li hop classes")
    plt.savefig("hop_classes.png", dpi=120)
    print("plot -> hop_classes.png")
except ImportError:
    pass
