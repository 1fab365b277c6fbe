"""Checks shared by all readers: the path before reading, the layers after."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError

__all__ = ["check_layers", "check_path", "count_nonfinite", "split_axes"]

#: bytes per block when scanning large (lazy) arrays for NaN/inf
_BLOCK = 64 * 2**20


def check_path(path) -> Path:
    """Return ``Path(path)`` or raise :class:`IvaeError` (missing, folder, unsupported)."""
    from napari_ivae.io import SUFFIXES

    p = Path(path).expanduser()
    if not p.exists():
        raise IvaeError(f"{p}: file not found")
    if p.is_dir():
        raise IvaeError(f"{p}: is a folder, expected an image file")
    if p.suffix.lower() not in SUFFIXES:
        accepted = ", ".join(SUFFIXES)
        raise IvaeError(
            f"{p}: unsupported file type {p.suffix or '(no suffix)'!r}; accepted: {accepted}"
        )
    if p.stat().st_size == 0:
        raise IvaeError(f"{p}: file is empty")
    return p


def count_nonfinite(data) -> int:
    """Number of NaN/inf values in ``data`` (0 for integer data; blockwise for big arrays)."""
    dtype = np.dtype(data.dtype)
    if not np.issubdtype(dtype, np.inexact):
        return 0
    if hasattr(data, "compute") and not isinstance(data, np.ndarray):  # dask
        return int((~_isfinite_dask(data)).sum().compute())
    arr = data
    if arr.ndim <= 2 or arr.nbytes <= _BLOCK:
        return int(arr.size - np.count_nonzero(np.isfinite(arr)))
    total = 0
    for frame in arr:  # one frame at a time keeps memory flat for memmaps
        total += int(frame.size - np.count_nonzero(np.isfinite(frame)))
    return total


def _isfinite_dask(data):
    import dask.array as da

    return da.isfinite(data)


def check_layers(layers: list, path: Path) -> list:
    """Validate reader output: at least one layer, 2-D/3-D, not all NaN/inf.

    Layers with some NaN/inf are kept; a warning names the file and the count,
    stored in ``metadata["n_nonfinite"]`` (detectors handle NaN).
    """
    if not layers:
        raise IvaeError(f"{path}: no image data found in the file")
    for layer in layers:
        shape = tuple(layer.data.shape)
        if len(shape) < 2 or min(shape[-2:]) < 2:
            raise IvaeError(
                f"{path}: layer {layer.name!r} has shape {shape}; an image needs at least 2×2 pixels"
            )
        if len(shape) > 3:
            raise IvaeError(
                f"{path}: layer {layer.name!r} has {len(shape)} axes {shape}; expected (Y,X) or (T,Y,X)"
            )
        if not np.issubdtype(np.dtype(layer.data.dtype), np.number):
            raise IvaeError(
                f"{path}: layer {layer.name!r} is not numeric (dtype {layer.data.dtype})"
            )
        bad = count_nonfinite(layer.data)
        size = int(np.prod(shape))
        if bad == size:
            raise IvaeError(f"{path}: layer {layer.name!r} contains only NaN/inf values")
        layer.metadata["n_nonfinite"] = bad
        if bad:
            warnings.warn(
                f"{path}: layer {layer.name!r} has {bad} NaN/inf values of {size} ({100 * bad / size:.2g}%); kept as is",
                UserWarning,
                stacklevel=3,
            )
    return layers


def split_axes(data, axes: str) -> tuple[list, str, str]:
    """Reorder an array with named axes into per-channel ``(Y,X)`` or ``(T,Y,X)`` views.

    Parameters
    ----------
    data : array-like
        The array; ``axes`` names each axis with one letter (tifffile style:
        ``Y``, ``X``, ``C`` or ``S`` = channels, anything else = frames).
    axes : str
        Axis letters, e.g. ``"CYX"``, ``"TZCYX"``, ``"YXS"``.

    Returns
    -------
    channels : list of array-like
        One array per channel, views where possible.
    out_axes : str
        ``"yx"`` or ``"tyx"``.
    channel_axis : str
        The letter used for channels (``""`` when single channel).
    """
    axes = axes.upper()
    if len(axes) != data.ndim:
        raise IvaeError(f"axes {axes!r} do not match the data's shape {tuple(data.shape)}")
    if "Y" not in axes or "X" not in axes:
        # no named plane: take the last two axes as Y, X
        axes = axes[:-2].replace("Y", "Q").replace("X", "Q") + "YX"
    chan = [i for i, a in enumerate(axes) if a in "CS"]
    frames = [i for i, a in enumerate(axes) if a not in "CSYX"]
    y, x = axes.index("Y"), axes.index("X")
    if len(chan) > 1:  # e.g. C and S: merge
        frames += chan[:-1]
        chan = chan[-1:]
    order = frames + chan + [y, x]
    arr = data.transpose(order) if order != list(range(data.ndim)) else data
    nf = int(np.prod([data.shape[i] for i in frames])) if frames else 0
    nc = data.shape[chan[0]] if chan else 1
    ny, nx = data.shape[y], data.shape[x]
    if frames:
        arr = arr.reshape((nf, nc, ny, nx))
        out_axes = "tyx"
        channels = [arr[:, c] for c in range(nc)]
        if nf == 1:
            channels = [c[0] for c in channels]
            out_axes = "yx"
    else:
        arr = arr.reshape((nc, ny, nx))
        channels = [arr[c] for c in range(nc)]
        out_axes = "yx"
    return channels, out_axes, (axes[chan[0]] if chan else "")
