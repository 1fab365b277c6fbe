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
from napari_ivae._errors import IvaeError, check_choice

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
_LOCAL: tuple[str, ...] = ("local", "background")
#: default neighbourhood of the local modes, in crop windows
NEIGHBORHOOD_WINDOWS = 3
#: crops processed at a time (bounds temporary memory)
_CHUNK = 2048


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


def _as_channels(images, channels) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Normalise ``images`` to a list of ``(T, Y, X)`` arrays (views) and names."""
    if isinstance(images, np.ndarray) or hasattr(images, "shape"):
        items = [images]
    elif isinstance(images, Sequence) and len(images) > 0:
        items = list(images)
    else:
        raise IvaeError("images: expected an array (Y,X)/(T,Y,X) or a non-empty sequence of them")
    arrays, names = [], []
    for i, item in enumerate(items):
        if hasattr(item, "data") and hasattr(item, "name") and not isinstance(item, np.ndarray):
            names.append(str(item.name))  # an io.ImageLayer
            item = item.data
        else:
            names.append(f"ch{i}")
        arr = item if isinstance(item, np.ndarray) else np.asarray(item)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise IvaeError(
                f"images: channel {i} has shape {arr.shape}; expected (Y, X) or (T, Y, X) "
                "(pass several channels as a list)"
            )
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise IvaeError(f"images: channel {i} has dtype {arr.dtype}; expected real numbers")
        arrays.append(arr)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        listed = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise IvaeError(
            f"images: channels differ in shape ({listed}); all must have the same shape"
        )
    if channels is not None:
        channels = (channels,) if isinstance(channels, str) else tuple(channels)
        if len(channels) != len(arrays):
            raise IvaeError(f"channels: {len(channels)} names given for {len(arrays)} images")
        names = [str(c) for c in channels]
    return arrays, tuple(names)


def _as_points(points) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(y, x, frame or None)`` float arrays from a DataFrame or an (N,2)/(N,3) array."""
    if hasattr(points, "columns"):
        cols = {str(c).lower(): c for c in points.columns}
        if "y" not in cols or "x" not in cols:
            found = ", ".join(map(str, points.columns)) or "none"
            raise IvaeError(f"points: table needs columns 'y' and 'x' (found: {found})")
        y = points[cols["y"]].to_numpy(dtype=np.float64, na_value=np.nan)
        x = points[cols["x"]].to_numpy(dtype=np.float64, na_value=np.nan)
        f = (
            points[cols["frame"]].to_numpy(dtype=np.float64, na_value=np.nan)
            if "frame" in cols
            else None
        )
        return y, x, f
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (2, 3):
        raise IvaeError(
            f"points: array has shape {arr.shape}; expected (N, 2) as (y, x) or (N, 3) as (frame, y, x)"
        )
    if arr.shape[1] == 2:
        return arr[:, 0], arr[:, 1], None
    return arr[:, 1], arr[:, 2], arr[:, 0]


