"""HDF5 spectrum images (``.hspy``, ``.emd``) kept on disk: a memory map, else chunked.

rosettasciio reads them lazily as a dask array over an HDF5 dataset.
:func:`on_disk` turns it into a ``numpy.memmap`` when the dataset is one plain
block (contiguous, no filters), else into a
:class:`~napari_ivae.spectra._lazy.ChunkedArray` that reads the dataset's
chunks as needed.  :func:`hspy_signals` reads a ``.hspy`` lazily also when it
is contiguous (rosettasciio 0.15 cannot).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_ivae.spectra._lazy import ChunkedArray

__all__ = ["h5_memmap", "hspy_signals", "on_disk"]


def on_disk(data: Any) -> Any:
    """rosettasciio's lazy counts kept on disk: a memmap when the HDF5 allows, else chunked."""
    if not hasattr(data, "__dask_graph__"):  # read into memory by rosettasciio
        return np.asarray(data)
    mm = h5_memmap(data)
    return mm if mm is not None else ChunkedArray(data, _h5_source(data))


def _layer_kinds(data: Any) -> set[str]:
    """The kinds of the dask graph's layers (``"array"``, ``"transpose"`` ...)."""
    names = {k[0] if isinstance(k, tuple) else k for k in dict(data.__dask_graph__())}
    return {str(n).rsplit("-", 1)[0] for n in names}


def _h5_source(data: Any) -> tuple[Any, tuple[int, ...]] | None:
    """(the one HDF5 dataset the dask array reads, the dataset axis of each of its axes), or None.

    Only for that dataset read as is (``.hspy``) or with its axes reversed
    (NCEM ``.emd``: rosettasciio's only other layer is that ``transpose``).
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
    if tuple(dset.shape[a] for a in order) != tuple(data.shape):
        return None
    return dset, order


def h5_memmap(data: Any) -> np.memmap | None:
    """rosettasciio's lazy array as a read-only memmap of its HDF5 file, or None.

    Only for one contiguous, unfiltered numeric dataset (see :func:`_h5_source`);
    a few values are compared with h5py's before the map is trusted.
    """
    source = _h5_source(data)
    if source is None:
        return None
    dset, order = source
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
    if view.shape != tuple(data.shape) or not _agrees(mm, dset):
        return None
    return view


def _agrees(mm: np.memmap, dset: Any, n: int = 32) -> bool:
    """Whether the map and h5py read the same values at ``n`` points and the two corners."""
    rng = np.random.default_rng(0)
    idx = [np.r_[0, s - 1, rng.integers(0, s, n)] for s in dset.shape]
    points = np.array([dset[tuple(int(a[k]) for a in idx)] for k in range(n + 2)], dtype=mm.dtype)
    return bool(np.array_equal(mm[tuple(idx)], points, equal_nan=mm.dtype.kind == "f"))


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
