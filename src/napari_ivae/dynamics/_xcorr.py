"""Masked, multi-channel phase correlation used by :mod:`~napari_ivae.dynamics.register`.

Every channel is flattened the same way (scan-line medians and a smooth
background removed over the trusted pixels only, robust z-score clipped at
±4 so an artefact cannot dominate), tapered by a Tukey window, and the
cross-power spectra of all channels are summed before the peak is searched
(plain cross-correlation, sub-pixel by skimage's upsampled DFT).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal.windows import tukey
from skimage.registration import phase_cross_correlation

#: robust z-score at which prepared images are clipped
_CLIP = 4.0


def prepare(img: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Flatten, normalise and mask one channel of one frame (0 outside ``mask``).

    Parameters
    ----------
    img : np.ndarray
        (Y, X) image.
    mask : np.ndarray
        (Y, X) bool, pixels to use.
    sigma : float
        Gaussian width (px) of the background removed (a high-pass filter).
    """
    img = np.asarray(img, dtype=np.float64)
    m = mask.astype(np.float64)
    rows = m.sum(axis=1)
    row_level = np.where(rows > 0, (img * m).sum(axis=1) / np.maximum(rows, 1), 0.0)
    out = (img - row_level[:, None]) * m  # scan-line offsets (and the slow-axis tilt)
    weight = smooth(m, sigma)
    background = smooth(out, sigma) / np.maximum(weight, 1e-3)
    out = (out - background) * m
    if not mask.any():
        return out
    spread = 1.4826 * np.median(np.abs(out[mask] - np.median(out[mask])))
    if spread <= 0:
        spread = np.std(out[mask]) or 1.0
    return np.clip(out / spread, -_CLIP, _CLIP) * m


def smooth(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-like low-pass of width ``sigma``: two box filters of side ≈ √6·σ (fast for any σ)."""
    size = max(3, round(float(np.sqrt(6.0) * sigma)) | 1)
    return ndimage.uniform_filter(ndimage.uniform_filter(img, size), size)


def window(shape: tuple[int, int], alpha: float = 0.25) -> np.ndarray:
    """2-D Tukey taper (the frame border adds no false zero-shift peak)."""
    return np.outer(tukey(shape[0], alpha), tukey(shape[1], alpha))


def cross_power(fixed: list[np.ndarray], moving: list[np.ndarray]) -> np.ndarray:
    """Sum over channels of ``F(fixed) · conj(F(moving))`` (windowed images)."""
    win = window(fixed[0].shape)
    total = np.zeros(fixed[0].shape, dtype=np.complex128)
    for a, b in zip(fixed, moving):
        total += np.fft.fft2(a * win) * np.conj(np.fft.fft2(b * win))
    return total


def peak_shift(power: np.ndarray, upsample: int) -> np.ndarray:
    """Shift ``(dy, dx)`` that moves ``moving`` onto ``fixed`` (``ndimage.shift`` convention)."""
    shift, _, _ = phase_cross_correlation(
        power,
        np.ones_like(power),
        upsample_factor=int(upsample),
        space="fourier",
        normalization=None,
    )
    return np.asarray(shift, dtype=np.float64)


def residual(fixed: list[np.ndarray], moving: list[np.ndarray], mask: np.ndarray) -> float:
    """RMS difference of prepared channels on ``mask``, over the RMS of ``fixed`` (0 = identical)."""
    if not mask.any():
        return float("nan")
    num = sum(float(np.mean((a[mask] - b[mask]) ** 2)) for a, b in zip(fixed, moving))
    den = sum(float(np.mean(a[mask] ** 2)) for a in fixed)
    return float(np.sqrt(num / den)) if den > 0 else float("nan")
