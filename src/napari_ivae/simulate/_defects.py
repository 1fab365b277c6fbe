"""Topological defects of simulated graphene and the exact ring truth.

- Stone–Wales: one C–C bond rotated by 90° about its centre and re-bonded,
  turning four hexagons into two pentagons and two heptagons (5-7-7-5).
- Reconstructed single vacancy: one atom removed and two of its three
  neighbours bonded together (a pentagon and a nonagon, 5-9); the third
  neighbour keeps a dangling bond.

After re-bonding, the atoms within 3 spacings of each defect relax with a
Keating-like valence-force model (bond springs of rest length ``spacing``,
weaker springs of rest length ``√3·spacing`` between two neighbours of an
atom); the atoms further out do not move.  Defects are placed inside the
image (3 spacings from its edge), 4 spacings away from other grains and 6
spacings from each other, drawn from their own random stream.

The truth bond graph is exact: bonds of the ideal lattice within a grain,
re-bonded at the defects; no bonds across grain boundaries.  The truth rings
are the bounded faces of that graph (at the relaxed positions, before
``position_jitter`` and scan distortion); atoms within 3 spacings of another
grain have no known truth (``ring_known`` False).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from napari_ivae._errors import IvaeError, check_range

#: bond spring : second-neighbour spring stiffness of the relaxation
_K_ANGLE = 0.6
#: truth rings: largest face counted as a ring (as :func:`napari_ivae.rings.find_rings`)
TRUTH_MAX_RING = 9


class RingTruth:
    """Mixin of :class:`~napari_ivae.simulate.STEMSample`: ring truth computed on first use."""

    _ring_inputs: tuple | None
    _ring_truth: tuple | None

    def _truth(self) -> tuple:
        if self._ring_truth is None:
            inputs = self._ring_inputs
            self._ring_truth = (None, None) if inputs is None else drawn_truth(*inputs)
        return self._ring_truth

    @property
    def rings(self) -> pd.DataFrame | None:
        """Graphene: truth ring statistics of every row of ``atoms`` (None for other lattices)."""
        return self._truth()[0]

    @property
    def bonds(self) -> np.ndarray | None:
        """Graphene: (E, 2) int, the exact bonds between rows of ``atoms`` (else None)."""
        return self._truth()[1]


def check_defect_options(o: dict) -> None:
    """Check ``stone_wales`` and ``reconstructed_vacancies`` of :func:`simulate_stem`."""
    for name in ("stone_wales", "reconstructed_vacancies"):
        check_range(name, o[name], low=0, high=10000)
        if o[name] != int(o[name]):
            raise IvaeError(f"{name}={o[name]!r} must be a whole number of defects")
        if o[name] and o["lattice"] != "graphene":
            raise IvaeError(
                f"{name}={o[name]!r} applies to lattice='graphene' only; got {o['lattice']!r}"
            )


def lattice_bonds(pts: np.ndarray, grain: np.ndarray, spacing: float) -> np.ndarray:
    """Nearest-neighbour bonds of the ideal lattice within each grain, (E, 2) i < j."""
    pairs = cKDTree(pts).query_pairs(r=1.05 * spacing, output_type="ndarray").astype(np.int64)
    return pairs[grain[pairs[:, 0]] == grain[pairs[:, 1]]]


def _neighbours(bonds: set, n: int) -> list[list[int]]:
    adj: list[list[int]] = [[] for _ in range(n)]
    for i, j in bonds:
        adj[i].append(j)
        adj[j].append(i)
    return adj


def _candidates(pts, grain, spacing, shape, rng) -> np.ndarray:
    """Sites eligible as defect centres, in random order."""
    h, w = shape
    m = 3 * spacing
    ok = (pts[:, 0] >= m) & (pts[:, 0] <= h - 1 - m) & (pts[:, 1] >= m) & (pts[:, 1] <= w - 1 - m)
    for g in np.unique(grain):
        other = pts[grain != g]
        if len(other):
            d, _ = cKDTree(other).query(pts[grain == g])
            ok[grain == g] &= d > 4 * spacing
    return rng.permutation(np.flatnonzero(ok))


def _place(pts, cand, n, spacing) -> list[int]:
    """Greedy choice of ``n`` centres among ``cand``, 6 spacings apart."""
    chosen: list[int] = []
    for c in cand.tolist():
        if len(chosen) == n:
            break
        if chosen and np.hypot(*(pts[chosen] - pts[c]).T).min() < 6 * spacing:
            continue
        chosen.append(c)
    return chosen


def _stone_wales(pts, adj, bonds: set, a: int, rng) -> list[int]:
    """Rotate the bond of ``a`` to one random neighbour by 90° and re-bond (in place).

    Returns the 6 atoms of the defect core (the bond and its 4 neighbours).
    """
    b = adj[a][rng.integers(len(adj[a]))]
    mid = (pts[a] + pts[b]) / 2
    for k in (a, b):
        dy, dx = pts[k] - mid
        pts[k] = mid + np.array([-dx, dy])
    na = [k for k in adj[a] if k != b]
    nb = [k for k in adj[b] if k != a]
    # a keeps its neighbour nearer to its new place and takes b's nearer one
    a_keep = min(na, key=lambda k: np.hypot(*(pts[k] - pts[a])))
    b_give = min(nb, key=lambda k: np.hypot(*(pts[k] - pts[a])))
    a_give = next(k for k in na if k != a_keep)
    bonds.discard((min(a, a_give), max(a, a_give)))
    bonds.discard((min(b, b_give), max(b, b_give)))
    bonds.add((min(a, b_give), max(a, b_give)))
    bonds.add((min(b, a_give), max(b, a_give)))
    return [a, b, *na, *nb]


def _vacancy_59(adj, bonds: set, v: int, rng) -> list[int]:
    """Remove the bonds of ``v`` and bond two of its neighbours (in place); returns them all 3."""
    nbrs = list(adj[v])
    for k in nbrs:
        bonds.discard((min(v, k), max(v, k)))
    i, j = rng.permutation(nbrs)[:2].tolist()
    bonds.add((min(i, j), max(i, j)))
    return nbrs


def _relax(pts, bonds: np.ndarray, free: np.ndarray, spacing: float, steps: int = 400) -> None:
    """Keating-like relaxation of the ``free`` atoms (in place, units of ``spacing``)."""
    touch = free[bonds[:, 0]] | free[bonds[:, 1]]
    bb = bonds[touch]
    adj = _neighbours(set(map(tuple, bonds.tolist())), len(pts))
    near = np.unique(bb.ravel())
    trip = [(j, k) for i in near for x, j in enumerate(adj[i]) for k in adj[i][x + 1 :]]
    aa = np.array(trip, np.int64).reshape(-1, 2)
    pairs = np.concatenate([bb, aa])
    rest = np.concatenate([np.ones(len(bb)), np.full(len(aa), np.sqrt(3.0))])
    weight = np.concatenate([np.ones(len(bb)), np.full(len(aa), _K_ANGLE)])
    r = pts / spacing
    move = free[:, None].astype(float)
    for _ in range(steps):
        d = r[pairs[:, 1]] - r[pairs[:, 0]]
        length = np.hypot(d[:, 0], d[:, 1])
        f = (weight * (length - rest) / np.maximum(length, 1e-9))[:, None] * d
        grad = np.zeros_like(r)
        np.add.at(grad, pairs[:, 1], f)
        np.add.at(grad, pairs[:, 0], -f)
        r -= 0.1 * grad * move
    pts[:] = r * spacing


def add_defects(pts, grain, spacing, shape, n_sw: int, n_59: int, seed: int):
    """Stone–Wales and reconstructed-vacancy defects on graphene sites.

    Returns
    -------
    pts : numpy.ndarray
        (N, 2) relaxed positions (a copy).
    bonds : numpy.ndarray
        (E, 2) exact bonds, i < j (none to removed sites).
    removed : numpy.ndarray
        (N,) bool, the sites removed by reconstructed vacancies.
    defect : numpy.ndarray
        (N,) str, "stone_wales" / "vacancy_59" for the atoms re-bonded by a defect, else "".
    """
    n = len(pts)
    bonds_arr = lattice_bonds(pts, grain, spacing)
    removed = np.zeros(n, bool)
    defect = np.full(n, "", dtype=object)
    if n_sw + n_59 == 0:
        return pts, bonds_arr, removed, defect
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    centres = _place(pts, _candidates(pts, grain, spacing, shape, rng), n_sw + n_59, spacing)
    if len(centres) < n_sw + n_59:
        raise IvaeError(
            f"stone_wales={n_sw} + reconstructed_vacancies={n_59} defects do not fit "
            f"6 spacings apart inside the grains of this {shape[0]}×{shape[1]} image; "
            f"at most {len(centres)} did"
        )
    pts = pts.copy()
    bonds = set(map(tuple, bonds_arr.tolist()))
    adj = _neighbours(bonds, n)
    for k, c in enumerate(centres):
        if k < n_sw:
            defect[_stone_wales(pts, adj, bonds, c, rng)] = "stone_wales"
        else:
            defect[_vacancy_59(adj, bonds, c, rng)] = "vacancy_59"
            removed[c] = True
    bonds_arr = np.array(sorted(bonds), np.int64).reshape(-1, 2)
    d, _ = cKDTree(pts[centres]).query(pts)
    _relax(pts, bonds_arr, (d <= 3 * spacing) & ~removed, spacing)
    return pts, bonds_arr, removed, defect


def ring_truth(pts, bonds, present, grain, spacing) -> pd.DataFrame:
    """Truth ring table of the ``present`` sites (rows in site order).

    Columns ``ring_sizes``, ``ring_count``, ``ring_label`` (faces of the exact
    bond graph) and ``ring_known`` (False within 3 spacings of another grain).
    """
    from napari_ivae.rings import ring_table, rings_from_bonds

    idx = np.full(len(pts), -1, np.int64)
    idx[present] = np.arange(int(present.sum()))
    keep = present[bonds[:, 0]] & present[bonds[:, 1]]
    sub_bonds = idx[bonds[keep]]
    yx, g = pts[present], grain[present]
    rings = rings_from_bonds(yx, sub_bonds, max_ring=TRUTH_MAX_RING)
    table = ring_table(len(yx), rings).drop(columns="border")
    known = np.ones(len(yx), bool)
    for gi in np.unique(g):
        other = yx[g != gi]
        if len(other):
            d, _ = cKDTree(other).query(yx[g == gi])
            known[g == gi] = d > 3 * spacing
    table["ring_known"] = known
    return table


def drop_sites(keep, pts, sub, grain, bonds, defect):
    """Keep the sites ``keep`` (bool); bonds re-indexed, bonds to dropped sites removed."""
    idx = np.full(len(pts), -1, np.int64)
    idx[keep] = np.arange(int(keep.sum()))
    b = idx[bonds]
    b = b[(b >= 0).all(axis=1)]
    return pts[keep], sub[keep], grain[keep], b, defect[keep]


def drawn_truth(ideal, grain, bonds, defect, inside, vac, spacing):
    """Truth rings and bonds of the drawn atoms (``inside`` sites that are not ``vac``).

    The truth graph is the whole specimen (sites outside the image included,
    vacancies excluded), so atoms at the image edge have their full rings.

    Returns
    -------
    rings : pandas.DataFrame
        One row per drawn atom (the rows of ``STEMSample.atoms``).
    bonds : numpy.ndarray
        (E, 2) bonds between drawn atoms.
    """
    specimen = np.ones(len(ideal), bool)
    specimen[np.flatnonzero(inside)[vac]] = False
    table = ring_truth(ideal, bonds, specimen, grain, spacing)
    drawn = inside & specimen
    table = table[drawn[specimen]].reset_index(drop=True)
    table["defect"] = pd.Series(defect[drawn], dtype=str)
    idx = np.full(len(ideal), -1, np.int64)
    idx[drawn] = np.arange(int(drawn.sum()))
    b = idx[bonds]
    return table, b[(b >= 0).all(axis=1)]
