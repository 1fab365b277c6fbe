"""Drift correction of an image series by phase correlation.

Real PFM series drift between scans.  :func:`register_series` measures the
shift of every frame against the first by phase correlation
(:func:`skimage.registration.phase_cross_correlation`, sub-pixel) on a
reference channel (height or amplitude: the phase flips where domains switch,
so it is a poor reference); :func:`apply_shifts` moves any channel onto
frame 0 and marks the pixels without data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from napari_ivae._errors import IvaeError


@dataclass
class Registration:
    """Shifts that bring each frame onto frame 0.

    Attributes
    ----------
    shifts : np.ndarray
        (T, 2) float64 ``(dy, dx)`` in pixels; ``apply_shifts`` moves frame
        ``t`` by ``shifts[t]``; ``shifts[0] == (0, 0)``.
    error : np.ndarray
        (T,) normalised RMS error of each match (0 = perfect).
    valid : np.ndarray
        (T, Y, X) bool, pixels that hold data after the shift.
    """

    shifts: np.ndarray
    error: np.ndarray
    valid: np.ndarray


def _series(frames, name: str) -> np.ndarray:
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim != 3:
        raise IvaeError(f"{name} must be a (T, Y, X) series; got shape {a.shape}")
    if a.shape[0] < 2:
        raise IvaeError(f"{name} has {a.shape[0]} frame; registration needs at least 2")
    if not np.isfinite(a).all():
        raise IvaeError(f"{name} holds NaN or inf pixels; registration needs finite images")
    return a


def _prepare(img: np.ndarray) -> np.ndarray:
    """Remove the plane and the scan-line offsets, then normalise (robust to tilt)."""
    img = img - np.median(img, axis=1, keepdims=True)
    img = img - ndimage.gaussian_filter(img, max(img.shape) / 16.0)
    s = np.std(img)
    return img / s if s > 0 else img


def register_series(
    reference, *, upsample: int = 10, max_shift: float | None = None
) -> Registration:
    """Measure the drift of every frame against frame 0.

    Parameters
    ----------
    reference : array-like
        (T, Y, X) reference channel (height or amplitude), ``T ≥ 2``.
    upsample : int
        Sub-pixel precision ``1 / upsample`` px (≥ 1).
    max_shift : float, optional
        Largest shift accepted, in pixels (default: a quarter of the smaller
        side); a larger measured shift raises an error (the frames do not
        show the same area).

    Returns
    -------
    Registration
    """
    ref = _series(reference, "reference")
    if int(upsample) < 1:
        raise IvaeError(f"upsample={upsample} must be ≥ 1")
    t, ny, nx = ref.shape
    limit = float(max_shift) if max_shift is not None else min(ny, nx) / 4.0
    fixed = _prepare(ref[0])
    shifts = np.zeros((t, 2))
    error = np.zeros(t)
    for k in range(1, t):
        shift, err, _ = phase_cross_correlation(
            fixed, _prepare(ref[k]), upsample_factor=int(upsample), normalization=None
        )
        if np.hypot(*shift) > limit:
            raise IvaeError(
                f"frame {k} is shifted by ({shift[0]:.1f}, {shift[1]:.1f}) px against frame 0, "
                f"more than max_shift={limit:.0f} px: the frames do not show the same area"
            )
        shifts[k], error[k] = shift, err
    valid = apply_shifts(np.ones(ref.shape, dtype=np.float32), shifts, fill=0.0) > 0.999
    return Registration(shifts=shifts, error=error, valid=valid)


def apply_shifts(series, shifts, *, fill: float = np.nan, order: int = 1) -> np.ndarray:
    """Move frame ``t`` of ``series`` by ``shifts[t]`` (output of :func:`register_series`).

    Parameters
    ----------
    series : array-like
        (T, Y, X) any channel of the series.
    shifts : array-like
        (T, 2) ``(dy, dx)``.
    fill : float
        Value of the pixels that come from outside the frame.
    order : int
        Spline order of the interpolation (0 = nearest: use it for masks and
        domain maps).

    Returns
    -------
    np.ndarray
        (T, Y, X) float32.
    """
    a = np.asarray(series)
    s = np.asarray(shifts, dtype=np.float64)
    if a.ndim != 3 or s.shape != (a.shape[0], 2):
        raise IvaeError(
            f"shifts has shape {s.shape}; expected ({a.shape[0]}, 2) for a series of shape {a.shape}"
        )
    out = np.empty(a.shape, dtype=np.float32)
    for k in range(a.shape[0]):
        if not s[k].any():
            out[k] = a[k]
            continue
        out[k] = ndimage.shift(
            a[k].astype(np.float32), s[k], order=order, mode="constant", cval=fill
        )
    return out
