"""Input checks of :func:`napari_ivae.crop.crop`: channels, points, window, neighbourhood."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_ivae._errors import IvaeError

#: the normalisations that first remove the image's slowly varying background
LOCAL_MODES: tuple[str, ...] = ("local", "background")


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


def _check_window(window, ny: int, nx: int) -> int:
    """``window`` as an int, checked against the image size."""
    if isinstance(window, (bool, np.bool_)) or not isinstance(window, (int, np.integer)):
        raise IvaeError(f"window={window!r} must be an integer number of pixels")
    window = int(window)
    if window < 2:
        raise IvaeError(f"window={window} is too small; expected 2 ≤ window ≤ {min(ny, nx)}")
    if window > min(ny, nx):
        raise IvaeError(f"window={window} is larger than the image ({ny}×{nx})")
    return window


def _check_neighborhood(neighborhood, normalize: str, ny: int, nx: int) -> None:
    """``neighborhood`` is None, or a whole number of pixels for a local mode."""
    if neighborhood is None:
        return
    if normalize not in LOCAL_MODES:
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


def _checked_points(points, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``y, x`` (finite floats) and ``frame`` (int64 within ``0..t-1``) of the points."""
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
        return y, x, np.zeros(n_in, np.int64)
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
    return y, x, frame
