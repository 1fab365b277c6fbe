"""Atom tables: one atom per close group, and the sublattice of every atom."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["assign_sublattices", "merge_duplicates"]


def merge_duplicates(
    yx: np.ndarray, score: np.ndarray, *, min_distance: float
) -> tuple[np.ndarray, int]:
    """Keep one atom of every group closer than ``min_distance``: the highest score.

    Greedy in decreasing score: an atom is dropped when a kept atom lies
    within ``min_distance`` of it.  Used by every method (LoG, DCNN), so no two
    atoms of a table are closer than ``min_distance``.

    Parameters
    ----------
    yx : ndarray
        (N, 2) positions.
    score : ndarray
        (N,) scores; the higher one of a close pair is kept.
    min_distance : float
        Pixels.

    Returns
    -------
    keep : ndarray
        (N,) bool mask of the atoms kept.
    n_merged : int
        Number of atoms dropped.
    """
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    n = len(yx)
    keep = np.ones(n, dtype=bool)
    if n < 2 or not min_distance > 0:
        return keep, 0
    pairs = cKDTree(yx).query_pairs(float(min_distance), output_type="ndarray")
    if len(pairs) == 0:
        return keep, 0
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")] = np.arange(n)
    involved = np.unique(pairs)
    nbrs: dict[int, list[int]] = {int(i): [] for i in involved}
    for i, j in pairs:
        nbrs[int(i)].append(int(j))
        nbrs[int(j)].append(int(i))
    for i in sorted(nbrs, key=lambda k: rank[k]):
        if keep[i]:
            for j in nbrs[i]:
                if rank[j] > rank[i]:
                    keep[j] = False
    return keep, int(n - keep.sum())


def assign_sublattices(
    yx: np.ndarray, height: np.ndarray, *, spacing: float, n_iter: int = 4
) -> np.ndarray:
    """Label every atom with its sublattice: 0 = the brightest, 1 = the dimmer one.

    1. Two brightness classes (Otsu split of the log peak heights);
    2. sites, not brightness, define a sublattice: in the two-sublattice
       lattices (honeycomb MoS2, perovskite A/B, rock salt) the nearest
       neighbours of a site are of the other sublattice, so an atom whose
       neighbours (within 1.2 × ``spacing``) are mostly of one class is put in
       the other (a few passes).  A bright substituent on a dim site (Se on an
       S2 site) therefore stays on the dim sublattice;
    3. the split is kept only when the two classes are really different: each
       holds ≥ 10 % of the atoms and their median heights differ by ≥ 20 %;
       otherwise (graphene, a one-element lattice) every atom is 0.

    Parameters
    ----------
    yx : ndarray
        (N, 2) positions.
    height : ndarray
        (N,) peak heights (any positive brightness measure).
    spacing : float
        Nearest-neighbour distance, pixels.
    n_iter : int
        Neighbour passes.

    Returns
    -------
    ndarray
        (N,) int64 sublattice labels.
    """
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    n = len(yx)
    lab = np.zeros(n, dtype=np.int64)
    if n < 8:
        return lab
    lh = np.log(np.clip(np.asarray(height, dtype=np.float64), 1e-12, None))
    lab = _otsu_dim(lh, n)
    lab = _neighbour_votes(yx, lab, spacing=spacing, n_iter=n_iter)
    n1 = int(lab.sum())
    if min(n1, n - n1) < 0.1 * n:
        return np.zeros(n, dtype=np.int64)
    h0 = np.median(lh[lab == 0])
    h1 = np.median(lh[lab == 1])
    if h0 - h1 < np.log(1.0 / 0.8):
        return np.zeros(n, dtype=np.int64)
    return lab


def _otsu_dim(lh: np.ndarray, n: int) -> np.ndarray:
    """1 where the log height is at or below the Otsu threshold (1-D, 64 bins), else 0."""
    hist, edges = np.histogram(lh, bins=64)
    mids = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(hist)
    w1 = n - w0
    m0 = np.cumsum(hist * mids)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    cut = mids[int(np.argmax(between))]
    return (lh <= cut).astype(np.int64)  # 1 = dim


def _neighbour_votes(yx: np.ndarray, lab: np.ndarray, *, spacing: float, n_iter: int) -> np.ndarray:
    """Relabel by the neighbours (sites of the other sublattice surround each site)."""
    n = len(yx)
    pairs = cKDTree(yx).query_pairs(1.2 * spacing, output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        deg = np.bincount(np.r_[i, j], minlength=n)
        for _ in range(n_iter):
            dim_nb = np.bincount(np.r_[i, j], weights=np.r_[lab[j], lab[i]], minlength=n)
            frac = dim_nb / np.maximum(deg, 1)
            new = lab.copy()
            new[(deg >= 2) & (frac >= 0.6)] = 0  # surrounded by dim sites: a bright site
            new[(deg >= 2) & (frac <= 0.4)] = 1
            if np.array_equal(new, lab):
                break
            lab = new
    return lab
