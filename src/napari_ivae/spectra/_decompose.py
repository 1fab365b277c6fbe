"""PCA / NMF decomposition of a spectrum image (scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.spectra import _lazy
from napari_ivae.spectra._lazy import ChunkedArray, row_blocks
from napari_ivae.spectra._si import SpectrumImage

__all__ = ["METHODS", "Decomposition", "decompose"]

Method = Literal["pca", "nmf"]
METHODS: tuple[str, ...] = ("pca", "nmf")


@dataclass(eq=False)
class Decomposition:
    """Maps and component spectra of a spectrum image.

    Attributes
    ----------
    method : {"pca", "nmf"}
        How they were found.
    maps : numpy.ndarray
        ``(K, H, W)`` float32: PCA scores, or NMF abundances.
    components : numpy.ndarray
        ``(K, E)`` float64: PCA loadings (unit norm, largest entry positive),
        or NMF spectra (each scaled to a maximum of 1, its map scaled to match).
    energy : numpy.ndarray
        ``(E,)`` float64, the SI's energy axis.
    unit : str
        Its unit.
    scores : dict
        PCA: ``explained_variance_ratio`` (list); NMF: ``reconstruction_err``
        and ``n_iter``.
    """

    method: str
    maps: np.ndarray
    components: np.ndarray
    energy: np.ndarray
    unit: str
    scores: dict = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        """``K``."""
        return int(self.components.shape[0])


def _matrix(si: SpectrumImage, method: str) -> np.ndarray:
    # float32 stays float32 (half the memory of float64 on a large SI); counts become float32
    dtype = si.data.dtype if si.data.dtype in (np.float32, np.float64) else np.float32
    x = np.asarray(si.data, dtype=dtype).reshape(-1, si.n_energy)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise IvaeError(
            f"spectrum image {si.name!r} has {bad} NaN/inf values; decomposition needs finite counts"
        )
    if method == "nmf":
        neg = int(np.count_nonzero(x < 0))
        if neg:
            raise IvaeError(
                f"spectrum image {si.name!r} has {neg} negative counts (min {x.min():.4g}); "
                "NMF needs non-negative data (use --method pca, or remove the offset)"
            )
    return x


def _pca_by_rows(si: SpectrumImage, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA from the covariance summed row block by row block: (maps (N, K), loadings, ratios).

    Two passes over the file (covariance, then scores); memory: the ``(E, E)``
    covariance and one block.  Sums are taken about the first block's mean
    (no loss of precision to a large offset).
    """
    data, e = si.data, si.n_energy
    blocks = list(row_blocks(data, _lazy.BLOCK_BYTES // 2))  # float64 blocks: half the bytes

    def rows(r0: int, r1: int) -> np.ndarray:
        return np.asarray(data[r0:r1], dtype=np.float64).reshape(-1, e)

    shift, total, outer, n, bad = None, np.zeros(e), np.zeros((e, e)), 0, 0
    for r0, r1 in blocks:
        x = rows(r0, r1)
        bad += int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            continue
        shift = x.mean(axis=0) if shift is None else shift
        x -= shift
        total += x.sum(axis=0)
        outer += x.T @ x
        n += x.shape[0]
    if bad:
        raise IvaeError(
            f"spectrum image {si.name!r} has {bad} NaN/inf values; decomposition needs finite counts"
        )
    mean_c = total / n
    cov = (outer - n * np.outer(mean_c, mean_c)) / max(n - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    top = np.argsort(values)[::-1][:k]
    comps = vectors[:, top].T.copy()
    ratio = values[top] / max(float(np.trace(cov)), np.finfo(float).tiny)
    mean = shift + mean_c
    maps, w = np.empty((n, k)), si.shape[1]
    for r0, r1 in blocks:
        maps[r0 * w : r1 * w] = (rows(r0, r1) - mean) @ comps.T
    return maps, comps, ratio


def decompose(
    si: SpectrumImage,
    method: Method = "nmf",
    n_components: int = 3,
    seed: int = 0,
    *,
    max_iter: int = 1000,
) -> Decomposition:
    """Decompose a spectrum image into ``n_components`` maps and spectra.

    Parameters
    ----------
    si : SpectrumImage
        The data; NMF needs non-negative counts, both need finite values.
    method : {"pca", "nmf"}
        scikit-learn's ``PCA`` (centred, scores as maps) or ``NMF``
        (Frobenius loss, coordinate descent, ``nndsvda`` initialisation).  The
        PCA of a chunked file (``metadata["storage"] == "chunked"``) is the
        eigen-decomposition of its covariance, summed row block by row block
        (the same components, never the whole SI in memory); NMF reads it
        into one float32 matrix, as it needs.
    n_components : int
        ``K``, 1 ≤ K ≤ min(H·W, E).
    seed : int
        ``random_state`` of the estimator.
    max_iter : int
        NMF iterations at most (≥ 10).

    Returns
    -------
    Decomposition
    """
    check_choice("method", method, METHODS)
    h, w, e = si.shape
    k = int(n_components)
    check_range("n_components", k, low=1, high=min(h * w, e))
    check_range("max_iter", int(max_iter), low=10)
    if method == "pca":
        if isinstance(si.data, ChunkedArray):  # a chunked file: never gathered whole
            maps, comps, ratio = _pca_by_rows(si, k)
        else:
            from sklearn.decomposition import PCA

            model = PCA(n_components=k, random_state=seed)
            maps = model.fit_transform(_matrix(si, method))
            comps = model.components_.copy()
            ratio = model.explained_variance_ratio_
        sign = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
        comps *= sign[:, None]
        maps *= sign[None, :]
        scores = {"explained_variance_ratio": [float(v) for v in ratio]}
    else:
        import warnings

        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        model = NMF(
            n_components=k,
            init="nndsvda",
            solver="cd",
            max_iter=int(max_iter),
            tol=1e-5,
            random_state=seed,
        )
        x = _matrix(si, method)  # NMF needs the matrix: a chunked file is read once, into it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported in scores instead
            maps = model.fit_transform(x)
        comps = model.components_.copy()
        peak = comps.max(axis=1)
        peak[peak == 0] = 1.0
        comps /= peak[:, None]
        maps *= peak[None, :]
        scores = {
            "reconstruction_err": float(model.reconstruction_err_),
            "n_iter": int(model.n_iter_),
            "converged": bool(model.n_iter_ < int(max_iter)),
        }
    maps = maps.T.reshape(k, h, w).astype(np.float32)
    comps = comps.astype(np.float64)
    return Decomposition(method, maps, comps, si.energy.copy(), si.unit, scores)
