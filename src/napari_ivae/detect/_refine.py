"""Sub-pixel positions and integrated intensities of atom columns.

:func:`refine_positions` refines integer peaks by a background-subtracted
centroid, then a vectorised least-squares fit of a 2-D Gaussian on the raw
pixels (:func:`_gauss_fit`); :func:`integrated_intensity` integrates the
background-subtracted image over a disc around each position.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_ivae._errors import IvaeError, check_range

__all__ = ["integrated_intensity", "refine_positions"]


def _disc_offsets(radius: float) -> np.ndarray:
    """Integer (dy, dx) offsets inside a disc, shape (K, 2)."""
    r = max(float(radius), 1.0)
    n = int(np.floor(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    keep = yy**2 + xx**2 <= r * r
    return np.stack([yy[keep], xx[keep]], axis=1).astype(np.float64)


def _ring_offsets(radius: float, n: int = 16) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([radius * np.sin(t), radius * np.cos(t)], axis=1)


def _sample(image: np.ndarray, yx: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at ``yx[:, None] + offsets[None]``, shape (N, K)."""
    coords = yx[:, None, :] + offsets[None, :, :]
    vals = ndimage.map_coordinates(
        image, [coords[..., 0].ravel(), coords[..., 1].ravel()], order=1, mode="nearest"
    )
    return vals.reshape(coords.shape[:2])


def _local_background(image: np.ndarray, yx: np.ndarray, radius: float) -> np.ndarray:
    """Per-atom background: a low quantile on a ring of radius ``1.5 * radius``."""
    ring = _sample(image, yx, _ring_offsets(1.5 * radius))
    return np.quantile(ring, 0.25, axis=1)


def refine_positions(
    image: np.ndarray,
    peaks_yx: np.ndarray,
    *,
    radius: float,
    n_iter: int = 4,
) -> np.ndarray:
    """Refine peak positions to sub-pixel precision.

    A background-subtracted centroid on a disc of ``radius`` around each peak
    gives the start of a least-squares fit of ``b + a exp(-|r - r0|² / 2s²)``
    on the pixels of a disc of ``1.35 * radius`` (vectorised Gauss-Newton over
    all peaks at once, the width ``s`` common to all peaks, fitted on up to
    2000 of them; the pixels are not interpolated, so their noise stays
    independent).  Peaks whose fit fails (diverges, negative amplitude, moves
    by more than ``radius``) keep the centroid.

    Parameters
    ----------
    image : ndarray
        2-D image (bright atoms), not filtered.
    peaks_yx : ndarray
        (N, 2) starting positions (row, column), e.g. integer local maxima.
    radius : float
        Centroid disc radius in pixels, about a third of the atom spacing.
    n_iter : int
        Number of Gauss-Newton iterations (0: centroid only).

    Returns
    -------
    ndarray
        (N, 2) float64 refined positions, inside the image.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise IvaeError(f"image must be 2-D (Y, X); got shape {img.shape}")
    start = np.asarray(peaks_yx, dtype=np.float64).reshape(-1, 2)
    if len(start) == 0:
        return start.copy()
    check_range("radius", radius, low=0.5)
    hi = np.array(img.shape, dtype=np.float64) - 1
    # centroid on the integer pixels of a disc around the rounded start
    base = np.clip(np.rint(start), 0, hi).astype(np.int64)
    offs = _disc_offsets(radius)
    v = _pixels(img, base, offs.astype(np.int64))
    bg = v.min(axis=1)
    w = np.clip(v - bg[:, None], 0.0, None)
    tot = w.sum(axis=1)
    cen = base.astype(np.float64)
    ok = tot > 0
    cen[ok] += (w[ok] @ offs) / tot[ok, None]
    cen = np.clip(cen, 0.0, hi)
    if n_iter <= 0:
        return cen
    # the column width: fitted on (at most) 2000 peaks, then held fixed
    sub = np.linspace(0, len(cen) - 1, min(len(cen), 2000)).astype(np.int64)
    _, widths = _gauss_fit(img, cen[sub], 1.35 * radius, sigma0=0.6 * radius, n_iter=n_iter)
    width = float(np.median(widths))
    fit, _ = _gauss_fit(img, cen, 1.35 * radius, sigma0=width, n_iter=n_iter, fit_sigma=False)
    return np.clip(fit, 0.0, hi)


def _pixels(img: np.ndarray, base: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """Pixel values at integer ``base[:, None] + offs[None]`` (edge-clamped), (N, K) float64."""
    yy = np.clip(base[:, None, 0] + offs[None, :, 0], 0, img.shape[0] - 1)
    xx = np.clip(base[:, None, 1] + offs[None, :, 1], 0, img.shape[1] - 1)
    return img[yy, xx].astype(np.float64)


def _gauss_fit(
    img: np.ndarray,
    pos: np.ndarray,
    radius: float,
    sigma0: float,
    n_iter: int = 4,
    fit_sigma: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Gauss-Newton fit of ``b + a exp(-|r - r0|² / 2s²)`` per peak.

    Samples the pixels of a disc of ``radius`` around the rounded start.  With
    ``fit_sigma=False`` the width stays ``sigma0``.  Returns the fitted centres
    (the start where a fit fails) and the fitted widths.
    """
    n = len(pos)
    base = np.rint(pos).astype(np.int64)
    offs = _disc_offsets(radius)
    v = _pixels(img, base, offs.astype(np.int64)).astype(np.float32)  # (N, K)
    # pixels outside the image get zero weight (border atoms stay unbiased)
    py = base[:, None, 0] + offs[None, :, 0]
    px = base[:, None, 1] + offs[None, :, 1]
    wv = ((py >= 0) & (py < img.shape[0]) & (px >= 0) & (px < img.shape[1])).astype(np.float32)
    # coordinates relative to the rounded start
    oy = offs[None, :, 0].astype(np.float32)
    ox = offs[None, :, 1].astype(np.float32)
    y0 = (pos[:, 0] - base[:, 0]).astype(np.float32)
    x0 = (pos[:, 1] - base[:, 1]).astype(np.float32)
    b = v.min(axis=1)
    a = np.maximum(v.max(axis=1) - b, 1e-12)
    s = np.full(n, float(sigma0), dtype=np.float32)
    for _ in range(n_iter):
        step = _gauss_newton_step(v, wv, oy - y0[:, None], ox - x0[:, None], a, b, s, fit_sigma)
        if step is None:
            break
        b = b + step[:, 0]
        a = a + step[:, 1]
        y0 = y0 + np.clip(step[:, 2], -1.0, 1.0)
        x0 = x0 + np.clip(step[:, 3], -1.0, 1.0)
        if fit_sigma:
            s = np.clip(s + step[:, 4], 0.3 * sigma0, 3.0 * sigma0)
    fit = np.stack([base[:, 0] + y0.astype(np.float64), base[:, 1] + x0.astype(np.float64)], axis=1)
    moved = np.hypot(*(fit - pos).T)
    ok = np.isfinite(fit).all(axis=1) & (a > 0) & (moved < radius / 1.35)
    return np.where(ok[:, None], fit, pos), s.astype(np.float64)


