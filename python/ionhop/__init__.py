"""ionhop: ionic migration barriers (Em, eV) of mobile ions in crystals, from Python.

    import ionhop
    model = ionhop.Model()                       # the bundled default model, loaded once
    r = model.predict_hop("initial.vasp", "final.vasp")
    print(r.em, r.spread, r.good)
    net = model.hops(structure, "Li", max_hop=5.0)   # pymatgen Structure, ASE Atoms, a path, ...
    print(net.percolation)

Structures may be given as pymatgen ``Structure``, ASE ``Atoms``, a file path, or
``ionhop.Structure``; neither pymatgen nor ASE is needed to import ionhop. Calls on one Model may
come from several threads (they are serialised inside; the GIL is released while the C library
works). Bad input raises ValueError, unreadable files OSError, with the library's one-line message.
"""
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from . import _core

__version__ = _core.version
GOOD_CONDUCTOR_EV = _core.GOOD_CONDUCTOR_EV
DEFAULT_SYMPREC = _core.DEFAULT_SYMPREC

_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr"
).split()


def element_number(symbol: str) -> int:
    """Atomic number of an element symbol ('Li' -> 3); ValueError if unknown."""
    try:
        return _SYMBOLS.index(symbol[:1].upper() + symbol[1:].lower()) + 1
    except ValueError:
        raise ValueError(f"unknown element symbol {symbol!r}") from None


def _ion_z(ion) -> int:
    """The mobile ion as an atomic number for the per-ion calibration; 0 for None (all ions)."""
    if ion is None:
        return 0
    if isinstance(ion, str):
        return element_number(ion)
    z = int(ion)
    if not 0 <= z < 128:
        raise ValueError(f"ion {ion!r}: give an element symbol or an atomic number")
    return z


@dataclass
class Structure:
    """A periodic structure: lattice rows in Å (3×3), fractional positions (N×3), atomic numbers."""

    lattice: np.ndarray
    frac_coords: np.ndarray
    numbers: np.ndarray
    label: str = ""

    def __post_init__(self):
        self.lattice = np.asarray(self.lattice, dtype=float).reshape(3, 3)
        self.frac_coords = np.asarray(self.frac_coords, dtype=float).reshape(-1, 3)
        self.numbers = np.asarray(self.numbers, dtype=int).reshape(-1)

    @property
    def symbols(self) -> List[str]:
        return [_SYMBOLS[z - 1] for z in self.numbers]

    def __len__(self):
        return len(self.numbers)


_DISORDER = {"sites": 0, "half": 1, "refuse": 2}


def read(path, disorder: str = "sites", block: Optional[str] = None) -> Structure:
    """The (first) structure of a POSCAR/CONTCAR, CIF (.mcif too), extended XYZ or JSON record file,
    gzip-compressed or not.

    ``disorder``: how partly occupied CIF sites are read: "sites" (every candidate site taken as
    occupied, after merging split positions and giving shared sites to their majority species),
    "half" (only sites of occupancy >= 0.5) or "refuse" (ValueError). What was done arrives as
    UserWarnings. ``block``: the data block data_BLOCK of a CIF (default: its first block with
    atom sites, with a warning when several blocks hold some)."""
    return read_all(path, disorder, block)[0]


def read_all(path, disorder: str = "sites", block: Optional[str] = None) -> List[Structure]:
    """Every structure of a file (a JSON record file holds many); ``disorder`` and ``block`` as for
    read()."""
    if disorder not in _DISORDER:
        raise ValueError(f"disorder must be one of {', '.join(_DISORDER)}, not {disorder!r}")
    return [Structure(l, f, z, j) for l, f, z, j in _core.read(os.fspath(path), _DISORDER[disorder], block)]


