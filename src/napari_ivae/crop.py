"""Sub-image stacks: crop windows around points from one or more channels.

``crop(images, points, window=w)`` returns a :class:`Stack` of ``(N, C, w, w)``
float32 crops plus the bookkeeping needed to join results back into the
points table (``yx``, ``frame`` and ``index`` = row position in the table).

Geometry: pixel centres sit at integer coordinates (napari's convention), and a
point is snapped to the nearest pixel centre (``floor(v + 0.5)``).  The window
covers rows ``iy - w//2 ... iy - w//2 + w - 1``, so the point lies at pixel
``(w//2, w//2)`` of its crop: the exact centre for odd ``w``, the lower-right of
the four central pixels for even ``w``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from napari_ivae._atomic import atomic_write
from napari_ivae._crop_inputs import (
    LOCAL_MODES,
    _as_channels,
    _check_neighborhood,
    _check_window,
    _checked_points,
    _map_index,
)
from napari_ivae._errors import IvaeError, check_choice
from napari_ivae._normalize import (
    _CHUNK,
    _mask,
    _normalize,
    default_normalize,
    local_background,
    local_normalize,
)

__all__ = [
    "Border",
    "Normalize",
    "Stack",
    "crop",
    "default_normalize",
    "local_background",
    "local_normalize",
]

Border = Literal["drop", "reflect", "constant", "edge"]
Normalize = Literal["zscore", "minmax", "none", "local", "background"]
_BORDERS: tuple[str, ...] = ("drop", "reflect", "constant", "edge")
_NORMALIZE: tuple[str, ...] = ("zscore", "minmax", "none", "local", "background")
#: the modes that first remove the image's slowly varying background
_LOCAL: tuple[str, ...] = LOCAL_MODES
#: default neighbourhood of the local modes, in crop windows
NEIGHBORHOOD_WINDOWS = 3


@dataclass
class Stack:
    """A stack of sub-images with their origin.

    Attributes
    ----------
    images : ndarray
        ``(N, C, w, w)`` float32, C-contiguous.
    yx : ndarray
        ``(N, 2)`` float64 source coordinates (pixels, row/column) of each crop's
        point as given (before snapping); NaN when unknown.
    frame : ndarray
        ``(N,)`` int64 frame of each crop (0 for single images).
    index : ndarray
        ``(N,)`` int64 row position of each crop's point in the input table.
    channels : tuple of str
        Channel names, ``C`` of them.
    normalize : str or None
        How :func:`crop` normalised the crops (its ``normalize``), None when
        unknown; training decides its class-seed features from it
        (``TrainConfig.seed_features``).
    """

    images: np.ndarray
    yx: np.ndarray
    frame: np.ndarray
    index: np.ndarray
    channels: tuple[str, ...]
    normalize: str | None = None

    def __post_init__(self) -> None:
        self.images = np.ascontiguousarray(self.images, dtype=np.float32)
        if self.images.ndim != 4:
            raise IvaeError(f"Stack images must have shape (N, C, H, W); got {self.images.shape}")
        n, c = self.images.shape[:2]
        self.yx = np.asarray(self.yx, dtype=np.float64).reshape(-1, 2)
        self.frame = np.asarray(self.frame, dtype=np.int64).reshape(-1)
        self.index = np.asarray(self.index, dtype=np.int64).reshape(-1)
        self.channels = tuple(str(ch) for ch in self.channels)
        for key in ("yx", "frame", "index"):
            if len(getattr(self, key)) != n:
                raise IvaeError(f"Stack {key} has {len(getattr(self, key))} rows; images has {n}")
        if len(self.channels) != c:
            raise IvaeError(f"Stack has {c} channels but {len(self.channels)} channel names")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def window(self) -> int:
        """Crop size ``w`` in pixels."""
        return int(self.images.shape[-1])

    def save(self, path: str | Path) -> Path:
        """Write the stack to an ``.npz`` file atomically (temp file + rename).

        Keys: ``images``, ``yx``, ``frame``, ``index``, ``channels`` and, when
        known, ``normalize``.

        Returns
        -------
        Path
            The written path.
        """

        extra = {} if self.normalize is None else {"normalize": np.asarray(str(self.normalize))}

        def _write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    images=self.images,
                    yx=self.yx,
                    frame=self.frame,
                    index=self.index,
                    channels=np.asarray(self.channels, dtype=str),
                    **extra,
                )

        return atomic_write(path, _write)

    @classmethod
    def load(cls, path: str | Path) -> Stack:
        """Read a stack written by :meth:`save`, or any npz holding ``images``.

        An npz with only ``images`` of shape ``(N, H, W)`` or ``(N, C, H, W)`` is
        accepted: ``yx`` is then NaN, ``frame`` 0, ``index`` ``0..N-1`` and the
        channels are named ``ch0, ch1, ...``.

        Raises
        ------
        IvaeError
            Missing or unreadable file, no ``images``, wrong shapes.
        """
        path = Path(path)
        if not path.is_file():
            raise IvaeError(f"{path}: stack file not found")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception as err:
            raise IvaeError(f"{path}: cannot read as a .npz stack ({err})") from err
        if "images" not in arrays:
            raise IvaeError(
                f"{path}: no 'images' array in the npz (found: {', '.join(arrays) or 'none'})"
            )
        images = arrays["images"]
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or images.shape[0] == 0:
            raise IvaeError(
                f"{path}: 'images' has shape {images.shape}; expected (N, H, W) or (N, C, H, W) with N ≥ 1"
            )
        if not np.issubdtype(images.dtype, np.number):
            raise IvaeError(f"{path}: 'images' is not numeric (dtype {images.dtype})")
        n, c = images.shape[:2]
        channels = arrays.get("channels")
        channels = (
            tuple(str(x) for x in np.atleast_1d(channels))
            if channels is not None
            else tuple(f"ch{i}" for i in range(c))
        )
        try:
            return cls(
                images=images,
                yx=arrays.get("yx", np.full((n, 2), np.nan)),
                frame=arrays.get("frame", np.zeros(n, np.int64)),
                index=arrays.get("index", np.arange(n)),
                channels=channels,
                normalize=str(arrays["normalize"]) if "normalize" in arrays else None,
            )
        except IvaeError as err:
            raise IvaeError(f"{path}: {err}") from err
        except ValueError as err:
            raise IvaeError(f"{path}: inconsistent stack arrays ({err})") from err


def crop(
    images,
    points,
    *,
    window: int,
    border: Border = "drop",
    normalize: Normalize = "zscore",
    channels: Sequence[str] | None = None,
    neighborhood: int | None = None,
) -> Stack:
    """Crop ``window × window`` sub-images centred on points.

    Parameters
    ----------
    images : array-like or sequence of array-like
        One ``(Y, X)`` or ``(T, Y, X)`` array is one channel; a list/tuple of
        them (same shape) are channels, e.g. ``[amplitude, phase]``.  A
        :class:`napari_ivae.io.ImageLayer` may stand in for an array (its name
        becomes the channel name).  Arrays are not copied (memmaps stay lazy).
    points : pandas.DataFrame or array-like
        Table with columns ``y``, ``x`` and optional ``frame`` (pixels, row/column
        order), or an ``(N, 2)`` array ``(y, x)`` or ``(N, 3)`` ``(frame, y, x)``
        (napari Points order).  Positions are snapped to the nearest pixel centre.
    window : int
        Crop size in pixels, ``2 ≤ window ≤ min(Y, X)``.
    border : {"drop", "reflect", "constant", "edge"}
        Points whose window crosses the image border are dropped (``"drop"``), or
        the missing pixels are filled by mirroring without repeating the edge
        (``"reflect"``), with 0 after normalisation (``"constant"``: the stack
        mean for z-score), or with the nearest edge pixel (``"edge"``).  Points
        whose centre lies outside the image are always dropped.
    normalize : {"zscore", "minmax", "none", "local", "background"}
        ``"zscore"``: per channel over the whole stack (mean 0, std 1);
        ``"minmax"``: per crop and channel to [0, 1]; ``"none"``: raw values.
        The two local modes first remove the image's slowly varying
        background (contamination, thickness, scan-region offsets), estimated
        robustly by :func:`local_background` on tiles of ``neighborhood``
        pixels: ``"local"``: ``(x − B) / S``, the image minus its local
        background ``B`` (median) divided by its local robust spread ``S``
        (1.4826 × median absolute deviation), so every crop is measured
        against its neighbourhood, not against itself (a dopant stays brighter
        than its host; the choice for atom-resolved images);
        ``"background"``: ``x − B``, then z-scored over the stack (offsets
        removed, the contrast of each region kept).  Both make a float32 copy
        of each channel.
    channels : sequence of str, optional
        Channel names (default: the ImageLayer names, else ``ch0, ch1, ...``).
    neighborhood : int, optional
        Side in pixels of the tiles the local modes take their statistics
        from (tiles overlap by half); default ``3 × window``.  It should
        hold many atom columns (several lattice spacings) and be smaller
        than the features to remove.  Only for ``"local"`` / ``"background"``.

    Returns
    -------
    Stack
        ``images`` ``(N, C, window, window)`` float32 in input order of the kept
        points, with ``yx``, ``frame`` and ``index``.

    Raises
    ------
    IvaeError
        Bad window, no points, NaN coordinates, frames outside the stack,
        channel shape mismatch, no point left, NaN/inf pixels inside a crop,
        a stack larger than the free memory.
    """
    check_choice("border", border, _BORDERS)
    check_choice("normalize", normalize, _NORMALIZE)
    arrays, names = _as_channels(images, channels)
    t, ny, nx = arrays[0].shape
    window = _check_window(window, ny, nx)
    _check_neighborhood(neighborhood, normalize, ny, nx)
    y, x, frame = _checked_points(points, t)
    iy, ix, interior, kept = _placement(y, x, window, ny, nx, border)
    n, c = kept.size, len(arrays)
    _check_memory(n, c, window)
    if normalize in _LOCAL:
        size = int(neighborhood or NEIGHBORHOOD_WINDOWS * window)
        frames_used = np.unique(frame[kept])
        arrays = [
            local_normalize(arr, size, scale=normalize == "local", frames=frames_used)
            for arr in arrays
        ]
    out, pos_edge, edge_valid = _gather(arrays, frame, (iy, ix), interior, kept, window, border)
    _check_finite(out, pos_edge, edge_valid, kept, y, x)
    _normalize(out, "zscore" if normalize == "background" else normalize, pos_edge, edge_valid)
    if edge_valid is not None:
        for ch in range(c):
            sub = out[pos_edge, ch]
            sub[~edge_valid] = 0.0
            out[pos_edge, ch] = sub
    return Stack(
        images=out,
        yx=np.stack([y[kept], x[kept]], axis=1),
        frame=frame[kept],
        index=kept.astype(np.int64),
        channels=names,
        normalize=normalize,
    )


def _placement(
    y: np.ndarray, x: np.ndarray, window: int, ny: int, nx: int, border: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Snapped centres ``iy, ix``, which windows lie inside the image, the kept point rows."""
    # snap to pixel centres; window start = centre - w//2
    iy = np.floor(y + 0.5).astype(np.int64)
    ix = np.floor(x + 0.5).astype(np.int64)
    half = window // 2
    y0, x0 = iy - half, ix - half
    inside_centre = (iy >= 0) & (iy < ny) & (ix >= 0) & (ix < nx)
    interior = inside_centre & (y0 >= 0) & (x0 >= 0) & (y0 + window <= ny) & (x0 + window <= nx)
    keep = interior if border == "drop" else inside_centre
    kept = np.flatnonzero(keep)
    if kept.size == 0:
        why = "window crosses the border" if border == "drop" else "centre outside the image"
        raise IvaeError(
            f"points: none of the {len(y)} points can be cropped with window={window} "
            f"in a {ny}×{nx} image ({why}); check the points belong to this image"
        )
    return iy, ix, interior, kept


