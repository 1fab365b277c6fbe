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

from napari_ivae._errors import check_range
from napari_ivae.detect._fill import (
    CLEARANCE,
    FILL_FRACTION,
    fill_predicted_sites,
    lattice_translations,
)
from napari_ivae.detect._filters import _log_dc as _log_dc
from napari_ivae.detect._filters import _noise_sigma, _zero_sum_norm, log_filter
from napari_ivae.detect._grouping import assign_sublattices, merge_duplicates
from napari_ivae.detect._refine import _disc_offsets as _disc_offsets
from napari_ivae.detect._refine import _gauss_fit as _gauss_fit
from napari_ivae.detect._refine import _local_background as _local_background
from napari_ivae.detect._refine import _pixels as _pixels
from napari_ivae.detect._refine import _ring_offsets as _ring_offsets
from napari_ivae.detect._refine import _sample as _sample
from napari_ivae.detect._refine import integrated_intensity, refine_positions
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
    spacing, period, width, nb, vectors, dim_rel = _lattice_hints(img, spacing)
    sigma, thr = _check_scales(spacing, width, sigma, threshold)
    iy, ix, score, noise_px = _log_peaks(img, sigma, spacing, thr)
    radius = max(1.0, spacing / 3.0)
    yx = refine_positions(img, np.stack([iy, ix], axis=1), radius=radius)
    keep, n_merged = merge_duplicates(yx, score, min_distance=MERGE_FRACTION * spacing)
    yx, score = yx[keep], score[keep]
    sub = assign_sublattices(yx, score, spacing=spacing)
    added = _fill_missed(img, yx, score, sub, nb, vectors, dim_rel, spacing, width, noise_px, thr)
    yx, score, sub, n_more, n_tested, n_filled = added
    n_merged += n_more
    out = _atom_table(img, yx, score, sub, radius)
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


def _fill_missed(
    img: np.ndarray,
    yx: np.ndarray,
    score: np.ndarray,
    sub: np.ndarray,
    nb: np.ndarray,
    vectors: np.ndarray | None,
    dim_rel: np.ndarray,
    spacing: float,
    width: float,
    noise_px: float,
    thr: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int]:
    """Step 6 of the module docstring: fit the predicted sites the search missed.

    Returns the atoms (positions, scores, sublattices) with the filled sites
    added and duplicates merged, the number of duplicates merged, of sites
    tested and of sites filled.
    """
    n_merged = n_tested = n_filled = 0
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
        keep, n_merged = merge_duplicates(yx, score, min_distance=MERGE_FRACTION * spacing)
        yx, score, sub = yx[keep], score[keep], sub[keep]
        n_filled -= int((~keep).sum())
    return yx, score, sub, n_merged, n_tested, n_filled


def _atom_table(
    img: np.ndarray, yx: np.ndarray, score: np.ndarray, sub: np.ndarray, radius: float
) -> pd.DataFrame:
    """The atom table: ``ATOM_COLUMNS`` and ``sublattice``, intensities integrated over ``radius``."""
    inten = integrated_intensity(img, yx, radius=radius)
    return pd.DataFrame(
        {
            "y": yx[:, 0],
            "x": yx[:, 1],
            "score": score.astype(np.float64),
            "intensity": inten,
            "sublattice": sub,
        },
        columns=[*ATOM_COLUMNS, "sublattice"],
    )


def _lattice_hints(img: np.ndarray, spacing: float | None) -> tuple:
    """Spacing, period, column width, motif peaks and bright → dim motif vectors of ``img``.

    Estimated (:func:`~napari_ivae.detect.spacing.estimate_lattice`) when
    ``spacing`` is ``None``; otherwise the width is ``spacing / 5``, the
    period ``None`` and there are no motif peaks.  The spacing is checked.
    """
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
    return spacing, period, width, nb, vectors, dim_rel


def _check_scales(
    spacing: float, width: float, sigma: float | None, threshold: float | None
) -> tuple[float, float]:
    """The LoG sigma (default: ``width`` clipped) and the score threshold, checked."""
    if sigma is None:
        sigma = float(np.clip(width, max(0.7, spacing / 8.0), spacing / 4.5))
    check_range("sigma", float(sigma), low=0.3, high=spacing)
    if threshold is None:
        thr = DEFAULT_THRESHOLD
    else:
        check_range("threshold", float(threshold), low=0.0)
        thr = float(threshold)
    return sigma, thr


def _log_peaks(
    img: np.ndarray, sigma: float, spacing: float, thr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Integer LoG maxima scoring at least ``thr``: rows, columns, scores and the pixel noise."""
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
    return iy[keep], ix[keep], score[keep], noise_px


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
