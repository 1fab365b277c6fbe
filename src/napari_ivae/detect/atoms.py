"""Classical atom-column finder: LoG filtering, peak finding, sub-pixel refinement.

The steps, all vectorised over the atoms:

1. the nearest-neighbour spacing ``d`` is estimated from the image
   (:func:`~napari_ivae.detect.spacing.estimate_spacing`) unless given;
2. the image is filtered with a negative, scale-normalised Laplacian of
   Gaussian of sigma ``d / 5`` (a matched filter for atom columns that also
   removes a slowly varying background), made zero-sum (:func:`log_filter`);
3. local maxima at least ``0.45 d`` apart (Chebyshev distance) are kept when
   their filtered height exceeds a data-driven threshold: a fraction of the
   typical atom height, and several times the filtered noise level;
4. positions are refined to sub-pixel precision by a background-subtracted
   centroid on a disc of radius ``d / 3``, then a least-squares fit of a 2-D
   Gaussian on the raw pixels (:func:`refine_positions`);
5. ``intensity`` integrates the background-subtracted image over that disc,
   so that heavier (brighter) columns such as dopants stand out, and
   ``score`` is the filtered height relative to a typical atom;
6. where the motif shows a dim sublattice, every site the columns predict
   (bright → dim through the motif vectors, dim → bright through their
   reverse) that the search missed is tested where it must be: a column
   fitted at the predicted position (matched filter over the column's full
   profile, neighbours' tails modelled) is accepted when its height is at
   least ``2/3 × threshold`` standard errors above zero
   (:func:`~napari_ivae.detect._fill.fill_predicted_sites`); empty sites
   (vacancies, holes) stay empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from napari_ivae._errors import IvaeError, check_range
from napari_ivae.detect._fill import (
    CLEARANCE,
    FILL_FRACTION,
    fill_predicted_sites,
    lattice_translations,
)
from napari_ivae.detect.spacing import estimate_lattice

__all__ = [
    "ATOM_COLUMNS",
    "DEFAULT_THRESHOLD",
    "MERGE_FRACTION",
    "assign_sublattices",
    "find_atoms_log",
    "integrated_intensity",
    "log_filter",
    "merge_duplicates",
    "refine_positions",
]

#: column order of the atom table
ATOM_COLUMNS = ["y", "x", "score", "intensity"]

#: default ``score`` threshold: LoG peak height in standard deviations of the filtered noise
DEFAULT_THRESHOLD = 3.0
#: atoms closer than this fraction of the spacing are one atom (the higher score is kept)
MERGE_FRACTION = 0.4


def _disc_offsets(radius: float) -> np.ndarray:
    """Integer (dy, dx) offsets inside a disc, shape (K, 2)."""
    r = max(float(radius), 1.0)
    n = int(np.floor(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    keep = yy**2 + xx**2 <= r * r
    return np.stack([yy[keep], xx[keep]], axis=1).astype(np.float64)


def _ring_offsets(radius: float, n: int = 16) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([radius * np.sin(t), radius * np.cos(t)], axis=1)


def _sample(image: np.ndarray, yx: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at ``yx[:, None] + offsets[None]``, shape (N, K)."""
    coords = yx[:, None, :] + offsets[None, :, :]
    vals = ndimage.map_coordinates(
        image, [coords[..., 0].ravel(), coords[..., 1].ravel()], order=1, mode="nearest"
    )
    return vals.reshape(coords.shape[:2])


def _local_background(image: np.ndarray, yx: np.ndarray, radius: float) -> np.ndarray:
    """Per-atom background: a low quantile on a ring of radius ``1.5 * radius``."""
    ring = _sample(image, yx, _ring_offsets(1.5 * radius))
    return np.quantile(ring, 0.25, axis=1)