def _check_memory(n: int, c: int, window: int) -> None:
    """Refuse a stack larger than the free memory (when it is known)."""
    need = n * c * window * window * 4
    free = _free_memory()
    if free is not None and need > free:
        raise IvaeError(
            f"the stack would need {need / 2**30:.1f} GiB ({n} crops × {c} channel{'s' * (c != 1)} × "
            f"{window}×{window} float32) but only {free / 2**30:.1f} GiB of memory is free; "
            "use fewer points or channels, or a smaller window"
        )


def _gather(
    arrays: list[np.ndarray],
    frame: np.ndarray,
    centres: tuple[np.ndarray, np.ndarray],
    interior: np.ndarray,
    kept: np.ndarray,
    window: int,
    border: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The raw crops ``(N, C, w, w)``, the positions of the edge crops and their in-image mask.

    The in-image mask (``(E, w, w)``) is only made for ``border="constant"``, else None.
    """
    iy, ix = centres
    _, ny, nx = arrays[0].shape
    half = window // 2
    out = np.empty((kept.size, len(arrays), window, window), dtype=np.float32)
    inner = interior[kept]
    pos_in, pos_edge = np.flatnonzero(inner), np.flatnonzero(~inner)
    edge_valid = None  # (E, w, w) in-image mask of the edge crops ("constant" only)
    if pos_edge.size:
        off = np.arange(window) - half
        rows = iy[kept[pos_edge], None] + off  # (E, w)
        cols = ix[kept[pos_edge], None] + off
        if border == "constant":
            rv = (rows >= 0) & (rows < ny)
            cv = (cols >= 0) & (cols < nx)
            edge_valid = rv[:, :, None] & cv[:, None, :]
        rows, cols = _map_index(rows, ny, border), _map_index(cols, nx, border)
        fe = frame[kept[pos_edge]]
    ki = kept[pos_in]
    y0, x0 = iy - half, ix - half
    for ch, arr in enumerate(arrays):
        if pos_in.size:
            view = sliding_window_view(arr, (window, window), axis=(1, 2))
            for s in range(0, pos_in.size, _CHUNK):  # chunks keep the gather temporary small
                k = ki[s : s + _CHUNK]
                out[pos_in[s : s + _CHUNK], ch] = view[frame[k], y0[k], x0[k]]
        if pos_edge.size:
            out[pos_edge, ch] = arr[fe[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out, pos_edge, edge_valid


def _check_finite(out, pos_edge, edge_valid, kept, y, x) -> None:
    """Refuse crops with NaN/inf pixels inside the image."""
    n, window = out.shape[0], out.shape[-1]
    bad_crop = np.zeros(n, dtype=bool)
    for s in range(0, n, _CHUNK):
        fin = np.isfinite(out[s : s + _CHUNK])
        mask = _mask(s, min(s + _CHUNK, n), window, pos_edge, edge_valid)
        if mask is not None:
            fin |= ~mask[:, None]
        bad_crop[s : s + _CHUNK] = ~fin.all(axis=(1, 2, 3))
    if bad_crop.any():
        i = int(np.argmax(bad_crop))
        raise IvaeError(
            f"images: NaN/inf pixels inside {int(bad_crop.sum())} of {n} crops "
            f"(first: point at row {int(kept[i])}, y={y[kept[i]]:g}, x={x[kept[i]]:g}); "
            "fill or mask them, or remove those points"
        )


def _free_memory() -> int | None:
    """Bytes of memory available for new allocations (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
