"""First-pass lattice period from the image autocorrelation.

The image is prepared (2-D, finite, centre-cropped to :data:`_MAX_SIDE`), its
windowed, high-passed autocorrelation computed, and the nearest significant
autocorrelation peak gives the period (median over up to 3×3 tiles,
:func:`_acf_period`).  Used by :func:`~napari_ivae.detect.spacing.estimate_lattice`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_ivae._errors import IvaeError

__all__ = ["autocorrelation_profile"]

#: largest side used for the estimate; bigger images are centre-cropped
_MAX_SIDE = 1024


def _prepare(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise IvaeError(f"image must be 2-D (Y, X) to estimate the spacing; got shape {img.shape}")
    finite = np.isfinite(img)
    if not finite.any():
        raise IvaeError("image is all NaN/inf; cannot estimate the atom spacing")
    if not finite.all():
        img = np.where(finite, img, np.median(img[finite]))
    ny, nx = img.shape
    if ny > _MAX_SIDE or nx > _MAX_SIDE:
        y0 = max(0, (ny - _MAX_SIDE) // 2)
        x0 = max(0, (nx - _MAX_SIDE) // 2)
        img = img[y0 : y0 + _MAX_SIDE, x0 : x0 + _MAX_SIDE]
    return img


def _autocorrelation(image: np.ndarray) -> np.ndarray:
    """Windowed, high-passed, normalised 2-D autocorrelation, zero lag at the centre.

    The returned array covers lags up to a third of the smaller image side.
    """
    img = _prepare(image)
    ny, nx = img.shape
    img = img - img.mean()
    window = np.outer(np.hanning(ny), np.hanning(nx))
    shape = (2 * ny, 2 * nx)  # zero padding: no wrap-around
    power = np.abs(np.fft.rfft2(img * window, s=shape)) ** 2
    # subtract the white-noise floor (median power at the highest frequencies,
    # where lattice reflections are sparse) so that noise does not make
    # spurious autocorrelation peaks
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    kr = np.hypot(ky, kx)
    # high-pass (1 - Gaussian of sigma max(ny, nx) / 16 in real space): slow
    # illumination would otherwise make the autocorrelation a broad hump
    sig = max(ny, nx) / 16
    power = power * (1.0 - np.exp(-2.0 * (np.pi * sig * kr) ** 2)) ** 2
    floor = np.median(power[kr > 0.4])
    power = np.clip(power - 10.0 * floor, 0.0, None)
    acf = np.fft.irfft2(power, s=shape)
    # the window's own autocorrelation, to undo its taper
    wacf = np.fft.irfft2(np.abs(np.fft.rfft2(window, s=shape)) ** 2, s=shape)
    rmax = min(ny, nx) // 3
    idx = np.r_[-rmax : rmax + 1]
    a = acf[np.ix_(idx % shape[0], idx % shape[1])]
    w = wacf[np.ix_(idx % shape[0], idx % shape[1])]
    a = a / np.maximum(w, 1e-12 * w.max())
    return a / a[rmax, rmax] if a[rmax, rmax] > 0 else a


def autocorrelation_profile(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radial profile (ring maximum) of the normalised image autocorrelation.

    Parameters
    ----------
    image : ndarray
        2-D image.

    Returns
    -------
    radius : ndarray
        Ring radii in pixels (0, 1, 2, ..., up to a third of the smaller side).
    profile : ndarray
        Largest autocorrelation on each ring, 1 at zero lag.
    """
    a = _autocorrelation(image)
    rmax = a.shape[0] // 2
    yy, xx = np.mgrid[-rmax : rmax + 1, -rmax : rmax + 1]
    ri = np.rint(np.hypot(yy, xx)).astype(np.int64)
    keep = ri <= rmax
    profile = ndimage.maximum(a[keep], labels=ri[keep], index=np.arange(rmax + 1))
    return np.arange(rmax + 1, dtype=np.float64), np.asarray(profile, dtype=np.float64)


