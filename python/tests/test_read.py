"""ionhop.read and read_all on CIFs: the data block by name (block=), the warning for a file of
several structures read without one, refused block names, and a gzip-compressed magnetic CIF
against pymatgen's reading of it."""
import gzip
import warnings

import numpy as np
import pytest

import ionhop

META = "data_meta\n_journal_name_full 'J. Solid State Chem.'\n"


def licl(block, a):
    """rock-salt LiCl by its space group: 8 atoms, cell length a"""
    return (f"data_{block}\n_cell_length_a {a}\n_cell_length_b {a}\n_cell_length_c {a}\n"
            "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
            "_symmetry_space_group_name_H-M 'F m -3 m'\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
            "_atom_site_fract_y\n_atom_site_fract_z\nLi1 0 0 0\nCl1 0.5 0.5 0.5\n")


# NiO's type-II antiferromagnetic cell (rock salt, a0 = 4.17 Å, in hexagonal axes with c doubled along
# [111]) as MAGNDATA writes magnetic CIFs: operations with their time reversal, and centerings
A0 = 4.17
NIO = (f"data_NiO\n_cell_length_a {A0 / 2 ** 0.5:.10f}\n_cell_length_b {A0 / 2 ** 0.5:.10f}\n"
       f"_cell_length_c {2 * 3 ** 0.5 * A0:.10f}\n_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 120\n"
       "loop_\n_space_group_symop_magn_operation.id\n_space_group_symop_magn_operation.xyz\n"
       + "".join(f"{k + 1} {op}\n" for k, op in enumerate(
           ["x,y,z,+1", "-y,x-y,z,+1", "-x+y,-x,z,+1", "y,x,-z,-1", "x-y,-y,-z,-1", "-x,-x+y,-z,-1",
            "-x,-y,-z,+1", "y,-x+y,-z,+1", "x-y,x,-z,+1", "-y,-x,z,-1", "-x+y,y,z,-1", "x,x-y,z,-1"]))
       + "loop_\n_space_group_symop_magn_centering.id\n_space_group_symop_magn_centering.xyz\n"
       + "".join(f"{k + 1} {op}\n" for k, op in enumerate(
           ["x,y,z,+1", "x+1/3,y+2/3,z+1/3,+1", "x+2/3,y+1/3,z+2/3,+1", "x,y,z+1/2,-1", "x+1/3,y+2/3,z+5/6,-1",
            "x+2/3,y+1/3,z+1/6,-1"]))
       + "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
       "_atom_site_fract_z\nNi1 Ni 0 0 0\nO1 O 0 0 0.25\n"
       "loop_\n_atom_site_moment.label\n_atom_site_moment.crystalaxis_x\n_atom_site_moment.crystalaxis_y\n"
       "_atom_site_moment.crystalaxis_z\nNi1 0 0 1.9\n")


def cell_length(s):
    return float(np.linalg.norm(s.lattice[0]))


def test_block_by_name(tmp_path):
    path = tmp_path / "two.cif"
    path.write_text(META + licl("a", 5.13) + licl("b", 5.6))
    with pytest.warns(UserWarning, match=r"two.cif: 2 data blocks hold atom sites; read the first, data_a"):
        first = ionhop.read(path)
    assert len(first) == 8 and abs(cell_length(first) - 5.13) < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a named block: no warning
        b = ionhop.read(path, block="b")
        b2 = ionhop.read_all(str(path), block="data_B")
    assert len(b) == 8 and abs(cell_length(b) - 5.6) < 1e-12
    assert len(b2) == 1 and np.array_equal(b2[0].frac_coords, b.frac_coords)
    with pytest.raises(ValueError, match=r"no data block 'c'; the file has data_meta, data_a, data_b \(3 blocks\)"):
        ionhop.read(path, block="c")
    poscar = tmp_path / "POSCAR"
    poscar.write_text("LiCl\n1.0\n4 0 0\n0 4 0\n0 0 4\nLi Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n")
    assert len(ionhop.read(poscar)) == 2
    with pytest.raises(ValueError, match="POSCAR: not a CIF file"):
        ionhop.read(poscar, block="a")


def test_gzipped_magnetic_cif_as_pymatgen_reads_it(tmp_path):
    path = tmp_path / "NiO.mcif.gz"
    with gzip.open(path, "wt") as f:
        f.write(NIO)
    s = ionhop.read(path)
    assert len(s) == 12 and sorted(s.symbols) == ["Ni"] * 6 + ["O"] * 6
    cif = pytest.importorskip("pymatgen.io.cif")
    plain = tmp_path / "NiO.mcif"
    plain.write_text(NIO)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's notes on magCIF keys
        ref = cif.CifParser(str(plain)).get_structures(primitive=False)[0]
    assert len(ref) == 12
    assert np.allclose(ref.lattice.matrix, s.lattice, atol=1e-9)
    got = sorted((z, *np.round(np.mod(f, 1.0), 6) % 1.0) for z, f in zip(s.numbers, s.frac_coords))
    want = sorted((site.specie.Z, *np.round(np.mod(site.frac_coords, 1.0), 6) % 1.0) for site in ref)
    assert got == want
