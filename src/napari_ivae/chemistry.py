"""Site chemistry from column brightness: substitutions brighter than their own sublattice.

In an ADF/HAADF image a column's brightness grows with its atomic number
(roughly Z^1.7), so a heavier substituent on a site is a column brighter than
the other columns of the same sublattice around it: Se on an S2 site of MoS2
(an S+Se column is about twice as bright as S2), a dopant in graphene.  A
lighter one, or a vacancy, is dimmer.

The criterion (:func:`site_contrast`), written out:

* **site intensity** ``I``: the mean over a disc of radius ``0.25 d`` (``d``
  the nearest-neighbour spacing) around the site of the image after local
  background removal, ``(x − B) / S`` of :func:`napari_ivae.crop.local_normalize`
  (median ``B`` and robust spread ``S`` of tiles of 8 d): contamination,
  thickness and scan-region offsets do not enter;
* **neighbours**: the sites **of the same sublattice** within ``2.1 a``, where
  ``a`` is the median distance between nearest sites of that sublattice
  (``a = √3 d`` for the chalcogen or metal sublattice of a 2H TMD, ``d`` for
  graphene): the three first shells, 18 sites in a perfect hexagonal
  sublattice; at least 6 must have been detected, else the site is not judged;
* **residual** ``r = I − m``, ``m`` the median intensity of the neighbours;
* **robust σ**: 1.4826 × the median absolute deviation of the residuals of
  the judged sites of that sublattice within ``5 a`` (about 80 sites; all
  judged sites when fewer than 20 are there), so σ holds the noise of the
  site and of its neighbours' median as they really scatter there;
* ``z = r / σ``; a site is **bright** (a heavier substituent: a Se
  candidate on the chalcogen sublattice of MoS2) when ``z ≥ k`` and **dim**
  (lighter, or a vacancy with a detection on it) when ``z ≤ −k``; ``k = 3``
  by default (one false bright site in about 700 for Gaussian noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError, check_range

__all__ = ["site_contrast"]

#: disc radius of the site intensity, in spacings
SITE_RADIUS = 0.25
#: neighbour radius, in same-sublattice nearest distances
NEIGHBOR_RADIUS = 2.1
#: fewest detected neighbours a site needs to be judged
MIN_NEIGHBORS = 6
#: radius of the σ estimate, in same-sublattice nearest distances, and the fewest sites in it
SIGMA_RADIUS = 5.0
MIN_SIGMA_SITES = 20
#: background tiles, in spacings
BACKGROUND_SPACINGS = 8


def site_contrast(
    image: np.ndarray,
    atoms: pd.DataFrame,
    *,
    sublattice: int | None = 1,
    k: float = 3.0,
    spacing: float | None = None,
) -> pd.DataFrame:
    """Brightness of each site against the sites of its own sublattice around it.

    Parameters
    ----------
    image : ndarray
        ``(Y, X)`` image the atoms were detected on (ADF/HAADF: brighter =
        heavier).
    atoms : pandas.DataFrame
        ``y``, ``x`` in pixels and, unless ``sublattice`` is None, a
        ``sublattice`` column (as :func:`napari_ivae.detect.detect_atoms`
        gives: 0 = brightest = Mo in MoS2, 1 = S2).
    sublattice : int or None
        The sublattice to judge (1 = the chalcogen sites of a TMD); ``None``:
        all atoms form one sublattice (graphene, or a table without the column).
    k : float
        Threshold in robust σ (> 0).
    spacing : float, optional
        Nearest-neighbour spacing ``d`` in pixels; default
        ``atoms.attrs['spacing_px']`` (set by ``detect_atoms``), else the
        median nearest-neighbour distance of all atoms.

    Returns
    -------
    pandas.DataFrame
        A copy of ``atoms`` with ``site_intensity``, ``site_z`` (NaN for
        sites of other sublattices and for sites with too few detected
        neighbours or too near the border), ``bright`` and ``dim`` (bool).
    """
    from napari_ivae.crop import local_normalize

    img = np.asarray(image)
    yx, d = _check_inputs(img, atoms, sublattice=sublattice, k=k, spacing=spacing)
    size = int(min(max(round(BACKGROUND_SPACINGS * d), 8), max(img.shape)))
    norm = local_normalize(img[None].astype(np.float32), size)[0]
    intensity = _disc_means(norm, yx, SITE_RADIUS * d)

    sel = (
        np.ones(len(yx), bool)
        if sublattice is None
        else atoms["sublattice"].to_numpy() == int(sublattice)
    )
    z = np.full(len(yx), np.nan)
    idx = np.flatnonzero(sel & np.isfinite(intensity))
    if idx.size > MIN_NEIGHBORS:
        z[idx] = _neighbour_z(yx[idx], intensity[idx])
    out = atoms.copy()
    out["site_intensity"] = intensity
    out["site_z"] = z
    out["bright"] = np.nan_to_num(z, nan=0.0) >= k
    out["dim"] = np.nan_to_num(z, nan=0.0) <= -k
    out.attrs = dict(atoms.attrs)
    out.attrs["site_contrast"] = {
        "sublattice": sublattice,
        "k": float(k),
        "spacing_px": d,
        "judged": int(np.isfinite(z).sum()),
        "bright": int(out["bright"].sum()),
        "dim": int(out["dim"].sum()),
    }
    return out


def _check_inputs(img, atoms, *, sublattice, k, spacing) -> tuple[np.ndarray, float]:
    """Validated ``(yx, spacing)`` for :func:`site_contrast` (errors name the parameter)."""
    from scipy.spatial import cKDTree

    if img.ndim != 2:
        raise IvaeError(f"image: expected a 2-D image; got shape {img.shape}")
    check_range("k", float(k), low=0.0, low_inclusive=False)
    for col in ("y", "x"):
        if col not in atoms.columns:
            raise IvaeError(f"atoms: the table needs columns 'y' and 'x' (missing {col!r})")
    if sublattice is not None and "sublattice" not in atoms.columns:
        raise IvaeError(
            "atoms: no 'sublattice' column; detect the atoms with detect_atoms, "
            "or pass sublattice=None to judge all atoms as one sublattice"
        )
    yx = atoms[["y", "x"]].to_numpy(dtype=np.float64)
    if len(yx) < 2:
        raise IvaeError(f"atoms: {len(yx)} atom(s); need at least 2")
    if spacing is None:
        spacing = atoms.attrs.get("spacing_px")
    if spacing is None:
        dist, _ = cKDTree(yx).query(yx, k=2)
        spacing = float(np.median(dist[:, 1]))
    d = float(spacing)
    check_range("spacing", d, low=1.0, high=float(max(img.shape)) / 2)
    return yx, d


def _neighbour_z(pts: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Each site's intensity minus the median of its same-sublattice neighbours, in
    robust σ of those residuals nearby (NaN where a site has too few neighbours)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(pts)
    nn, _ = tree.query(pts, k=2)
    a = float(np.median(nn[:, 1]))
    groups = tree.query_ball_point(pts, NEIGHBOR_RADIUS * a)
    resid = np.full(len(pts), np.nan)  # I − median of the neighbours
    for i, g in enumerate(groups):
        g = [j for j in g if j != i]
        if len(g) >= MIN_NEIGHBORS:
            resid[i] = vals[i] - np.median(vals[g])
    ok = np.isfinite(resid)
    if not ok.any():
        return resid
    # robust σ of the residuals of the judged sites within SIGMA_RADIUS·a
    tree_ok = cKDTree(pts[ok])
    r_ok = resid[ok]
    sig = np.full(len(pts), np.nan)
    for i, g in zip(np.flatnonzero(ok), tree_ok.query_ball_point(pts[ok], SIGMA_RADIUS * a)):
        v = r_ok[g]
        if v.size >= MIN_SIGMA_SITES:
            sig[i] = 1.4826 * np.median(np.abs(v - np.median(v)))
    fallback = 1.4826 * float(np.median(np.abs(r_ok - np.median(r_ok))))
    sig = np.where(np.isfinite(sig), sig, fallback)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok & (sig > 0), resid / sig, np.nan)


def _disc_means(image: np.ndarray, yx: np.ndarray, radius: float) -> np.ndarray:
    """Mean of ``image`` over a disc of ``radius`` px at each (sub-pixel) point; NaN near the border."""
    r = max(float(radius), 0.75)
    half = int(np.ceil(r))
    off = np.arange(-half, half + 1)
    dy, dx = np.meshgrid(off, off, indexing="ij")
    iy = np.floor(yx[:, 0] + 0.5).astype(np.int64)
    ix = np.floor(yx[:, 1] + 0.5).astype(np.int64)
    ny, nx = image.shape
    out = np.full(len(yx), np.nan)
    inside = (iy - half >= 0) & (ix - half >= 0) & (iy + half < ny) & (ix + half < nx)
    for i in np.flatnonzero(inside):
        # distances from the sub-pixel position, so the disc follows the refined centre
        w = (dy + iy[i] - yx[i, 0]) ** 2 + (dx + ix[i] - yx[i, 1]) ** 2 <= r * r
        patch = image[iy[i] - half : iy[i] + half + 1, ix[i] - half : ix[i] + half + 1]
        out[i] = float(patch[w].mean()) if w.any() else np.nan
    return out