def _parabolic_shift(m1: float, c0: float, p1: float) -> float:
    """Sub-pixel offset of a maximum from its value ``c0`` and its two neighbours."""
    den = m1 - 2 * c0 + p1
    return float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5)) if den < 0 else 0.0


def _estimate_one(img: np.ndarray, min_spacing: float) -> float:
    """Spacing from the nearest significant autocorrelation peak of one tile."""
    a = _autocorrelation(img)
    rmax = a.shape[0] // 2
    yy, xx = np.mgrid[-rmax : rmax + 1, -rmax : rmax + 1]
    r = np.hypot(yy, xx)
    k = max(1, int(min_spacing) // 2)
    is_max = a >= ndimage.maximum_filter(a, size=2 * k + 1, mode="nearest")
    # prominence: height above the lowest value around the peak
    low = ndimage.minimum_filter(a, size=2 * int(np.ceil(min_spacing)) + 1, mode="nearest")
    prom = a - low
    cand = is_max & (r >= min_spacing) & (r < rmax - 1)
    if not cand.any():
        raise IvaeError(
            "could not estimate the atom spacing: the image shows no periodic lattice; "
            "pass spacing= (pixels)"
        )
    scale = prom[cand].max()
    if not scale > 0:
        raise IvaeError(
            "could not estimate the atom spacing: the image shows no periodic lattice; "
            "pass spacing= (pixels)"
        )
    sig = cand & (prom > 0.1 * scale)
    iy, ix = np.nonzero(sig)
    j = int(np.argmin(r[iy, ix]))
    py, px = iy[j], ix[j]
    # parabolic sub-pixel refinement along both axes
    dy = _parabolic_shift(a[py - 1, px], a[py, px], a[py + 1, px])
    dx = _parabolic_shift(a[py, px - 1], a[py, px], a[py, px + 1])
    return float(np.hypot(py - rmax + dy, px - rmax + dx))


def _acf_period(image: np.ndarray, *, min_spacing: float = 3.0) -> float:
    """First-pass lattice period: the nearest significant autocorrelation peak.

    The image is cut into tiles (128 to 256 px, at most 9 of them) so that each
    tile mostly holds one grain; in each tile the nearest significant local
    maximum of the 2-D autocorrelation (away from the zero-lag peak) gives the
    nearest-neighbour vector, its length refined by a parabola.  The result is
    the median over the tiles, which is robust to grain boundaries, vacancies
    and noise.

    Parameters
    ----------
    image : ndarray
        2-D image of atoms (bright on dark, as HAADF-STEM).
    min_spacing : float
        Smallest spacing considered, in pixels.

    Returns
    -------
    float
        The nearest-neighbour distance in pixels.

    Raises
    ------
    IvaeError
        When the image is too small, constant, or shows no periodic structure.
    """
    img = _prepare(image)
    if min(img.shape) < 16:
        raise IvaeError(
            f"image is too small to estimate the atom spacing ({img.shape[0]}×{img.shape[1]}); "
            "at least 16×16 is needed"
        )
    if not np.ptp(img) > 0:
        raise IvaeError("image is constant; there are no atoms to find")
    ny, nx = img.shape
    tile = int(np.clip(min(ny, nx) // 2, 64, 256))
    if min(ny, nx) < 2 * 64:
        tiles = [img]
    else:
        # up to 3 × 3 tiles, overlapping by half when the image is small
        ys = np.linspace(0, ny - tile, max(1, min(3, 2 * ny // tile - 1))).astype(int)
        xs = np.linspace(0, nx - tile, max(1, min(3, 2 * nx // tile - 1))).astype(int)
        tiles = [img[y : y + tile, x : x + tile] for y in ys for x in xs]
    found = []
    for t in tiles:
        if not np.ptp(t) > 0:
            continue
        try:
            found.append(_estimate_one(t, min_spacing))
        except IvaeError:
            continue
    if not found:
        raise IvaeError(
            "could not estimate the atom spacing: the image shows no periodic lattice; "
            "pass spacing= (pixels)"
        )
    return float(np.median(found))
