"""The Python package against the command-line tool and the C library's own results: hops from end
points and from an ion and a destination, ensemble members, hop networks with percolation, screening
with error rows, structure conversion, errors as exceptions, and threads sharing one model."""
import math
import os
import re
import subprocess
import threading

import numpy as np
import pytest

import ionhop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INI = os.path.join(ROOT, "examples", "LiFePO4_hop", "initial.vasp")
FIN = os.path.join(ROOT, "examples", "LiFePO4_hop", "final.vasp")
OLIVINE = os.path.join(ROOT, "examples", "LiFePO4", "LiFePO4.vasp")
CLI = os.environ.get("IONHOP_CLI", os.path.join(ROOT, "build", "ionhop"))


@pytest.fixture(scope="module")
def model():
    return ionhop.Model()


def test_read():
    s = ionhop.read(INI)
    assert s.lattice.shape == (3, 3) and s.frac_coords.shape == (len(s), 3)
    assert s.numbers.dtype.kind == "i" and s.symbols[0] == "Li"
    assert len(ionhop.read_all(INI)) == 1


def test_endpoints_as_the_tool(model):
    r = model.predict_hop(INI, FIN)
    assert model.n_members == 5 and len(r.members) == 5
    assert math.isclose(r.em, float(np.mean(r.members)), abs_tol=1e-12)
    assert math.isclose(r.spread, float(np.std(r.members)), abs_tol=1e-12)
    assert r.good == (r.em < 0.65) and 2.9 < r.length < 3.1
    if os.path.exists(CLI):
        out = subprocess.run([CLI, "predict", "--initial", INI, "--final", FIN], capture_output=True, text=True).stdout
        em = float(re.search(r"Em:\s+([0-9.]+) eV", out).group(1))
        assert abs(em - r.em) <= 0.0005


def test_ion_and_destination_is_the_same_hop(model):
    r = model.predict_hop(INI, FIN)
    r2 = model.predict_hop(ionhop.read(INI), ion=r.ion, to=r.frac_to)
    assert r2.em == r.em and r2.members == r.members


def test_pymatgen_and_ase_inputs_agree_with_files(model):
    want = model.predict_hop(INI, ion=0, to=(0.75, 0.75, 0.5))
    pymatgen = pytest.importorskip("pymatgen.core")
    got = model.predict_hop(pymatgen.Structure.from_file(INI), ion=0, to=(0.75, 0.75, 0.5))
    assert abs(got.em - want.em) < 1e-6
    ase_io = pytest.importorskip("ase.io")
    got = model.predict_hop(ase_io.read(INI), ion=0, to=(0.75, 0.75, 0.5))
    assert abs(got.em - want.em) < 1e-6
    net_file = model.hops(OLIVINE, "Li")
    net_pmg = model.hops(pymatgen.Structure.from_file(OLIVINE), "Li")
    net_ase = model.hops(ase_io.read(OLIVINE), "Li")
    for other in (net_pmg, net_ase):
        assert other.percolation["1d"] == pytest.approx(net_file.percolation["1d"], abs=1e-6)
        assert sorted(c["em"] for c in other.classes) == pytest.approx(sorted(c["em"] for c in net_file.classes), abs=1e-6)


def test_hop_table_as_the_tool(model, tmp_path):
    if not os.path.exists(CLI):
        pytest.skip("no ionhop binary")
    csv = tmp_path / "hops.csv"
    subprocess.run([CLI, "predict", OLIVINE, "--ion", "Li", "--out", str(csv)], check=True, capture_output=True)
    rows = [line.split(",") for line in csv.read_text().splitlines()[1:]]
    net = model.hops(OLIVINE, "Li")
    cli = sorted((float(r[5]), float(r[8])) for r in rows)  # length, em
    py = sorted((c["length"], c["em"]) for c in net.classes)
    assert len(cli) == len(py)
    for (la, ea), (lb, eb) in zip(cli, py):
        assert abs(la - lb) < 1e-4 and abs(ea - eb) < 1e-6


def test_duck_typed_pymatgen_and_ase_objects(model):
    s = ionhop.read(INI)

    class Lattice:
        matrix = s.lattice

    class PymatgenLike:
        lattice = Lattice()
        frac_coords = s.frac_coords
        atomic_numbers = list(s.numbers)

    class AseLike:
        cell = s.lattice
        numbers = s.numbers

        def get_scaled_positions(self, wrap=True):
            return s.frac_coords

    a = model.predict_hop(PymatgenLike(), ion=0, to=(0.75, 0.75, 0.5)).em
    b = model.predict_hop(AseLike(), ion=0, to=(0.75, 0.75, 0.5)).em
    c = model.predict_hop(s, ion=0, to=(0.75, 0.75, 0.5)).em
    assert a == b == c
    with pytest.raises(TypeError):
        model.predict_hop(42, ion=0, to=(0, 0, 0))


