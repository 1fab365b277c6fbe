"""Sites at the positions the lattice predicts: a matched-filter test per site.

Once the columns and the motif (the vectors from a bright column to its dim
neighbours, :func:`~napari_ivae.detect.spacing.estimate_lattice`) are known,
every site of a two-sublattice lattice that the search missed is tested where
it must be, instead of searched for:

1. every bright column predicts a dim site at its position plus each motif
   vector, every dim column a bright site at its position minus each vector
   (clearly dim sublattices only), and every column a site of its own kind
   at its position plus each lattice translation (:func:`lattice_translations`);
   predictions closer than 0.25 × the spacing are pooled (their mean is the
   site) and a site needs at least :data:`MIN_VOTES` columns predicting it
   (two through the dim vectors);
2. sites with a detected atom within :data:`CLEARANCE` × the spacing, or
   outside the image, are not tested;
3. at each remaining site the pixels of a disc of radius ``clip(2.5 s, 1.5,
   d / 2)`` (``s`` the column width that gives the detected columns the
   highest matched-filter SNR, :func:`matched_width`) are fitted by least squares with
   ``b + a g + c M``: ``g`` a Gaussian column of width ``s`` centred on the
   site, ``M`` the image of the columns already detected (Gaussians of width
   ``s`` with their fitted heights; its tails, scaled by ``c``, are the
   neighbours' light on the disc), ``b`` a constant background;
4. the **score** is ``a / σ_a``, the column height over its standard error
   from the pixel noise (the matched filter's signal-to-noise ratio, the full
   column profile averaged); a site is accepted when it reaches
   :data:`FILL_FRACTION` × the threshold.  At an empty site (a vacancy, a
   hole) the score is a standard normal variable (measured on simulated
   anti-sites; on real images the neighbours' non-Gaussian probe tails make it
   lower, i.e. conservative), so vacancies stay empty with probability
   Φ(threshold × FILL_FRACTION).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = [
    "CLEARANCE",
    "DIM_MEDIAN",
    "FILL_FRACTION",
    "MIN_VOTES",
    "column_model",
    "fill_predicted_sites",
    "lattice_translations",
    "matched_width",
    "predict_sites",
    "site_scores",
]

#: a predicted site needs this fraction of the search threshold (2 σ at the default 3 σ)
FILL_FRACTION = 2.0 / 3.0
#: the dim vectors' sites are kept only when their median score reaches this
#: (a real dim sublattice, however faint, is there on the whole; empty sites centre on 0)
DIM_MEDIAN = 1.0
#: a site is tested when at least this many detected atoms predict it through the
#: translations (two through the dim vectors: a site has as few as three bright neighbours) ...
MIN_VOTES = 3
#: ... and no detected atom is closer than this fraction of the spacing (a missed
#: lattice site has its nearest detected neighbour about one spacing away;
#: closer, the prediction is a wrong grain's or a column's flank)
CLEARANCE = 0.75


def predict_sites(
    sources: np.ndarray, vectors: np.ndarray, spacing: float, min_votes: int = 2
) -> np.ndarray:
    """Sites ``sources + vectors``, pooled within 0.25 × ``spacing``, with ≥ ``min_votes`` votes.

    Returns the (M, 2) pooled positions (mean of each group).
    """
    src = np.asarray(sources, dtype=np.float64).reshape(-1, 2)
    vec = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    if len(src) == 0 or len(vec) == 0:
        return np.zeros((0, 2))
    pred = (src[:, None, :] + vec[None, :, :]).reshape(-1, 2)
    pairs = cKDTree(pred).query_pairs(0.25 * spacing, output_type="ndarray")
    n = len(pred)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    votes = np.bincount(lab)
    cy = np.bincount(lab, pred[:, 0]) / votes
    cx = np.bincount(lab, pred[:, 1]) / votes
    keep = votes >= min_votes
    return np.stack([cy, cx], axis=1)[keep]


def column_model(
    shape: tuple[int, int], yx: np.ndarray, height: np.ndarray, s: float
) -> np.ndarray:
    """Image of Gaussian columns of width ``s`` and peak ``height`` at sub-pixel ``yx``."""
    m = np.zeros(shape, dtype=np.float64)
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    y0 = np.floor(yx[:, 0]).astype(np.int64)
    x0 = np.floor(yx[:, 1]).astype(np.int64)
    fy, fx = yx[:, 0] - y0, yx[:, 1] - x0
    for dy, dx, w in (
        (0, 0, (1 - fy) * (1 - fx)),
        (1, 0, fy * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 1, fy * fx),
    ):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < shape[0]) & (xx >= 0) & (xx < shape[1])
        np.add.at(m, (yy[ok], xx[ok]), (height * w)[ok])
    return (ndimage.gaussian_filter(m, s, truncate=4.0) * (2 * np.pi * s * s)).astype(np.float32)


def _design(img: np.ndarray, pos: np.ndarray, s: float, radius: float, extra: list[np.ndarray]):
    """Pixels ``v`` (N, K), in-image weights (N, K) and regressors (N, K, P) on a disc per site."""
    r = max(float(radius), 1.0)
    n = int(np.floor(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
    disc = yy**2 + xx**2 <= r * r
    oy, ox = yy[disc], xx[disc]
    base = np.rint(pos).astype(np.int64)
    py = base[:, 0, None] + oy[None]
    px = base[:, 1, None] + ox[None]
    inside = (py >= 0) & (py < img.shape[0]) & (px >= 0) & (px < img.shape[1])
    cy = np.clip(py, 0, img.shape[0] - 1)
    cx = np.clip(px, 0, img.shape[1] - 1)
    dy = py - pos[:, 0, None]
    dx = px - pos[:, 1, None]
    g = np.exp(-0.5 * (dy * dy + dx * dx) / (s * s))
    cols = [np.ones_like(g), g] + [e[cy, cx].astype(np.float64) for e in extra]
    return img[cy, cx].astype(np.float64), inside.astype(np.float64), np.stack(cols, axis=-1)


def site_scores(
    image: np.ndarray,
    pos: np.ndarray,
    *,
    s: float,
    radius: float,
    noise: float,
    model: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares column height ``a`` at fixed positions and its signal-to-noise ratio.

    Fits ``b + a g (+ c model)`` on a disc of ``radius`` around each position
    (pixels outside the image get zero weight); ``g`` is a Gaussian of width
    ``s``.  Returns ``a`` and ``a / σ_a`` with ``σ_a`` from the pixel noise
    ``noise`` (white).
    """
    pos = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
    if len(pos) == 0:
        return np.zeros(0), np.zeros(0)
    img = np.asarray(image, dtype=np.float32)
    extra = []
    if model is not None:  # scaled to O(1), like the other regressors (1 and g)
        extra = [np.asarray(model, dtype=np.float32) / max(float(np.abs(model).max()), 1e-30)]
    a_all, z_all = np.empty(len(pos)), np.empty(len(pos))
    for start in range(0, len(pos), 4096):
        p = pos[start : start + 4096]
        v, w, x = _design(img, p, s, radius, extra)
        xw = x * w[..., None]
        xtx = np.einsum("nki,nkj->nij", xw, x)
        # tiny ridge (all regressors are O(1)): a model that is 0 on a disc stays solvable
        xtx += 1e-6 * np.eye(xtx.shape[-1])[None]
        inv = np.linalg.inv(xtx)
        beta = np.einsum("nij,nj->ni", inv, np.einsum("nki,nk->ni", xw, v))
        sa = np.sqrt(np.clip(inv[:, 1, 1], 1e-30, None)) * noise
        a_all[start : start + len(p)] = beta[:, 1]
        z_all[start : start + len(p)] = beta[:, 1] / sa
    return a_all, z_all