def as_structure(obj) -> Structure:
    """An ionhop Structure from a Structure, a pymatgen Structure, an ASE Atoms or a file path."""
    if isinstance(obj, Structure):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return read(obj)
    if hasattr(obj, "lattice") and hasattr(obj, "frac_coords") and hasattr(obj, "atomic_numbers"):  # pymatgen
        return Structure(obj.lattice.matrix, obj.frac_coords, obj.atomic_numbers)
    if hasattr(obj, "get_scaled_positions") and hasattr(obj, "numbers") and hasattr(obj, "cell"):  # ASE
        return Structure(np.asarray(obj.cell), obj.get_scaled_positions(wrap=False), obj.numbers)
    raise TypeError(f"cannot use a {type(obj).__name__} as a structure (give a pymatgen Structure, an ASE Atoms, "
                    "a file path or an ionhop.Structure)")


def _args(s: Structure):
    return s.lattice.tolist(), s.frac_coords.tolist(), [int(z) for z in s.numbers]


@dataclass
class HopResult:
    """One hop: Em (eV), the ensemble spread, every member's Em, the verdict, the path's geometry."""

    em: float
    spread: float
    members: List[float]
    length: float
    closest_approach: float
    ion: int
    frac_from: List[float]
    frac_to: List[float]
    interval: Optional[Tuple[float, float]] = None  # calibrated 90 % central interval (eV), if the model has one
    p_good: Optional[float] = None  # calibrated P(Em < 0.65 eV), if the model has one
    outside_domain: str = ""  # why the hop lies outside the model's training domain ("" if it does not)
    rep_distance: float = float("nan")  # distance from the training records in the model's representation
    # (in units of their own typical distance; above 2 the hop is flagged); NaN if the model stores none

    @property
    def good(self) -> bool:
        """A good conductor: Em below 0.65 eV."""
        return self.em < GOOD_CONDUCTOR_EV


@dataclass
class HopNetwork:
    """The hop network of an element: classes with their Em, every hop, the percolation barriers."""

    ion: str
    spacegroup: int
    spacegroup_symbol: str
    n_sites: int
    classes: List[dict]
    hops: List[dict]
    percolation: dict
    percolation_directions: dict = field(default_factory=dict)

    @property
    def lowest(self) -> Optional[dict]:
        return min(self.classes, key=lambda c: c["em"]) if self.classes else None


