"""Spectrum images left on disk in chunks: a read-only array, and row blocks.

:class:`ChunkedArray` wraps rosettasciio's lazy (dask) array of a chunked,
often compressed, HDF5 dataset (see :mod:`napari_ivae.spectra._h5`): NumPy-style
reads of a pixel, a row block or a set of points, each touching only the
chunks it needs (through h5py directly when the dask array is that dataset
as stored or transposed: no dask overhead per read).  Code that needs every
pixel goes through :func:`row_blocks` (about :data:`BLOCK_BYTES` at a time).

No dask or h5py import here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["BLOCK_BYTES", "ChunkedArray", "row_blocks", "storage_of"]

#: Largest slice of a spectrum image read at once by :func:`row_blocks` (bytes).
BLOCK_BYTES = 64 * 2**20


class ChunkedArray:
    """A read-only ``(H, W, E)`` array whose counts stay in a chunked (compressed) file.

    Parameters
    ----------
    source : dask.array.Array
        The lazy array (rosettasciio's, axes already in ``(Y, X, E)`` order).
    h5 : (h5py.Dataset, tuple of int), optional
        The dataset ``source`` reads, and the dataset axis of each of its axes:
        ints and slices are then read from it directly.

    Notes
    -----
    Indexing returns NumPy arrays: ints and slices (``data[y, x]``,
    ``data[r0:r1]``, ``data[:, :, i0:i1]``) and two integer arrays of points
    (``data[ys, xs]``, as NumPy pairs them).  ``numpy.asarray(data)`` reads it
    all (row block by row block into one array): only for small files.
    """

    def __init__(self, source: Any, h5: tuple[Any, tuple[int, ...]] | None = None) -> None:
        self._source, self._h5 = source, h5
        self.shape = tuple(int(n) for n in source.shape)
        self.dtype = np.dtype(source.dtype)
        chunks = getattr(source, "chunks", None)
        #: Rows of one storage chunk (row blocks are a multiple of it).
        self.row_chunk = int(chunks[0][0]) if chunks else 1

    @property
    def ndim(self) -> int:
        """Number of axes (3)."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of values."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes the whole array would take in memory."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def transpose(self, *axes: Any) -> ChunkedArray:
        """The axes reordered (what ``numpy.moveaxis`` calls); nothing is read."""
        order = tuple(axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes)
        order = order or tuple(range(self.ndim))[::-1]
        h5 = None if self._h5 is None else (self._h5[0], tuple(self._h5[1][a] for a in order))
        return ChunkedArray(self._source.transpose(order), h5)

    def __repr__(self) -> str:
        return f"ChunkedArray(shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = key if isinstance(key, tuple) else (key,)
        basic = _basic(keys, self.shape) if self._h5 is not None else None
        if basic is not None:
            return self._read_h5(basic)
        arrays = [k for k in keys if isinstance(k, (np.ndarray, list))]
        part = self._source.vindex[key] if len(arrays) > 1 else self._source[key]
        return np.asarray(_compute(part))

    def _read_h5(self, keys: tuple[int | slice, ...]) -> np.ndarray:
        dset, order = self._h5
        dkey: list[int | slice] = [slice(None)] * len(order)
        for i, k in enumerate(keys):
            dkey[order[i]] = k
        out = np.asarray(dset[tuple(dkey)])
        kept = [order[i] for i, k in enumerate(keys) if isinstance(k, slice)]
        perm = [sorted(kept).index(a) for a in kept]  # h5py gives the dataset's axis order
        return out.transpose(perm) if perm != sorted(perm) else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("a chunked spectrum image cannot be viewed as an array without a copy")
        out = np.empty(self.shape, dtype=self.dtype if dtype is None else dtype)
        for r0, r1 in row_blocks(self):
            out[r0:r1] = self[r0:r1]
        return out


def _basic(keys: tuple, shape: tuple[int, ...]) -> tuple[int | slice, ...] | None:
    """``keys`` as one in-range int or step-1 slice per axis, or None (then dask reads it)."""
    if any(k is Ellipsis for k in keys) or len(keys) > len(shape):
        return None
    out: list[int | slice] = []
    for k, n in zip(keys + (slice(None),) * (len(shape) - len(keys)), shape, strict=True):
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            if not -n <= int(k) < n:
                return None
            out.append(int(k) % n)
        elif isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step != 1:
                return None
            out.append(slice(start, max(start, stop)))
        else:
            return None
    return tuple(out)


def _compute(part: Any) -> Any:
    compute = getattr(part, "compute", None)
    return compute(scheduler="synchronous") if compute is not None else part


def row_blocks(data: Any, budget: int | None = None) -> Iterator[tuple[int, int]]:
    """Row ranges ``[r0, r1)`` of an ``(H, W, E)`` array, about ``budget`` bytes each.

    ``budget`` defaults to :data:`BLOCK_BYTES`.  A :class:`ChunkedArray`'s
    blocks are whole storage chunks of rows when they fit.
    """
    budget = BLOCK_BYTES if budget is None else int(budget)
    h, w, e = (int(n) for n in data.shape)
    rows = max(1, budget // max(1, w * e * np.dtype(data.dtype).itemsize))
    align = int(getattr(data, "row_chunk", 1))
    if rows > align > 1:
        rows -= rows % align
    for r0 in range(0, h, rows):
        yield r0, min(h, r0 + rows)


def storage_of(data: Any) -> str:
    """``"memmap"`` (counts mapped from the file), ``"chunked"`` or ``"memory"``."""
    if isinstance(data, np.memmap):
        return "memmap"
    return "chunked" if isinstance(data, ChunkedArray) else "memory"
