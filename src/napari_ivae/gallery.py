"""A montage of sub-images: many crops in one 2-D image (Qt-free core)."""

from __future__ import annotations

import math

import numpy as np

from napari_ivae._errors import IvaeError

__all__ = ["montage", "montage_rows"]


def montage_rows(n: int, max_side: int = 8) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for ``n`` tiles, at most ``max_side`` each way."""
    n = max(0, min(int(n), max_side * max_side))
    if n == 0:
        return 0, 0
    cols = min(max_side, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def montage(
    images: np.ndarray,
    *,
    max_side: int = 8,
    gap: int = 2,
    channel_gap: int = 1,
) -> np.ndarray:
    """Tile up to ``max_side``² crops into one image, the channels of a crop side by side.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, C, h, w)`` crops (as in :class:`~napari_ivae.crop.Stack`) or ``(N, h, w)``.
    max_side : int
        At most this many tiles per row and per column; later crops are left out.
    gap : int
        Pixels between tiles.
    channel_gap : int
        Pixels between the channels of one tile.

    Returns
    -------
    numpy.ndarray
        float32 ``(rows·(h+gap)−gap, cols·(C·w+(C−1)·channel_gap+gap)−gap)``; every
        channel scaled to 0–1 by its 1st–99th percentile over the shown crops
        (so tiles are comparable); gaps are NaN.  ``(0, 0)`` for no crops.
    """
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise IvaeError(f"images must be (N, C, h, w) or (N, h, w); got shape {a.shape}")
    rows, cols = montage_rows(len(a), max_side)
    if rows == 0:
        return np.zeros((0, 0), dtype=np.float32)
    a = a[: rows * cols]
    n, c, h, w = a.shape
    scaled = np.empty_like(a)
    for k in range(c):
        ch = a[:, k]
        finite = ch[np.isfinite(ch)]
        lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
        scaled[:, k] = np.clip((ch - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    tile_w = c * w + (c - 1) * channel_gap
    out = np.full((rows * (h + gap) - gap, cols * (tile_w + gap) - gap), np.nan, np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        y0, x0 = r * (h + gap), q * (tile_w + gap)
        for k in range(c):
            xs = x0 + k * (w + channel_gap)
            out[y0 : y0 + h, xs : xs + w] = scaled[i, k]
    return out
