"""Classical ferroelectric domain-wall detectors for PFM phase / amplitude images.

Phase images are handled as the circular quantity they are: the phase becomes
the unit phasor ``exp(iφ)``; 180° domains are the two levels ``φ0`` and
``φ0 + π``, which the doubled phasor ``exp(2iφ)`` maps onto the same point,
so the doubled phasor measures the (unknown) offset ``φ0`` without knowing the
domains.  :func:`flatten_phase` uses it to remove the slow drift (smoothed
doubled phasor, unwrapped in 2-D), then the per-scan-line offsets (phasor
difference of consecutive rows), then refines both with the provisional
domains flipped onto each other; what remains has its two domains near ``0``
and ``π``, whatever the wrapping, offset and drift of the input.

- ``gaussian``: Gaussian-smoothed phasor projected on the domain axis → up/down
  domain map (small islands removed); walls are the boundary pixels between
  domains (one pixel thick).
- ``canny``: :func:`skimage.feature.canny` on that domain field, thresholds
  from the data (Otsu of the gradient magnitude, never below 4.5 standard
  deviations of the gradient of the field's own pixel noise, nor below 30 %
  of the gradient of a full −1 → +1 wall step), so noise does not become
  edges.

With amplitude only, walls are the dark lines of the amplitude: a Hessian
valley filter (:func:`skimage.filters.sato`) on the locally normalised
amplitude, hysteresis thresholds from the data, then a skeleton.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage import feature, filters, morphology
from skimage.restoration import unwrap_phase

from napari_ivae._errors import IvaeError, check_choice, check_range

__all__ = [
    "WALL_COLUMNS",
    "canny_walls",
    "domain_field",
    "flatten_phase",
    "gaussian_walls",
    "phase_to_radians",
    "ridge_walls",
    "wall_points",
]

WALL_COLUMNS = ["y", "x", "frame", "orientation"]
PhaseUnits = Literal["auto", "deg", "rad"]
PHASE_UNITS = ("auto", "deg", "rad")

#: default significance of a wall or domain: z-score of the mean phase projection
SIGNIFICANCE = 4.0
#: smallest contrast of a side: its mean phase projection over its robust noise σ
MIN_CONTRAST = 0.5
#: length (px) of the wall pieces tested one by one
CHUNK_LENGTH = 16.0
#: half width (px) of the band on each side of a wall whose pixels are tested
SIDE_BAND = 5.0
#: floor of the robust σ of the phase projection (a noise-free image is not infinitely significant)
_SIGMA_FLOOR = 0.02


# --------------------------------------------------------------------------- phase units


def phase_to_radians(phase: np.ndarray, units: PhaseUnits = "auto") -> tuple[np.ndarray, str]:
    """Convert a phase image to radians, detecting degrees when ``units="auto"``.

    A phase whose finite values span more than 2π (plus 2 %) is in degrees;
    otherwise it is taken as radians.  When the span is ambiguous (between 2π
    and 20, below 0.5, or above 720, e.g. raw instrument counts) a warning
    says so and how to force the units.

    Parameters
    ----------
    phase : ndarray
        Phase image (any shape).
    units : {"auto", "deg", "rad"}
        Units of ``phase``.

    Returns
    -------
    radians : ndarray
        float32 phase in radians.
    units : str
        The units used, ``"deg"`` or ``"rad"``.
    """
    check_choice("phase_units", units, PHASE_UNITS)
    ph = np.asarray(phase, dtype=np.float32)
    if units == "auto":
        finite = ph[np.isfinite(ph)]
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        units = "deg" if span > 2 * np.pi * 1.02 else "rad"
        if 2 * np.pi * 1.02 < span < 20.0:
            warnings.warn(
                f"phase spans {span:.3g}, between 2π and 20: taken as degrees; "
                "pass phase_units='rad' if it is in radians",
                UserWarning,
                stacklevel=3,
            )
        elif span > 720.0:
            warnings.warn(
                f"phase spans {span:.4g}, more than two turns in degrees: taken as degrees; "
                "convert raw instrument units to degrees or radians first",
                UserWarning,
                stacklevel=3,
            )
        elif 0 < span < 0.5:
            warnings.warn(
                f"phase spans only {span:.3g}: taken as radians (no 180° contrast?); "
                "pass phase_units='deg' if it is in degrees",
                UserWarning,
                stacklevel=3,
            )
    out = np.deg2rad(ph) if units == "deg" else ph
    return out.astype(np.float32), units


# --------------------------------------------------------------------------- phase flattening


def _amp_weights(amplitude: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Per-pixel weights from the amplitude (weak response → noisy phase → low weight)."""
    if amplitude is None:
        return np.ones(shape, dtype=np.float32)
    a = np.abs(np.asarray(amplitude, dtype=np.float32))
    med = float(np.median(a))
    if not med > 0:
        return np.ones(shape, dtype=np.float32)
    return np.clip(a / med, 0.0, 2.0).astype(np.float32)