class Model:
    """A model file loaded once: ``Model()`` is the bundled default model."""

    def __init__(self, path=None):
        if path is None:
            bundled = os.path.join(os.path.dirname(__file__), "models", "default.ionhop")
            path = bundled if os.path.exists(bundled) else None
        self._p = _core.Predictor(None if path is None else os.fspath(path))

    @property
    def path(self) -> str:
        return self._p.path

    @property
    def n_members(self) -> int:
        return self._p.n_members

    @property
    def calibrated(self) -> bool:
        """The model file carries an interval calibration (HopResult.interval and p_good are set)."""
        return self._p.calibrated

    def predict_hop(self, initial, final=None, *, ion: Optional[int] = None, to=None) -> HopResult:
        """Em of a hop: two end points ``predict_hop(initial, final)`` (the moving ion is found), or an
        atom of one structure and its fractional destination ``predict_hop(s, ion=i, to=(x, y, z))``
        (``ion`` counted from 0). End points that differ by more than the moving ion, a destination
        close to an atom or on the ion's own periodic image give a ``UserWarning`` saying so
        (docs/commands.md, *Checked hops*)."""
        s = as_structure(initial)
        if final is not None:
            if ion is not None or to is not None:
                raise ValueError("give either a final structure or ion= and to=, not both")
            d = self._p.predict_endpoints(*_args(s), *_args(as_structure(final)))
        else:
            if ion is None or to is None:
                raise ValueError("predict_hop needs a final structure, or ion= and to=")
            to = [float(x) for x in np.asarray(to, dtype=float).reshape(3)]
            d = self._p.predict_move(*_args(s), int(ion), tuple(to))
        return HopResult(d["em"], d["spread"], d["members"], d["length"], d["closest_approach"], d["ion"],
                         d["from"], d["to"], *self._calibrated(d["em"], d["spread"], d["ion_z"]), d["outside_domain"],
                         d["rep_distance"])

    def interval(self, em: float, spread: float, level: float = 0.9, ion=None) -> Tuple[float, float]:
        """The calibrated central interval (eV) of a prediction with its ensemble spread at ``level``
        (docs/method.md §13), for a hop of mobile ion ``ion`` (symbol or atomic number; the model's
        calibration is per ion; None: over all ions); ValueError if the model carries no calibration."""
        return self._p.interval(_ion_z(ion), float(em), float(spread), float(level))

    def p_good(self, em: float, spread: float, ion=None) -> Optional[float]:
        """Calibrated P(Em < 0.65 eV) of a prediction of a hop of ``ion`` (as for ``interval``); None if
        the model carries no calibration."""
        p = self._p.p_good(_ion_z(ion), float(em), float(spread))
        return None if math.isnan(p) else p

    def _calibrated(self, em, spread, ion_z):
        if not self._p.calibrated:
            return None, None
        return self.interval(em, spread, ion=ion_z), self.p_good(em, spread, ion=ion_z)

    def hops(self, structure, ion: str, max_hop: float = 5.0, symprec: float = DEFAULT_SYMPREC) -> HopNetwork:
        """Every hop of element ``ion`` up to ``max_hop`` Å in symmetry classes, each class's Em (the same
        for any cell of the crystal), and the 1D/2D/3D percolation barriers."""
        s = as_structure(structure)
        d = self._p.hops(*_args(s), element_number(ion), float(max_hop), float(symprec))
        return HopNetwork(ion, d["spacegroup"], d["spacegroup_symbol"], d["n_sites"], d["classes"], d["hops"],
                          d["percolation"], d["percolation_directions"])

    def screen(self, structures, ion: str, max_hop: float = 5.0, symprec: float = DEFAULT_SYMPREC) -> List[dict]:
        """One result per structure, as ``ionhop screen`` writes them: ``status`` "ok" with the hop
        network, class barriers and percolation, or "error" with the reason; a bad structure never
        stops the others."""
        out = []
        for k, obj in enumerate(structures):
            name = os.fspath(obj) if isinstance(obj, (str, os.PathLike)) else f"structure {k + 1}"
            try:
                s = as_structure(obj)
                net = self.hops(s, ion, max_hop, symprec)
            except (ValueError, OSError, TypeError) as e:
                out.append({"file": name, "ion": ion, "status": "error", "error": str(e)})
                continue
            sites = [s.frac_coords[i].tolist() for i in range(len(s)) if s.numbers[i] == element_number(ion)]
            index = {i: n for n, i in enumerate(i for i in range(len(s)) if s.numbers[i] == element_number(ion))}
            hops = [dict(h, **{"from": index[h["from"]], "to": index[h["to"]], "image": list(h["image"])})
                    for h in net.hops]
            out.append({"file": name, "formula": _formula(s), "ion": ion, "status": "ok", "error": None,
                        "spacegroup": net.spacegroup, "spacegroup_symbol": net.spacegroup_symbol,
                        "lattice": s.lattice.tolist(), "sites": sites, "classes": net.classes, "hops": hops,
                        "percolation": net.percolation, "percolation_directions": net.percolation_directions,
                        "verdict": _verdict(net.percolation)})
        return out


def _verdict(percolation: dict) -> str:
    """As ionhop screen says it: the network's best dimension below the good-conductor line."""
    best = max((d for d, key in ((1, "1d"), (2, "2d"), (3, "3d"))
                if percolation[key] is not None and percolation[key] < GOOD_CONDUCTOR_EV), default=0)
    if best:
        return f"good ({best}D network below {GOOD_CONDUCTOR_EV:.2f} eV)"
    if percolation["1d"] is not None:
        return f"poor (no network below {GOOD_CONDUCTOR_EV:.2f} eV)"
    return "no percolating network within the hop length"


def _formula(s: Structure) -> str:
    counts = {}
    for sym in s.symbols:
        counts[sym] = counts.get(sym, 0) + 1
    return "".join(f"{k}{v}" for k, v in counts.items())


__all__ = ["Model", "Structure", "HopResult", "HopNetwork", "read", "read_all", "as_structure", "element_number",
           "GOOD_CONDUCTOR_EV"]
