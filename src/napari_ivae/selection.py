"""Selecting points of a 2-D scatter (Qt-free): inside a lasso polygon, inside a rectangle.

Vectorised NumPy (and :meth:`matplotlib.path.Path.contains_points` for the
lasso), fast for 10⁵–10⁶ points: a bounding-box test first, the exact test only
on the candidates.  Points with NaN coordinates are never selected.
"""

from __future__ import annotations

import numpy as np

__all__ = ["points_in_polygon", "points_in_rect"]


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Indices of the points ``(x, y)`` inside ``polygon``.

    Parameters
    ----------
    x, y : numpy.ndarray
        (N,) point coordinates.
    polygon : numpy.ndarray
        (M, 2) vertices (x, y), closed or not; fewer than 3 vertices select nothing.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices.
    """
    from matplotlib.path import Path

    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        return np.zeros(0, dtype=np.int64)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    cand = np.flatnonzero((x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]))
    if cand.size == 0:
        return cand.astype(np.int64)
    inside = Path(poly).contains_points(np.column_stack([x[cand], y[cand]]))
    return cand[inside].astype(np.int64)


def points_in_rect(
    x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float
) -> np.ndarray:
    """Indices of the points ``(x, y)`` inside the rectangle spanned by ``(x0, y0)``, ``(x1, y1)``.

    Parameters
    ----------
    x, y : numpy.ndarray
        (N,) point coordinates.
    x0, y0, x1, y1 : float
        Two opposite corners, in any order; the edges count as inside.

    Returns
    -------
    numpy.ndarray
        Sorted int64 indices.
    """
    xa, xb = sorted((x0, x1))
    ya, yb = sorted((y0, y1))
    return np.flatnonzero((x >= xa) & (x <= xb) & (y >= ya) & (y <= yb)).astype(np.int64)
