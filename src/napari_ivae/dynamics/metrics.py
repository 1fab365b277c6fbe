"""Wall metrics per frame of a switching series (issue 13, part 1).

:func:`wall_metrics` turns a (T, Y, X) series of ±1 domain maps (and,
optionally, the detector's wall masks) into one table row per frame;
:func:`align_polarity` makes the labels mean the same physical polarity in
every frame first.  Every column is defined in :func:`wall_metrics` so that
it can be reproduced by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError, check_range
from napari_ivae.dynamics._curvature import CURVATURE_SIGMA, wall_curvature
from napari_ivae.dynamics._geometry import (
    counted_region,
    domain_shapes,
    link_lengths,
    wall_skeleton,
)
from napari_ivae.dynamics._inputs import mask_series
from napari_ivae.dynamics.motion import PIN_TOLERANCE, wall_motion

#: wall segments shorter than this (px, link length) are not counted in ``wall_count``
MIN_WALL_LENGTH = 10.0
#: domains smaller than this (px) are not counted in ``domain_count`` / ``domain_convexity``
MIN_DOMAIN_AREA = 20
#: walls closer than this (px) to the image edge or to an untrusted pixel are not counted
BORDER = 2

#: the columns of :func:`wall_metrics`, in order (``*_nm`` twins follow when calibrated)
METRIC_COLUMNS = (
    "frame",
    "switched_fraction",
    "wall_length_px",
    "wall_count",
    "domain_count",
    "domain_convexity",
    "mean_curvature",
    "wall_displacement_px",
    "pinned_fraction",
)
#: the calibrated twins: column -> (source column, power of the pixel size)
NM_COLUMNS = {
    "wall_length_nm": ("wall_length_px", 1),
    "mean_curvature_per_nm": ("mean_curvature", -1),
    "wall_displacement_nm": ("wall_displacement_px", 1),
}


def _series(domains) -> np.ndarray:
    d = np.asarray(domains)
    if d.ndim == 2:
        d = d[None]
    if d.ndim != 3 or not np.issubdtype(d.dtype, np.number):
        raise IvaeError(f"domains must be a numeric (T, Y, X) series of ±1; got shape {d.shape}")
    return np.sign(d).astype(np.int8)


def align_polarity(domains, *, valid=None) -> tuple[np.ndarray, np.ndarray]:
    """Give each physical polarity the same label in every frame, whatever the phase offset did.

    Between two consecutive frames most of the area keeps its polarisation,
    so frame ``t`` is negated when fewer than half of the pixels valid in
    frames ``t − 1`` and ``t`` agree with the (already aligned) frame
    ``t − 1``.  This holds through any drift or jump of the phase offset
    (which can swap the labels that a phase-based orientation gives) as long
    as less than half of the area switches between two consecutive frames.

    Parameters
    ----------
    domains : array-like
        (T, Y, X) ±1 domain maps (0 counts as −1).
    valid : array-like of bool, optional
        (T, Y, X) or (Y, X) pixels that can be trusted.

    Returns
    -------
    aligned : np.ndarray
        (T, Y, X) int8 ±1; frame 0 keeps its labels.
    flipped : np.ndarray
        (T,) bool, the frames that were negated.
    """
    d = np.where(_series(domains) > 0, 1, -1).astype(np.int8)
    ok = mask_series(valid, d.shape, "valid")
    flipped = np.zeros(d.shape[0], dtype=bool)
    for t in range(1, d.shape[0]):
        both = ok[t] & ok[t - 1]
        if not both.any():
            continue
        agree = float((d[t][both] == d[t - 1][both]).mean())
        if agree < 0.5:
            d[t] = -d[t]
            flipped[t] = True
    return d, flipped


def wall_metrics(
    domains,
    *,
    walls=None,
    valid=None,
    pixel_size_nm=None,
    border: int = BORDER,
    curvature_sigma: float = CURVATURE_SIGMA,
) -> pd.DataFrame:
    """Physical wall metrics of every frame of a domain series.

    Parameters
    ----------
    domains : array-like
        (T, Y, X) (or one (Y, X) frame) domain maps, ``+1`` / ``−1``, aligned
        across frames (the same label is the same physical polarity in every
        frame: see :func:`align_polarity`).
    walls : array-like of bool, optional
        (T, Y, X) wall masks from a detector (e.g. ``detect_walls(...).mask``);
        default: the boundary pixels of ``domains`` (the ``+1`` pixels with a
        4-neighbour in ``−1``, as :func:`~napari_ivae.detect.walls.boundary_mask`).
    valid : array-like of bool, optional
        (T, Y, X) or (Y, X) pixels that can be trusted (registration overlap,
        artefact mask); default all.
    pixel_size_nm : float or (float, float), optional
        Pixel size; adds the ``*_nm`` twins (square pixels only).
    border : int
        Walls within this many pixels of the image edge or of an untrusted
        pixel are not counted (default :data:`BORDER` = 2).
    curvature_sigma : float
        Smoothing of the contours along their arc length for ``mean_curvature`` (px).

    Returns
    -------
    pandas.DataFrame
        One row per frame.  With ``V_t`` the valid pixels of frame ``t``, the
        *counted* pixels ``C_t`` are those whose ``(2·border + 1)²``
        neighbourhood lies in the image and in ``V_t``; the *wall skeleton*
        ``S_t`` is :func:`skimage.morphology.skeletonize` of the walls,
        restricted to ``C_t``:

        - ``frame``: 0 … T−1;
        - ``switched_fraction``: fraction of the pixels valid in frames 0 and
          ``t`` whose label differs from frame 0 (0 for frame 0);
        - ``wall_length_px``: length of ``S_t``: each pair of 8-neighbouring
          skeleton pixels is one link, 1 px for a 4-neighbour pair, √2 px for
          a diagonal pair (not counted when the two share a 4-neighbour in
          ``S_t``: the corner of an L is already two axis links);
        - ``wall_count``: 8-connected pieces of ``S_t`` whose link length is
          at least :data:`MIN_WALL_LENGTH` (10 px);
        - ``domain_count``: 4-connected regions of ``+1`` and of ``−1``
          valid pixels, each of at least :data:`MIN_DOMAIN_AREA` (20) px;
        - ``domain_convexity``: over those domains, ``Σ a_i·(a_i / h_i) / Σ a_i``
          (area-weighted mean of area / convex-hull area; ``h_i`` is the area
          of the convex hull of the domain's pixel squares, so a rectangle
          reads 1); NaN without domains;
        - ``mean_curvature``: mean |κ| (1/px) along the walls, from the
          smoothed sub-pixel contours of the ``+1`` domains (see
          :func:`napari_ivae.dynamics._curvature.wall_curvature`; a disc of
          radius R reads 1/R within 10 % for 3 ≤ R ≤ 40 px; a straight wall
          reads about 0.002); NaN without walls;
        - ``wall_displacement_px``: mean over the pixels of ``S_t`` of the
          distance (px) to the nearest pixel of frame ``t + 1``'s skeleton
          (its full skeleton, border included, on the pixels valid in both
          frames; :func:`~napari_ivae.dynamics.motion.wall_motion`);
        - ``pinned_fraction``: fraction of the pixels of ``S_t`` with that
          distance ≤ :data:`~napari_ivae.dynamics.motion.PIN_TOLERANCE` (1.5 px);
          both NaN for the last frame and when frame ``t + 1`` has no wall;
        - with ``pixel_size_nm``: ``wall_length_nm``, ``mean_curvature_per_nm``
          (1/nm) and ``wall_displacement_nm``.
    """
    d = _series(domains)
    ok = mask_series(valid, d.shape, "valid")
    check_range("border", int(border), low=0, high=min(d.shape[1:]) // 4)
    check_range("curvature_sigma", float(curvature_sigma), low=0.5, high=50.0)
    wmask = None if walls is None else np.asarray(walls, dtype=bool)
    if wmask is not None and wmask.ndim == 2:
        wmask = wmask[None]
    if wmask is not None and wmask.shape != d.shape:
        raise IvaeError(f"walls has shape {wmask.shape}; expected the domains' shape {d.shape}")
    size = _pixel_size(pixel_size_nm)
    skel = np.stack(
        [wall_skeleton(None if wmask is None else wmask[t], d[t]) for t in range(len(d))]
    )
    skel &= ok
    counted = np.stack([skel[t] & counted_region(ok[t], border) for t in range(len(d))])
    rows = [_frame_row(t, d, ok, counted[t], curvature_sigma) for t in range(len(d))]
    table = pd.DataFrame(rows)
    disp, pinned = _motion(skel, counted, ok)
    table["wall_displacement_px"] = disp
    table["pinned_fraction"] = pinned
    table = table[list(METRIC_COLUMNS)]
    if size is not None:
        for col, (src, power) in NM_COLUMNS.items():
            table[col] = table[src] * size**power
    table.attrs.update({"border": int(border), "pixel_size_nm": size})
    return table


def _pixel_size(pixel_size_nm) -> float | None:
    if pixel_size_nm is None:
        return None
    vals = np.atleast_1d(np.asarray(pixel_size_nm, dtype=np.float64)).ravel()
    if vals.size not in (1, 2) or not np.all(np.isfinite(vals)) or not np.all(vals > 0):
        raise IvaeError(
            f"pixel_size_nm={pixel_size_nm!r} must be a positive number or a (y, x) pair"
        )
    if vals.size == 2 and not np.isclose(vals[0], vals[1], rtol=0.01):
        raise IvaeError(
            f"pixel_size_nm={tuple(vals)} is not square; wall lengths in nm need square pixels"
        )
    return float(vals.mean())


def _frame_row(t: int, d: np.ndarray, ok: np.ndarray, counted: np.ndarray, sigma: float) -> dict:
    both = ok[t] & ok[0]
    switched = float((d[t][both] != d[0][both]).mean()) if both.any() else float("nan")
    length, segments, _ = link_lengths(counted)
    shapes = domain_shapes(d[t], ok[t], MIN_DOMAIN_AREA)
    if len(shapes):
        area, hull = shapes[:, 0], shapes[:, 1]
        convexity = float((area * (area / hull)).sum() / area.sum())
    else:
        convexity = float("nan")
    curvature, _ = wall_curvature(d[t], counted, sigma=sigma)
    return {
        "frame": t,
        "switched_fraction": switched,
        "wall_length_px": length,
        "wall_count": int((segments >= MIN_WALL_LENGTH).sum()),
        "domain_count": len(shapes),
        "domain_convexity": convexity,
        "mean_curvature": curvature,
    }


def _motion(skel: np.ndarray, counted: np.ndarray, ok: np.ndarray) -> tuple[list, list]:
    """Mean displacement and pinned fraction of the counted wall pixels of each frame."""
    n = len(skel)
    disp, pinned = [float("nan")] * n, [float("nan")] * n
    if n < 2:
        return disp, pinned
    dist = wall_motion(skel, valid=ok)
    for t in range(n - 1):
        v = dist[t][counted[t]]
        v = v[np.isfinite(v)]
        if v.size:
            disp[t] = float(v.mean())
            pinned[t] = float((v <= PIN_TOLERANCE).mean())
    return disp, pinned
