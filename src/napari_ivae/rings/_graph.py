"""The bond graph of a set of atom positions: bond length, candidate bonds, planar bonds."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from napari_ivae._errors import IvaeError


def estimate_bond_length(yx: np.ndarray) -> float:
    """Bond length of atoms ``yx``: the median distance between near neighbours.

    Starts from the median nearest-neighbour distance (robust to vacancies and
    a few false atoms), then takes, twice, the median of all pair distances
    between 0.5 and 1.3 times the current estimate (every bond once: the
    nearest of three noisy neighbours alone is biased short).

    Parameters
    ----------
    yx : numpy.ndarray
        (N, 2) positions, N ≥ 2.

    Returns
    -------
    float
        The estimated bond length in the units of ``yx``.
    """
    tree = cKDTree(yx)
    d, _ = tree.query(yx, k=2)
    d1 = d[:, 1]
    d1 = d1[np.isfinite(d1) & (d1 > 0)]
    if len(d1) == 0:
        raise IvaeError("points: every atom sits on another one; cannot estimate the bond length")
    first = float(np.median(d1))
    # the nearest of several noisy neighbours is biased short: take the median of all
    # distances near it (every bond once), twice
    length = first
    for _ in range(2):
        pairs = tree.query_pairs(r=1.3 * length, output_type="ndarray")
        dist = np.hypot(*(yx[pairs[:, 0]] - yx[pairs[:, 1]]).T) if len(pairs) else np.empty(0)
        dist = dist[dist >= 0.5 * length]
        if len(dist) == 0:
            return first
        length = float(np.median(dist))
    return length


def _crossing_pairs(yx: np.ndarray, pairs: np.ndarray, reach: float) -> np.ndarray:
    """Index pairs (i, j) of candidate bonds that cross (shared atoms do not count)."""
    mid = yx[pairs].mean(axis=1)
    near = cKDTree(mid).query_pairs(r=reach, output_type="ndarray")
    if len(near) == 0:
        return near.reshape(0, 2)
    a, b = pairs[near[:, 0]], pairs[near[:, 1]]
    shared = (a[:, :1] == b).any(axis=1) | (a[:, 1:] == b).any(axis=1)
    p1, p2, q1, q2 = yx[a[:, 0]], yx[a[:, 1]], yx[b[:, 0]], yx[b[:, 1]]

    def orient(o, u, v):
        return (u[:, 0] - o[:, 0]) * (v[:, 1] - o[:, 1]) - (u[:, 1] - o[:, 1]) * (v[:, 0] - o[:, 0])

    cross = (orient(p1, p2, q1) * orient(p1, p2, q2) < 0) & (
        orient(q1, q2, p1) * orient(q1, q2, p2) < 0
    )
    return near[cross & ~shared]


def planar_bonds(
    yx: np.ndarray, bond_length: float, tolerance: float, max_bonds: int | None
) -> np.ndarray:
    """Bonds between atoms closer than ``(1 + tolerance) * bond_length``, made planar.

    Candidates shorter than half a bond length (duplicate detections) are not
    bonds.  The candidates are taken shortest first; one is dropped when it
    crosses a bond already taken or when one of its atoms already has
    ``max_bonds`` bonds.  So noisy detections never give crossing bonds: the
    shorter of two crossing bonds wins.

    Returns
    -------
    numpy.ndarray
        (E, 2) int64 atom index pairs, i < j.
    """
    cutoff = (1.0 + tolerance) * bond_length
    pairs = cKDTree(yx).query_pairs(r=cutoff, output_type="ndarray").astype(np.int64)
    if len(pairs) == 0:
        return pairs.reshape(0, 2)
    length = np.hypot(*(yx[pairs[:, 0]] - yx[pairs[:, 1]]).T)
    ok = length >= 0.5 * bond_length
    pairs, length = pairs[ok], length[ok]
    order = np.argsort(length, kind="stable")
    pairs = pairs[order]
    crossing = _crossing_pairs(yx, pairs, cutoff)
    deg_all = np.bincount(pairs.ravel(), minlength=len(yx))
    over = max_bonds is not None and (deg_all > max_bonds).any()
    if len(crossing) == 0 and not over:
        return pairs
    return pairs[_greedy(pairs, crossing, len(yx), max_bonds)]


def _greedy(pairs: np.ndarray, crossing: np.ndarray, n: int, max_bonds: int | None) -> np.ndarray:
    """Keep-mask of ``pairs`` (sorted shortest first): no crossing, at most ``max_bonds`` each."""
    conflicts: dict[int, list[int]] = {}
    for i, j in crossing.tolist():
        conflicts.setdefault(i, []).append(j)
        conflicts.setdefault(j, []).append(i)
    keep = np.zeros(len(pairs), bool)
    deg = np.zeros(n, np.int64)
    cap = np.iinfo(np.int64).max if max_bonds is None else max_bonds
    for k, (u, v) in enumerate(pairs.tolist()):
        if deg[u] >= cap or deg[v] >= cap:
            continue
        if any(keep[c] for c in conflicts.get(k, ())):
            continue
        keep[k] = True
        deg[u] += 1
        deg[v] += 1
    return keep


def prune_dangling(bonds: np.ndarray, n: int) -> np.ndarray:
    """Remove bonds to atoms with one bond, repeatedly (they cannot be on a ring)."""
    keep = np.ones(len(bonds), bool)
    while True:
        deg = np.bincount(bonds[keep].ravel(), minlength=n)
        leaf = deg == 1
        drop = keep & (leaf[bonds[:, 0]] | leaf[bonds[:, 1]])
        if not drop.any():
            return bonds[keep]
        keep &= ~drop
