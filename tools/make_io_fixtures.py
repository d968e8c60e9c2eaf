#!/usr/bin/python3
"""Generate the structure-file fixtures of tests/test_io.c and the bundled example hop.

Writes tests/fixtures/io/: a handful of structures from ../shared/data (triclinic, monoclinic,
rhombohedral, hexagonal cells; three 5-image Em records) written by pymatgen (CifWriter without
and with symprec, Poscar) and ASE (vasp in Cartesian, extxyz, cif), hand-written files that a
symmetry expansion must handle (rock-salt NaCl with its 192 Fm-3m operations, an LiFePO4-like Pnma
cell in ICSD style, a POSCAR with a negative scale, selective dynamics, POTCAR species names and
velocities, an extended XYZ with an unusual column order), and expected.json: what pymatgen and
ASE read back from every file (lattice, species, fractional coordinates in sorted canonical order).

Also writes examples/LiFePO4_hop/{initial,final}.vasp from the olivine LiFePO4 record of the Em
training data (initial = site 0 + host, final = site 4 + host; spec §1.3-1.4).

Needs Debian's python3-pymatgen and python3-ase; never run by CI. Run from the repository root:
    /usr/bin/python3 tools/make_io_fixtures.py [SHARED_DIR]
"""
import io
import json
import os
import sys
import textwrap
import warnings

import numpy as np
import spglib
from ase.io import read as ase_read
from ase.io import write as ase_write
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.io.vasp import Poscar

warnings.simplefilter("ignore")

SHARED = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("IONHOP_SHARED", "../shared")
OUT = "tests/fixtures/io"
EXAMPLES = "examples/LiFePO4_hop"

# (source file, jid, fixture name, why)
PICKS = [
    ("data/em/train.json", "17", "em17_Na7P3Se11", "triclinic 5-image record"),
    ("data/em/train.json", "7", "em7_VOPO4_Na", "monoclinic 5-image record"),
    ("data/em/train.json", "29", "em29_nasicon", "rhombohedral-like 5-image record"),
    ("data/pretrain/gv.json", "gv-10007", "gv10007_LiTaO", "strongly skewed triclinic cell"),
    ("data/pretrain/bg.json", "bg-100304", "bg100304_SrInPt", "triclinic cell"),
    ("data/pretrain/dc.json", "dc-100", "dc100_SiC", "hexagonal (P6_3mc, x-y operations)"),
    ("data/pretrain/fe.json", "fe-100740", "fe100740_AlFeO", "hexagonal cell"),
    ("data/pretrain/dc.json", "dc-195", "dc195_ZrO2", "monoclinic cell"),
]


def load(path, jid):
    for r in json.load(open(os.path.join(SHARED, path))):
        if str(r["jid"]) == jid:
            return r
    raise KeyError(jid)


def to_structure(rec):
    a = rec["atoms"]
    assert not a["cartesian"]
    return Structure(Lattice(a["lattice_mat"]), a["elements"], a["coords"])


def canonical(lattice, species, frac):
    """Reader result with sites sorted by (element, wrapped fractional coordinate)."""
    frac = np.asarray(frac, dtype=float)
    wrapped = frac - np.floor(frac)
    wrapped[wrapped >= 1 - 1e-12] = 0.0
    order = sorted(range(len(species)),
                   key=lambda i: (species[i], *np.round(wrapped[i], 6)))
    return {
        "lattice": [[round(float(x), 12) for x in row] for row in np.asarray(lattice)],
        "species": [species[i] for i in order],
        "frac": [[round(float(x), 10) for x in wrapped[i]] for i in order],
    }


def pmg_result(s):
    return canonical(s.lattice.matrix, [site.specie.symbol for site in s], s.frac_coords)


def ase_result(atoms):
    return canonical(atoms.cell[:], atoms.get_chemical_symbols(),
                     atoms.get_scaled_positions(wrap=False))


