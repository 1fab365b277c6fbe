"""Fast views of a large (H, W, E) spectrum image without copying it whole.

Used by the Spectrum dock (torch-free, Qt-free core):

* :class:`BandSums`: band-integrated maps of any energy band from cumulative
  sums along energy taken every ``block`` channels (about 65 planes of (H, W)
  float64, built once, row chunk by row chunk, e.g. while the user looks).
  A band whose edges fall on stored sums (:meth:`BandSums.snap`: what a live
  drag shows) is two planes' difference and reads nothing from the SI; any
  other band adds at most ``block/2`` channels summed at each edge (one pass
  over the SI's pages per edge).  Until built, maps are summed directly.
* :func:`mean_at`: the mean spectrum of many pixels, summed in chunks (a
  lasso of 100,000 points on a memory-mapped SI never gathers all its
  spectra at once; unlike ``SpectrumImage.mean_spectrum(mask)`` a pixel
  given twice counts twice, as two points on it do).

The array may be a ``numpy.memmap`` or a chunked file's
:class:`~napari_ivae.spectra._lazy.ChunkedArray`: nothing here reads more than
one chunk of rows (:data:`CHUNK_BYTES`) at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.spectra._lazy import row_blocks

__all__ = ["CHUNK_BYTES", "BandSums", "mean_at"]

#: Largest slice of the spectrum image read at once (bytes).
CHUNK_BYTES = 64 * 2**20


def _check_si(data: np.ndarray) -> None:
    if getattr(data, "ndim", 0) != 3:
        raise IvaeError(
            f"the spectrum image must be 3-D (H, W, E); got shape {getattr(data, 'shape', None)}"
        )


class BandSums:
    """Band-integrated maps of an (H, W, E) spectrum image.

    Parameters
    ----------
    data : numpy.ndarray, numpy.memmap or ChunkedArray
        The spectrum image (H, W, E); never copied.
    block : int, optional
        Channels between two stored cumulative sums (default: ``ceil(E / 64)``,
        at least 8, so the cache holds about 65 planes of (H, W) float64 —
        134 MB for 512 × 512).

    Notes
    -----
    :meth:`band_map` is correct before :meth:`build` finishes (it sums the
    band directly then); afterwards it costs the same for any band width.
    """

    def __init__(self, data: np.ndarray, *, block: int | None = None) -> None:
        _check_si(data)
        self.data = data
        n_e = int(data.shape[2])
        self.block = int(block) if block is not None else max(8, math.ceil(n_e / 64))
        if self.block < 1:
            raise IvaeError(f"block must be ≥ 1 channel; got {block}")
        #: Channel positions of the stored sums: 0, block, 2·block, …, E.
        self.edges = np.unique(np.r_[np.arange(0, n_e, self.block), n_e]).astype(np.int64)
        self._cum: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        """Whether the cumulative sums are built (maps then cost the same for any band)."""
        return self._cum is not None

    @property
    def nbytes(self) -> int:
        """Memory the built cache takes (bytes)."""
        h, w, _ = self.data.shape
        return len(self.edges) * h * w * 8

    def build(self) -> Iterator[float]:
        """Build the cumulative sums, one chunk of rows at a time.

        A generator: yields the fraction done after each chunk (a GUI worker
        can stop between chunks); :attr:`ready` turns true at the end.
        """
        h, w, _ = self.data.shape
        cum = np.zeros((len(self.edges), h, w), dtype=np.float64)
        starts = self.edges[:-1]
        for r0, r1 in row_blocks(self.data, CHUNK_BYTES):
            chunk = np.asarray(self.data[r0:r1])
            sums = np.add.reduceat(chunk, starts, axis=2, dtype=np.float64)
            np.cumsum(np.moveaxis(sums, 2, 0), axis=0, out=cum[1:, r0:r1])
            yield r1 / h
        self._cum = cum

    def build_now(self) -> BandSums:
        """Build the cache in this thread (small arrays, tests); returns ``self``."""
        for _ in self.build():
            pass
        return self

    def _partial(self, i0: int, i1: int) -> np.ndarray:
        """Sum of channels [i0, i1) of every pixel, float64."""
        if not isinstance(self.data, np.ndarray):
            return self._by_rows(i0, i1)
        return np.sum(self.data[:, :, i0:i1], axis=2, dtype=np.float64)

    def _edge(self, i0: int, i1: int) -> np.ndarray:
        """Sum of the few channels [i0, i1) (< block) of every pixel.

        Summed in the SI's own type (twice as fast as converting on the fly; a
        handful of channels loses nothing), then widened.
        """
        if not isinstance(self.data, np.ndarray):
            return self._by_rows(i0, i1)
        return np.sum(self.data[:, :, i0:i1], axis=2).astype(np.float64)

    def _by_rows(self, i0: int, i1: int) -> np.ndarray:
        """Sum of channels [i0, i1), float64, row block by row block (a chunked file)."""
        h, w, _ = self.data.shape
        out = np.empty((h, w), dtype=np.float64)
        for r0, r1 in row_blocks(self.data, CHUNK_BYTES):
            out[r0:r1] = np.sum(self.data[r0:r1, :, i0:i1], axis=2, dtype=np.float64)
        return out

    def _prefix(self, i: int) -> np.ndarray:
        """Sum of channels [0, i) of every pixel, from the nearest stored sum."""
        cum = self._cum
        k = int(np.searchsorted(self.edges, i))  # edges[k-1] < i <= edges[k]
        if k < len(self.edges) and self.edges[k] == i:
            return cum[k]
        lo, hi = self.edges[k - 1], self.edges[k]
        if i - lo <= hi - i:
            return cum[k - 1] + self._edge(int(lo), i)
        return cum[k] - self._edge(i, int(hi))

    def snap(self, i0: int, i1: int) -> tuple[int, int]:
        """The band [i0, i1) moved to the nearest stored sums (a map that reads nothing).

        Unchanged until the cache is built, or when the band is too narrow to snap.
        """
        if self._cum is None:
            return int(i0), int(i1)
        j0, j1 = (int(self.edges[np.argmin(np.abs(self.edges - i))]) for i in (i0, i1))
        return (j0, j1) if j1 > j0 else (int(i0), int(i1))

    def band_map(self, i0: int, i1: int) -> np.ndarray:
        """The map of channels [i0, i1) summed, (H, W) float32.

        Parameters
        ----------
        i0, i1 : int
            First channel and one past the last; ``0 <= i0 < i1 <= E``.
        """
        n_e = self.data.shape[2]
        i0, i1 = int(i0), int(i1)
        if not 0 <= i0 < i1 <= n_e:
            raise IvaeError(f"the band must be channels 0 <= i0 < i1 <= {n_e}; got [{i0}, {i1})")
        if self._cum is None or i1 - i0 <= self.block:
            return self._partial(i0, i1).astype(np.float32)
        return (self._prefix(i1) - self._prefix(i0)).astype(np.float32)


def mean_at(data: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Mean spectrum of the pixels (ys[k], xs[k]), read in chunks.

    Parameters
    ----------
    data : numpy.ndarray, numpy.memmap or ChunkedArray
        The spectrum image (H, W, E).
    ys, xs : numpy.ndarray
        Integer pixel rows and columns inside the image; a pixel given twice
        counts twice.

    Returns
    -------
    numpy.ndarray
        (E,) float64.
    """
    _check_si(data)
    h, w, n_e = data.shape
    ys = np.asarray(ys, dtype=np.int64).ravel()
    xs = np.asarray(xs, dtype=np.int64).ravel()
    if ys.size == 0 or ys.size != xs.size:
        raise IvaeError(f"the selection must hold ≥ 1 pixel (y, x); got {ys.size} and {xs.size}")
    if ys.min() < 0 or ys.max() >= h or xs.min() < 0 or xs.max() >= w:
        raise IvaeError(f"selected pixels must lie inside the {h}×{w} scan")
    order = np.argsort(ys * w + xs, kind="stable")  # file order: fewer pages read
    ys, xs = ys[order], xs[order]
    per = max(1, CHUNK_BYTES // max(1, n_e * data.dtype.itemsize))
    total = np.zeros(n_e, dtype=np.float64)
    for k in range(0, ys.size, per):
        total += np.sum(data[ys[k : k + per], xs[k : k + per]], axis=0, dtype=np.float64)
    return total / ys.size
