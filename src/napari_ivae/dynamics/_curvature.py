"""Curvature of domain walls from smoothed domain contours (see :func:`wall_curvature`)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage, special
from skimage import measure

#: Gaussian blur (px) of the ``+1`` indicator before the contour is traced
CONTOUR_BLUR = 1.0
#: Gaussian smoothing of the contour along its arc length (px)
CURVATURE_SIGMA = 4.0
#: contour points farther than this (px) from a counted wall pixel are not on a wall
NEAR_WALL = 2.0
_R = int(NEAR_WALL)
_NEAR = np.hypot(*np.mgrid[-_R : _R + 1, -_R : _R + 1]) <= NEAR_WALL


def wall_curvature(
    domains: np.ndarray, counted_walls: np.ndarray, *, sigma: float = CURVATURE_SIGMA
) -> tuple[float, int]:
    """Mean |κ| (1/px) along the walls of one frame, and the number of contour samples used.

    1. The ``+1`` indicator is blurred (σ = :data:`CONTOUR_BLUR` px) and its
       0.5 iso-line traced (:func:`skimage.measure.find_contours`, sub-pixel);
    2. each contour is resampled every ≈ 1 px of arc length and its
       coordinates are differentiated with Gaussian derivative filters of
       σ = ``sigma`` px of arc length (closed contours wrap around);
    3. ``κ = |x′y″ − y′x″| / (x′² + y′²)^{3/2}``; Gaussian smoothing shrinks a
       circle of radius R to ``R·exp(−σ²/2R²)``, so the measured value is
       corrected as for a locally circular wall, ``κ = √W(σ²κ_m²) / σ``
       (W: Lambert W), which makes a disc read 1/R;
    4. the mean is taken over the samples within :data:`NEAR_WALL` px of a
       counted wall pixel (so the image border, untrusted pixels and walls
       that the detector dropped are left out).

    Returns ``(nan, 0)`` when no sample is near a wall.
    """
    if not counted_walls.any():
        return float("nan"), 0
    field = ndimage.gaussian_filter((domains > 0).astype(np.float64), CONTOUR_BLUR)
    near = ndimage.binary_dilation(counted_walls, structure=_NEAR)
    h, w = field.shape
    values = []
    for contour in measure.find_contours(field, 0.5):
        k, y, x = _contour_curvature(contour, sigma)
        if k.size == 0:
            continue
        iy = np.clip(np.rint(y).astype(int), 0, h - 1)
        ix = np.clip(np.rint(x).astype(int), 0, w - 1)
        values.append(k[near[iy, ix]])
    kappa = np.concatenate(values) if values else np.zeros(0)
    if kappa.size == 0:
        return float("nan"), 0
    return float(kappa.mean()), int(kappa.size)


def _contour_curvature(contour: np.ndarray, sigma: float):
    """|κ| at ≈ 1 px arc-length samples of one contour, with the sample positions."""
    closed = len(contour) > 3 and np.allclose(contour[0], contour[-1])
    pts = contour
    step = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(step)])
    length = float(s[-1])
    if length < 2.0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    n = max(round(length), 4)
    u = np.arange(n) * (length / n) if closed else np.linspace(0.0, length, n)
    y = np.interp(u, s, pts[:, 0])
    x = np.interp(u, s, pts[:, 1])
    h = length / n if closed else length / max(n - 1, 1)
    sg = sigma / h
    mode = "wrap" if closed else "nearest"
    d = [ndimage.gaussian_filter1d(v, sg, order=o, mode=mode) for v in (y, x) for o in (1, 2)]
    y1, y2, x1, x2 = (v / h**o for v, o in zip(d, (1, 2, 1, 2)))
    speed = np.maximum(x1 * x1 + y1 * y1, 1e-12)
    k = np.abs(x1 * y2 - y1 * x2) / speed**1.5
    k = np.sqrt(special.lambertw(sigma**2 * k**2).real) / sigma
    return k, y, x