def read_back(path, fmt, plain_species=False, use_ase=True):
    """What pymatgen and ASE read from a file (None where the library cannot read the format).
    plain_species: pymatgen gets the file with POTCAR names (Zr_sv) replaced by elements, which
    it cannot parse itself. use_ase False: ASE 3.22 misreads the file (negative POSCAR scale)."""
    out = {}
    try:
        if fmt == "cif":
            s = CifParser(path).get_structures(primitive=False)[0]
        elif fmt == "poscar" and plain_species:
            lines = open(path).read().split("\n")
            lines[5] = " ".join(t.split("_")[0] for t in lines[5].split())
            s = Poscar.from_string("\n".join(lines)).structure
        elif fmt == "poscar":
            s = Poscar.from_file(path, check_for_POTCAR=False).structure
        else:
            s = None
        out["pymatgen"] = pmg_result(s) if s is not None else None
    except Exception as e:  # recorded, the C test then skips this reference
        print(f"  pymatgen cannot read {path}: {e}")
        out["pymatgen"] = None
    if not use_ase:
        out["ase"] = None
        return out
    try:
        ase_fmt = {"cif": "cif", "poscar": "vasp", "xyz": "extxyz"}[fmt]
        out["ase"] = ase_result(ase_read(path, index=0, format=ase_fmt))
    except Exception as e:
        print(f"  ASE cannot read {path}: {e}")
        out["ase"] = None
    return out


def symop_string(rot, trans):
    """x, y, z style string of an operation (fractional rotation rows, translation)."""
    parts = []
    for r, t in zip(rot, trans):
        s = ""
        for k, v in enumerate("xyz"):
            if r[k] == 1:
                s += ("+" if s else "") + v
            elif r[k] == -1:
                s += "-" + v
            elif r[k] != 0:
                raise ValueError(r)
        t = t % 1.0
        if abs(t) > 1e-9:
            from fractions import Fraction
            f = Fraction(t).limit_denominator(12)
            s += f"+{f.numerator}/{f.denominator}"
        parts.append(s)
    return ", ".join(parts)


def nacl_cif():
    sym = spglib.get_symmetry_from_database(523)  # Hall 523: F m -3 m
    rots, trans = sym["rotations"], sym["translations"]
    assert spglib.get_spacegroup_type(523)["international_short"] == "Fm-3m"
    ops = "\n".join(f"  {i + 1}  '{symop_string(r, t)}'" for i, (r, t) in enumerate(zip(rots, trans)))
    return f"""# rock-salt NaCl, asymmetric unit + the 192 operations of Fm-3m (hand-written fixture)
data_NaCl
_chemical_name_common  'sodium chloride'
_cell_length_a    5.6402(3)
_cell_length_b    5.6402(3)
_cell_length_c    5.6402(3)
_cell_angle_alpha 90
_cell_angle_beta  90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M  'F m -3 m'
_symmetry_Int_Tables_number  225
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
{ops}
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
 Na1 Na+ 0 0 0 1.0
 Cl1 Cl- 0.5 0.5 0.5 1.0
"""


PNMA_OPS = ["x, y, z", "-x+1/2, -y, z+1/2", "-x, y+1/2, -z", "x+1/2, -y+1/2, -z+1/2",
            "-x, -y, -z", "x+1/2, y, -z+1/2", "x, -y+1/2, z", "-x+1/2, y+1/2, z+1/2"]


