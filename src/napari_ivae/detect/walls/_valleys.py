"""Walls as amplitude valleys (:func:`ridge_walls`) and their depth test.

A wall dips the amplitude below both of its sides.

A Hessian valley filter answers dark lines, but also the dark side of a
step between a bright and a dark region, and the texture of bright bands.
A wall is a dip: the amplitude on the line is lower than on *both* sides.
:func:`deep_valleys` cuts the valley skeleton into pieces of about 12 px and
keeps the pieces whose median relative depth ``1 − a(line) / min(a(side 1),
a(side 2))`` (sides :data:`DEPTH_OFFSET` px away across the line, the
amplitude smoothed by a 0.7 px Gaussian) is at least :data:`MIN_DEPTH`.

Measured before the test was set: on ``simulate_ferroelastic`` (seeds 0–2)
the valley pixels on true walls had depths of 0.07–0.13 at their 5th
percentile and ≈ 0.43 at the median, the others ≈ 0 (95th percentile ≈ 0.13);
on the real PZT_final0001 amplitude the a/c stripes and 180° walls measured
0.1–0.4 and the loops of the bright bands and the edges of dark regions ≤ 0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import feature, filters, morphology

from napari_ivae.detect.walls._frames import _drop_small
from napari_ivae.detect.walls._significance import _wall_chunks

#: smallest median relative depth of a valley piece kept as a wall
MIN_DEPTH = 0.1
#: distance (px) from the valley line to the sides it is compared with (at least 2 × sigma)
DEPTH_OFFSET = 3.0
#: length (px) of the pieces the depth test is applied to
DEPTH_PIECE = 12.0


def valley_depth(amplitude: np.ndarray, mask: np.ndarray, *, offset: float = DEPTH_OFFSET):
    """Relative depth of each mask pixel below both sides (``nan`` off the mask).

    The line's normal comes from the structure tensor of the mask (Gaussian
    sigma 2 px); the sides are sampled ``offset`` px away on the normal
    (linear interpolation).
    """
    a = ndimage.gaussian_filter(np.asarray(amplitude, dtype=np.float64), 0.7)
    m = np.asarray(mask, dtype=bool)
    out = np.full(m.shape, np.nan)
    if not m.any():
        return out
    arr, arc, acc = feature.structure_tensor(m.astype(np.float64), sigma=2.0, order="rc")
    iy, ix = np.nonzero(m)
    theta = 0.5 * np.arctan2(2 * arc[iy, ix], acc[iy, ix] - arr[iy, ix])
    ny, nx = offset * np.sin(theta), offset * np.cos(theta)

    def sample(dy, dx):
        return ndimage.map_coordinates(a, [iy + dy, ix + dx], order=1, mode="nearest")

    sides = np.minimum(sample(ny, nx), sample(-ny, -nx))
    out[iy, ix] = 1.0 - sample(0.0, 0.0) / np.maximum(sides, 1e-12 * max(float(a.max()), 1e-30))
    return out


def deep_valleys(
    mask: np.ndarray,
    amplitude: np.ndarray,
    *,
    min_depth: float = MIN_DEPTH,
    offset: float = DEPTH_OFFSET,
) -> np.ndarray:
    """``mask`` without the valley pieces shallower than ``min_depth`` (module docstring)."""
    m = np.asarray(mask, dtype=bool)
    if min_depth <= 0 or not m.any():
        return m
    depth = valley_depth(amplitude, m, offset=offset)
    chunks, n = _wall_chunks(m, DEPTH_PIECE)
    lab = chunks[m]
    med = np.asarray(ndimage.median(depth[m], labels=lab, index=np.arange(1, n + 1)))
    keep = np.zeros(n + 1, dtype=bool)
    keep[1:] = med >= min_depth
    out = np.zeros_like(m)
    out[m] = keep[lab]
    return out


def _auto_thresholds(values: np.ndarray, noise_k: float = 5.0) -> tuple[float, float]:
    """High/low hysteresis thresholds: Otsu, but never below ``noise_k`` × the median."""
    v = values[np.isfinite(values)]
    med = float(np.median(v))
    try:
        otsu = float(filters.threshold_otsu(v))
    except ValueError:
        otsu = float(v.max())
    high = max(otsu, noise_k * med)
    return high, 0.5 * high


def ridge_walls(
    amplitude: np.ndarray, *, sigma: float = 1.5, min_length: int = 8, min_depth: float = 0.1
) -> np.ndarray:
    """Walls as the dark lines (valleys) of an amplitude image.

    Parameters
    ----------
    amplitude : ndarray
        (Y, X) amplitude.
    sigma : float
        Scale of the valley filter (Sato, one scale), pixels (about the wall
        half width; at least 0.5).
    min_length : int
        Skeleton pieces shorter than this many pixels are dropped.
    min_depth : float
        Pieces of about 12 px whose amplitude is not at least this fraction
        below both sides (``max(3, 2 sigma)`` px away) are dropped: steps
        and texture are not walls (:mod:`~napari_ivae.detect.walls._valleys`);
        0 switches the test off.

    Returns
    -------
    ndarray
        (Y, X) bool, one-pixel-thick walls.
    """
    a = np.asarray(amplitude, dtype=np.float64)
    big = max(8.0, 8 * sigma)
    local = ndimage.gaussian_filter(a, big, mode="reflect")
    norm = a / np.maximum(local, 1e-12 * max(float(np.abs(local).max()), 1e-30))
    # one scale: a second, twice as wide, merged the two walls of a narrow (5-6 px)
    # ferroelastic a stripe into one valley (measured: all-walls recall 0.90 -> 0.99 on
    # simulate_ferroelastic; amplitude-only F1 on simulate_pfm 0.96-0.99 -> 0.99-1.00)
    ridge = filters.sato(norm, sigmas=[max(sigma, 0.5)], black_ridges=True, mode="reflect")
    high, low = _auto_thresholds(ridge, noise_k=4.0)
    mask = filters.apply_hysteresis_threshold(ridge, low, high)
    skel = _drop_small(morphology.skeletonize(mask), min_length, connectivity=2)
    if min_depth > 0:
        skel = deep_valleys(skel, a, min_depth=min_depth, offset=max(3.0, 2.0 * sigma))
        skel = _drop_small(skel, min_length, connectivity=2)
    return skel
