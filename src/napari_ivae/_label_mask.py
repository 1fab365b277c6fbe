"""The labeled wall mask: every wall pixel takes the class code of its nearest wall point.

Used by :meth:`napari_ivae.labels.LabelSet.label_mask`; re-exported by
:mod:`napari_ivae.labels`.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from napari_ivae._errors import IvaeError

__all__ = ["paint_wall_labels"]


def paint_wall_labels(
    mask: np.ndarray, yx: np.ndarray, codes: np.ndarray, *, frame: np.ndarray | None = None
) -> np.ndarray:
    """Paint every wall pixel with the class code of its nearest wall point.

    Parameters
    ----------
    mask : numpy.ndarray
        Wall mask (Y, X) or (T, Y, X); pixels > 0 are walls.
    yx : numpy.ndarray
        (N, 2) wall-point positions in pixels (row, column); rows with NaN are ignored.
    codes : numpy.ndarray
        (N,) integer class code per point (0 = unlabeled).
    frame : numpy.ndarray, optional
        (N,) frame of each point for a (T, Y, X) mask (default: all 0).

    Returns
    -------
    numpy.ndarray
        uint8 (uint16 for codes ≥ 255) array of the mask's shape: the code of the
        nearest point of the same frame on wall pixels, 0 elsewhere.  Unlabeled
        points keep their share of the wall at 0, so only labeled walls are coloured.
    """
    mask = np.asarray(mask)
    yx = np.asarray(yx, dtype=float)
    codes = np.asarray(codes, dtype=np.int64)
    if mask.ndim not in (2, 3):
        raise IvaeError(f"mask must be 2-D (Y, X) or 3-D (T, Y, X); got shape {mask.shape}")
    if yx.ndim != 2 or yx.shape[1] != 2 or len(codes) != len(yx):
        raise IvaeError(
            f"yx must be (N, 2) with one code per point; got yx {yx.shape}, codes {codes.shape}"
        )
    frame = np.zeros(len(yx), np.int64) if frame is None else np.asarray(frame, np.int64)
    out = np.zeros(mask.shape, dtype=np.uint8 if codes.max(initial=0) < 255 else np.uint16)
    planes = mask[None] if mask.ndim == 2 else mask
    out_planes = out[None] if mask.ndim == 2 else out
    ok = np.isfinite(yx).all(axis=1)
    for t, (plane, oplane) in enumerate(zip(planes, out_planes)):
        sel = ok & (frame == t) if mask.ndim == 3 else ok
        wall = np.argwhere(plane > 0)
        if wall.size == 0 or not sel.any():
            continue
        _, nn = cKDTree(yx[sel]).query(wall.astype(float))
        oplane[wall[:, 0], wall[:, 1]] = codes[sel][nn]
    return out
