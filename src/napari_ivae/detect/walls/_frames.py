"""The classical wall detectors: Gaussian phasor domains and Canny edges (valleys: ``_valleys``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage import feature, filters, morphology

from napari_ivae.detect.walls._phase import (
    _amp_weights,
    _field_and_projection,
    flatten_phase,
    phase_projection,
)
from napari_ivae.detect.walls._significance import (
    _SELECTION_BIAS,
    MIN_CONTRAST,
    SIGNIFICANCE,
    _group_stats,
    _passes,
    _test_info,
    local_noise,
    significant_domains,
    significant_walls,
)

#: largest area (px) counted as a dot domain in the reports: a disc of radius 6 px
DOT_AREA = 113


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