def lifepo4_cif():
    ops = "\n".join(f"{i + 1} '{op}'" for i, op in enumerate(PNMA_OPS))
    # ICSD/COD style: uncertainties, charged type symbols, ? values, a text field, quoted
    # strings, comments, DDL2-style symop tag, and a second data block that must be ignored.
    return f"""#------------------------------------------------------------------------------
# LiFePO4-like olivine cell, Pnma (hand-written fixture in ICSD/COD style)
#------------------------------------------------------------------------------
data_LiFePO4_olivine
_audit_creation_method  'hand-written; positions after Streltsov et al. (approximate)'
_publ_section_title
;
 Olivine LiFePO4; a text field with a line that looks like a tag:
_cell_length_a 99.0
 and a quote ' that is not closed
;
_chemical_formula_sum  'Fe4 Li4 O16 P4'
_exptl_crystal_density_diffrn  ?
_cell_length_a  10.3290(3)
_cell_length_b  6.0065(2)
_cell_length_c  4.6908(1)
_cell_angle_alpha  90.
_cell_angle_beta   90.
_cell_angle_gamma  90.
_cell_volume  291.03(2)
_space_group_name_H-M_alt  'P n m a'
_space_group_IT_number  62
loop_
_space_group_symop_id
_space_group_symop_operation_xyz
{ops}
loop_
_atom_type_symbol
_atom_type_oxidation_number
Li1+ 1
Fe2+ 2
P5+ 5
O2- -2
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_symmetry_multiplicity
_atom_site_Wyckoff_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
_atom_site_U_iso_or_equiv
Li1 Li1+ 4 a 0 0 0 1. ?
Fe1 Fe2+ 4 c 0.28222(3) 0.25 0.97472(7) 1. 0.0061(1)
P1 P5+ 4 c 0.09486(5) 0.25 0.41820(11) 1. .
O1 O2- 4 c 0.09678(15) 0.25 0.74279(31) 1. ?
O2 O2- 4 c 0.45710(15) 0.25 0.20602(30) 1. ?
O3 O2- 8 d 0.16563(10) 0.04660(19) 0.28483(22) 1. ?
# anisotropic displacements: a second _atom_site_ loop, without coordinates
loop_
_atom_site_aniso_label
_atom_site_aniso_U_11
Fe1 0.0060(2)

data_second_block
_cell_length_a 3.0
_cell_length_b 3.0
_cell_length_c 3.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Cu1 0 0 0
"""


def poscar_special(s):
    """ZrO2 as a VASP 5 CONTCAR with a negative scale (target volume), selective dynamics,
    POTCAR species names, Direct positions and a velocity block. (Direct: pymatgen 2022.11
    multiplies Cartesian positions by the raw negative scale, so it cannot be the reference for
    Cartesian positions with a volume scale; tests/test_io.c checks that case by hand.)"""
    lat = s.lattice.matrix * 0.9  # rescaled back by the -volume line
    syms = [site.specie.symbol for site in s]
    groups = []
    for sym in syms:
        if not groups or groups[-1][0] != sym:
            groups.append([sym, 0])
        groups[-1][1] += 1
    potcar = {"Zr": "Zr_sv", "O": "O_s"}
    out = io.StringIO()
    out.write("ZrO2 CONTCAR-like, scale = -volume\n")
    out.write(f"  {-s.lattice.volume:.10f}\n")
    for row in lat:
        out.write("  " + "  ".join(f"{x:.12f}" for x in row) + "\n")
    out.write("   " + "   ".join(potcar[g[0]] for g in groups) + "\n")
    out.write("   " + "   ".join(str(g[1]) for g in groups) + "\n")
    out.write("Selective dynamics\nDirect\n")
    for k, x in enumerate(s.frac_coords):
        flags = "T T T" if k % 2 == 0 else "F F T"
        out.write("  " + "  ".join(f"{v:.12f}" for v in x) + f"   {flags}\n")
    out.write("\n")
    for k in range(len(s)):
        out.write("  " + "  ".join(f"{0.001 * (k + c):.8e}" for c in range(3)) + "\n")
    return out.getvalue()


def poscar_scaled_cartesian(s):
    """Cartesian positions with a positive scale factor other than 1 (both scaled by it)."""
    scale = 1.25
    out = io.StringIO()
    out.write("scaled Cartesian\n")
    out.write(f"  {scale}\n")
    for row in s.lattice.matrix / scale:
        out.write("  " + "  ".join(f"{x:.12f}" for x in row) + "\n")
    syms = [site.specie.symbol for site in s]
    runs = []
    for sym in syms:
        if not runs or runs[-1][0] != sym:
            runs.append([sym, 0])
        runs[-1][1] += 1
    out.write(" ".join(r[0] for r in runs) + "\n" + " ".join(str(r[1]) for r in runs) + "\n")
    out.write("Cartesian\n")
    for x in s.cart_coords / scale:
        out.write("  " + "  ".join(f"{v:.12f}" for v in x) + "\n")
    return out.getvalue()