def test_hop_network_and_percolation(model):
    net = model.hops(OLIVINE, "Li", max_hop=5.0)
    assert net.spacegroup == 62 and net.n_sites == 16 and len(net.classes) == 2
    assert len(net.hops) == sum(c["count"] for c in net.classes) == 64
    lowest = net.lowest
    assert math.isclose(net.percolation["1d"], lowest["em"], abs_tol=1e-6)
    assert net.percolation_directions["1d"] == [(0, 1, 0)]
    assert net.percolation["2d"] is not None and net.percolation["3d"] is None
    for h in net.hops:
        assert h["em"] == net.classes[h["class"]]["em"]


def test_screen_keeps_going(model, tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n")
    res = model.screen([OLIVINE, str(bad), ionhop.read(INI)], "Li")
    assert [r["status"] for r in res] == ["ok", "error", "ok"]
    assert "bad.cif" in res[1]["error"]
    ok = res[0]
    assert ok["formula"] == "Li16Fe16P16O64" and len(ok["sites"]) == 16
    assert all(0 <= h["from"] < 16 and 0 <= h["to"] < 16 and len(h["image"]) == 3 for h in ok["hops"])


def test_errors_are_exceptions(model):
    s = ionhop.read(INI)
    with pytest.raises(ValueError, match="overlap"):
        model.predict_hop(s, ion=0, to=s.frac_coords[1])
    with pytest.raises(ValueError, match="already is"):
        model.predict_hop(s, ion=0, to=s.frac_coords[0])
    with pytest.raises(ValueError, match="not a finite point|non-finite"):
        model.predict_hop(s, ion=0, to=(math.nan, 0, 0))
    bad = ionhop.Structure(s.lattice, s.frac_coords * np.nan, s.numbers)
    with pytest.raises(ValueError, match="non-finite"):
        model.predict_hop(bad, ion=0, to=(0.75, 0.75, 0.5))
    with pytest.raises(ValueError, match="unknown element"):
        model.hops(s, "Xx")
    with pytest.raises(ValueError, match="lattice"):
        model.predict_hop(ionhop.Structure(np.zeros((3, 3)), s.frac_coords, s.numbers), ion=0, to=(0, 0, 0))
    with pytest.raises(OSError, match="cannot open"):
        ionhop.read("no/such/file.vasp")
    with pytest.raises(OSError, match="cannot open"):
        ionhop.Model("no/such/model.ionhop")
    with pytest.raises(ValueError, match="not a migration-barrier model"):
        ionhop.Model(os.path.join(ROOT, "models", "mpt.ionhop")).predict_hop(s, ion=0, to=(0.75, 0.75, 0.5))


def test_checked_hops_warn(model):
    """End points that differ by more than the moving ion, a destination close to an atom, and a
    destination on the ion's own periodic image arrive as UserWarnings; the prediction is made."""
    ini, fin = ionhop.read(INI), ionhop.read(FIN)
    frac = fin.frac_coords.copy()
    frac[60, 0] += 1.0 / np.linalg.norm(fin.lattice[0])
    moved = ionhop.Structure(fin.lattice, frac, fin.numbers)
    with pytest.warns(UserWarning, match=r"atom 61 \(O\) moves 1\.00 Å between the end points"):
        r = model.predict_hop(ini, moved)
    assert r.em == model.predict_hop(ini, fin).em  # a 5-image model reads the initial host only
    with pytest.warns(UserWarning, match=r"cells differ by more than 0\.5 %: a \+2\.00 %"):
        model.predict_hop(ini, ionhop.Structure(fin.lattice * 1.02, fin.frac_coords, fin.numbers))
    with pytest.raises(ValueError, match="differ by more than 10 %"):
        model.predict_hop(ini, ionhop.Structure(fin.lattice * 1.2, fin.frac_coords, fin.numbers))
    o = ini.frac_coords[60]
    c = np.linalg.norm(ini.lattice[2])
    with pytest.warns(UserWarning, match=r"1\.00 Å from atom 61 \(O\)"):
        model.predict_hop(ini, ion=0, to=(o[0], o[1], o[2] + 1.0 / c))
    with pytest.raises(ValueError, match=r"0\.32 Å from atom 61 \(O\)"):
        model.predict_hop(ini, ion=0, to=(o[0], o[1], o[2] + 0.32 / c))
    with pytest.warns(UserWarning, match=r"own periodic image \[1 0 0\]"):
        r = model.predict_hop(ini, ion=0, to=(1.75, 0.5, 0.5))
    assert math.isfinite(r.em) and abs(r.length - np.linalg.norm(ini.lattice[0])) < 1e-9


def test_threads_share_one_model(model):
    want = model.predict_hop(INI, FIN).em
    got, errors = [], []

    def work():
        try:
            for _ in range(2):
                got.append(model.predict_hop(INI, FIN).em)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 8 and all(abs(g - want) < 1e-6 for g in got)


LLZO = os.path.join(ROOT, "tests", "fixtures", "disordered", "llzo_cubic.cif")
LGPS = os.path.join(ROOT, "tests", "fixtures", "disordered", "lsips_lgps.cif")


def test_disordered_cif_policies_and_warnings():
    with pytest.warns(UserWarning, match=r"72 partly occupied Li sites"):
        s = ionhop.read(LLZO)
    assert int((s.numbers == 3).sum()) == 72
    with pytest.warns(UserWarning, match=r"16 sites with occupancy under 0.5 left empty"):
        half = ionhop.read(LGPS, disorder="half")
    assert int((half.numbers == 3).sum()) == 16
    with pytest.raises(ValueError, match=r"site 'Li1' has occupancy 0.564"):
        ionhop.read(LLZO, disorder="refuse")
    with pytest.raises(ValueError, match=r"disorder must be one of"):
        ionhop.read(LLZO, disorder="random")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning):  # a warnings filter set to "error" stops the call
            ionhop.read(LLZO)