def refine_positions(
    image: np.ndarray,
    peaks_yx: np.ndarray,
    *,
    radius: float,
    n_iter: int = 4,
) -> np.ndarray:
    """Refine peak positions to sub-pixel precision.

    A background-subtracted centroid on a disc of ``radius`` around each peak
    gives the start of a least-squares fit of ``b + a exp(-|r - r0|² / 2s²)``
    on the pixels of a disc of ``1.35 * radius`` (vectorised Gauss-Newton over
    all peaks at once, the width ``s`` common to all peaks, fitted on up to
    2000 of them; the pixels are not interpolated, so their noise stays
    independent).  Peaks whose fit fails (diverges, negative amplitude, moves
    by more than ``radius``) keep the centroid.

    Parameters
    ----------
    image : ndarray
        2-D image (bright atoms), not filtered.
    peaks_yx : ndarray
        (N, 2) starting positions (row, column), e.g. integer local maxima.
    radius : float
        Centroid disc radius in pixels, about a third of the atom spacing.
    n_iter : int
        Number of Gauss-Newton iterations (0: centroid only).

    Returns
    -------
    ndarray
        (N, 2) float64 refined positions, inside the image.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise IvaeError(f"image must be 2-D (Y, X); got shape {img.shape}")
    start = np.asarray(peaks_yx, dtype=np.float64).reshape(-1, 2)
    if len(start) == 0:
        return start.copy()
    check_range("radius", radius, low=0.5)
    hi = np.array(img.shape, dtype=np.float64) - 1
    # centroid on the integer pixels of a disc around the rounded start
    base = np.clip(np.rint(start), 0, hi).astype(np.int64)
    offs = _disc_offsets(radius)
    v = _pixels(img, base, offs.astype(np.int64))
    bg = v.min(axis=1)
    w = np.clip(v - bg[:, None], 0.0, None)
    tot = w.sum(axis=1)
    cen = base.astype(np.float64)
    ok = tot > 0
    cen[ok] += (w[ok] @ offs) / tot[ok, None]
    cen = np.clip(cen, 0.0, hi)
    if n_iter <= 0:
        return cen
    # the column width: fitted on (at most) 2000 peaks, then held fixed
    sub = np.linspace(0, len(cen) - 1, min(len(cen), 2000)).astype(np.int64)
    _, widths = _gauss_fit(img, cen[sub], 1.35 * radius, sigma0=0.6 * radius, n_iter=n_iter)
    width = float(np.median(widths))
    fit, _ = _gauss_fit(img, cen, 1.35 * radius, sigma0=width, n_iter=n_iter, fit_sigma=False)
    return np.clip(fit, 0.0, hi)


def _pixels(img: np.ndarray, base: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """Pixel values at integer ``base[:, None] + offs[None]`` (edge-clamped), (N, K) float64."""
    yy = np.clip(base[:, None, 0] + offs[None, :, 0], 0, img.shape[0] - 1)
    xx = np.clip(base[:, None, 1] + offs[None, :, 1], 0, img.shape[1] - 1)
    return img[yy, xx].astype(np.float64)


def _gauss_fit(
    img: np.ndarray,
    pos: np.ndarray,
    radius: float,
    sigma0: float,
    n_iter: int = 4,
    fit_sigma: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Gauss-Newton fit of ``b + a exp(-|r - r0|² / 2s²)`` per peak.

    Samples the pixels of a disc of ``radius`` around the rounded start.  With
    ``fit_sigma=False`` the width stays ``sigma0``.  Returns the fitted centres
    (the start where a fit fails) and the fitted widths.
    """
    n = len(pos)
    base = np.rint(pos).astype(np.int64)
    offs = _disc_offsets(radius)
    v = _pixels(img, base, offs.astype(np.int64)).astype(np.float32)  # (N, K)
    # pixels outside the image get zero weight (border atoms stay unbiased)
    py = base[:, None, 0] + offs[None, :, 0]
    px = base[:, None, 1] + offs[None, :, 1]
    wv = ((py >= 0) & (py < img.shape[0]) & (px >= 0) & (px < img.shape[1])).astype(np.float32)
    # coordinates relative to the rounded start
    oy = offs[None, :, 0].astype(np.float32)
    ox = offs[None, :, 1].astype(np.float32)
    y0 = (pos[:, 0] - base[:, 0]).astype(np.float32)
    x0 = (pos[:, 1] - base[:, 1]).astype(np.float32)
    b = v.min(axis=1)
    a = np.maximum(v.max(axis=1) - b, 1e-12)
    s = np.full(n, float(sigma0), dtype=np.float32)
    npar = 5 if fit_sigma else 4
    eye = np.eye(npar, dtype=np.float32)[None]
    for _ in range(n_iter):
        dy = oy - y0[:, None]
        dx = ox - x0[:, None]
        r2 = dy * dy + dx * dx
        inv = (1.0 / (s * s))[:, None]
        g = np.exp(-0.5 * r2 * inv)
        ag = a[:, None] * g
        res = (v - b[:, None] - ag) * wv
        agi = ag * inv * wv
        cols = [wv, g * wv, agi * dy, agi * dx]  # weighted Jacobian columns
        if fit_sigma:
            cols.append(agi * r2 / s[:, None])
        jtj = np.empty((n, npar, npar), dtype=np.float32)
        jtr = np.empty((n, npar), dtype=np.float32)
        for p in range(npar):
            jtr[:, p] = (cols[p] * res).sum(axis=1)
            for q in range(p, npar):
                jtj[:, p, q] = jtj[:, q, p] = (cols[p] * cols[q]).sum(axis=1)
        # Levenberg damping for stability
        jtj += 1e-3 * eye * np.maximum(np.einsum("nii->ni", jtj), 1e-12)[:, :, None]
        try:
            step = np.linalg.solve(jtj, jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        b = b + step[:, 0]
        a = a + step[:, 1]
        y0 = y0 + np.clip(step[:, 2], -1.0, 1.0)
        x0 = x0 + np.clip(step[:, 3], -1.0, 1.0)
        if fit_sigma:
            s = np.clip(s + step[:, 4], 0.3 * sigma0, 3.0 * sigma0)
    fit = np.stack([base[:, 0] + y0.astype(np.float64), base[:, 1] + x0.astype(np.float64)], axis=1)
    moved = np.hypot(*(fit - pos).T)
    ok = np.isfinite(fit).all(axis=1) & (a > 0) & (moved < radius / 1.35)
    return np.where(ok[:, None], fit, pos), s.astype(np.float64)


def integrated_intensity(image: np.ndarray, yx: np.ndarray, *, radius: float) -> np.ndarray:
    """Background-subtracted image integrated over a disc around each position.

    Parameters
    ----------
    image : ndarray
        2-D image.
    yx : ndarray
        (N, 2) positions.
    radius : float
        Disc radius in pixels.

    Returns
    -------
    ndarray
        (N,) float64 integrated intensity (image units × pixels).
    """
    img = np.asarray(image, dtype=np.float32)
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    if len(yx) == 0:
        return np.zeros(0)
    bg = _local_background(img, yx, radius)
    vals = _sample(img, yx, _disc_offsets(radius)) - bg[:, None]
    return vals.sum(axis=1).astype(np.float64)


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


def merge_duplicates(
    yx: np.ndarray, score: np.ndarray, *, min_distance: float
) -> tuple[np.ndarray, int]:
    """Keep one atom of every group closer than ``min_distance``: the highest score.

    Greedy in decreasing score: an atom is dropped when a kept atom lies
    within ``min_distance`` of it.  Used by every method (LoG, DCNN), so no two
    atoms of a table are closer than ``min_distance``.

    Parameters
    ----------
    yx : ndarray
        (N, 2) positions.
    score : ndarray
        (N,) scores; the higher one of a close pair is kept.
    min_distance : float
        Pixels.

    Returns
    -------
    keep : ndarray
        (N,) bool mask of the atoms kept.
    n_merged : int
        Number of atoms dropped.
    """
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    n = len(yx)
    keep = np.ones(n, dtype=bool)
    if n < 2 or not min_distance > 0:
        return keep, 0
    pairs = cKDTree(yx).query_pairs(float(min_distance), output_type="ndarray")
    if len(pairs) == 0:
        return keep, 0
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")] = np.arange(n)
    involved = np.unique(pairs)
    nbrs: dict[int, list[int]] = {int(i): [] for i in involved}
    for i, j in pairs:
        nbrs[int(i)].append(int(j))
        nbrs[int(j)].append(int(i))
    for i in sorted(nbrs, key=lambda k: rank[k]):
        if keep[i]:
            for j in nbrs[i]:
                if rank[j] > rank[i]:
                    keep[j] = False
    return keep, int(n - keep.sum())


def assign_sublattices(
    yx: np.ndarray, height: np.ndarray, *, spacing: float, n_iter: int = 4
) -> np.ndarray:
    """Label every atom with its sublattice: 0 = the brightest, 1 = the dimmer one.

    1. Two brightness classes (Otsu split of the log peak heights);
    2. sites, not brightness, define a sublattice: in the two-sublattice
       lattices (honeycomb MoS2, perovskite A/B, rock salt) the nearest
       neighbours of a site are of the other sublattice, so an atom whose
       neighbours (within 1.2 × ``spacing``) are mostly of one class is put in
       the other (a few passes).  A bright substituent on a dim site (Se on an
       S2 site) therefore stays on the dim sublattice;
    3. the split is kept only when the two classes are really different: each
       holds ≥ 10 % of the atoms and their median heights differ by ≥ 20 %;
       otherwise (graphene, a one-element lattice) every atom is 0.

    Parameters
    ----------
    yx : ndarray
        (N, 2) positions.
    height : ndarray
        (N,) peak heights (any positive brightness measure).
    spacing : float
        Nearest-neighbour distance, pixels.
    n_iter : int
        Neighbour passes.

    Returns
    -------
    ndarray
        (N,) int64 sublattice labels.
    """
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    n = len(yx)
    lab = np.zeros(n, dtype=np.int64)
    if n < 8:
        return lab
    lh = np.log(np.clip(np.asarray(height, dtype=np.float64), 1e-12, None))
    # Otsu threshold of the log heights (1-D, 64 bins)
    hist, edges = np.histogram(lh, bins=64)
    mids = 0.5 * (edges[1:] + edges[:-1])
    w0 = np.cumsum(hist)
    w1 = n - w0
    m0 = np.cumsum(hist * mids)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    cut = mids[int(np.argmax(between))]
    lab = (lh <= cut).astype(np.int64)  # 1 = dim
    # neighbour votes (sites of the other sublattice surround each site)
    pairs = cKDTree(yx).query_pairs(1.2 * spacing, output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        deg = np.bincount(np.r_[i, j], minlength=n)
        for _ in range(n_iter):
            dim_nb = np.bincount(np.r_[i, j], weights=np.r_[lab[j], lab[i]], minlength=n)
            frac = dim_nb / np.maximum(deg, 1)
            new = lab.copy()
            new[(deg >= 2) & (frac >= 0.6)] = 0  # surrounded by dim sites: a bright site
            new[(deg >= 2) & (frac <= 0.4)] = 1
            if np.array_equal(new, lab):
                break
            lab = new
    n1 = int(lab.sum())
    if min(n1, n - n1) < 0.1 * n:
        return np.zeros(n, dtype=np.int64)
    h0 = np.median(lh[lab == 0])
    h1 = np.median(lh[lab == 1])
    if h0 - h1 < np.log(1.0 / 0.8):
        return np.zeros(n, dtype=np.int64)
    return lab


def find_atoms_log(
    image: np.ndarray,
    *,
    spacing: float | None = None,
    threshold: float | None = None,
    sigma: float | None = None,
) -> pd.DataFrame:
    """Find atom columns in one 2-D image with the LoG method.

    Parameters
    ----------
    image : ndarray
        2-D float image, finite everywhere (bright atoms on a dark background).
    spacing : float, optional
        Nearest-neighbour atom distance in pixels; estimated when omitted
        (:func:`~napari_ivae.detect.spacing.estimate_lattice`, dim sublattices
        included).
    threshold : float, optional
        Smallest accepted ``score``, in units of the filtered noise's standard
        deviation (a peak-height signal-to-noise ratio, so it means the same on
        every image); default :data:`DEFAULT_THRESHOLD` (3).  When the spacing
        is estimated and the motif shows a dim sublattice, a site that at
        least two columns of the other sublattice predict (through the motif
        vectors of :func:`~napari_ivae.detect.spacing.estimate_lattice`) and
        the search missed needs only :data:`~napari_ivae.detect._fill.FILL_FRACTION` of
        it, as the fitted column height over its standard error: a known
        position needs less evidence than a search.
    sigma : float, optional
        LoG scale in pixels; default the column width measured on the image
        (clipped to ``[spacing/8, spacing/4.5]``: wider, the negative lobes of
        bright neighbours hide a dim sublattice), or ``spacing / 5`` when the
        spacing is given.

    Returns
    -------
    pandas.DataFrame
        Columns ``y, x`` (sub-pixel), ``score`` (LoG peak height divided by
        the standard deviation of the filtered pixel noise), ``intensity``
        (see :func:`integrated_intensity`, disc of radius ``spacing / 3``) and
        ``sublattice`` (0 = brightest, see :func:`assign_sublattices`).
        Sites fitted at their predicted positions (step 6 of the module
        docstring) have the predicted sublattice and position as ``y, x``
        and as ``score`` the fitted height over its standard error (also a
        signal-to-noise ratio).  ``.attrs`` holds what was decided:
        ``spacing_px``, ``period_px``, ``sigma_px``, ``threshold``,
        ``noise_sigma``, ``sublattices`` ({label: count}),
        ``duplicates_merged``, ``lattice_sites_tested``,
        ``lattice_sites_filled``, ``fill_threshold``.
    """
    img = np.asarray(image, dtype=np.float32)
    period = None
    vectors = None
    dim_rel = np.zeros(0)
    nb = np.zeros((0, 3))
    if spacing is None:
        est = estimate_lattice(img)
        spacing, period = est.spacing, est.period
        width = est.column_sigma
        # motif vectors from a bright column to its dim nearest neighbours
        nb = est.neighbours
        if len(nb):
            near = np.hypot(nb[:, 0], nb[:, 1]) <= 1.2 * spacing
            # (< 0.45: in a one-kind lattice such as graphene the motif averages
            # columns of both sites, whose neighbours then show at ~0.5)
            vectors = nb[(nb[:, 2] < 0.45) & near, :2]
            dim_rel = nb[(nb[:, 2] < 0.45) & near, 2]
    else:
        width = float(spacing) / 5.0
    spacing = float(spacing)
    check_range("spacing", spacing, low=2.0, high=min(img.shape) / 2)
    if sigma is None:
        sigma = float(np.clip(width, max(0.7, spacing / 8.0), spacing / 4.5))
    check_range("sigma", float(sigma), low=0.3, high=spacing)
    if threshold is None:
        thr = DEFAULT_THRESHOLD
    else:
        check_range("threshold", float(threshold), low=0.0)
        thr = float(threshold)
    # negative, scale-normalised LoG: positive at bright blobs
    filt = log_filter(img, float(sigma))
    md = max(1, int(0.45 * spacing))
    mx = ndimage.maximum_filter(filt, size=2 * md + 1, mode="nearest")
    cand = (filt == mx) & (filt > 0)
    iy, ix = np.nonzero(cand)
    # plateaus (e.g. saturated columns) give several equal maxima: keep one each
    lab, n_lab = ndimage.label(cand, structure=np.ones((3, 3)))
    if n_lab < len(iy):
        _, first = np.unique(lab[iy, ix], return_index=True)
        iy, ix = iy[first], ix[first]
    noise_px = _noise_sigma(img)
    noise_f = max(noise_px * _zero_sum_norm(float(sigma)), 1e-12 * max(float(filt.max()), 1e-30))
    score = filt[iy, ix] / noise_f
    keep = score >= thr
    iy, ix, score = iy[keep], ix[keep], score[keep]
    radius = max(1.0, spacing / 3.0)
    yx = refine_positions(img, np.stack([iy, ix], axis=1), radius=radius)
    keep, n_merged = merge_duplicates(yx, score, min_distance=MERGE_FRACTION * spacing)
    yx, score = yx[keep], score[keep]
    sub = assign_sublattices(yx, score, spacing=spacing)
    n_tested = n_filled = 0
    dim_vectors = vectors if _fill_applies(vectors, dim_rel, sub) else np.zeros((0, 2))
    trans, flips = lattice_translations(nb, yx, sub, spacing)
    if len(dim_vectors) or len(trans):
        new_yx, new_z, new_sub, n_tested = fill_predicted_sites(
            img,
            yx,
            sub,
            dim_vectors=dim_vectors,
            translations=trans,
            flips=flips,
            spacing=spacing,
            column_sigma=width,
            noise=noise_px,
            min_score=FILL_FRACTION * thr,
            min_distance=CLEARANCE * spacing,
        )
        n_filled = len(new_yx)
        yx = np.concatenate([yx, new_yx])
        score = np.concatenate([score, new_z])
        sub = np.concatenate([sub, new_sub])
        keep, n_more = merge_duplicates(yx, score, min_distance=MERGE_FRACTION * spacing)
        yx, score, sub = yx[keep], score[keep], sub[keep]
        n_merged += n_more
        n_filled -= int((~keep).sum())
    inten = integrated_intensity(img, yx, radius=radius)
    out = pd.DataFrame(
        {
            "y": yx[:, 0],
            "x": yx[:, 1],
            "score": score.astype(np.float64),
            "intensity": inten,
            "sublattice": sub,
        },
        columns=[*ATOM_COLUMNS, "sublattice"],
    )
    out.attrs.update(
        {
            "method": "log",
            "spacing_px": spacing,
            "period_px": float(period) if period is not None else spacing,
            "sigma_px": float(sigma),
            "threshold": thr,
            "noise_sigma": float(noise_px),
            "sublattices": {int(k): int(v) for k, v in zip(*np.unique(sub, return_counts=True))},
            "duplicates_merged": int(n_merged),
            "lattice_sites_tested": int(n_tested),
            "lattice_sites_filled": int(n_filled),
            "fill_threshold": float(FILL_FRACTION * thr),
        }
    )
    return out


def _fill_applies(vectors, dim_rel, sub) -> bool:
    """Whether the motif shows a clearly dim sublattice whose missed sites are worth testing.

    Motif peaks of about half the centre's height within 1.2 d also appear in
    a one-kind honeycomb (graphene: the motif averages columns of both sites,
    and the bright → "dim" vectors then point half of the time at hexagon
    centres); only clearly dim peaks (< 0.35 of the centre) count.  Dim
    sublattices as bright as that are found by the search, and their gaps are
    filled through the lattice translations.
    """
    if vectors is None or len(vectors) == 0 or len(sub) < 4:
        return False
    return bool(np.max(dim_rel) < 0.35)