def xyz_special(s):
    """Extended XYZ with columns id, pos, species, forces (non-default order) and other keys."""
    lat = s.lattice.matrix
    out = io.StringIO()
    out.write(f"{len(s)}\n")
    out.write('energy=-12.5 Lattice="' + " ".join(f"{x:.12f}" for x in lat.flatten()) +
              '" Properties=id:I:1:pos:R:3:species:S:1:forces:R:3 config_type=test pbc="T T T"\n')
    for k, site in enumerate(s):
        x = site.coords
        out.write(f"{k + 1} {x[0]:.12f} {x[1]:.12f} {x[2]:.12f} {site.specie.symbol} "
                  f"0.1 -0.2 0.3\n")
    return out.getvalue()


def write_poscar_like_ionhop(path, comment, lattice, species, frac):
    """The layout of ih_write_poscar (Direct, 16 significant digits, runs of one element)."""
    runs = []
    for sym in species:
        if not runs or runs[-1][0] != sym:
            runs.append([sym, 0])
        runs[-1][1] += 1
    with open(path, "w") as f:
        f.write(comment + "\n1.0\n")
        for row in lattice:
            f.write(" " + " ".join("%23.16g" % x for x in row) + "\n")
        f.write("".join(" " + r[0] for r in runs) + "\n")
        f.write("".join(" %d" % r[1] for r in runs) + "\nDirect\n")
        for sym, x in zip(species, frac):
            f.write(" " + " ".join("%23.16g" % v for v in x) + " " + sym + "\n")


