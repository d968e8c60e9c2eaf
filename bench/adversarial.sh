#!/bin/sh
# Reading adversarial inputs: atoms sharing one fractional coordinate (10 000 and 100 000 Li on one
# x plane: the overlap check) and a CIF of 1 536 symmetry operations (20 and 100 sites: the symmetry
# expansion's duplicate test). Writes the inputs with python3 and times ionhop-bench read.
#   sh bench/adversarial.sh
set -eu
cd "$(dirname "$0")/.."
BIN=build/ionhop-bench
[ -x "$BIN" ] || { echo "build first: make -j2" >&2; exit 1; }
D=${TMPDIR:-/tmp}/ionhop-bench-adversarial
mkdir -p "$D"
python3 - "$D" <<'PY'
import random, sys
d = sys.argv[1]
for n, side, cells in ((10000, 100, 400), (100000, 317, 1300)):
    with open(f"{d}/plane{n}.vasp", "w") as f:
        f.write(f"plane\n1.0\n10 0 0\n0 {cells} 0\n0 0 {cells}\nLi\n{n}\ndirect\n")
        for k in range(n):
            i, j = divmod(k, side)
            f.write(f"0.0 {(i + 0.5) / side:.7f} {(j + 0.5) / side:.7f}\n")
random.seed(2)
ops = [f"'x+{a}/16,y+{b}/16,z+{c}/6'" for a in range(16) for b in range(16) for c in range(6)]
for n in (20, 100):
    with open(f"{d}/ops1536_{n}.cif", "w") as f:
        f.write("data_adv\n_cell_length_a 160\n_cell_length_b 160\n_cell_length_c 60\n"
                "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n")
        f.write("loop_\n_symmetry_equiv_pos_as_xyz\n" + "\n".join(ops) + "\n")
        f.write("loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n")
        for i in range(n):
            f.write(f"Li{i} Li {random.uniform(0, 1/16):.5f} {random.uniform(0, 1/16):.5f} {random.uniform(0, 1/6):.5f}\n")
PY
"$BIN" read "$D/plane10000.vasp" "$D/plane100000.vasp" "$D/ops1536_20.cif" "$D/ops1536_100.cif" --repeat 3
