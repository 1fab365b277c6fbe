"""Figures of merit for structure–property predictions (numpy only).

A spectrum cannot tell the orientation of the arrangement around a point, so
spec2im predictions are compared through a rotation-invariant summary: the
ring-averaged intensity profile of the patch about its centre
(:func:`ring_profile`), scored by the best affine fit of the predicted
profiles to the true ones (:func:`affine_unexplained`).
"""

from __future__ import annotations

import numpy as np

from napari_ivae._errors import IvaeError

__all__ = [
    "affine_unexplained",
    "affine_unexplained_rows",
    "pearson_r",
    "ring_profile",
    "spectrum_mse",
]


def ring_profile(patches, n_rings: int | None = None) -> np.ndarray:
    """Mean intensity of 1-px-wide rings about the patch centre: (N, R) from (N, [C,] w, w).

    Ring ``k`` holds the pixels at distance ``k ≤ r < k + 1`` from the
    centre; the default ``R = w // 2`` rings stay inside the patch.  Channels
    are averaged.
    """
    p = np.asarray(patches, dtype=float)
    if p.ndim == 4:
        p = p.mean(1)
    w = p.shape[-1]
    c = (w - 1) / 2
    yy, xx = np.mgrid[:w, :w]
    ring = np.floor(np.hypot(yy - c, xx - c)).astype(int).ravel()
    n = w // 2 if n_rings is None else int(n_rings)
    flat = p.reshape(len(p), -1)
    return np.stack([flat[:, ring == k].mean(1) for k in range(n)], axis=1)


def affine_unexplained(pred, true) -> float:
    """``1 − r²`` of the best affine fit ``true ≈ a · pred + b`` over all values."""
    x, y = np.asarray(pred, float).ravel(), np.asarray(true, float).ravel()
    if x.std() == 0 or y.std() == 0:
        return 1.0
    return float(1.0 - np.corrcoef(x, y)[0, 1] ** 2)


def affine_unexplained_rows(pred, true) -> np.ndarray:
    """``1 − r²`` of the best affine fit of each row of ``pred`` to the same row of ``true``.

    Per patch: how well the *shape* of each predicted ring profile follows the
    true one (its level and contrast are fitted away).  A row where either side
    is constant gives 1.
    """
    x, y = np.asarray(pred, float), np.asarray(true, float)
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    den = (x**2).sum(1) * (y**2).sum(1)
    r2 = np.where(den > 0, (x * y).sum(1) ** 2 / np.where(den > 0, den, 1), 0.0)
    return 1.0 - r2


def pearson_r(pred, true) -> float:
    """Mean over rows of the Pearson correlation between predicted and true rows (e.g. spectra)."""
    x, y = np.asarray(pred, float), np.asarray(true, float)
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    den = np.sqrt((x**2).sum(1) * (y**2).sum(1))
    return float(np.mean(np.where(den > 0, (x * y).sum(1) / np.where(den > 0, den, 1), 0.0)))


def spectrum_mse(pred, true) -> np.ndarray:
    """Mean squared error of each predicted spectrum (row) against the measured one: ``(N,)``."""
    x, y = np.asarray(pred, float), np.asarray(true, float)
    if x.shape != y.shape or x.ndim != 2:
        raise IvaeError(
            f"predicted and measured spectra must both be (N, E) of one shape; "
            f"got {x.shape} and {y.shape}"
        )
    return ((x - y) ** 2).mean(1)
