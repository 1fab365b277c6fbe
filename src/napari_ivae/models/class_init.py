"""Rotation-invariant features and a k-means start for the class latent.

A joint model learns its classes and the alignment of every image to its
class template at the same time; from a random start the two lock each other
in (several glyphs share one template, the template averages their
misalignments; docs/experiments.md, "What was tried").  The classical cure (2-D classification in
cryo-EM) is to seed the classes with features that do not depend on the
orientation: here the magnitudes of the angular Fourier harmonics of the crop
in polar coordinates about its centre of contrast, per radius and channel.
They are invariant to rotation (a rotation is a phase ramp over the angle) and,
being taken about the centroid, to the shift.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from napari_ivae._errors import check_choice

__all__ = [
    "ClassSeeds",
    "align_clusters",
    "fit_class_seeds",
    "gain_free",
    "invariant_code",
    "invariant_features",
    "ward_merge",
]

_N_RADII, _N_ANGLES, _N_HARMONICS = 12, 32, 7


def _ring_spectrum(x: torch.Tensor, centre: torch.Tensor, scale=None) -> torch.Tensor:
    """Angular Fourier harmonics 0..6 of 12 rings about ``centre`` (B, C, 12, 7), complex.

    The crop is resampled on 12 radii × 32 angles (radii up to 0.85 of the
    half-width, times ``scale`` (B,) if given: the object's size, so that
    the rings cut an object at the same places whatever its size) about
    ``centre`` ((dy, dx), grid units); divided by the number of angles.
    """
    r = (torch.arange(_N_RADII, dtype=x.dtype, device=x.device) + 0.5) * (0.85 / _N_RADII)
    a = torch.arange(_N_ANGLES, dtype=x.dtype, device=x.device) * (2 * math.pi / _N_ANGLES)
    pts = torch.stack([r[:, None] * torch.cos(a), r[:, None] * torch.sin(a)], dim=-1)[None]
    if scale is not None:
        pts = pts * scale.to(x.dtype)[:, None, None, None]
    g = pts + centre.to(x.dtype).flip(-1)[:, None, None, :]  # (B, R, A, 2) (x, y)
    polar = F.grid_sample(x, g, mode="bilinear", padding_mode="border", align_corners=True)
    return torch.fft.rfft(polar, dim=-1)[..., :_N_HARMONICS] / _N_ANGLES


def invariant_features(x: torch.Tensor, centre: torch.Tensor, scale=None) -> torch.Tensor:
    """Rotation-invariant features of a batch (B, C, H, W) -> (B, C·12·7).

    ``centre`` (B, 2) is (dy, dx) in grid units (crop spans [-1, 1]).  The
    magnitudes of the angular Fourier harmonics 0..6 of 12 rings about it: a
    rotation only changes their phases.  ``scale`` (B,), optional: the rings'
    radii times the object's size (scale-invariant features).
    """
    return _ring_spectrum(x, centre, scale).abs().reshape(x.shape[0], -1)


def invariant_code(x: torch.Tensor, centre: torch.Tensor, scale=None) -> torch.Tensor:
    """Richer rotation-invariant description for the content encoder (B, C·238).

    The magnitudes of :func:`invariant_features` plus, for every harmonic, the
    real and imaginary parts of ``F_n(r) · conj(F_n(r'))`` for neighbouring
    radii: a rotation multiplies every ``F_n`` by the same phase, which cancels
    in these products, while the relative orientation of the rings is kept.
    Differentiable in ``x``.
    """
    spec = _ring_spectrum(x, centre, scale)  # (B, C, R, H)
    cross = spec[:, :, 1:] * spec[:, :, :-1].conj()
    parts = [spec.abs(), cross.real, cross.imag]
    return torch.cat([p.reshape(x.shape[0], -1) for p in parts], dim=1)


#: length of :func:`invariant_code` per channel
CODE_PER_CHANNEL = _N_RADII * _N_HARMONICS + 2 * (_N_RADII - 1) * _N_HARMONICS


class ClassSeeds:
    """Standardisation, PCA basis, cluster centres and their classes.

    ``labels(x, centre)`` sends every image of a batch to its nearest centre and
    returns that centre's class (``groups``; one centre per class for plain
    k-means, several for the merged seeding).  ``gain_free`` says whether the
    features are divided by their length first (:func:`gain_free`).
    """

    def __init__(self, mean, scale, basis, centres, groups=None, gain_free=True):
        self.mean, self.scale, self.basis, self.centres = mean, scale, basis, centres
        if groups is None:
            groups = torch.arange(len(centres))
        self.groups, self.gain_free = groups, bool(gain_free)

    def to(self, device) -> ClassSeeds:
        t = (self.mean, self.scale, self.basis, self.centres, self.groups)
        return ClassSeeds(*(v.to(device) for v in t), gain_free=self.gain_free)

    def project(self, feats: torch.Tensor) -> torch.Tensor:
        """Standardised and projected features (made gain-free first if so fitted)."""
        f = gain_free(feats) if self.gain_free else feats
        return ((f - self.mean) / self.scale) @ self.basis

    def labels(self, x: torch.Tensor, centre: torch.Tensor, scale=None) -> torch.Tensor:
        p = self.project(invariant_features(x, centre, scale).float())
        return self.groups[torch.cdist(p, self.centres).argmin(1)]


def gain_free(feats):
    """Every row of invariant features divided by its length (array or tensor).

    The ring magnitudes scale with the crop's contrast: with a per-image gain
    of ±30 % (detector gain, thickness, the cards' ``gain``) the largest
    principal components were the gain, and k-means split the set by
    brightness instead of shape (docs/experiments.md, "What was tried").  Not for crops whose
    brightness is the signal (Z-contrast columns normalised against their
    neighbourhood): see ``features`` of :func:`fit_class_seeds`.
    """
    if isinstance(feats, torch.Tensor):
        return feats / feats.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


def _kmeans(p: np.ndarray, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """k-means (k-means++ start), best of 5 by inertia, preferring runs with no empty cluster."""
    from scipy.cluster.vq import kmeans2

    best, best_key = None, None
    for _ in range(5):
        centres, lab = kmeans2(p, k, minit="++", seed=rng)
        key = (np.unique(lab).size < k, ((p - centres[lab]) ** 2).sum())
        if best_key is None or key < best_key:
            best, best_key = (centres, lab), key
    return best


def ward_merge(centres: np.ndarray, counts: np.ndarray, n_groups: int) -> np.ndarray:
    """Merge clusters pairwise by Ward's criterion down to ``n_groups``; the group of each.

    The pair merged is the one whose merge raises the within-cluster sum of
    squares least, ``n_a n_b / (n_a + n_b) · |c_a − c_b|²``: large, close
    sub-clusters of one population merge first, and a small cluster far from
    the rest keeps its own group (a 2 % dopant class, where k-means with K
    clusters halves the host population instead).  Empty clusters are given
    to the group of their nearest non-empty one.
    """
    centres = np.asarray(centres, np.float64)
    cent, size = centres.copy(), np.asarray(counts, np.float64).copy()
    m = len(cent)
    owner = np.arange(m)
    alive = size > 0
    while alive.sum() > n_groups:
        idx = np.flatnonzero(alive)
        na, ca = size[idx], cent[idx]
        d2 = ((ca[:, None] - ca[None]) ** 2).sum(-1)
        cost = na[:, None] * na[None] / (na[:, None] + na[None]) * d2
        cost[np.tril_indices(len(idx))] = np.inf
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
        a, b = idx[i], idx[j]
        cent[a] = (size[a] * cent[a] + size[b] * cent[b]) / (size[a] + size[b])
        size[a] += size[b]
        owner[owner == b] = a
        alive[b] = False
    live = np.flatnonzero(alive)
    for i in np.flatnonzero(np.asarray(counts) == 0):  # empty: the nearest live centre's group
        owner[i] = owner[live[np.argmin(((centres[live] - centres[i]) ** 2).sum(-1))]]
    return np.searchsorted(np.unique(owner), owner)


def fit_class_seeds(
    feats: np.ndarray,
    n_classes: int,
    *,
    seed: int = 0,
    n_pcs: int = 8,
    method: str = "merged",
    features: str = "gain_free",
    over: int = 16,
) -> ClassSeeds:
    """PCA + clustering of invariant features into ``n_classes`` seed classes.

    Parameters
    ----------
    feats : ndarray (N, F)
        Output of :func:`invariant_features` for (a sample of) the data.
    n_classes : int
        Number of classes K.
    seed : int
        Seed of the k-means starts.
    n_pcs : int
        Principal components kept.
    method : {"merged", "kmeans"}
        ``"merged"``: k-means with ``max(over, 4K)`` clusters, then
        :func:`ward_merge` down to K, so classes can be as unbalanced as the
        data (a 2 % class of distinct crops is kept); ``"kmeans"``: k-means
        with K clusters (k-means++ start, best of 5), which prefers balanced
        classes.
    features : {"gain_free", "raw"}
        ``"gain_free"``: every row divided by its length first
        (:func:`gain_free`): classes by shape, blind to a per-crop contrast;
        ``"raw"``: the magnitudes as they are, so brightness counts (crops
        normalised against their neighbourhood, where the gain is already
        removed and a brighter column is a heavier atom).
    over : int
        Least number of k-means clusters for ``"merged"``.

    Returns
    -------
    ClassSeeds
    """
    check_choice("method", method, ("merged", "kmeans"))
    check_choice("features", features, ("gain_free", "raw"))
    f = np.asarray(feats, np.float64)
    if features == "gain_free":
        f = gain_free(f)
    mean = f.mean(0)
    scale = f.std(0) + 1e-6 * (f.std(0).max() + 1e-12)
    z = (f - mean) / scale
    _, _, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    basis = vt[: min(n_pcs, vt.shape[0])].T
    p = z @ basis
    rng = np.random.default_rng(seed)
    n_distinct = len(np.unique(p.round(9), axis=0))
    if method == "kmeans" or n_distinct <= n_classes:
        centres, _lab = _kmeans(p, n_classes, rng)
        groups = np.arange(n_classes)
    else:
        centres, lab = _kmeans(p, min(max(over, 4 * n_classes), n_distinct), rng)
        groups = ward_merge(centres, np.bincount(lab, minlength=len(centres)), n_classes)
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    return ClassSeeds(t(mean), t(scale), t(basis), t(centres),
                      torch.as_tensor(groups, dtype=torch.long), gain_free=features == "gain_free")  # fmt: skip


def align_clusters(
    model,
    x: torch.Tensor,
    labels: torch.Tensor,
    n_clusters: int,
    *,
    iters: int = 6,
    per_cluster: int = 512,
) -> torch.Tensor:
    """Reference-free alignment of every cluster (hard EM over the model's angle bins).

    For each cluster: start from the mean of its crops centred on their centre
    of contrast, then ``iters`` times send every crop to its best angle bin
    (:meth:`AngleBins.nll`, the model's own likelihood and frame) and replace
    the template by the mean of the crops resampled at that bin.  This is
    2-D classification practice (cryo-EM): per cluster it aligns near-symmetric
    glyphs that a shared template leaves in symmetric modes (docs/experiments.md, "What was tried").

    Parameters
    ----------
    model : IVAE
        A rotation model with grid angle inference (its bins and lattice are used).
    x : Tensor (N, C, H, W)
        A sample of the crops.
    labels : Tensor (N,)
        Cluster of every crop (from :class:`ClassSeeds`).
    n_clusters : int
    iters, per_cluster : int
        EM iterations; crops per cluster used.

    Returns
    -------
    Tensor (K, C, Pd)
        One aligned template per cluster at ``model.bins.bin_points`` (zeros for an
        empty cluster).
    """
    ch, pd = x.shape[1], model.bins.bin_points.shape[0]
    out = torch.zeros(n_clusters, ch, pd, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for k in range(n_clusters):
            xk = x[labels == k][:per_cluster]
            if len(xk) == 0:
                continue
            shift = model.centroid(xk)
            scale = model.scale_estimate(xk)
            xs = model.bins.smooth(xk)
            m_best = torch.zeros(len(xk), dtype=torch.long, device=x.device)
            for it in range(iters + 1):
                g = model.bins.rot_points[m_best]  # (n, Pd, 2)
                if scale is not None:
                    g = g * scale[:, None, None]
                g = g + shift.flip(-1)[:, None, :]
                xm = F.grid_sample(xs, g[:, None], mode="bilinear", padding_mode="border",
                                   align_corners=True)[:, :, 0]  # (n, C, Pd)  # fmt: skip
                tmpl = xm.mean(0)
                if it == iters:
                    break
                nll = model.bins.nll(xk, tmpl.expand(len(xk), 1, -1, -1), shift, scale=scale)[:, 0]
                m_best = nll.argmin(1)
            out[k] = tmpl
    return out
