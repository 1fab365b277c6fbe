"""An image series from files: several files in scan order, or one stack.

``read_series(paths)`` returns one :class:`~napari_ivae.io.ImageLayer` per
channel whose data is the stacked ``(T, Y, X)`` array of that channel over all
frames, with the pixel size of the files.  Channels are matched across files by
name (:func:`~napari_ivae.io._select.select_channels`: exact name first, then
prefix, then substring), so ``channels=("amplitude", "phase")`` picks the same
channels in every file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.io import ImageLayer, read
from napari_ivae.io._select import select_channels

__all__ = ["read_series"]


def _as_paths(paths) -> list[Path]:
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    out = [Path(p) for p in paths]
    if not out:
        raise IvaeError("paths is empty; give one stack file or several frame files in order")
    return out


def _pick(layers: list[ImageLayer], queries: Sequence[str] | None, source: Path) -> list:
    """The channels of one file: by name, or all of them."""
    if queries is None:
        return list(layers)
    chosen, _ = select_channels(layers, tuple(queries), str(source))
    return chosen


def _same_channels(first: list[ImageLayer], layers: list[ImageLayer], source: Path) -> list:
    """``layers``' channels in the order of ``first``, matched by exact name.

    Single-channel files are matched as they are: their one channel is named
    after the file (``p0.tif`` -> ``p0``), so names differ from file to file.
    """
    if len(first) == 1 and len(layers) == 1:
        return list(layers)
    by_name = {la.name: la for la in layers}
    missing = [la.name for la in first if la.name not in by_name]
    if missing:
        have = ", ".join(repr(n) for n in by_name)
        raise IvaeError(
            f"{source}: channel {missing[0]!r} of the first file is missing (channels: {have})"
        )
    return [by_name[la.name] for la in first]


def _frames_of(layer: ImageLayer) -> np.ndarray:
    data = np.asarray(layer.data)
    return data[None] if data.ndim == 2 else data


def _check_frames(first: ImageLayer, layer: ImageLayer, source: Path) -> None:
    a, b = first.shape[-2:], layer.shape[-2:]
    if a != b:
        raise IvaeError(
            f"{source}: channel {layer.name!r} has frames of {b[0]}×{b[1]} px, "
            f"the first file {a[0]}×{a[1]} px; a series needs frames of one shape"
        )
    sa, sb = first.scale[-1], layer.scale[-1]
    if first.unit != layer.unit or not math.isclose(sa, sb, rel_tol=1e-3):
        raise IvaeError(
            f"{source}: pixel size {sb:g} {layer.unit or 'px'} differs from the first file's "
            f"{sa:g} {first.unit or 'px'}; a series needs one pixel size"
        )


def read_series(paths, *, channels: Sequence[str] | None = None) -> list[ImageLayer]:
    """Read an image series: several files in scan order, or one multi-frame stack.

    Parameters
    ----------
    paths : str, Path or sequence of them
        Several files (one frame each, in order; any format :func:`read`
        reads), or one file holding a stack (multi-page TIFF, ``(T, Y, X)``
        ``.npy``).  Files holding stacks are concatenated in order.
    channels : sequence of str, optional
        Channel names to keep (case-insensitive; exact name, else prefix, else
        substring, as ``ivae crop --channels``), matched in every file.
        Default: every channel of the first file (each must be in every file).

    Returns
    -------
    list of ImageLayer
        One per channel, ``data`` the ``(T, Y, X)`` stack (``T ≥ 2``),
        ``axes="tyx"``, ``scale=(1, py, px)`` in ``unit`` as the files give it;
        ``metadata["frames_from"]`` names the file of every frame.

    Raises
    ------
    IvaeError
        Naming the file: unreadable, a channel missing, frames or pixel size
        that differ from the first file's, or a single frame in all.
    """
    files = _as_paths(paths)
    first: list[ImageLayer] | None = None
    stacks: list[list[np.ndarray]] = []
    frames_from: list[str] = []
    for path in files:
        layers = read(path)
        if first is None:
            first = _pick(layers, channels, path)
            stacks = [[] for _ in first]
            chosen = first
        else:
            chosen = (
                _pick(layers, channels, path) if channels else _same_channels(first, layers, path)
            )
        n = None
        for i, (ref, layer) in enumerate(zip(first, chosen)):
            _check_frames(ref, layer, path)
            frames = _frames_of(layer)
            if n is not None and frames.shape[0] != n:
                raise IvaeError(f"{path}: channels hold different numbers of frames")
            n = frames.shape[0]
            stacks[i].append(frames)
        frames_from += [str(path)] * int(n or 0)
    assert first is not None
    if len(frames_from) < 2:
        raise IvaeError(
            f"{files[0]} holds a single frame; a series needs at least 2 "
            "(give several files in scan order, or one multi-page stack)"
        )
    return [_stacked(ref, parts, frames_from) for ref, parts in zip(first, stacks)]


def _stacked(ref: ImageLayer, parts: list[np.ndarray], frames_from: list[str]) -> ImageLayer:
    meta = dict(ref.metadata)
    meta.pop("lazy", None)
    meta["frames_from"] = list(frames_from)
    return ImageLayer(
        data=np.concatenate(parts, axis=0),
        name=ref.name,
        scale=(1.0, *(float(s) for s in ref.scale[-2:])),
        unit=ref.unit,
        axes="tyx",
        role=ref.role,
        colormap=ref.colormap,
        source=frames_from[0],
        metadata=meta,
    )