def _map_index(idx: np.ndarray, n: int, border: str) -> np.ndarray:
    """Map out-of-range indices back into ``0..n-1`` (numpy ``np.pad`` semantics)."""
    if border == "edge":
        return np.clip(idx, 0, n - 1)
    if border == "reflect":  # d c b | a b c d | c b a  (edge not repeated), period 2(n-1)
        period = 2 * (n - 1)
        m = np.mod(idx, period)
        return np.where(m >= n, period - m, m)
    return np.clip(idx, 0, n - 1)  # constant: valid index, masked afterwards


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
    if isinstance(window, (bool, np.bool_)) or not isinstance(window, (int, np.integer)):
        raise IvaeError(f"window={window!r} must be an integer number of pixels")
    window = int(window)
    if window < 2:
        raise IvaeError(f"window={window} is too small; expected 2 ≤ window ≤ {min(ny, nx)}")
    if window > min(ny, nx):
        raise IvaeError(f"window={window} is larger than the image ({ny}×{nx})")
    if neighborhood is not None:
        if normalize not in _LOCAL:
            raise IvaeError(
                f"neighborhood={neighborhood!r} is only used by normalize='local' or "
                f"'background' (normalize={normalize!r})"
            )
        if isinstance(neighborhood, (bool, np.bool_)) or not isinstance(
            neighborhood, (int, np.integer)
        ):
            raise IvaeError(f"neighborhood={neighborhood!r} must be an integer number of pixels")
        if not 3 <= neighborhood <= max(ny, nx):
            raise IvaeError(
                f"neighborhood={neighborhood} is out of range; expected 3 ≤ neighborhood ≤ "
                f"{max(ny, nx)} (the image's larger side)"
            )

    y, x, f = _as_points(points)
    n_in = len(y)
    if n_in == 0:
        raise IvaeError("points: no points given (the table is empty)")
    bad = ~(np.isfinite(y) & np.isfinite(x))
    if bad.any():
        raise IvaeError(
            f"points: {int(bad.sum())} of {n_in} points have NaN/inf y or x (first at row {int(np.argmax(bad))})"
        )
    if f is None:
        if t > 1:
            raise IvaeError(f"points: no 'frame' column, but the images have {t} frames")
        frame = np.zeros(n_in, np.int64)
    else:
        if not np.all(np.isfinite(f)) or np.any(f != np.round(f)):
            raise IvaeError("points: 'frame' must hold whole numbers")
        frame = f.astype(np.int64)
        out = (frame < 0) | (frame >= t)
        if out.any():
            i = int(np.argmax(out))
            raise IvaeError(
                f"points: {int(out.sum())} points have a frame outside 0…{t - 1} "
                f"(row {i} has frame={frame[i]}; the images have {t} frame{'s' * (t != 1)})"
            )

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
            f"points: none of the {n_in} points can be cropped with window={window} "
            f"in a {ny}×{nx} image ({why}); check the points belong to this image"
        )
    n, c = kept.size, len(arrays)
    need = n * c * window * window * 4
    free = _free_memory()
    if free is not None and need > free:
        raise IvaeError(
            f"the stack would need {need / 2**30:.1f} GiB ({n} crops × {c} channel{'s' * (c != 1)} × "
            f"{window}×{window} float32) but only {free / 2**30:.1f} GiB of memory is free; "
            "use fewer points or channels, or a smaller window"
        )
    if normalize in _LOCAL:
        size = int(neighborhood or NEIGHBORHOOD_WINDOWS * window)
        frames_used = np.unique(frame[kept])
        arrays = [
            local_normalize(arr, size, scale=normalize == "local", frames=frames_used)
            for arr in arrays
        ]
    out = np.empty((n, c, window, window), dtype=np.float32)
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
    for ch, arr in enumerate(arrays):
        if pos_in.size:
            view = sliding_window_view(arr, (window, window), axis=(1, 2))
            for s in range(0, pos_in.size, _CHUNK):  # chunks keep the gather temporary small
                k = ki[s : s + _CHUNK]
                out[pos_in[s : s + _CHUNK], ch] = view[frame[k], y0[k], x0[k]]
        if pos_edge.size:
            out[pos_edge, ch] = arr[fe[:, None, None], rows[:, :, None], cols[:, None, :]]

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


def _mask(start: int, stop: int, window: int, pos_edge, edge_valid) -> np.ndarray | None:
    """In-image mask of crops ``start:stop`` (None when all their pixels are in the image)."""
    if edge_valid is None:
        return None
    lo, hi = np.searchsorted(pos_edge, [start, stop])
    if lo == hi:
        return None
    mask = np.ones((stop - start, window, window), dtype=bool)
    mask[pos_edge[lo:hi] - start] = edge_valid[lo:hi]
    return mask


def default_normalize(roles: Sequence[str]) -> str:
    """The normalisation the fronts (CLI, Crop widget) choose for channels of these roles.

    ``"local"`` when every channel is an intensity image (role ``"image"``:
    STEM/HAADF/ADF, TEM, any plain image): atom columns are then measured
    against their neighbourhood, free of contamination and thickness
    gradients.  ``"zscore"`` otherwise (PFM amplitude, wrapped phase, height
    ...: a local median of a wrapped phase is meaningless, and the contrast
    between domains is the signal).

    Parameters
    ----------
    roles : sequence of str
        ``ImageLayer.role`` of each channel.

    Returns
    -------
    str
        ``"local"`` or ``"zscore"``.
    """
    roles = list(roles)
    return "local" if roles and all(r == "image" for r in roles) else "zscore"


