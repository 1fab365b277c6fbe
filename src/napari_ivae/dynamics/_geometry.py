"""Pixel geometry of wall skeletons and domains (the definitions of :mod:`.metrics`)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from skimage import morphology

from napari_ivae.detect.walls import boundary_mask

_CROSS = ndimage.generate_binary_structure(2, 1)
_SQUARE = ndimage.generate_binary_structure(2, 2)
_SQRT2 = float(np.sqrt(2.0))


def counted_region(valid: np.ndarray, border: int) -> np.ndarray:
    """Pixels whose ``(2·border + 1)²`` neighbourhood lies inside the image and is valid."""
    if border <= 0:
        return valid.copy()
    size = 2 * int(border) + 1
    return ndimage.binary_erosion(valid, structure=np.ones((size, size), bool), border_value=0)


def wall_skeleton(walls: np.ndarray | None, domains: np.ndarray) -> np.ndarray:
    """One-pixel skeleton of a frame's walls (``walls`` None: the domain boundary pixels)."""
    w = boundary_mask(domains) if walls is None else np.asarray(walls, dtype=bool)
    return morphology.skeletonize(w) if w.any() else w


def link_lengths(skel: np.ndarray) -> tuple[float, np.ndarray, int]:
    """Skeleton length and its 8-connected segments.

    Every pair of 8-neighbouring skeleton pixels is one link, counted once:
    a 4-neighbour pair is 1 px long; a diagonal pair is √2 px long unless the
    two pixels share a 4-neighbour that is also in the skeleton (an L-shaped
    corner, whose length the two axis links already hold).

    Returns
    -------
    total : float
        Sum of the link lengths (px).
    segment_lengths : np.ndarray
        (n,) length of each 8-connected segment.
    n_pixels : int
        Skeleton pixels.
    """
    k = skel
    lab, n = ndimage.label(k, structure=_SQUARE)
    if n == 0:
        return 0.0, np.zeros(0), 0
    horiz = k[:, :-1] & k[:, 1:]
    vert = k[:-1, :] & k[1:, :]
    diag = k[:-1, :-1] & k[1:, 1:] & ~k[:-1, 1:] & ~k[1:, :-1]
    anti = k[:-1, 1:] & k[1:, :-1] & ~k[:-1, :-1] & ~k[1:, 1:]
    seg = np.zeros(n + 1)
    for links, first, step in (
        (horiz, lab[:, :-1], 1.0),
        (vert, lab[:-1, :], 1.0),
        (diag, lab[:-1, :-1], _SQRT2),
        (anti, lab[:-1, 1:], _SQRT2),
    ):
        seg += step * np.bincount(first[links], minlength=n + 1)
    return float(seg[1:].sum()), seg[1:], int(k.sum())


def domain_shapes(domains: np.ndarray, valid: np.ndarray, min_area: int) -> np.ndarray:
    """Area and convex-hull area of every 4-connected domain of at least ``min_area`` px.

    Domains are the connected regions of ``+1`` and of ``−1`` pixels (4-connected,
    valid pixels only).  The convex hull is that of the domain's pixel squares
    (the corners of its pixels), so a rectangle of pixels has convexity 1.

    Returns
    -------
    np.ndarray
        (n, 2) float64: ``area`` (px), ``hull_area`` (px²).
    """
    rows = []
    for part in (domains > 0, domains < 0):
        lab, n = ndimage.label(part & valid, structure=_CROSS)
        if n == 0:
            continue
        areas = np.bincount(lab.ravel(), minlength=n + 1)
        edge = lab != ndimage.grey_erosion(lab, footprint=_CROSS, mode="constant", cval=0)
        for i, sl in enumerate(ndimage.find_objects(lab), start=1):
            if sl is None or areas[i] < min_area:
                continue
            sub = (lab[sl] == i) & edge[sl]
            yy, xx = np.nonzero(sub)
            rows.append((float(areas[i]), _hull_area(yy + sl[0].start, xx + sl[1].start)))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def _hull_area(yy: np.ndarray, xx: np.ndarray) -> float:
    """Area of the convex hull of the unit squares centred on the pixels ``(yy, xx)``."""
    corners = np.concatenate(
        [np.stack([yy + dy, xx + dx], axis=1) for dy in (-0.5, 0.5) for dx in (-0.5, 0.5)]
    )
    corners = np.unique(corners, axis=0)
    try:
        return float(ConvexHull(corners).volume)
    except QhullError:  # pragma: no cover - four corners of a pixel are never degenerate
        return float(len(yy))