def test_calibrated_interval_and_probability(model):
    assert model.calibrated
    hop = model.predict_hop(ionhop.read(INI), final=ionhop.read(FIN))
    low, high = hop.interval
    assert 0 <= low < hop.em < high
    assert 0 < hop.p_good <= 1 and hop.p_good > 0.5  # a 0.25 eV prediction is probably good
    wide = model.interval(hop.em, hop.spread, 0.95, ion="Li")
    assert wide[0] <= low and wide[1] > high
    # the calibration is per mobile ion: the hop's interval and p are the Li ones
    assert model.interval(hop.em, hop.spread, ion="Li") == (low, high)
    assert model.interval(hop.em, hop.spread, ion=3) == (low, high)
    assert model.p_good(hop.em, hop.spread, ion="Li") == hop.p_good
    # Li hops are predicted less well than Ca hops, and the ions with few records share one group
    # that also stands for ions absent from training
    assert model.interval(0.5, 0.05, ion="Li")[1] > model.interval(0.5, 0.05, ion="Ca")[1]
    assert model.interval(0.5, 0.05, ion="K") == model.interval(0.5, 0.05, ion="Cs")
    with pytest.raises(ValueError, match="unknown element"):
        model.interval(0.5, 0.05, ion="Qq")
    assert model.p_good(3.0, 0.1) < model.p_good(0.3, 0.1)
    with pytest.raises(ValueError, match="level"):
        model.interval(0.3, 0.1, 1.5)
    out = subprocess.run([CLI, "predict", "--initial", INI, "--final", FIN], capture_output=True, text=True).stdout
    m = re.search(r"interval: ([0-9.]+) to ([0-9.]+) eV \(90 %", out)
    assert m and abs(float(m.group(1)) - low) < 0.006 and abs(float(m.group(2)) - high) < 0.006
    assert re.search(r"verdict: good \(p = %.2f\)" % hop.p_good, out)
    assert hop.outside_domain == ""  # a Li hop in an olivine is inside the training domain
    # the hop (a training record's) lies among the training records in the model's representation
    assert 0 <= hop.rep_distance < 1


def test_hop_classes_carry_intervals(model):
    net = model.hops(OLIVINE, "Li")
    for c in net.classes:
        low, high = c["interval"]
        assert low <= c["em"] <= high and 0 <= c["p_good"] <= 1
        assert "outside_domain" not in c
        assert 0 <= c["rep_distance"] < 2
    lowest = min(net.classes, key=lambda c: c["em"])
    highest = max(net.classes, key=lambda c: c["em"])
    assert lowest["p_good"] > highest["p_good"]