def local_background(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Slowly varying background and contrast of a 2-D image, from robust tile statistics.

    The image is cut into ``size × size`` tiles overlapping by half; each
    tile gives its median, and then, of the image minus the interpolated
    median map (so a gradient inside a tile is not taken for contrast), its
    contrast: the 95th percentile minus the median of that residual smoothed
    by a 1-px Gaussian (the height of the bright structures, e.g. the atom
    columns, above the local level; pixel noise, which grows with the
    background in counting data, barely enters), rescaled by one factor so
    that its median equals the image's median robust σ (1.4826 × MAD): the
    normalised values keep noise-like units.  Atom columns, a dopant or a few bad
    pixels barely move these statistics.  The contrast mesh is median-filtered
    over 3 × 3 tiles (a hole or a tile of vacuum does not spread); both meshes
    are interpolated to every pixel with a bicubic spline through the tile centres and through
    nodes added at the image edges, linearly extrapolated from the two
    outermost tile rows / columns (a gradient continues to the edge).

    Parameters
    ----------
    image : ndarray
        ``(Y, X)`` real values (finite).
    size : int
        Tile side in pixels (≥ 3); clipped to the image.  Structures larger
        than about ``size`` are treated as background.

    Returns
    -------
    background : ndarray
        ``(Y, X)`` float32, the local median level.
    spread : ndarray
        ``(Y, X)`` float32, the local contrast (see above), floored at 0.1 ×
        its median over the image (and 1 where the image is flat), so a flat
        patch is never blown up.
    """
    from scipy import ndimage

    img = np.asarray(image, dtype=np.float32)
    ny, nx = img.shape
    sy, sx = min(int(size), ny), min(int(size), nx)
    step_y, step_x = max(sy // 2, 1), max(sx // 2, 1)
    ys = _tile_starts(ny, sy, step_y)
    xs = _tile_starts(nx, sx, step_x)
    cy = ys + (sy - 1) / 2.0
    cx = xs + (sx - 1) / 2.0
    med = _tile_stat(img, ys, xs, sy, sx)
    background = _mesh_to_map(med, cy, cx, ny, nx)
    # the contrast from the image minus its background (a gradient or a contamination
    # edge inside a tile is not contrast): the height of the bright structures above the
    # median (95th percentile of the residual smoothed by 1 px, so pixel noise, which
    # grows with the background, barely enters), in units of the image's robust σ
    resid = img - background
    height = _tile_stat(ndimage.gaussian_filter(resid, 1.0), ys, xs, sy, sx, spread="p95")
    mad = _tile_stat(resid, ys, xs, sy, sx, spread="mad")
    h_med = float(np.median(height))
    mesh = height * (float(np.median(mad)) / h_med) if h_med > 0 else mad
    floor = 0.1 * float(np.median(mesh))
    mesh = np.maximum(mesh, floor) if floor > 0 else np.ones_like(mesh)
    spread = _mesh_to_map(mesh, cy, cx, ny, nx, linear_edges=False)
    np.maximum(spread, np.float32(floor if floor > 0 else 1.0), out=spread)  # spline undershoot
    return background, spread


def _tile_stat(img, ys, xs, sy: int, sx: int, *, spread: str | None = None) -> np.ndarray:
    """A statistic of every tile: the median, or a spread (3 × 3 median-filtered over the mesh).

    ``spread="mad"``: 1.4826 × the median absolute deviation; ``"p95"``: the
    95th percentile minus the median.
    """
    from scipy import ndimage

    out = np.empty((ys.size, xs.size), np.float64)
    view = sliding_window_view(img, (sy, sx))
    for i, y0 in enumerate(ys):
        tiles = view[y0, xs].reshape(xs.size, -1)  # (nx_tiles, sy*sx) copy of one tile row
        m = np.median(tiles, axis=1)
        if spread == "mad":
            out[i] = 1.4826 * np.median(np.abs(tiles - m[:, None]), axis=1)
        elif spread == "p95":
            out[i] = np.percentile(tiles, 95, axis=1) - m
        else:
            out[i] = m
    if spread and out.size > 1:
        out = ndimage.median_filter(out, size=3, mode="nearest")
    return out


def _mesh_to_map(
    mesh: np.ndarray, cy, cx, ny: int, nx: int, *, linear_edges: bool = True
) -> np.ndarray:
    """Bicubic spline through the mesh and edge nodes -> (ny, nx) float32.

    The edge nodes are linearly extrapolated (``linear_edges``) or copies of
    the outermost tiles.
    """
    from scipy.interpolate import RectBivariateSpline

    cy, mesh = _edge_nodes(cy, mesh, ny, axis=0, linear=linear_edges)
    cx, mesh = _edge_nodes(cx, mesh, nx, axis=1, linear=linear_edges)
    ry = np.arange(ny, dtype=np.float64)
    rx = np.arange(nx, dtype=np.float64)
    if cy.size == 1 and cx.size == 1:
        return np.full((ny, nx), mesh.flat[0], np.float32)
    if cy.size == 1:
        return np.repeat(np.interp(rx, cx, mesh[0])[None], ny, axis=0).astype(np.float32)
    if cx.size == 1:
        return np.repeat(np.interp(ry, cy, mesh[:, 0])[:, None], nx, axis=1).astype(np.float32)
    spline = RectBivariateSpline(cy, cx, mesh, kx=min(3, cy.size - 1), ky=min(3, cx.size - 1))
    return spline(ry, rx).astype(np.float32)


def _edge_nodes(c: np.ndarray, mesh: np.ndarray, n: int, axis: int, *, linear: bool = True):
    """Add nodes at pixel 0 and ``n − 1`` along ``axis``, linearly extrapolated from the outer two."""
    if c.size < 2:
        return c, mesh
    if not linear:
        lo = [np.take(mesh, [0], axis=axis)] if c[0] > 0 else []
        hi = [np.take(mesh, [-1], axis=axis)] if c[-1] < n - 1 else []
        cc = [np.array([0.0])] * len(lo) + [c] + [np.array([float(n - 1)])] * len(hi)
        return np.concatenate(cc), np.concatenate([*lo, mesh, *hi], axis=axis)
    parts_c, parts_m = [c], [mesh]
    first, second = np.take(mesh, [0], axis=axis), np.take(mesh, [1], axis=axis)
    last, before = np.take(mesh, [-1], axis=axis), np.take(mesh, [-2], axis=axis)
    if c[0] > 0:
        parts_c.insert(0, np.array([0.0]))
        parts_m.insert(0, first + (c[0] / (c[1] - c[0])) * (first - second))
    if c[-1] < n - 1:
        parts_c.append(np.array([float(n - 1)]))
        parts_m.append(last + ((n - 1 - c[-1]) / (c[-1] - c[-2])) * (last - before))
    return np.concatenate(parts_c), np.concatenate(parts_m, axis=axis)


def _tile_starts(n: int, size: int, step: int) -> np.ndarray:
    """Evenly spaced tile origins from 0 to ``n − size``, at most ``step`` apart."""
    if n <= size:
        return np.zeros(1, np.int64)
    count = int(np.ceil((n - size) / step)) + 1
    return np.unique(np.round(np.linspace(0, n - size, count)).astype(np.int64))


def local_normalize(
    image: np.ndarray, size: int, *, scale: bool = True, frames: np.ndarray | None = None
) -> np.ndarray:
    """``(x − B) / S`` (or ``x − B`` with ``scale=False``) per frame; see :func:`local_background`.

    Parameters
    ----------
    image : ndarray
        ``(T, Y, X)`` real values.
    size : int
        Tile side in pixels.
    scale : bool
        Divide by the local robust spread ``S`` too.
    frames : ndarray, optional
        Frames to process (the others are left at 0); default all.

    Returns
    -------
    ndarray
        ``(T, Y, X)`` float32.
    """
    out = np.zeros(image.shape, np.float32)
    for t in range(image.shape[0]) if frames is None else frames:
        frame = np.asarray(image[int(t)], dtype=np.float32)
        if not np.all(np.isfinite(frame)):  # NaN pixels: statistics from the finite ones
            fill = float(np.median(frame[np.isfinite(frame)])) if np.isfinite(frame).any() else 0.0
            background, spread = local_background(np.nan_to_num(frame, nan=fill), size)
        else:
            background, spread = local_background(frame, size)
        res = frame - background
        if scale:
            res /= spread
        out[int(t)] = res
    return out


def _normalize(out: np.ndarray, mode: str, pos_edge: np.ndarray, edge_valid) -> None:
    """Normalise ``out`` (N, C, w, w) in place; statistics over in-image pixels only."""
    if mode in ("none", "local"):
        return
    n, window = out.shape[0], out.shape[-1]
    if mode == "zscore":
        for ch in range(out.shape[1]):
            total = total_sq = count = 0.0
            shift = float(np.mean(out[0, ch], dtype=np.float64))  # shifted sums: no cancellation
            for s in range(0, n, _CHUNK):  # float64 sums, chunked (no big temporaries)
                block = out[s : s + _CHUNK, ch].astype(np.float64) - shift
                mask = _mask(s, min(s + _CHUNK, n), window, pos_edge, edge_valid)
                if mask is not None:
                    block = block[mask]
                total += block.sum()
                total_sq += np.square(block).sum()
                count += block.size
            mean_shifted = total / count
            std = np.sqrt(max(total_sq / count - mean_shifted * mean_shifted, 0.0))
            mean = shift + mean_shifted
            x = out[:, ch]
            x -= np.float32(mean)
            if std > 1e-12 * max(1.0, abs(mean)):
                x *= np.float32(1.0 / std)
        return
    # minmax per crop and channel
    for s in range(0, n, _CHUNK):
        block = out[s : s + _CHUNK]
        mask = _mask(s, min(s + _CHUNK, n), window, pos_edge, edge_valid)
        if mask is None:
            lo = block.min(axis=(2, 3), keepdims=True)
            hi = block.max(axis=(2, 3), keepdims=True)
        else:
            m = mask[:, None]
            lo = np.where(m, block, np.inf).min(axis=(2, 3), keepdims=True)
            hi = np.where(m, block, -np.inf).max(axis=(2, 3), keepdims=True)
        span = hi - lo
        block -= lo
        np.divide(block, span, out=block, where=span > 0)
