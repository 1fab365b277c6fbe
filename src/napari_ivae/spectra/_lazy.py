"""Spectrum images left on disk: HDF5 memory maps and a read-only chunked array.

rosettasciio reads ``.hspy`` and ``.emd`` lazily as a dask array over an HDF5
dataset.  :func:`h5_memmap` turns it into a ``numpy.memmap`` when the dataset
is one plain block (contiguous, no filters); otherwise :class:`ChunkedArray`
wraps it: NumPy-style reads of a pixel, a row block or a set of points, each
touching only the chunks it needs.  Code that needs every pixel goes through
:func:`row_blocks` (about :data:`BLOCK_BYTES` at a time).

No dask or h5py import here until a lazy file is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["BLOCK_BYTES", "ChunkedArray", "h5_memmap", "hspy_signals", "row_blocks", "storage_of"]

#: Largest slice of a spectrum image read at once by :func:`row_blocks` (bytes).
BLOCK_BYTES = 64 * 2**20


class ChunkedArray:
    """A read-only ``(H, W, E)`` array whose counts stay in a chunked (compressed) file.

    Parameters
    ----------
    source : dask.array.Array
        The lazy array (rosettasciio's, axes already in ``(Y, X, E)`` order).

    Notes
    -----
    Indexing returns NumPy arrays: ints and slices (``data[y, x]``,
    ``data[r0:r1]``, ``data[:, :, i0:i1]``) and two integer arrays of points
    (``data[ys, xs]``, as NumPy pairs them).  ``numpy.asarray(data)`` reads it
    all (row block by row block into one array): only for small files.
    """

    def __init__(self, source: Any) -> None:
        self._source = source
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
        order = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        return ChunkedArray(self._source.transpose(tuple(order) or None))

    def __repr__(self) -> str:
        return f"ChunkedArray(shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = key if isinstance(key, tuple) else (key,)
        arrays = [k for k in keys if isinstance(k, (np.ndarray, list))]
        part = self._source.vindex[key] if len(arrays) > 1 else self._source[key]
        return np.asarray(_compute(part))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("a chunked spectrum image cannot be viewed as an array without a copy")
        out = np.empty(self.shape, dtype=self.dtype if dtype is None else dtype)
        for r0, r1 in row_blocks(self):
            out[r0:r1] = self[r0:r1]
        return out


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


def _layer_kinds(data: Any) -> set[str]:
    """The kinds of the dask graph's layers (``"array"``, ``"transpose"`` ...)."""
    names = {k[0] if isinstance(k, tuple) else k for k in dict(data.__dask_graph__())}
    return {str(n).rsplit("-", 1)[0] for n in names}


def h5_memmap(data: Any) -> np.memmap | None:
    """rosettasciio's lazy array as a read-only memmap of its HDF5 file, or None.

    Only for one contiguous, unfiltered numeric dataset read as is
    (``.hspy``) or with its axes reversed (NCEM ``.emd``); a few values are
    compared with the lazy array before the map is trusted.
    """
    import h5py

    if not hasattr(data, "__dask_graph__"):
        return None
    graph = dict(data.__dask_graph__())
    dsets = {id(v): v for v in graph.values() if isinstance(v, h5py.Dataset)}
    if len(dsets) != 1:
        return None
    (dset,) = dsets.values()
    kinds = _layer_kinds(data)
    if kinds == {"original-array", "array"}:
        order = tuple(range(dset.ndim))
    elif kinds == {"original-array", "array", "transpose"}:
        order = tuple(range(dset.ndim))[::-1]  # rosettasciio's NCEM EMD: data.transpose()
    else:
        return None
    dtype = dset.dtype
    if dset.chunks is not None or dset.external or dtype.fields or dtype.kind not in "biuf":
        return None
    if dset.id.get_create_plist().get_nfilters():
        return None
    offset = dset.id.get_offset()
    if offset is None or dset.size == 0:  # never written: no block in the file
        return None
    mm = np.memmap(dset.file.filename, dtype=dtype, mode="r", offset=offset, shape=dset.shape)
    view = mm.transpose(order)
    if view.shape != tuple(data.shape) or not _agrees(view, data):
        return None
    return view


def _agrees(view: np.ndarray, data: Any, n: int = 32) -> bool:
    """Whether the map and the lazy array hold the same values at ``n`` points (and corners)."""
    rng = np.random.default_rng(0)
    idx = [np.r_[0, s - 1, rng.integers(0, s, n)] for s in view.shape]
    lazy = np.asarray(_compute(data.vindex[tuple(idx)]))
    return bool(np.array_equal(view[tuple(idx)], lazy, equal_nan=view.dtype.kind == "f"))


def hspy_signals(path: str) -> list[dict]:
    """rosettasciio's lazy reading of a ``.hspy``, also when its data is one plain block.

    rosettasciio 0.15 asks dask for the chunks of a contiguous dataset (it has
    none) and fails; that file is then read through its reader with
    ``chunks="auto"`` (a private API: any other failure is rosettasciio's own).
    """
    import h5py
    from rsciio.hspy import file_reader

    try:
        return file_reader(path, lazy=True)
    except ValueError as err:
        if "chunks" not in str(err):
            raise
    from rsciio.hspy._api import HyperspyReader

    class _Reader(HyperspyReader):
        def _read_array(self, group: Any, dataset_key: str) -> Any:
            data = group[dataset_key]
            ragged = f"_ragged_shapes_{dataset_key}" in group or "ragged_shapes" in group
            if isinstance(data, h5py.Dataset) and data.chunks is None and not ragged:
                import dask.array as da

                return da.from_array(data, chunks="auto")
            return super()._read_array(group, dataset_key)

    f = h5py.File(path, "r")
    try:
        return _Reader(f).read(lazy=True)  # the file stays open: the arrays read from it
    except BaseException:
        f.close()
        raise