def lattice_translations(
    neighbours: np.ndarray, yx: np.ndarray, sub: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """The shortest motif vectors that map the detected atoms onto detected atoms.

    Candidates are the motif peaks (``neighbours``: dy, dx, relative height)
    at least 0.6 as high as the centre and within 2.5 × ``spacing``; one is a
    lattice translation when at least half of the atoms find an atom within
    0.25 × ``spacing`` of their position plus it.  Only the shortest shell is
    kept (within 15 % of the shortest).

    Returns
    -------
    translations : ndarray
        (T, 2) vectors, none when the image shows no lattice.
    flips : ndarray
        (T,) bool: the vector maps most atoms onto the other sublattice (as
        in the perovskite survey, whose A and B columns alternate at equal
        distances), so a site it predicts takes the other label.
    """
    nb = np.asarray(neighbours, dtype=np.float64).reshape(-1, 3)
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    dist = np.hypot(nb[:, 0], nb[:, 1])
    cand = nb[(nb[:, 2] >= 0.6) & (dist <= 2.5 * spacing), :2]
    none = (np.zeros((0, 2)), np.zeros(0, dtype=bool))
    if len(cand) == 0 or len(yx) < 8:
        return none
    tree = cKDTree(yx)
    lo, hi = yx.min(axis=0), yx.max(axis=0)
    keep, flips = [], []
    for t in cand:
        moved = yx + t
        inside = ((moved >= lo) & (moved <= hi)).all(axis=1)
        if inside.sum() < 4:
            continue
        d, j = tree.query(moved[inside])
        hit = d <= 0.25 * spacing
        if hit.mean() >= 0.5:
            keep.append(t)
            flips.append(np.mean(sub[j[hit]] != sub[inside][hit]) > 0.5)
    if not keep:
        return none
    t, f = np.asarray(keep), np.asarray(flips)
    r = np.hypot(t[:, 0], t[:, 1])
    short = r <= 1.15 * r.min()
    return t[short], f[short]


def _predictions(yx, sub, dim_vectors, translations, flips, spacing):
    """Pooled predicted sites and their labels: bright ± dim vectors, every atom + translations.

    A column predicts through a translation ``t`` only where the lattice holds
    around it (detected atoms at its position minus ``t`` and minus ``2 t``),
    so that in a polycrystal the translations of one grain predict little in
    the others.  The dim vectors' sites are checked as a whole instead (their
    median score, in :func:`fill_predicted_sites`): a faint sublattice has few
    detected columns to check against.
    """
    tree = cKDTree(yx)
    tol = 0.25 * spacing

    def hits(points: np.ndarray) -> np.ndarray:
        return tree.query(points, distance_upper_bound=tol)[0] <= tol

    groups = []  # (predicted positions, label of the predicted sites, from the dim vectors)
    for t, flip in zip(translations, flips):
        for lab in (0, 1):
            src = yx[sub == lab]
            ok = hits(src - t) & hits(src - 2 * t)
            groups.append((src[ok] + t, 1 - lab if flip else lab, False))
    if len(dim_vectors):
        for lab, sign in ((0, 1.0), (1, -1.0)):
            src = yx[sub == lab]
            pred = (src[:, None, :] + sign * dim_vectors[None]).reshape(-1, 2)
            groups.append((pred, 1 - lab, True))
    sites, labels, from_dim = [np.zeros((0, 2))], [np.zeros(0, np.int64)], [np.zeros(0, bool)]
    for dim in (False, True):
        for lab in (0, 1):
            pred = [p for p, lb, dv in groups if lb == lab and dv == dim and len(p)]
            if pred:
                votes = 2 if dim else MIN_VOTES
                pooled = predict_sites(np.concatenate(pred), np.zeros((1, 2)), spacing, votes)
                sites.append(pooled)
                labels.append(np.full(len(pooled), lab, np.int64))
                from_dim.append(np.full(len(pooled), dim))
    return np.concatenate(sites), np.concatenate(labels), np.concatenate(from_dim)


def fill_predicted_sites(
    image: np.ndarray,
    yx: np.ndarray,
    sub: np.ndarray,
    *,
    dim_vectors: np.ndarray,
    translations: np.ndarray,
    flips: np.ndarray,
    spacing: float,
    column_sigma: float,
    noise: float,
    min_score: float,
    min_distance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sites the lattice predicts, not yet detected, that pass the matched-filter test.

    Bright atoms (``sub == 0``) predict dim sites at ``+dim_vectors``, dim
    atoms bright sites at ``-dim_vectors`` (in a two-sublattice lattice the
    nearest neighbours of a site are of the other sublattice), and every atom
    predicts sites of its own sublattice at ``+translations``
    (:func:`lattice_translations`).  A site needs two predictions.

    Parameters
    ----------
    image : ndarray
        2-D image.
    yx : ndarray
        (N, 2) atoms already detected.
    sub : ndarray
        (N,) their sublattice labels (0 bright, 1 dim).
    dim_vectors : ndarray
        (K, 2) motif vectors from a bright column to its dim neighbours (may be empty).
    translations, flips : ndarray
        (T, 2) lattice translations (may be empty) and whether each maps onto
        the other sublattice (:func:`lattice_translations`).
    spacing, column_sigma, noise : float
        Nearest-neighbour distance, column width (px) and pixel noise σ.
    min_score : float
        Smallest accepted ``a / σ_a``.
    min_distance : float
        Sites closer than this to a detected atom are not tested
        (:data:`CLEARANCE` × ``spacing`` in
        :func:`~napari_ivae.detect.atoms.find_atoms_log`).

    Returns
    -------
    yx_new : ndarray
        (M, 2) accepted sites.
    score_new : ndarray
        (M,) their ``a / σ_a``.
    sub_new : ndarray
        (M,) their sublattice label.
    n_tested : int
        Number of sites tested.
    """
    img = np.asarray(image, dtype=np.float32)
    yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
    sub = np.asarray(sub)
    empty = (np.zeros((0, 2)), np.zeros(0), np.zeros(0, np.int64), 0)
    if len(yx) == 0:
        return empty
    dim_vectors = np.asarray(dim_vectors, dtype=np.float64).reshape(-1, 2)
    translations = np.asarray(translations, dtype=np.float64).reshape(-1, 2)
    flips = np.asarray(flips, dtype=bool).reshape(-1)
    sites, labels, from_dim = _predictions(yx, sub, dim_vectors, translations, flips, spacing)
    hi = np.array(img.shape, dtype=np.float64) - 1
    ok = ((sites >= 0) & (sites <= hi)).all(axis=1)
    if ok.any():
        d, _ = cKDTree(yx).query(sites)
        ok &= d > min_distance
    sites, labels, from_dim = sites[ok], labels[ok], from_dim[ok]
    if len(sites) == 0:
        return empty
    # sites predicted twice at one place: one test, the first prediction's label
    keep, _ = _dedupe(sites, min_distance)
    sites, labels, from_dim = sites[keep], labels[keep], from_dim[keep]
    s = matched_width(img, yx, float(column_sigma), spacing, noise)
    radius = float(np.clip(2.5 * s, 1.5, 0.5 * spacing))
    h, _ = site_scores(img, yx, s=s, radius=radius, noise=noise)
    model = column_model(img.shape, yx, np.clip(h, 0.0, None), s)
    _, z = site_scores(img, sites, s=s, radius=radius, noise=noise, model=model)
    # the dim vectors hold a sublattice only if their sites are, on the whole,
    # brighter than empty ones (a half-height motif peak of a mixed or one-kind
    # lattice points at empty hexagon centres, whose scores centre on 0)
    tested = np.ones(len(sites), dtype=bool)
    if from_dim.any() and np.median(z[from_dim]) < DIM_MEDIAN:
        tested &= ~from_dim
    ok = tested & (z >= min_score)
    return sites[ok], z[ok], labels[ok], int(tested.sum())


def matched_width(
    image: np.ndarray, yx: np.ndarray, column_sigma: float, spacing: float, noise: float
) -> float:
    """The column width whose matched filter gives the detected columns the highest SNR.

    Tries ``column_sigma`` × (0.8, 1, 1.25, 1.5) on up to 2000 detected
    columns (median score); the motif's width comes out too narrow in noisy
    images, which loses signal.
    """
    sub = yx[np.linspace(0, len(yx) - 1, min(len(yx), 2000)).astype(np.int64)]
    best, best_z = float(column_sigma), -np.inf
    for f in (0.8, 1.0, 1.25, 1.5):
        s = float(column_sigma) * f
        radius = float(np.clip(2.5 * s, 1.5, 0.5 * spacing))
        _, z = site_scores(image, sub, s=s, radius=radius, noise=noise)
        if np.median(z) > best_z:
            best, best_z = s, float(np.median(z))
    return best


def _dedupe(points: np.ndarray, min_distance: float) -> tuple[np.ndarray, int]:
    """Keep the first of every pair closer than ``min_distance`` (mask, number dropped)."""
    keep = np.ones(len(points), dtype=bool)
    for i, j in sorted(cKDTree(points).query_pairs(min_distance)):
        if keep[i] and keep[j]:
            keep[j] = False
    return keep, int((~keep).sum())
