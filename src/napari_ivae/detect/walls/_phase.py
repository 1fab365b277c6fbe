"""Phase units, flattening and the domain field of PFM phase images (see :mod:`..walls`)."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from scipy import ndimage
from skimage.restoration import unwrap_phase

from napari_ivae._errors import check_choice

PhaseUnits = Literal["auto", "deg", "rad"]
PHASE_UNITS = ("auto", "deg", "rad")


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
    return phase_projection(phase_rad, amplitude, sigma=sigma)[0]


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
    """Smoothed field and per-pixel projection of the flattened phasor ``z`` (weights ``w``)."""
    zs = z
    if sigma > 0:
        # normalised convolution: amplitude-weighted mean phasor, so that the
        # field has no steps where only the amplitude changes
        wz = z * w
        re = ndimage.gaussian_filter(wz.real, sigma, mode="reflect")
        im = ndimage.gaussian_filter(wz.imag, sigma, mode="reflect")
        ws = ndimage.gaussian_filter(w, sigma, mode="reflect")
        zs = (re + 1j * im) / np.maximum(ws, 1e-6)
    # the domain axis: after flattening the doubled mean points along +1
    axis = np.sqrt(np.mean(zs.astype(np.complex128) ** 2))
    axis = axis / abs(axis) if abs(axis) > 0 else 1.0
    field = np.real(zs * np.conj(axis)).astype(np.float32)
    proj = np.real(z * np.conj(axis)).astype(np.float32)
    return field, proj
