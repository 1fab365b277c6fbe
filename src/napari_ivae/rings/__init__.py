"""Ring statistics of 2-D atom graphs (graphene): bonds, rings, per-atom ring labels.

The bond graph is built from the atom positions alone: the bond length is the
median distance between near neighbours (unless given), atoms closer than
``(1 + tolerance)`` bond lengths are bonded (shortest first, no crossing bonds,
at most ``max_bonds`` per atom), atoms left with one bond are pruned.  The
rings are the bounded faces of this planar graph with at most ``max_ring``
atoms: larger faces (holes, missing atoms) are not rings.  Every atom gets
its sorted ring sizes and the label of the method::

    0  fewer than 2 rings       4  [6, 6, 6]  (pristine)
    1  [6, 6]                   5  [5, 6, 7]
    2  [5, 6]                   6  [5, 6, 6]
    3  [6, 6, 7]                7  any other pattern

Atoms on the outer boundary of the graph (the unbounded face: the image
border, the convex hull of the detections) have rings missing, so their
labels are unreliable: they are marked ``border`` (and so are atoms within one
bond length of the image edge when ``shape`` is given).  Keep ``~border`` rows
for statistics or training labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError, check_range
from napari_ivae.rings._faces import face_cycles, planar_faces, simple_rows
from napari_ivae.rings._graph import estimate_bond_length, planar_bonds, prune_dangling

__all__ = [
    "RING_LABELS",
    "Rings",
    "estimate_bond_length",
    "find_rings",
    "ring_label",
    "ring_statistics",
    "ring_table",
    "rings_from_bonds",
]

#: sorted ring sizes -> label (0: fewer than 2 rings, 7: any other pattern)
RING_LABELS: dict[tuple[int, ...], int] = {
    (6, 6): 1,
    (5, 6): 2,
    (6, 6, 7): 3,
    (6, 6, 6): 4,
    (5, 6, 7): 5,
    (5, 6, 6): 6,
}


def ring_label(sizes) -> int:
    """The method's label (0–7) of one atom from its ring sizes.

    Parameters
    ----------
    sizes : sequence of int
        Sizes of the rings the atom belongs to, any order.

    Returns
    -------
    int
        0 fewer than 2 rings; 1 [6,6]; 2 [5,6]; 3 [6,6,7]; 4 [6,6,6];
        5 [5,6,7]; 6 [5,6,6]; 7 any other pattern.
    """
    sizes = tuple(sorted(int(s) for s in sizes))
    if len(sizes) < 2:
        return 0
    return RING_LABELS.get(sizes, 7)


@dataclass
class Rings:
    """The rings of an atom graph.

    Attributes
    ----------
    rings : list of numpy.ndarray
        Atom indices (rows of the input) around each ring, in order.
    sizes : numpy.ndarray
        (R,) int, atoms per ring.
    bonds : numpy.ndarray
        (E, 2) int, the bonds (atom index pairs), dangling ones included.
    bond_length : float
        The bond length used (given or estimated).
    border : numpy.ndarray
        (N,) bool, atoms whose ring set is incomplete (outer boundary, image edge).
    """

    rings: list[np.ndarray]
    sizes: np.ndarray
    bonds: np.ndarray
    bond_length: float
    border: np.ndarray


def _positions(points) -> np.ndarray:
    if isinstance(points, pd.DataFrame):
        missing = [c for c in ("y", "x") if c not in points.columns]
        if missing:
            raise IvaeError(
                f"points must have columns 'y' and 'x'; missing {', '.join(missing)} "
                f"(columns: {', '.join(map(str, points.columns)) or 'none'})"
            )
        yx = points[["y", "x"]].to_numpy(dtype=np.float64)
    else:
        yx = np.asarray(points, dtype=np.float64)
        if yx.ndim != 2 or yx.shape[1] != 2:
            raise IvaeError(f"points must be an (N, 2) array of y, x; got shape {yx.shape}")
    if len(yx) < 3:
        raise IvaeError(f"points: rings need at least 3 atoms; got {len(yx)}")
    if not np.isfinite(yx).all():
        raise IvaeError("points: y and x must be finite numbers; got NaN or inf")
    return yx


def rings_from_bonds(
    yx: np.ndarray,
    bonds: np.ndarray,
    *,
    max_ring: int = 9,
    shape: tuple[int, int] | None = None,
    bond_length: float | None = None,
) -> Rings:
    """Rings of a given planar bond graph (no bond inference).

    Parameters
    ----------
    yx : numpy.ndarray
        (N, 2) positions.
    bonds : numpy.ndarray
        (E, 2) int atom index pairs; they must not cross.
    max_ring : int
        Largest face counted as a ring.
    shape : tuple of int, optional
        Image (Y, X): atoms within ``bond_length`` of its edge are ``border``.
    bond_length : float, optional
        Used with ``shape`` only (default: median bond length).

    Returns
    -------
    Rings
    """
    yx = np.asarray(yx, dtype=np.float64)
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if bond_length is None:
        lengths = np.hypot(*(yx[bonds[:, 0]] - yx[bonds[:, 1]]).T)
        bond_length = float(np.median(lengths)) if len(lengths) else 0.0
    faces = planar_faces(yx, prune_dangling(bonds, len(yx)))
    index, cycles = face_cycles(faces, (faces.area > 0) & (faces.size <= max_ring))
    simple = simple_rows(cycles)
    index, cycles = index[simple], cycles[simple]
    ring = np.zeros(len(faces.size), bool)
    ring[index] = True
    border = np.zeros(len(yx), bool)
    border[faces.src[faces.area[faces.face] <= 0]] = True
    ringless = np.ones(len(yx), bool)
    ringless[faces.src[ring[faces.face]]] = False
    for _ in range(3):  # dangling chains hanging off the boundary are on it too
        touch = border[bonds[:, 0]] | border[bonds[:, 1]]
        border[bonds[touch].ravel()] |= ringless[bonds[touch].ravel()]
    if shape is not None:
        h, w = shape
        y, x = yx[:, 0], yx[:, 1]
        border |= (y < bond_length) | (x < bond_length)
        border |= (y > h - 1 - bond_length) | (x > w - 1 - bond_length)
    sizes = faces.size[index]
    rings = [row[:k] for row, k in zip(cycles, sizes.tolist(), strict=True)]
    return Rings(rings, sizes, bonds, float(bond_length), border)


def find_rings(
    points,
    *,
    bond_length: float | None = None,
    tolerance: float = 0.4,
    max_ring: int = 9,
    max_bonds: int | None = 3,
    shape: tuple[int, int] | None = None,
) -> Rings:
    """Bond graph and rings of atom positions.

    Parameters
    ----------
    points : pandas.DataFrame or array-like
        Atoms: a table with ``y, x`` columns or an (N, 2) array, N ≥ 3.
    bond_length : float, optional
        Bond length in pixels; default: estimated from the data
        (:func:`estimate_bond_length`).
    tolerance : float
        Atoms closer than ``(1 + tolerance) * bond_length`` are bonded; in
        [0.05, 0.7].  Graphene: second neighbours are at 1.73 bond lengths, the
        diagonals of pentagons at about 1.5, and the three-bond cap keeps
        them out (the bonds are taken shortest first), so 0.4 tolerates
        stretched defect bonds and noisy positions.
    max_ring : int
        Largest ring (atoms); larger faces are holes, not rings; in [3, 30].
    max_bonds : int or None
        Most bonds per atom (3 for graphene); None: no limit.
    shape : tuple of int, optional
        Image (Y, X): atoms within one bond length of its edge are ``border``.

    Returns
    -------
    Rings
        Rings (atom index lists, sizes), bonds, bond length, border atoms.

    Raises
    ------
    IvaeError
        Missing ``y``/``x`` columns, fewer than 3 atoms, non-finite positions,
        options out of range, or no two atoms close enough to bond.
    """
    yx = _positions(points)
    check_range("tolerance", tolerance, low=0.05, high=0.7)
    check_range("max_ring", max_ring, low=3, high=30)
    if max_bonds is not None:
        check_range("max_bonds", max_bonds, low=2, high=12)
    if bond_length is None:
        bond_length = estimate_bond_length(yx)
    else:
        check_range("bond_length", bond_length, low=0.0, low_inclusive=False)
    bonds = planar_bonds(yx, bond_length, tolerance, max_bonds)
    if len(bonds) == 0:
        raise IvaeError(
            f"points: no two of the {len(yx)} atoms are within {1 + tolerance:g} × "
            f"bond_length={bond_length:g} px of each other, so there are no bonds"
        )
    return rings_from_bonds(yx, bonds, max_ring=max_ring, shape=shape, bond_length=bond_length)


def ring_table(n: int, rings: Rings) -> pd.DataFrame:
    """Per-atom ``ring_sizes``, ``ring_count``, ``ring_label``, ``border`` of ``rings``."""
    atom = np.concatenate(rings.rings) if rings.rings else np.empty(0, np.int64)
    size = np.repeat(rings.sizes, rings.sizes)
    order = np.lexsort((size, atom))
    atom, size = atom[order], size[order]
    count = np.bincount(atom, minlength=n)
    text, label = _encode(atom, size, count)
    return pd.DataFrame(
        {
            "ring_sizes": pd.Series(text, dtype=str),
            "ring_count": count.astype(np.int64),
            "ring_label": np.asarray(label, np.int64),
            "border": rings.border,
        }
    )


def _encode(atom: np.ndarray, size: np.ndarray, count: np.ndarray) -> tuple[list, np.ndarray]:
    """Ring-size text and label per atom from (atom, size) pairs sorted by atom then size.

    Each atom's sorted sizes are packed into one integer (base 64), so the text
    and label are made once per distinct pattern.
    """
    n = len(count)
    if len(size) and (count.max() > 10 or size.max() >= 64):  # pathological graphs
        groups = np.split(size, np.cumsum(count)[:-1])
        return [";".join(map(str, g.tolist())) for g in groups], np.array(
            [ring_label(g) for g in groups], np.int64
        )
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    rank = np.arange(len(atom)) - start[atom]
    code = np.zeros(n, np.int64)
    np.add.at(code, atom, size.astype(np.int64) << (6 * rank))
    codes, inverse = np.unique(code, return_inverse=True)
    texts, labels = [], []
    for c in codes.tolist():
        sizes = [(c >> (6 * k)) & 63 for k in range(11) if (c >> (6 * k)) & 63]
        texts.append(";".join(map(str, sizes)))
        labels.append(ring_label(sizes))
    return np.array(texts, dtype=object)[inverse].tolist(), np.array(labels, np.int64)[inverse]


def ring_statistics(
    points,
    *,
    bond_length: float | None = None,
    tolerance: float = 0.4,
    max_ring: int = 9,
    max_bonds: int | None = 3,
    shape: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Ring sizes and the method's ring label of every atom.

    Parameters
    ----------
    points : pandas.DataFrame or array-like
        Atoms: a table with ``y, x`` columns (other columns are kept) or an
        (N, 2) array of ``y, x``; N ≥ 3.
    bond_length, tolerance, max_ring, max_bonds, shape
        As in :func:`find_rings`.

    Returns
    -------
    pandas.DataFrame
        The input columns (``y, x`` for an array) plus ``ring_sizes`` (sorted
        sizes joined by ";", e.g. "5;6;6"; "" without rings), ``ring_count``,
        ``ring_label`` (0–7, see :func:`ring_label`) and ``border`` (True:
        rings missing at the edge, the label is unreliable).
    """
    rings = find_rings(
        points,
        bond_length=bond_length,
        tolerance=tolerance,
        max_ring=max_ring,
        max_bonds=max_bonds,
        shape=shape,
    )
    if isinstance(points, pd.DataFrame):
        base = points.drop(
            columns=["ring_sizes", "ring_count", "ring_label", "border"], errors="ignore"
        )
        base = base.reset_index(drop=True)
    else:
        yx = np.asarray(points, dtype=np.float64)
        base = pd.DataFrame({"y": yx[:, 0], "x": yx[:, 1]})
    return pd.concat([base, ring_table(len(base), rings)], axis=1)
