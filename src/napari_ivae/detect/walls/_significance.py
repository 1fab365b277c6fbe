"""Significance tests of domains and wall pieces against the local phase noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from napari_ivae._errors import IvaeError
from napari_ivae.detect.walls._points import _poisson_disk

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
#: mean |v - median3x3(v)| of unit white noise: converts the mean residual to a σ
_MEDIAN_RESIDUAL = 0.7253
#: mean of |x| / σ for Gaussian noise: the contrast of noise selected by its own sign
_SELECTION_BIAS = float(np.sqrt(2.0 / np.pi))
#: Gaussian scale (px) over which the local noise is averaged
NOISE_SCALE = 4.0


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
    near, side, (qy, qx) = _wall_sides(m, band, domains, field)
    py, px = np.nonzero(near)
    cid = chunks[qy[py, px], qx[py, px]]
    noise = local_noise(projection) if noise is None else noise
    keep = _pieces_kept(
        cid, side[py, px], projection, noise, (py, px), n, significance, min_contrast
    )
    out = m & keep[chunks]
    stats["dropped"] = int((~keep[1:]).sum())
    stats["dropped_px"] = int(m.sum() - out.sum())
    return out, stats


def _wall_sides(
    m: np.ndarray, band: float, domains: np.ndarray | None, field: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Pixels within ``band`` of a wall, their side (bool) and their nearest wall pixel."""
    dist, (qy, qx) = ndimage.distance_transform_edt(~m, return_indices=True)
    if domains is not None:
        # the wall pixels belong to the +1 side; sides are the domains
        return dist <= band, np.asarray(domains) > 0, (qy, qx)
    if field is None:
        raise IvaeError("significant_walls needs domains= or field=")
    near = (dist >= 1) & (dist <= band)
    fs = ndimage.gaussian_filter(np.asarray(field, dtype=np.float64), 1.0, mode="nearest")
    gy, gx = np.gradient(fs)
    yy, xx = np.indices(m.shape)
    side = ((yy - qy) * gy[qy, qx] + (xx - qx) * gx[qy, qx]) > 0
    return near, side, (qy, qx)


def _pieces_kept(
    cid: np.ndarray,
    s: np.ndarray,
    projection: np.ndarray,
    noise: np.ndarray,
    pix: tuple[np.ndarray, np.ndarray],
    n: int,
    significance: float,
    min_contrast: float,
) -> np.ndarray:
    """Per piece id (0 = no wall, never kept): both sides pass :func:`_passes`."""
    v = np.asarray(projection, dtype=np.float64)[pix]
    gid = 2 * cid + s.astype(np.int64)  # 2c: the − side, 2c+1: the + side
    signed = np.where(s, v, -v)
    count, mean, _ = _group_stats(gid, signed, 2 * (n + 1), np.zeros(len(gid)))
    _, _, sd_chunk = _group_stats(cid, np.zeros(len(cid)), n + 1, noise[pix])
    sd = np.repeat(sd_chunk, 2)
    ok = _passes(count, mean, sd, significance, min_contrast)
    keep = ok[0::2] & ok[1::2]
    keep[0] = False
    return keep


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


def _test_info(proj: np.ndarray, kept: np.ndarray, st: dict) -> dict:
    """What the significance test decided, in the keys of ``WallResult.info``."""
    return {
        "noise_deg": phase_noise_deg(proj, kept),
        "walls_tested": st["tested"],
        "walls_dropped": st["dropped"],
        "wall_px_dropped": st["dropped_px"],
    }
