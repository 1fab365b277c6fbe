"""Classical ferroelectric domain-wall detectors for PFM phase / amplitude images.

Phase images are handled as the circular quantity they are: the phase becomes
the unit phasor ``exp(iφ)``; 180° domains are the two levels ``φ0`` and
``φ0 + π``, which the doubled phasor ``exp(2iφ)`` maps onto the same point,
so the doubled phasor measures the (unknown) offset ``φ0`` without knowing the
domains.  :func:`flatten_phase` uses it to remove the per-scan-line offsets
(circular mean of each row) and the slow drift (heavily smoothed doubled
phasor, unwrapped in 2-D); what remains has its two domains near ``0`` and
``π``, whatever the wrapping, offset and drift of the input.

- ``gaussian``: Gaussian-smoothed phasor projected on the domain axis → up/down
  domain map (small islands removed); walls are the boundary pixels between
  domains (one pixel thick).
- ``canny``: :func:`skimage.feature.canny` on that domain field, thresholds
  from the data (Otsu of the gradient magnitude, never below several times its
  noise level), so noise does not become edges.

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


# --------------------------------------------------------------------------- phase units


def phase_to_radians(phase: np.ndarray, units: PhaseUnits = "auto") -> tuple[np.ndarray, str]:
    """Convert a phase image to radians, detecting degrees when ``units="auto"``.

    A phase whose finite values span more than 2π (plus 2 %) is in degrees;
    otherwise it is taken as radians.  When the span is ambiguous (between 2π
    and 20, or below 0.5) a warning says so and how to force the units.

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

    Parameters
    ----------
    phase_rad : ndarray
        (Y, X) phase in radians, wrapped or not.
    weights : ndarray, optional
        (Y, X) non-negative pixel weights (e.g. normalised amplitude).
    drift_sigma : float, optional
        Gaussian sigma (px) of the drift estimate; default a tenth of the
        larger side (at least 8).

    Returns
    -------
    ndarray
        (Y, X) complex64 unit phasor whose two domains lie near ``+1`` and ``-1``.
    """
    ph = np.asarray(phase_rad, dtype=np.float64)
    w = np.ones(ph.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    ny, nx = ph.shape
    # 1. per-scan-line offsets: circular mean of the doubled phasor of each row,
    #    unwrapped from row to row (offsets are defined modulo π)
    u = w * np.exp(2j * ph)
    row = np.angle(u.sum(axis=1))
    row = np.unwrap(row) / 2.0
    ph = ph - row[:, None]
    # 2. slow 2-D drift: heavily smoothed doubled phasor, unwrapped in 2-D
    if drift_sigma is None:
        drift_sigma = max(8.0, max(ny, nx) / 10.0)
    u = w * np.exp(2j * ph)
    # smooth on a coarse grid (the drift is slow): fast for big images
    step = max(1, int(drift_sigma // 4))
    us = u[::step, ::step] if step > 1 else u
    sm = ndimage.gaussian_filter(us.real, drift_sigma / step, mode="reflect") + 1j * (
        ndimage.gaussian_filter(us.imag, drift_sigma / step, mode="reflect")
    )
    ang = unwrap_phase(np.angle(sm))
    if step > 1:
        zy = ny / ang.shape[0]
        zx = nx / ang.shape[1]
        ang = ndimage.zoom(ang, (zy, zx), order=1, mode="nearest", grid_mode=True)[:ny, :nx]
    ph = ph - ang / 2.0
    return np.exp(1j * ph).astype(np.complex64)


def domain_field(
    phase_rad: np.ndarray,
    amplitude: np.ndarray | None = None,
    *,
    sigma: float = 1.5,
) -> np.ndarray:
    """Smoothed real domain field of a phase image: about ``+1`` / ``-1`` in the domains.

    The flattened phasor (:func:`flatten_phase`), weighted by the amplitude
    when given, is Gaussian-smoothed (``sigma`` px) and its real part taken.

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
    z = flatten_phase(phase_rad, weights=w) * w
    if sigma > 0:
        re = ndimage.gaussian_filter(z.real, sigma, mode="reflect")
        im = ndimage.gaussian_filter(z.imag, sigma, mode="reflect")
        z = re + 1j * im
    # the domain axis: after flattening the doubled mean points along +1
    axis = np.sqrt(np.mean(z.astype(np.complex128) ** 2))
    axis = axis / abs(axis) if abs(axis) > 0 else 1.0
    return np.real(z * np.conj(axis)).astype(np.float32)


def _drop_small(mask: np.ndarray, min_size: int, connectivity: int = 1) -> np.ndarray:
    """``mask`` without its connected components of fewer than ``min_size`` pixels."""
    if min_size <= 1 or not mask.any():
        return mask
    lab, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(2, connectivity))
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
    field = domain_field(phase_rad, amplitude, sigma=sigma)
    up = _clean_domains(field >= 0, min_size)
    domains = np.where(up, 1, -1).astype(np.int8)
    return boundary_mask(domains), domains, field


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
    high, low = _auto_thresholds(mag)
    return feature.canny(f, sigma=sigma, low_threshold=low, high_threshold=high, mode="nearest")


def ridge_walls(
    amplitude: np.ndarray, *, sigma: float = 1.5, min_length: int = 8
) -> np.ndarray:
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


def wall_points(mask: np.ndarray, *, stride: int = 4, frame: int = 0) -> pd.DataFrame:
    """Sample points along the walls every ``stride`` pixels, with the local orientation.

    The mask is skeletonised; the image is cut into ``stride`` × ``stride``
    cells and each cell crossed by the skeleton gives its skeleton pixel
    nearest to the cell centre, so consecutive points along a wall are about
    ``stride`` px apart.  The orientation is the direction of the wall line
    (from the structure tensor of the mask, Gaussian sigma ``max(1.5, stride/2)``),
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
    cy, cx = iy // stride, ix // stride
    centre = (stride - 1) / 2.0
    d = (iy - cy * stride - centre) ** 2 + (ix - cx * stride - centre) ** 2
    cell = cy * (m.shape[1] // stride + 1) + cx
    order = np.lexsort((d, cell))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    sel = order[first]
    py, px = iy[sel], ix[sel]
    ts = max(1.5, stride / 2.0)
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
