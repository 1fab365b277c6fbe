"""The zero-sum LoG matched filter for atom columns and the noise level it is judged against."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["log_filter"]


def _log_dc(sigma: float) -> float:
    """Response of the truncated, scale-normalised negative LoG to a constant image of 1."""
    n = 6 * int(np.ceil(sigma)) + 9
    one = np.ones((n, n), dtype=np.float64)
    lap = ndimage.gaussian_laplace(one, sigma=sigma, mode="reflect", truncate=3.0)
    return float(-(sigma**2) * lap[n // 2, n // 2])


def log_filter(image: np.ndarray, sigma: float) -> np.ndarray:
    """Negative, scale-normalised LoG made zero-sum (bright blobs positive).

    The Gaussian-Laplacian kernel truncated at 3 sigma does not sum to zero:
    alone it answers a flat background of level ``B`` with about ``0.04 B``,
    which on a bright background or a large ``sigma`` (little filtered noise)
    turns the empty space between columns into "significant" peaks.  That
    offset is removed by subtracting ``dc × (image smoothed at 1.5 sigma)``.
    """
    img = np.asarray(image, dtype=np.float32)
    filt = -(sigma**2) * ndimage.gaussian_laplace(img, sigma=sigma, mode="reflect", truncate=3.0)
    filt -= _log_dc(sigma) * ndimage.gaussian_filter(img, 1.5 * sigma, mode="reflect", truncate=3.0)
    return filt


def _zero_sum_norm(sigma: float) -> float:
    """L2 norm of the kernel of :func:`log_filter`: white noise σ becomes σ × this."""
    n = 10 * int(np.ceil(sigma)) + 9
    delta = np.zeros((n, n), dtype=np.float32)
    delta[n // 2, n // 2] = 1.0
    return float(np.sqrt((log_filter(delta, sigma).astype(np.float64) ** 2).sum()))


def _noise_sigma(image: np.ndarray) -> float:
    """Robust per-pixel noise standard deviation (MAD of a Laplacian-like residual)."""
    # difference between a pixel and the mean of its 4 neighbours; for white
    # noise its variance is (1 + 1/4) sigma²
    k = np.array([[0, -0.25, 0], [-0.25, 1.0, -0.25], [0, -0.25, 0]], dtype=np.float32)
    res = ndimage.convolve(image, k, mode="reflect")
    mad = np.median(np.abs(res - np.median(res)))
    return float(1.4826 * mad / np.sqrt(1.25))
