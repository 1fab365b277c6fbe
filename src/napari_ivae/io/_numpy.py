"""NumPy ``.npy`` (memory-mapped) and ``.npz`` readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.io import ImageLayer
from napari_ivae.io._names import colormap_for, nice_length, role_for

__all__ = ["read_npy", "read_npz"]


def _layers_from_array(
    arr, key: str, path: Path, names=None, pixel=(1.0, None)
) -> list[ImageLayer]:
    """Interpret an array's axes: (Y,X); (T,Y,X); (Y,X,3|4) RGB(A); (T,C,Y,X)."""
    shape = arr.shape
    if arr.ndim < 2:
        raise IvaeError(f"{path}: array {key!r} has shape {shape}; an image needs 2 axes (Y, X)")
    if arr.ndim == 2:
        channels, axes = [arr], "yx"
    elif arr.ndim == 3 and shape[-1] in (3, 4) and min(shape[:2]) > 16:
        channels, axes = [arr[..., c] for c in range(3)], "yx"
        names = names or ["Red", "Green", "Blue"]
    elif arr.ndim == 3:
        channels, axes = [arr], "tyx"
    elif arr.ndim == 4:  # (N, C, H, W): a crop stack, frames = crops
        channels, axes = [arr[:, c] for c in range(shape[1])], "tyx"
    else:
        raise IvaeError(
            f"{path}: array {key!r} has {arr.ndim} axes {shape}; expected (Y,X), (T,Y,X) or (T,C,Y,X)"
        )
    size, _, unit = nice_length(*pixel)
    layers = []
    for i, data in enumerate(channels):
        if names is not None and i < len(names):
            name = str(names[i])
        else:
            name = key if len(channels) == 1 else f"{key} [{i}]"
        role = role_for(name)
        scale = (size, size) if axes == "yx" else (1.0, size, size)
        meta = {"key": key, "channel": i, "label": name, "lazy": isinstance(data, np.memmap)}
        layers.append(
            ImageLayer(data, name, scale, unit, axes, role, colormap_for(role), str(path), meta)
        )
    return layers


def _check_magic(path: Path, magic: bytes, what: str) -> None:
    with open(path, "rb") as fh:
        if fh.read(len(magic)) != magic:
            raise IvaeError(f"{path}: not a {what} file (wrong header; corrupt or renamed?)")


def read_npy(path: Path) -> list[ImageLayer]:
    """Read a ``.npy`` array, memory-mapped (lazy); uncalibrated (scale 1)."""
    _check_magic(path, b"\x93NUMPY", "NumPy .npy")
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    return _layers_from_array(arr, Path(path).stem, path)


def read_npz(path: Path) -> list[ImageLayer]:
    """Read every image array of a ``.npz`` archive.

    Arrays with 2 to 4 axes become layers (named by key; a 4-D crop stack
    ``images`` (N, C, H, W) gives one (N, H, W) layer per channel, named from a
    ``channels`` entry if present).  Other entries (1-D tables such as ``yx``,
    strings, arrays narrower than 4 pixels such as (N, 2) coordinates) are skipped and listed in ``metadata["skipped"]``.  Optional scalar
    ``pixel_size`` and string ``unit`` entries calibrate the scale.
    """
    _check_magic(path, b"PK", "NumPy .npz (zip)")
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.files)
        arrays = {k: npz[k] for k in keys}
    pixel = (1.0, None)
    if "pixel_size" in arrays and arrays["pixel_size"].size == 1:
        unit = arrays.get("unit")
        pixel = (float(arrays["pixel_size"]), str(unit) if unit is not None else None)
    names = [str(c) for c in arrays["channels"]] if "channels" in arrays else None
    layers, skipped = [], []
    for key, arr in arrays.items():
        thin = arr.ndim < 2 or min(arr.shape[-2:]) < 4
        if thin or not np.issubdtype(arr.dtype, np.number) or min(arr.shape) == 0:
            skipped.append(key)
            continue
        layer_names = names if (arr.ndim == 4 and names and len(names) == arr.shape[1]) else None
        layers.extend(_layers_from_array(arr, key, path, layer_names, pixel))
    if not layers:
        shapes = ", ".join(f"{k} {arrays[k].shape}" for k in keys) or "no arrays"
        raise IvaeError(f"{path}: no image array (2 to 4 axes) in the archive ({shapes})")
    for layer in layers:
        layer.metadata["skipped"] = skipped
    return layers