def flatten_phase(
    phase_rad: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    drift_sigma: float | None = None,
) -> np.ndarray:
    """Remove scan-line offsets and slow drift from a 2-D 180°-domain phase image.

    1. drift: the doubled phasor ``w exp(2iφ)`` smoothed with ``drift_sigma``,
       its angle unwrapped in 2-D and halved, removed (twice);
    2. scan lines: the phasor difference of each row with the previous one,
       summed along the row, accumulated and removed; a drift pass;
    3. refinement: with the provisional domains' phasors flipped onto each
       other, the circular mean of each row and the (undoubled) drift are
       removed, twice.

    Parameters
    ----------
    phase_rad : ndarray
        (Y, X) phase in radians, wrapped or not.
    weights : ndarray, optional
        (Y, X) non-negative pixel weights (e.g. normalised amplitude).
    drift_sigma : float, optional
        Gaussian sigma (px) of the drift estimate; default 1/32 of the
        larger side (at least 8).

    Returns
    -------
    ndarray
        (Y, X) complex64 unit phasor whose two domains lie near ``+1`` and ``-1``.
    """
    ph = np.asarray(phase_rad, dtype=np.float64)
    w = np.ones(ph.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    ny, nx = ph.shape
    if drift_sigma is None:
        drift_sigma = max(8.0, max(ny, nx) / 32.0)
    # 1. slow 2-D drift: smoothed doubled phasor, its angle unwrapped in 2-D;
    #    twice, the second pass on the residual (removes the bias of the
    #    smoothing near the borders when the drift is steep).  Random scan-line
    #    offsets average out in the smoothing.
    for _ in range(2):
        ph = ph - _drift(w * np.exp(2j * ph), drift_sigma) / 2.0
    # 2. per-scan-line offsets: the phasor difference between each row and the
    #    previous one, summed along the row (most pixels keep their domain
    #    from one row to the next, so any jump is resolved modulo 2π),
    #    accumulated over the rows
    z = w * np.exp(1j * ph)
    step_r = np.angle((z[1:] * np.conj(z[:-1])).sum(axis=1))
    ph = ph - np.concatenate([[0.0], np.cumsum(step_r)])[:, None]
    # 3. the accumulated noise of step 2 is a slow random walk: one more drift pass
    ph = ph - _drift(w * np.exp(2j * ph), drift_sigma) / 2.0
    # 4. refine with the provisional domains: flip the phasor of the "-"
    #    domain by π so that both domains add up coherently (far less noisy
    #    than the doubled phasor), then re-estimate the row offsets (circular
    #    mean of each row, no accumulation) and the drift; twice
    for _ in range(2):
        z = np.exp(1j * ph)
        re = ndimage.gaussian_filter(z.real * w, 1.5, mode="reflect")
        sign = np.where(re >= 0, 1.0, -1.0)
        ph = ph - np.angle((w * z * sign).sum(axis=1))[:, None]
        ph = ph - _drift(w * np.exp(1j * ph) * sign, drift_sigma)
    return np.exp(1j * ph).astype(np.complex64)


def _drift(u: np.ndarray, sigma: float) -> np.ndarray:
    """Unwrapped angle of the Gaussian-smoothed phasor ``u`` (computed on a coarse grid)."""
    ny, nx = u.shape
    step = max(1, int(sigma // 4))
    us = u[::step, ::step] if step > 1 else u
    sm = ndimage.gaussian_filter(us.real, sigma / step, mode="reflect") + 1j * (
        ndimage.gaussian_filter(us.imag, sigma / step, mode="reflect")
    )
    ang = unwrap_phase(np.angle(sm))
    if step > 1:
        zoom = (ny / ang.shape[0], nx / ang.shape[1])
        ang = ndimage.zoom(ang, zoom, order=1, mode="nearest", grid_mode=True)[:ny, :nx]
    return ang


def domain_field(
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
) -> np.ndarray:
    """Smoothed real domain field of a phase image: about ``+1`` / ``-1`` in the domains.

    The flattened phasor (:func:`flatten_phase`) is Gaussian-smoothed
    (``sigma`` px; a normalised convolution weighted by the amplitude when
    given) and projected on the domain axis.

    Parameters
    ----------
    phase_rad : ndarray
        (Y, X) phase in radians.
    amplitude : ndarray, optional
        (Y, X) amplitude, used as weights.
    sigma : float
        Gaussian smoothing of the phasor, in pixels (0: none).

    Returns
    -------
    ndarray
        (Y, X) float32 field; its sign is the domain.
    """
    w = _amp_weights(amplitude, phase_rad.shape)
    z = flatten_phase(phase_rad, weights=w)
    if sigma > 0:
        # normalised convolution: amplitude-weighted mean phasor, so that the
        # field has no steps where only the amplitude changes
        wz = z * w
        re = ndimage.gaussian_filter(wz.real, sigma, mode="reflect")
        im = ndimage.gaussian_filter(wz.imag, sigma, mode="reflect")
        ws = ndimage.gaussian_filter(w, sigma, mode="reflect")
        z = (re + 1j * im) / np.maximum(ws, 1e-6)
    # the domain axis: after flattening the doubled mean points along +1
    axis = np.sqrt(np.mean(z.astype(np.complex128) ** 2))
    axis = axis / abs(axis) if abs(axis) > 0 else 1.0
    return np.real(z * np.conj(axis)).astype(np.float32)


def _drop_small(mask: np.ndarray, min_size: int, connectivity: int = 1) -> np.ndarray:
    """``mask`` without its connected components of fewer than ``min_size`` pixels."""
    if min_size <= 1 or not mask.any():
        return mask
    lab, _ = ndimage.label(mask, structure=ndimage.generate_binary_structure(2, connectivity))
    sizes = np.bincount(lab.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[lab]


def _clean_domains(up: np.ndarray, min_size: int) -> np.ndarray:
    if min_size > 0:
        up = _drop_small(up, min_size)
        up = ~_drop_small(~up, min_size)
    return up


def boundary_mask(domains: np.ndarray) -> np.ndarray:
    """One-pixel-thick walls: pixels of the ``+1`` domain with a 4-neighbour in ``-1``."""
    up = domains > 0
    down = ~up
    cross = ndimage.generate_binary_structure(2, 1)
    return up & ndimage.binary_dilation(down, structure=cross, border_value=0)


def gaussian_walls(
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
    min_size: int = 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domain map and walls of one frame by Gaussian phasor filtering.

    Parameters
    ----------
    phase_rad : ndarray
        (Y, X) phase in radians.
    amplitude : ndarray, optional
        (Y, X) amplitude, used as weights.
    sigma : float
        Gaussian smoothing of the phasor, pixels.
    min_size : int
        Domains (islands and holes) smaller than this many pixels are merged.

    Returns
    -------
    mask : ndarray
        (Y, X) bool, one-pixel-thick walls.
    domains : ndarray
        (Y, X) int8, ``+1`` / ``-1`` (sign convention in :func:`orient_domains`).
    field : ndarray
        (Y, X) float32 domain field (:func:`domain_field`).
    """
    mask, domains, field, _ = gaussian_frame(
        phase_rad, amplitude, sigma=sigma, min_size=min_size, significance=0.0
    )
    return mask, domains, field


def gaussian_frame(
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
    min_size: int = 4,
    significance: float = SIGNIFICANCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Gaussian method on one frame, with the significance tests and what they decided.

    1. domain field (:func:`phase_projection`), its sign = provisional domains;
    2. regions smaller than ``min_size`` px or whose phase does not differ
       from the other polarisation beyond the noise
       (:func:`significant_domains`) take the polarisation of the nearest
       region that does (``significance=0``: only the size rule, as
       :func:`gaussian_walls`);
    3. walls = boundary pixels of the map, pieces that do not separate
       two significantly different phases dropped (:func:`significant_walls`).

    Returns
    -------
    mask, domains, field
        As :func:`gaussian_walls` (``mask`` may miss the dropped wall pieces).
    info : dict
        ``noise_deg``, ``regions_merged``, ``walls_tested``, ``walls_dropped``,
        ``wall_px_dropped``, ``domains`` (regions of the final map), ``dots``
        (regions of at most :data:`DOT_AREA` px).
    """
    w = _amp_weights(amplitude, phase_rad.shape)
    z = flatten_phase(phase_rad, weights=w)
    field, proj = _field_and_projection(z, w, sigma)
    up = field >= 0
    noise = None
    if significance > 0:
        noise = local_noise(proj)
        up = _add_fine_domains(up, proj, noise, sigma, min_size, significance)
        up, merged = significant_domains(
            up, proj, min_size=min_size, significance=significance, noise=noise
        )
    else:
        merged = 0
        up = _clean_domains(up, min_size)
    domains = np.where(up, 1, -1).astype(np.int8)
    mask = boundary_mask(domains)
    mask, st = significant_walls(
        mask, proj, domains=domains, significance=significance, noise=noise
    )
    info = {**_test_info(proj, mask, st), "regions_merged": merged, **_count_domains(domains)}
    return mask, domains, field, info


def _add_fine_domains(
    up: np.ndarray,
    proj: np.ndarray,
    noise: np.ndarray,
    sigma: float,
    min_size: int,
    significance: float,
) -> np.ndarray:
    """Add the small domains that the ``sigma`` smoothing erased, where they are significant.

    A dot of a few pixels, dark in the amplitude, is averaged away by the
    amplitude-weighted smoothing.  The projection smoothed at a third of
    ``sigma`` without weights is compared with ``up``; every connected region
    where the two disagree (at least ``min_size`` px) takes the fine sign
    when its pixels carry it beyond the local noise (the domain test, with
    the contrast that pure noise selected by its own sign reaches,
    ``√(2/π)`` σ, subtracted first).
    """
    fine_sigma = sigma / 3.0
    fine = ndimage.gaussian_filter(proj, fine_sigma, mode="reflect") if fine_sigma > 0 else proj
    fine_up = fine >= 0
    diff = fine_up != up
    if not diff.any():
        return up
    lab, n = ndimage.label(diff, structure=ndimage.generate_binary_structure(2, 1))
    signed = np.where(fine_up, proj, -proj)
    count, mean, sd = _group_stats(lab.ravel(), signed.ravel(), n + 1, noise.ravel())
    mean = mean - _SELECTION_BIAS * sd
    ok = _passes(count, mean, sd, significance, MIN_CONTRAST) & (count >= max(min_size, 1))
    ok[0] = False
    flip = ok[lab]
    return np.where(flip, fine_up, up)


#: largest area (px) counted as a dot domain in the reports: a disc of radius 6 px
DOT_AREA = 113


def _count_domains(domains: np.ndarray) -> dict:
    """Number of connected domains (4-connected, both signs) and of dots (≤ DOT_AREA px)."""
    cross = ndimage.generate_binary_structure(2, 1)
    n, dots = 0, 0
    for part in (domains > 0, domains <= 0):
        lab, k = ndimage.label(part, structure=cross)
        if k:
            sizes = np.bincount(lab.ravel())[1:]
            n += k
            dots += int((sizes <= DOT_AREA).sum())
    return {"domains": n, "dots": dots}


def canny_frame(
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
    min_size: int = 4,
    significance: float = SIGNIFICANCE,
) -> tuple[np.ndarray, dict]:
    """Canny method on one frame: edges of the domain field, insignificant pieces dropped.

    Returns the thin wall mask and ``info`` (as :func:`gaussian_frame`,
    without the domain counts).
    """
    w = _amp_weights(amplitude, phase_rad.shape)
    z = flatten_phase(phase_rad, weights=w)
    _, proj = _field_and_projection(z, w, 0.0)
    csig = max(sigma, 0.5)
    edges = thin_walls(canny_walls(proj, sigma=csig), min_size // 2)
    smooth = ndimage.gaussian_filter(proj, csig, mode="nearest")
    mask, st = significant_walls(edges, proj, field=smooth, significance=significance)
    return mask, _test_info(proj, mask, st)


def filter_walls(
    mask: np.ndarray,
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
    significance: float = SIGNIFICANCE,
) -> tuple[np.ndarray, dict]:
    """Apply the wall significance test to walls found otherwise (e.g. the DCNN).

    Returns the kept walls and ``info`` (as :func:`canny_frame`).
    """
    field, proj = phase_projection(phase_rad, amplitude, sigma=sigma)
    out, st = significant_walls(mask, proj, field=field, significance=significance)
    return out, _test_info(proj, out, st)


def _test_info(proj: np.ndarray, kept: np.ndarray, st: dict) -> dict:
    """What the significance test decided, in the keys of ``WallResult.info``."""
    return {
        "noise_deg": phase_noise_deg(proj, kept),
        "walls_tested": st["tested"],
        "walls_dropped": st["dropped"],
        "wall_px_dropped": st["dropped_px"],
    }


def thin_walls(mask: np.ndarray, min_size: int) -> np.ndarray:
    """Skeleton of a wall mask without pieces shorter than ``min_size`` pixels."""
    skel = morphology.skeletonize(mask) if mask.any() else mask
    return _drop_small(skel, int(min_size), connectivity=2)


def orient_domains(
    domains: np.ndarray, phase_rad: np.ndarray, reference: complex | None = None
) -> tuple[np.ndarray, complex]:
    """Fix the sign of a domain map so that ``+1`` means the same phase in every frame.

    ``+1`` is the domain whose circular-mean raw phase is closer to
    ``reference`` (a unit phasor); without a reference (first frame), closer
    to +90°.

    Returns
    -------
    domains : ndarray
        The map, possibly negated.
    reference : complex
        The circular mean phasor of the ``+1`` domain, for the next frame.
    """
    z = np.exp(1j * phase_rad.astype(np.float64))
    m_up = z[domains > 0].mean() if (domains > 0).any() else 0j
    m_dn = z[domains < 0].mean() if (domains < 0).any() else 0j
    ref = 1j if reference is None else reference
    score = (m_up * np.conj(ref)).real - (m_dn * np.conj(ref)).real
    if score < 0:
        domains = (-domains).astype(np.int8)
        m_up = m_dn
    m_up = m_up / abs(m_up) if abs(m_up) > 0 else ref
    return domains, complex(m_up)


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


def canny_walls(field: np.ndarray, *, sigma: float = 1.5) -> np.ndarray:
    """Canny edges of a domain field with data-driven thresholds.

    Parameters
    ----------
    field : ndarray
        (Y, X) float field whose steps are the walls (e.g. :func:`domain_field`
        with ``sigma=0``).
    sigma : float
        Canny's Gaussian sigma.

    Returns
    -------
    ndarray
        (Y, X) bool edge mask.
    """
    f = np.asarray(field, dtype=np.float64)
    # the gradient magnitude exactly as canny computes it (Sobel of the smoothed field)
    sm = ndimage.gaussian_filter(f, sigma, mode="nearest", truncate=4.0)
    mag = np.hypot(ndimage.sobel(sm, axis=0), ndimage.sobel(sm, axis=1))
    # noise floor: the field's pixel noise (robust, from a Laplacian residual)
    # carried through the same filters; the magnitude of pure noise is then
    # Rayleigh distributed and exceeds 4.5 of its sigmas once in ~25,000 pixels
    k = np.array([[0, -0.25, 0], [-0.25, 1.0, -0.25], [0, -0.25, 0]])
    res = ndimage.convolve(f, k, mode="reflect")
    noise = 1.4826 * float(np.median(np.abs(res - np.median(res)))) / np.sqrt(1.25)
    size = 2 * int(4 * sigma) + 7
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    kern = ndimage.sobel(ndimage.gaussian_filter(delta, sigma, truncate=4.0), axis=0)
    floor = 4.5 * noise * float(np.sqrt((kern**2).sum()))
    # and a physical floor: a wall is a step of about 2 in the domain field
    # (−1 → +1); an edge must carry at least 30 % of that step's gradient
    step = np.zeros((size, size))
    step[:, size // 2 :] = 2.0
    step_mag = np.abs(ndimage.sobel(ndimage.gaussian_filter(step, sigma, mode="nearest"), axis=1))
    floor = max(floor, 0.3 * float(step_mag[size // 2].max()))
    try:
        otsu = float(filters.threshold_otsu(mag))
    except ValueError:
        otsu = float(mag.max())
    high = max(otsu, floor)
    return feature.canny(
        f, sigma=sigma, low_threshold=0.5 * high, high_threshold=high, mode="nearest"
    )


def ridge_walls(amplitude: np.ndarray, *, sigma: float = 1.5, min_length: int = 8) -> np.ndarray:
    """Walls as the dark lines (valleys) of an amplitude image.

    Parameters
    ----------
    amplitude : ndarray
        (Y, X) amplitude.
    sigma : float
        Scale of the valley filter, pixels (about the wall half width).
    min_length : int
        Skeleton pieces shorter than this many pixels are dropped.

    Returns
    -------
    ndarray
        (Y, X) bool, one-pixel-thick walls.
    """
    a = np.asarray(amplitude, dtype=np.float64)
    big = max(8.0, 8 * sigma)
    local = ndimage.gaussian_filter(a, big, mode="reflect")
    norm = a / np.maximum(local, 1e-12 * max(float(np.abs(local).max()), 1e-30))
    ridge = filters.sato(norm, sigmas=[sigma, 2 * sigma], black_ridges=True, mode="reflect")
    high, low = _auto_thresholds(ridge, noise_k=4.0)
    mask = filters.apply_hysteresis_threshold(ridge, low, high)
    skel = morphology.skeletonize(mask)
    return _drop_small(skel, min_length, connectivity=2)


# --------------------------------------------------------------------------- points


def _poisson_disk(iy: np.ndarray, ix: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy subset of the pixels (in the given order) with no two closer than ``r``."""
    if r <= 1.0:
        return iy, ix
    cs = r / np.sqrt(2.0)  # a grid cell can hold at most one kept point
    r2 = r * r - 1e-9
    grid: dict[tuple[int, int], tuple[int, int]] = {}
    keep = []
    near = [(a, b) for a in (-2, -1, 0, 1, 2) for b in (-2, -1, 0, 1, 2)]
    for k, (y, x) in enumerate(zip(iy.tolist(), ix.tolist())):
        gy, gx = int(y // cs), int(x // cs)
        for a, b in near:
            q = grid.get((gy + a, gx + b))
            if q is not None and (q[0] - y) ** 2 + (q[1] - x) ** 2 < r2:
                break
        else:
            grid[(gy, gx)] = (y, x)
            keep.append(k)
    sel = np.asarray(keep, dtype=np.int64)
    return iy[sel], ix[sel]


#: largest structure-tensor scale for the orientation of wall points (bounds the work for big strides)
_MAX_TENSOR_SIGMA = 16.0


def wall_points(mask: np.ndarray, *, stride: int = 4, frame: int = 0) -> pd.DataFrame:
    """Sample points along the walls every ``stride`` pixels, with the local orientation.

    The mask is skeletonised; the image is cut into ``stride`` × ``stride``
    cells and each cell crossed by the skeleton gives its skeleton pixel
    nearest to the cell centre, so consecutive points along a wall are about
    ``stride`` px apart.  The orientation is the direction of the wall line
    (from the structure tensor of the mask, Gaussian sigma ``max(1.5, stride/2)``, at most 16),
    in radians in (−π/2, π/2], measured from the +x (column) axis towards +y
    (rows, downwards): 0 for a horizontal wall, ±π/2 for a vertical one.

    Parameters
    ----------
    mask : ndarray
        (Y, X) bool wall mask.
    stride : int
        Sampling distance in pixels (≥ 1).
    frame : int
        Value of the ``frame`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``y, x`` (float64), ``frame`` (int64), ``orientation`` (float64).
    """
    check_range("stride", stride, low=1)
    stride = int(stride)
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise IvaeError(f"mask must be 2-D (Y, X); got shape {m.shape}")
    skel = morphology.skeletonize(m) if m.any() else m
    iy, ix = np.nonzero(skel)
    if len(iy) == 0:
        return pd.DataFrame(
            {
                "y": np.zeros(0),
                "x": np.zeros(0),
                "frame": np.zeros(0, dtype=np.int64),
                "orientation": np.zeros(0),
            }
        )
    py, px = _poisson_disk(iy, ix, float(stride))
    ts = min(max(1.5, stride / 2.0), _MAX_TENSOR_SIGMA)
    arr, arc, acc = feature.structure_tensor(skel.astype(np.float64), sigma=ts, order="rc")
    a_rr, a_rc, a_cc = arr[py, px], arc[py, px], acc[py, px]
    grad_angle = 0.5 * np.arctan2(2 * a_rc, a_cc - a_rr)
    orient = grad_angle + np.pi / 2
    orient = np.where(orient > np.pi / 2, orient - np.pi, orient)
    orient = np.where(orient <= -np.pi / 2, orient + np.pi, orient)
    return pd.DataFrame(
        {
            "y": py.astype(np.float64),
            "x": px.astype(np.float64),
            "frame": np.full(len(py), int(frame), dtype=np.int64),
            "orientation": orient.astype(np.float64),
        }
    )


# --------------------------------------------------------------------------- significance


def phase_projection(
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed domain field and unsmoothed per-pixel phase projection, from one flattening.

    Parameters
    ----------
    phase_rad : ndarray
        (Y, X) phase in radians.
    amplitude : ndarray, optional
        (Y, X) amplitude, used as weights of the smoothing.
    sigma : float
        Gaussian smoothing of the field, in pixels (0: none).

    Returns
    -------
    field : ndarray
        (Y, X) float32, as :func:`domain_field` with ``sigma``.
    projection : ndarray
        (Y, X) float32, ``cos`` of each pixel's flattened phase relative to
        the domain axis: ≈ +1 / −1 in clean domains, spread over [−1, 1]
        where the phase is noise.
    """
    w = _amp_weights(amplitude, phase_rad.shape)
    z = flatten_phase(phase_rad, weights=w)
    return _field_and_projection(z, w, sigma)


def _field_and_projection(
    z: np.ndarray, w: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    zs = z
    if sigma > 0:
        wz = z * w
        re = ndimage.gaussian_filter(wz.real, sigma, mode="reflect")
        im = ndimage.gaussian_filter(wz.imag, sigma, mode="reflect")
        ws = ndimage.gaussian_filter(w, sigma, mode="reflect")
        zs = (re + 1j * im) / np.maximum(ws, 1e-6)
    axis = np.sqrt(np.mean(zs.astype(np.complex128) ** 2))
    axis = axis / abs(axis) if abs(axis) > 0 else 1.0
    field = np.real(zs * np.conj(axis)).astype(np.float32)
    proj = np.real(z * np.conj(axis)).astype(np.float32)
    return field, proj


def _group_stats(
    ids: np.ndarray, vals: np.ndarray, n: int, noise: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and σ of ``vals`` per group id.

    σ is the group mean of ``noise`` (a local noise map) when given, else
    the robust σ of the values (1.4826 × median absolute deviation).
    """
    ids = np.asarray(ids, dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    count = np.bincount(ids, minlength=n).astype(np.float64)
    mean = np.bincount(ids, weights=vals, minlength=n) / np.maximum(count, 1.0)
    if noise is not None:
        sd = np.bincount(ids, weights=np.asarray(noise, np.float64), minlength=n)
        return count, mean, np.maximum(sd / np.maximum(count, 1.0), _SIGMA_FLOOR)
    if len(ids) == 0:
        return count, mean, np.full(n, _SIGMA_FLOOR)

    def group_median(x: np.ndarray) -> np.ndarray:
        order = np.lexsort((x, ids))
        xs = x[order]
        c = count.astype(np.int64)
        start = np.concatenate([[0], np.cumsum(c)[:-1]])
        lo = start + np.maximum(c - 1, 0) // 2
        hi = start + c // 2
        lo = np.minimum(lo, len(xs) - 1)
        hi = np.minimum(hi, len(xs) - 1)
        med = 0.5 * (xs[lo] + xs[hi])
        return np.where(c > 0, med, 0.0)

    med = group_median(vals)
    mad = group_median(np.abs(vals - med[ids]))
    return count, mean, np.maximum(1.4826 * mad, _SIGMA_FLOOR)


#: mean |v - median3x3(v)| of unit white noise: converts the mean residual to a σ
_MEDIAN_RESIDUAL = 0.7253
#: mean of |x| / σ for Gaussian noise: the contrast of noise selected by its own sign
_SELECTION_BIAS = float(np.sqrt(2.0 / np.pi))
#: Gaussian scale (px) over which the local noise is averaged
NOISE_SCALE = 4.0


def local_noise(projection: np.ndarray) -> np.ndarray:
    """Local robust noise σ of the phase projection, per pixel.

    The residual from a 3×3 median (structure such as walls and dots stays
    in the median, noise does not) in absolute value, averaged with a
    Gaussian of :data:`NOISE_SCALE` px and scaled to the σ of white noise;
    at least a small floor.
    """
    v = np.asarray(projection, dtype=np.float32)
    r = np.abs(v - ndimage.median_filter(v, 3, mode="reflect"))
    sd = ndimage.gaussian_filter(r, NOISE_SCALE, mode="reflect") / _MEDIAN_RESIDUAL
    return np.maximum(sd, _SIGMA_FLOOR)


def _passes(
    count: np.ndarray, mean: np.ndarray, sd: np.ndarray, significance: float, min_contrast: float
) -> np.ndarray:
    """A side (or region) carries its sign's phase beyond the noise: contrast and z-score."""
    contrast = mean / sd
    return (contrast >= min_contrast) & (contrast * np.sqrt(count) >= significance)


def significant_domains(
    up: np.ndarray,
    projection: np.ndarray,
    *,
    min_size: int = 4,
    significance: float = SIGNIFICANCE,
    min_contrast: float | None = None,
    noise: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Keep the domains whose phase differs from the other polarisation beyond the noise.

    Every connected region of the up/down map (4-connected) is tested on its
    own pixels: its mean phase projection ``m`` (signed, so a real domain
    has ``m > 0``) over the local robust noise σ (:func:`local_noise`,
    averaged over the region) must be at least ``min_contrast``, and
    ``m √n / σ`` at least ``significance``.
    Regions that fail, or have fewer than ``min_size`` pixels, carry no
    reliable phase: they take the polarisation of the nearest region that passes.

    Parameters
    ----------
    up : ndarray
        (Y, X) bool, the provisional ``+1`` domains.
    projection : ndarray
        (Y, X) per-pixel phase projection (:func:`phase_projection`).
    min_size : int
        Smallest region (pixels) that can be a domain.
    significance, min_contrast : float
        Thresholds of the test (above).
    noise : ndarray, optional
        (Y, X) local noise σ (default: :func:`local_noise` of ``projection``).

    Returns
    -------
    up : ndarray
        (Y, X) bool, the cleaned ``+1`` domains.
    merged : int
        Number of regions that failed and were merged into their surroundings.
    """
    min_contrast = MIN_CONTRAST if min_contrast is None else min_contrast
    up = np.asarray(up, dtype=bool)
    cross = ndimage.generate_binary_structure(2, 1)
    lab_u, n_u = ndimage.label(up, structure=cross)
    lab_d, n_d = ndimage.label(~up, structure=cross)
    lab = np.where(up, lab_u, lab_d + n_u)
    n = n_u + n_d + 1
    signed = np.where(up, projection, -projection)
    noise = local_noise(projection) if noise is None else noise
    count, mean, sd = _group_stats(lab.ravel(), signed.ravel(), n, noise.ravel())
    ok = _passes(count, mean, sd, significance, min_contrast) & (count >= max(min_size, 1))
    ok[0] = False
    if ok[1:].all():
        return up, 0
    merged = int((~ok[1:]).sum())
    good = ok[lab]
    if not good.any():
        # nothing carries a phase beyond the noise: one (unknown) domain, no walls
        return np.ones_like(up), merged
    _, (iy, ix) = ndimage.distance_transform_edt(~good, return_indices=True)
    return up[iy, ix], merged


def _wall_chunks(mask: np.ndarray, length: float) -> tuple[np.ndarray, int]:
    """Cut thin walls into pieces about ``length`` px long: (Y, X) int labels (0 = no wall), count.

    Wall pixels closer than about 4 px (fragments of one broken wall) are one
    wall; along it, seeds ``length`` px apart (greedy Poisson-disk) each take
    their nearest wall pixels.
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return np.zeros(m.shape, dtype=np.int64), 0
    near = ndimage.binary_dilation(m, structure=np.ones((3, 3), bool), iterations=2)
    glab, _ = ndimage.label(near, structure=np.ones((3, 3), bool))
    iy, ix = np.nonzero(m)
    g = glab[iy, ix].astype(np.float64)
    # walls stacked far apart (virtual rows), so seeds and nearest seeds stay on their wall
    vy = iy + g * (m.shape[0] + 4 * length)
    order = np.lexsort((ix, iy, g))
    sy, sx = _poisson_disk(vy[order], ix[order].astype(np.float64), float(length))
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(np.column_stack([sy, sx])).query(np.column_stack([vy, ix]))
    chunks = np.zeros(m.shape, dtype=np.int64)
    chunks[iy, ix] = nearest + 1
    return chunks, len(sy)


def significant_walls(
    mask: np.ndarray,
    projection: np.ndarray,
    *,
    domains: np.ndarray | None = None,
    field: np.ndarray | None = None,
    significance: float = SIGNIFICANCE,
    min_contrast: float | None = None,
    band: float | None = None,
    length: float | None = None,
    noise: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Keep the wall pieces that separate two phases differing beyond the noise.

    The walls are cut into pieces about ``length`` px long.  The pixels
    within ``band`` px of a piece (nearer to it than to any other wall) fall
    on its two sides: by the domain map when given, else by the side of the
    wall the gradient of ``field`` points to.  Each side must carry its own
    polarisation: mean phase projection over the local robust noise σ
    (:func:`local_noise`, averaged over the piece's band, both sides) at
    least ``min_contrast`` and z-score ``m √n / σ`` at least
    ``significance``.  A piece inside a noisy patch (both sides noise), on
    the edge of one (one side noise) or on an artefact inside a domain (both
    sides the same phase) fails and is dropped.

    Parameters
    ----------
    mask : ndarray
        (Y, X) bool, thin walls.
    projection : ndarray
        (Y, X) per-pixel phase projection (:func:`phase_projection`).
    domains : ndarray, optional
        (Y, X) ±1 domain map whose boundaries are ``mask``.
    field : ndarray, optional
        (Y, X) smoothed domain field, for the sides when ``domains`` is None.
    significance, min_contrast : float
        Thresholds of the test (above); ``significance=0`` keeps every wall.
    band : float
        Half width of the side bands, pixels.
    length : float
        Length of the tested pieces, pixels.
    noise : ndarray, optional
        (Y, X) local noise σ (default: :func:`local_noise` of ``projection``).

    Returns
    -------
    mask : ndarray
        (Y, X) bool, the walls kept.
    stats : dict
        ``tested`` and ``dropped`` pieces, ``dropped_px`` wall pixels.
    """
    min_contrast = MIN_CONTRAST if min_contrast is None else min_contrast
    band = SIDE_BAND if band is None else band
    length = CHUNK_LENGTH if length is None else length
    m = np.asarray(mask, dtype=bool)
    chunks, n = _wall_chunks(m, length)
    stats = {"tested": int(n), "dropped": 0, "dropped_px": 0}
    if n == 0 or significance <= 0:
        return m, stats
    dist, (qy, qx) = ndimage.distance_transform_edt(~m, return_indices=True)
    if domains is not None:
        # the wall pixels belong to the +1 side; sides are the domains
        near = dist <= band
        side = np.asarray(domains) > 0
    else:
        if field is None:
            raise IvaeError("significant_walls needs domains= or field=")
        near = (dist >= 1) & (dist <= band)
        fs = ndimage.gaussian_filter(np.asarray(field, dtype=np.float64), 1.0, mode="nearest")
        gy, gx = np.gradient(fs)
        yy, xx = np.indices(m.shape)
        side = ((yy - qy) * gy[qy, qx] + (xx - qx) * gx[qy, qx]) > 0
    py, px = np.nonzero(near)
    cid = chunks[qy[py, px], qx[py, px]]
    s = side[py, px]
    v = np.asarray(projection, dtype=np.float64)[py, px]
    gid = 2 * cid + s.astype(np.int64)  # 2c: the − side, 2c+1: the + side
    signed = np.where(s, v, -v)
    count, mean, _ = _group_stats(gid, signed, 2 * (n + 1), np.zeros(len(gid)))
    noise = local_noise(projection) if noise is None else noise
    _, _, sd_chunk = _group_stats(cid, np.zeros(len(cid)), n + 1, noise[py, px])
    sd = np.repeat(sd_chunk, 2)
    ok = _passes(count, mean, sd, significance, min_contrast)
    keep = ok[0::2] & ok[1::2]
    keep[0] = False
    out = m & keep[chunks]
    stats["dropped"] = int((~keep[1:]).sum())
    stats["dropped_px"] = int(m.sum() - out.sum())
    return out, stats


def phase_noise_deg(projection: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Robust phase noise (degrees) of the domains: from the spread of the projection.

    ``|projection| = cos δ`` for a pixel whose phase is ``δ`` off its domain
    level; the noise is 1.4826 × the median of ``|δ|``, on pixels away from
    the walls (``mask``: walls to stay 3 px away from).
    """
    v = np.abs(np.asarray(projection, dtype=np.float64))
    if mask is not None and np.asarray(mask).any():
        v = v[ndimage.distance_transform_edt(~np.asarray(mask, dtype=bool)) > 3]
    if v.size == 0:
        return float("nan")
    return float(np.rad2deg(1.4826 * np.median(np.arccos(np.clip(v, -1.0, 1.0)))))