def make_example():
    recs = json.load(open(os.path.join(SHARED, "data/em/train.json")))
    rec = next((r for r in recs if "LiFePO4" in r["sys_name"]), None)
    if rec is None:
        rec = next(r for r in recs if r["class"] == "OLIVINE" and r["atoms"]["elements"][0] == "Li")
    a = rec["atoms"]
    el, fr = a["elements"], a["coords"]
    os.makedirs(EXAMPLES, exist_ok=True)
    for name, site in (("initial", 0), ("final", 4)):
        species = [el[site]] + el[5:]
        frac = [fr[site]] + fr[5:]
        comment = (f"{rec['sys_name']} (Em train jid {rec['jid']}) {name} state: migrating "
                   f"{el[0]} first, Em {rec['target']} eV")
        write_poscar_like_ionhop(os.path.join(EXAMPLES, f"{name}.vasp"), comment, a["lattice_mat"],
                                 species, frac)
    runs = []
    for sym in [el[0]] + el[5:]:
        if not runs or runs[-1][0] != sym:
            runs.append([sym, 0])
        runs[-1][1] += 1
    line = " ".join(r[0] for r in runs)
    counts = " ".join(str(r[1]) for r in runs)
    n_same = sum(1 for e in el[5:] if e == el[0])
    host_note = (f"the species line reads `{line}` with counts `{counts}`: the first {el[0]} is the "
                 f"migrating ion, the {n_same} other {el[0]} of the host follow it"
                 if runs[0][1] > 1 else f"the species line reads `{line}`.")
    if runs[0][1] > 1:
        host_note += "."
    paragraphs = [
        f"`initial.vasp` and `final.vasp` are the two end points of one {el[0]} hop in olivine "
        f"LiFePO4, taken from the Em training data (`../shared/data/em/train.json`, record jid "
        f"{rec['jid']}, sys_name `{rec['sys_name']}`, class {rec['class']}, DFT-NEB migration "
        f"barrier Em = {rec['target']} eV).",
        f"That record is in the 5-image representation (spec §1.3): sites 0-4 are the migrating "
        f"{el[0]} on the straight line from its initial to its final site, sites 5... are the "
        f"host. The end points are rebuilt as the spec (§1.4) prescribes: initial = site 0 + host, "
        f"final = site 4 + host ({len(el) - 4} atoms each). Both are VASP 5 POSCARs in Direct "
        f"coordinates with the migrating ion as atom 1; {host_note} The lattice is the record's; "
        f"fractional coordinates are as in the record (not wrapped), so the final site may lie "
        f"outside [0, 1).",
        "Regenerate with `/usr/bin/python3 tools/make_io_fixtures.py` (needs python3-pymatgen "
        "and python3-ase); `tests/test_io.c` checks the files against the record.",
    ]
    with open(os.path.join(os.path.dirname(EXAMPLES), "README.md"), "w") as f:
        f.write("# Examples\n\n## LiFePO4_hop/\n\n")
        f.write("\n\n".join(textwrap.fill(p, 100) for p in paragraphs) + "\n")
    print(f"example hop: jid {rec['jid']} {rec['sys_name']} ({len(el) - 4} atoms)")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    files = []  # (file name, format, note)

    def add(name, fmt, note, text=None):
        if text is not None:
            with open(os.path.join(OUT, name), "w") as f:
                f.write(text)
        files.append((name, fmt, note))

    for src, jid, name, why in PICKS:
        rec = load(src, jid)
        s = to_structure(rec)
        atoms = AseAtomsAdaptor.get_atoms(s)
        note = f"{src} jid {jid}: {why}"
        CifWriter(s).write_file(os.path.join(OUT, f"{name}.pmg_p1.cif"))
        add(f"{name}.pmg_p1.cif", "cif", note + "; pymatgen CifWriter (P1)")
        CifWriter(s, symprec=0.01).write_file(os.path.join(OUT, f"{name}.pmg_sym.cif"))
        add(f"{name}.pmg_sym.cif", "cif", note + "; pymatgen CifWriter(symprec=0.01)")
        Poscar(s).write_file(os.path.join(OUT, f"{name}.pmg.vasp"))
        add(f"{name}.pmg.vasp", "poscar", note + "; pymatgen Poscar (Direct)")
        ase_write(os.path.join(OUT, f"{name}.ase.vasp"), atoms, format="vasp")
        add(f"{name}.ase.vasp", "poscar", note + "; ASE write vasp (Cartesian)")
        ase_write(os.path.join(OUT, f"{name}.ase.extxyz"), atoms, format="extxyz")
        add(f"{name}.ase.extxyz", "xyz", note + "; ASE write extxyz")
        ase_write(os.path.join(OUT, f"{name}.ase.cif"), atoms, format="cif")
        add(f"{name}.ase.cif", "cif", note + "; ASE write cif")

    add("NaCl_Fm-3m.cif", "cif", "hand-written: NaCl asymmetric unit + 192 Fm-3m operations",
        nacl_cif())
    add("LiFePO4_Pnma.cif", "cif", "hand-written: olivine Pnma, ICSD style, two data blocks",
        lifepo4_cif())
    zro2 = to_structure(load("data/pretrain/dc.json", "dc-195"))
    add("ZrO2_special.vasp", "poscar",
        "hand-written: negative scale, selective dynamics, Zr_sv/O_s, velocities",
        poscar_special(zro2))
    add("ZrO2_scaled_cart.vasp", "poscar", "hand-written: scale 1.25, Cartesian positions",
        poscar_scaled_cartesian(zro2))
    alfeo = to_structure(load("data/pretrain/fe.json", "fe-100740"))
    add("AlFeO_columns.extxyz", "xyz", "hand-written: Properties=id:I:1:pos:R:3:species:S:1:forces:R:3",
        xyz_special(alfeo))

    expected = []
    for name, fmt, note in files:
        path = os.path.join(OUT, name)
        special = name == "ZrO2_special.vasp"
        rb = read_back(path, fmt, plain_species=special, use_ase=not special)
        expected.append({"file": name, "format": fmt, "note": note, **rb})
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(files)} fixture files, {total / 1024:.0f} KiB in {OUT}")
    make_example()


if __name__ == "__main__":
    main()
