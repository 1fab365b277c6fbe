"""Wall motion between consecutive frames: displacement and pinning.

Definitions (issue 13, reproducible by hand):

- the displacement of a wall pixel of frame ``t`` is its Euclidean distance
  (px) to the nearest wall pixel of frame ``t + 1``;
- a wall pixel is *pinned* when that distance is at most
  :data:`PIN_TOLERANCE` (1.5 px: the wall is still there, up to one diagonal
  pixel step of detection jitter);
- the last frame has no partner: its displacement is NaN and it is not pinned.

Pixels outside ``valid`` (registration overlap, flagged artefacts) are not
walls for either frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from napari_ivae._errors import IvaeError
from napari_ivae.dynamics._inputs import mask_series

#: a wall pixel within this distance (px) of a wall pixel of the next frame is pinned
PIN_TOLERANCE = 1.5


def _as_series(walls, name: str = "walls") -> np.ndarray:
    w = np.asarray(walls, dtype=bool)
    if w.ndim != 3:
        raise IvaeError(f"{name} must be a (T, Y, X) series; got shape {w.shape}")
    if w.shape[0] < 2:
        raise IvaeError(f"{name} has {w.shape[0]} frame; wall motion needs a series of at least 2")
    return w


def wall_motion(walls, *, valid=None) -> np.ndarray:
    """Distance from each wall pixel of frame ``t`` to the walls of frame ``t + 1``.

    Parameters
    ----------
    walls : array-like of bool
        (T, Y, X) wall masks, ``T ≥ 2``.
    valid : array-like of bool, optional
        (T, Y, X) or (Y, X) pixels that can be trusted; a pixel counts for the
        pair ``(t, t + 1)`` only when it is valid in both frames.

    Returns
    -------
    np.ndarray
        (T, Y, X) float32: the displacement (px) at the wall pixels of frames
        ``0 … T−2``; NaN elsewhere and in the last frame.  ``inf`` where frame
        ``t + 1`` has no (valid) wall pixel at all.  Pinned pixels are
        ``out <= PIN_TOLERANCE``.
    """
    w = _as_series(walls)
    ok = mask_series(valid, w.shape, "valid")
    out = np.full(w.shape, np.nan, dtype=np.float32)
    for t in range(w.shape[0] - 1):
        both = ok[t] & ok[t + 1]
        here, nxt = w[t] & both, w[t + 1] & both
        if not here.any():
            continue
        if not nxt.any():
            out[t][here] = np.inf
            continue
        dist = ndimage.distance_transform_edt(~nxt)
        out[t][here] = dist[here]
    return out


def point_motion(points: pd.DataFrame, displacement: np.ndarray) -> pd.DataFrame:
    """Add ``displacement_px`` and ``pinned`` to wall points from :func:`wall_motion`.

    Each point takes the displacement of the nearest wall pixel of its own
    frame (points sampled by :func:`~napari_ivae.detect.walls.wall_points` lie
    on wall pixels; others are snapped).

    Parameters
    ----------
    points : pandas.DataFrame
        Columns ``y, x`` and ``frame`` (optional for a single frame: 0).
    displacement : np.ndarray
        (T, Y, X) output of :func:`wall_motion`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``points`` with ``displacement_px`` (float, NaN in the last
        frame, for points of frames without walls, or with no wall within
        3 px) and ``pinned`` (bool, ``displacement_px <= PIN_TOLERANCE``).
    """
    disp = np.asarray(displacement, dtype=np.float32)
    if disp.ndim != 3:
        raise IvaeError(f"displacement must be (T, Y, X); got shape {disp.shape}")
    out = points.copy()
    n = len(out)
    frame = out["frame"].to_numpy(dtype=np.int64) if "frame" in out else np.zeros(n, dtype=np.int64)
    if n and (frame.min() < 0 or frame.max() >= disp.shape[0]):
        raise IvaeError(
            f"points have frames {int(frame.min())}..{int(frame.max())}; "
            f"the series has {disp.shape[0]} frames"
        )
    iy = np.clip(np.rint(out["y"].to_numpy(dtype=np.float64)), 0, disp.shape[1] - 1).astype(int)
    ix = np.clip(np.rint(out["x"].to_numpy(dtype=np.float64)), 0, disp.shape[2] - 1).astype(int)
    vals = np.full(n, np.nan)
    for t in np.unique(frame):
        sel = np.flatnonzero(frame == t)
        onwall = ~np.isnan(disp[t])
        if not onwall.any():
            continue
        dist, (ny, nx) = ndimage.distance_transform_edt(~onwall, return_indices=True)
        near = dist[iy[sel], ix[sel]] <= 3.0
        vals[sel[near]] = disp[t][ny[iy[sel], ix[sel]], nx[iy[sel], ix[sel]]][near]
    vals = np.where(np.isinf(vals), np.nan, vals)
    out["displacement_px"] = vals
    out["pinned"] = vals <= PIN_TOLERANCE
    return out