def _gauss_newton_step(
    v: np.ndarray,
    wv: np.ndarray,
    dy: np.ndarray,
    dx: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    s: np.ndarray,
    fit_sigma: bool,
) -> np.ndarray | None:
    """One damped Gauss-Newton step ``(db, da, dy0, dx0[, ds])`` per peak (``None``: singular).

    ``v`` are the pixel values, ``wv`` their weights and ``dy, dx`` their
    offsets from the current centres, all (N, K).
    """
    n = len(v)
    npar = 5 if fit_sigma else 4
    eye = np.eye(npar, dtype=np.float32)[None]
    r2 = dy * dy + dx * dx
    inv = (1.0 / (s * s))[:, None]
    g = np.exp(-0.5 * r2 * inv)
    ag = a[:, None] * g
    res = (v - b[:, None] - ag) * wv
    agi = ag * inv * wv
    cols = [wv, g * wv, agi * dy, agi * dx]  # weighted Jacobian columns
    if fit_sigma:
        cols.append(agi * r2 / s[:, None])
    jtj = np.empty((n, npar, npar), dtype=np.float32)
    jtr = np.empty((n, npar), dtype=np.float32)
    for p in range(npar):
        jtr[:, p] = (cols[p] * res).sum(axis=1)
        for q in range(p, npar):
            jtj[:, p, q] = jtj[:, q, p] = (cols[p] * cols[q]).sum(axis=1)
    # Levenberg damping for stability
    jtj += 1e-3 * eye * np.maximum(np.einsum("nii->ni", jtj), 1e-12)[:, :, None]
    try:
        return np.linalg.solve(jtj, jtr[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None


def integrated_intensity(image: np.ndarray, yx: np.ndarray, *, radius: float) -> np.ndarray:
    """Background-subtracted image integrated over a disc around each position.

    Parameters
    ----------
    image : ndarray
        2-D image.
    yx : ndarray
        (N, 2) positions.
    radius : float
        Disc radius in pixels.

    Returns
    -------
    ndarray
        (N,) float64 integrated intensity (image units × pixels).
    """
    img = np.asarray(image, dtype=np.float32)
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    if len(yx) == 0:
        return np.zeros(0)
    bg = _local_background(img, yx, radius)
    vals = _sample(img, yx, _disc_offsets(radius)) - bg[:, None]
    return vals.sum(axis=1).astype(np.float64)
