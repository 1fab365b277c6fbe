"""The motif: the mean image around the bright columns, and its significant peaks.

Every column near a bright column shows up in the motif as a peak, however
dim, at its true vector; :func:`_tile_motif` returns those peaks and the
column width for one tile.  Used by
:func:`~napari_ivae.detect.spacing.estimate_lattice`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_ivae.detect._acf import _parabolic_shift

__all__ = ["log_kernel_norm"]

#: motif peaks must exceed this many standard errors (filtered) ...
_MOTIF_K = 6.0
#: ... and this fraction of the central (bright) column's filtered height
_MOTIF_REL = 0.03
#: most values (patches × pixels) averaged into the motif
_MOTIF_BUDGET = 6_000_000


def _log(img: np.ndarray, sigma: float) -> np.ndarray:
    """Negative, scale-normalised Laplacian of Gaussian (bright blobs positive)."""
    return -(sigma**2) * ndimage.gaussian_laplace(img, sigma=sigma, mode="reflect", truncate=3.0)


def log_kernel_norm(sigma: float) -> float:
    """L2 norm of the kernel of :func:`_log`: white noise σ becomes σ × this after filtering."""
    n = 8 * int(np.ceil(sigma)) + 9
    delta = np.zeros((n, n), dtype=np.float64)
    delta[n // 2, n // 2] = 1.0
    return float(np.sqrt((_log(delta, sigma) ** 2).sum()))


def _motif(img: np.ndarray, yx: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the ``(2r+1)²`` patches centred on ``yx`` (inside the image)."""
    off = np.arange(-radius, radius + 1)
    acc = np.zeros((len(off), len(off)))
    acc2 = np.zeros_like(acc)
    for start in range(0, len(yx), 256):
        c = yx[start : start + 256]
        p = img[c[:, 0, None, None] + off[None, :, None], c[:, 1, None, None] + off[None, None, :]]
        p = p - p.mean(axis=(1, 2), keepdims=True)  # per-patch offset: slow background
        acc += p.sum(axis=0)
        acc2 += (p * p).sum(axis=0)
    n = len(yx)
    mean = acc / n
    var = np.clip(acc2 / n - mean * mean, 0.0, None)
    return mean, np.sqrt(var / max(n - 1, 1))


def _bright_columns(
    img: np.ndarray, period: float, radius: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows and columns of the bright local maxima to average (``None``: fewer than 8)."""
    s1 = float(np.clip(period / 6.0, 0.7, 8.0))
    filt = _log(img, s1)
    md = max(1, int(0.4 * period))
    cand = (filt == ndimage.maximum_filter(filt, size=2 * md + 1, mode="nearest")) & (filt > 0)
    cand[:radius, :] = cand[-radius:, :] = False
    cand[:, :radius] = cand[:, -radius:] = False
    iy, ix = np.nonzero(cand)
    if len(iy) < 8:
        return None
    h = filt[iy, ix]
    bright = h >= 0.5 * np.quantile(h, 0.9)
    iy, ix = iy[bright], ix[bright]
    n_max = max(8, int(_MOTIF_BUDGET // (2 * radius + 1) ** 2))
    if len(iy) > n_max:
        pick = np.linspace(0, len(iy) - 1, n_max).astype(np.int64)
        iy, ix = iy[pick], ix[pick]
    if len(iy) < 8:
        return None
    return iy, ix


def _column_sigma(mean: np.ndarray, rr: np.ndarray, radius: int, period: float) -> float:
    """Gaussian sigma of the motif's central column (half-maximum radius of the ring means)."""
    ri = np.rint(rr).astype(np.int64)
    prof = ndimage.mean(mean, labels=ri, index=np.arange(radius + 1))
    # Gaussian fit of log(profile - base) against r², centre pixel left out (when
    # noise maxima are among the averaged peaks, the centre pixel is biased up)
    inner = prof[: max(4, int(0.5 * period) + 1)]
    base = float(inner.min())
    top = inner[1] - base
    r_fit = [r for r in range(1, len(inner)) if inner[r] - base > 0.2 * top]
    r_fit = r_fit[: next((i for i in range(1, len(r_fit)) if r_fit[i] != r_fit[i - 1] + 1), None)]
    hwhm = period / 5.0 * 1.1774
    if len(r_fit) >= 2 and top > 0:
        rf = np.asarray(r_fit, dtype=np.float64)
        slope = np.polyfit(rf**2, np.log(inner[r_fit] - base), 1)[0]
        if slope < 0:
            hwhm = float(np.sqrt(-1.0 / (2.0 * slope))) * 1.1774
    return float(np.clip(hwhm / 1.1774, 0.5, period / 2.5))


def _motif_peaks(
    mean: np.ndarray,
    sem: np.ndarray,
    rr: np.ndarray,
    radius: int,
    col_sigma: float,
    period: float,
    min_spacing: float,
) -> np.ndarray | None:
    """Significant motif peaks, nearest first: (K, 3) dy, dx, rel. height (``None``: no centre)."""
    sm = float(np.clip(col_sigma, 0.7, period / 4.0))
    fm = _log(mean, sm)
    noise = float(np.median(sem)) * log_kernel_norm(sm)
    centre = fm[radius, radius]
    if not centre > 0:
        return None
    is_max = fm >= ndimage.maximum_filter(fm, size=3, mode="nearest")
    rmin = max(min_spacing, 2.0 * col_sigma)
    sig = (
        is_max
        & (rr >= rmin)
        & (rr <= radius - 2)
        & (fm > _MOTIF_K * noise)
        & (fm > _MOTIF_REL * centre)
    )
    py, px = np.nonzero(sig)
    order = np.argsort(rr[py, px])
    py, px = py[order], px[order]
    nb = []
    for y, x in zip(py, px):
        dy = _parabolic_shift(fm[y - 1, x], fm[y, x], fm[y + 1, x])
        dx = _parabolic_shift(fm[y, x - 1], fm[y, x], fm[y, x + 1])
        nb.append((y - radius + dy, x - radius + dx, fm[y, x] / centre))
    return np.asarray(nb, dtype=np.float64).reshape(-1, 3)


def _tile_motif(
    img: np.ndarray, period: float, radius: int, min_spacing: float
) -> tuple[np.ndarray, float, int] | None:
    """Significant motif peaks of one tile: ((K, 3) dy, dx, rel. height; column sigma; N)."""
    columns = _bright_columns(img, period, radius)
    if columns is None:
        return None
    iy, ix = columns
    mean, sem = _motif(img, np.stack([iy, ix], axis=1), radius)
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    rr = np.hypot(yy, xx)
    col_sigma = _column_sigma(mean, rr, radius, period)
    nb = _motif_peaks(mean, sem, rr, radius, col_sigma, period, min_spacing)
    if nb is None:
        return None
    return nb, col_sigma, len(iy)
