"""Estimate the nearest-neighbour atom spacing of a lattice image.

Two stages (:func:`estimate_lattice`):

1. a first-pass period ``P`` from the image autocorrelation (the nearest
   significant autocorrelation peak, median over up to 3×3 tiles).  With two
   sublattices of very different brightness this is the period of the bright
   one (Mo–Mo in MoS2, A–A in a perovskite), and on noisy honeycombs it can be
   the ring period: the autocorrelation weighs a dim sublattice by the product
   of the two brightnesses, and its noise floor hides it;
2. the **motif**: the mean of the image around the brightest local maxima
   found at that period (hundreds of columns averaged, so its noise is
   ``1/sqrt(N)`` of the image's).  Every column near a bright column shows up
   in it as a peak, however dim (a 0.1× sublattice included), at its true
   vector.  The nearest peak that is significant (filtered height ≥ 6 standard
   errors of the mean and ≥ 3 % of the central column) is the nearest-neighbour
   vector; the width of the central peak gives the column width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_ivae._errors import IvaeError

__all__ = ["LatticeEstimate", "autocorrelation_profile", "estimate_lattice", "estimate_spacing"]

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
    def _shift(m1: float, c0: float, p1: float) -> float:
        den = m1 - 2 * c0 + p1
        return float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5)) if den < 0 else 0.0

    dy = _shift(a[py - 1, px], a[py, px], a[py + 1, px])
    dx = _shift(a[py, px - 1], a[py, px], a[py, px + 1])
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


#: motif peaks must exceed this many standard errors (filtered) ...
_MOTIF_K = 6.0
#: ... and this fraction of the central (bright) column's filtered height
_MOTIF_REL = 0.03
#: most values (patches × pixels) averaged into the motif
_MOTIF_BUDGET = 6_000_000


@dataclass
class LatticeEstimate:
    """What :func:`estimate_lattice` found.

    Attributes
    ----------
    spacing : float
        Nearest-neighbour distance between atom columns, pixels.
    period : float
        First-pass autocorrelation period (the bright sublattice's), pixels.
    column_sigma : float
        Gaussian sigma of a bright column, pixels (from the motif's centre).
    neighbours : numpy.ndarray
        (K, 3) significant motif peaks: ``dy, dx`` from a bright column and
        the peak's filtered height relative to the central column, nearest first.
    n_averaged : int
        Number of bright columns averaged into the motif.
    """

    spacing: float
    period: float
    column_sigma: float
    neighbours: np.ndarray
    n_averaged: int


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


def _tile_motif(
    img: np.ndarray, period: float, radius: int, min_spacing: float
) -> tuple[np.ndarray, float, int] | None:
    """Significant motif peaks of one tile: ((K, 3) dy, dx, rel. height; column sigma; N)."""
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
    mean, sem = _motif(img, np.stack([iy, ix], axis=1), radius)
    # column width from the central peak: half-maximum radius of the ring means
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    rr = np.hypot(yy, xx)
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
    col_sigma = float(np.clip(hwhm / 1.1774, 0.5, period / 2.5))
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

    def _shift(m1: float, c0: float, p1: float) -> float:
        den = m1 - 2 * c0 + p1
        return float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5)) if den < 0 else 0.0

    nb = []
    for y, x in zip(py, px):
        dy = _shift(fm[y - 1, x], fm[y, x], fm[y + 1, x])
        dx = _shift(fm[y, x - 1], fm[y, x], fm[y, x + 1])
        nb.append((y - radius + dy, x - radius + dx, fm[y, x] / centre))
    return np.asarray(nb, dtype=np.float64).reshape(-1, 3), col_sigma, len(iy)


def estimate_lattice(image: np.ndarray, *, min_spacing: float = 3.0) -> LatticeEstimate:
    """Nearest-neighbour spacing, bright-lattice period and column width of a lattice image.

    See the module docstring for the method.  The motif is averaged per tile
    (so that one tile mostly holds one grain: in a polycrystal a dim
    sublattice's peaks would otherwise be spread over the grains'
    orientations); the spacing is the smallest nearest-peak distance that at
    least a third of the tiles agree on (±12 %), their median.  Works for
    honeycomb, hexagonal, square and perovskite-like lattices, with a second
    sublattice down to about 0.1× the brightness of the first.

    Parameters
    ----------
    image : ndarray
        2-D image of atoms (bright on dark, as HAADF-STEM).
    min_spacing : float
        Smallest spacing considered, in pixels.

    Returns
    -------
    LatticeEstimate

    Raises
    ------
    IvaeError
        When the image is too small, constant, or shows no periodic structure.
    """
    period = _acf_period(image, min_spacing=min_spacing)
    img = _prepare(image).astype(np.float32)
    ny, nx = img.shape
    radius = int(min(np.ceil(1.7 * period) + 2, min(ny, nx) // 3))
    tile = int(max(128, 2 * radius + 10 * period))
    if tile > 0.8 * min(ny, nx):
        boxes = [(0, 0, ny, nx)]
    else:
        ys = np.linspace(0, ny - tile, max(2, min(3, 2 * ny // tile - 1))).astype(int)
        xs = np.linspace(0, nx - tile, max(2, min(3, 2 * nx // tile - 1))).astype(int)
        boxes = [(y, x, tile, tile) for y in ys for x in xs]
    found = []
    for y, x, th, tw in boxes:
        t = img[y : y + th, x : x + tw]
        if not np.ptp(t) > 0:
            continue
        res = _tile_motif(t, period, radius, min_spacing)
        if res is not None:
            found.append(res)
    if not found:
        return LatticeEstimate(period, period, max(0.5, period / 5.0), np.zeros((0, 3)), 0)
    col_sigma = float(np.median([f[1] for f in found]))
    n_avg = int(sum(f[2] for f in found))
    with_nb = [f for f in found if len(f[0])]
    if not with_nb:
        return LatticeEstimate(period, period, col_sigma, np.zeros((0, 3)), n_avg)
    dist = np.array([np.hypot(*f[0][0, :2]) for f in with_nb])
    need = max(1, int(np.ceil(len(dist) / 3)))
    spacing = float(np.median(dist))
    for d0 in np.sort(dist):
        close = np.abs(dist - d0) <= 0.12 * d0
        if close.sum() >= need:
            spacing = float(np.median(dist[close]))
            break
    best = min(with_nb, key=lambda f: abs(np.hypot(*f[0][0, :2]) - spacing))
    return LatticeEstimate(spacing, period, col_sigma, best[0], n_avg)


def estimate_spacing(image: np.ndarray, *, min_spacing: float = 3.0) -> float:
    """Estimate the nearest-neighbour spacing of the atoms in an image.

    The nearest significant peak of the motif averaged around the bright
    columns (:func:`estimate_lattice`), so a dim second sublattice (0.1× and
    up) counts, and neither a superlattice nor a ring period is returned.

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
    return estimate_lattice(image, min_spacing=min_spacing).spacing
