"""Input checks and registration helpers of :func:`~napari_ivae.dynamics.series.series_metrics`."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_ivae._errors import IvaeError, check_choice
from napari_ivae.dynamics.register import apply_shifts


def as_series(frames, name: str, *, like: np.ndarray | None = None) -> np.ndarray:
    """Float32 (T, Y, X) series with ``T ≥ 2`` (a list of equal-shape frames is stacked)."""
    if isinstance(frames, (list, tuple)):
        shapes = [np.shape(f) for f in frames]
        for t, s in enumerate(shapes):
            if s != shapes[0]:
                raise IvaeError(
                    f"{name} frame {t} has shape {s}, frame 0 has {shapes[0]}; "
                    "the frames of a series must have one shape"
                )
    a = np.asarray(frames)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise IvaeError(f"{name} must be a real numeric (T, Y, X) series; got dtype {a.dtype}")
    if a.ndim == 2 or (a.ndim == 3 and a.shape[0] == 1):
        raise IvaeError(
            f"{name} holds a single frame of shape {a.shape[-2:]}; wall metrics need a series "
            "of at least 2 frames (T, Y, X)"
        )
    if a.ndim != 3:
        raise IvaeError(f"{name} must be a (T, Y, X) series; got shape {a.shape}")
    if like is not None and a.shape != like.shape:
        raise IvaeError(f"{name} has shape {a.shape}; the phase has {like.shape}")
    return a.astype(np.float32, copy=False)


def radians(phase: np.ndarray, units: str) -> tuple[np.ndarray, str]:
    """Phase in radians; a phase said to be in degrees that spans under 2π is refused."""
    from napari_ivae.detect.walls import phase_to_radians

    check_choice("phase_units", units, ("auto", "deg", "rad"))
    finite = phase[np.isfinite(phase)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    if units == "deg" and 0 < span <= 2 * np.pi * 1.02:
        raise IvaeError(
            f"phase_units='deg' but the phase spans only {span:.3g}, less than 2π: it is in "
            "radians; give phase_units='rad' (or 'auto')"
        )
    if units == "rad" and span > 2 * np.pi * 1.02 * 2:
        raise IvaeError(
            f"phase_units='rad' but the phase spans {span:.4g}, more than two turns: it is in "
            "degrees; give phase_units='deg' (or 'auto')"
        )
    return phase_to_radians(phase, units)


def shift_series(phase: np.ndarray, amplitude, trust: np.ndarray, shifts: np.ndarray):
    """Move phase (as its phasor), amplitude and the trust mask onto frame 0."""
    c = apply_shifts(np.cos(phase), shifts, fill=0.0)
    s = apply_shifts(np.sin(phase), shifts, fill=0.0)
    ph = np.arctan2(s, c).astype(np.float32)
    amp = None if amplitude is None else apply_shifts(amplitude, shifts, fill=np.nan)
    ok = apply_shifts(trust.astype(np.float32), shifts, fill=0.0) > 0.999
    return ph, amp, ok


def fill_invalid(series: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Copy of ``series`` whose untrusted or non-finite pixels take the nearest trusted value."""
    out = np.array(series, dtype=np.float32, copy=True)
    for t in range(len(out)):
        good = ok[t] & np.isfinite(out[t])
        if good.all() or not good.any():
            continue
        _, (iy, ix) = ndimage.distance_transform_edt(~good, return_indices=True)
        out[t] = out[t][iy, ix]
    return out


def _spectrum(frame: np.ndarray) -> np.ndarray:
    """Spectrum of the frame without its scan-line offsets and slow background, normalised."""
    img = np.asarray(frame, dtype=np.float64)
    img = img - np.median(img, axis=1, keepdims=True)
    img = img - ndimage.gaussian_filter(img, max(img.shape) / 16.0)
    s = np.std(img)
    return np.fft.fft2(img / s if s > 0 else img)


def drift_peak_z(fixed: np.ndarray, moving: np.ndarray) -> float:
    """Height of the phase-correlation peak of two frames, in robust σ of the correlation surface.

    Both frames are prepared as for the registration (scan-line offsets and
    the slow background removed), the cross-power spectrum is whitened and
    transformed back; the peak is measured against the median and 1.4826 ×
    MAD of the whole surface.  Without shared content the surface is noise
    whose maximum over N pixels is about ``√(2 ln N)`` σ.
    """
    return _peak_z(_spectrum(fixed), _spectrum(moving))


def _peak_z(a: np.ndarray, b: np.ndarray) -> float:
    cross = a * np.conj(b)
    cross /= np.maximum(np.abs(cross), 1e-12)
    surface = np.fft.ifft2(cross).real
    med = float(np.median(surface))
    mad = 1.4826 * float(np.median(np.abs(surface - med)))
    return float((surface.max() - med) / mad) if mad > 0 else 0.0


def significant_drift(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the drift peak z (:func:`drift_peak_z` against frame 0) and whether it is real.

    A peak is real when it exceeds what the noise's maximum reaches,
    ``√(2 ln N)``, by 3 σ (N: pixels of a frame); frames without a real peak
    (nothing static to lock on, e.g. a simulated series) are not shifted.
    """
    fixed = _spectrum(reference[0])
    z = np.array([np.inf] + [_peak_z(fixed, _spectrum(f)) for f in reference[1:]])
    return z, z >= drift_limit(reference.shape)


def drift_limit(shape: tuple[int, ...]) -> float:
    """Peak height (robust σ) a real drift peak must reach: noise's maximum ``√(2 ln N)`` + 3."""
    n = shape[-2] * shape[-1]
    return float(np.sqrt(2.0 * np.log(n))) + 3.0


def mask_series(mask, shape: tuple[int, int, int], name: str) -> np.ndarray:
    """A (T, Y, X) bool copy of ``mask`` given for the series or for one frame (all True when None)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.shape == shape[1:]:
        m = np.broadcast_to(m, shape)
    if m.shape != shape:
        raise IvaeError(f"{name} has shape {m.shape}; expected {shape} or {shape[1:]}")
    return m.copy()
