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


def _pair_frames(frame: np.ndarray, time_delay, t: int) -> np.ndarray | None:
    """Which points have a partner frame ``frame + time_delay`` inside ``0 … t-1`` (None: no delay)."""
    if time_delay is None:
        return None
    if isinstance(time_delay, (bool, np.bool_)) or not isinstance(time_delay, (int, np.integer)):
        raise IvaeError(f"time_delay={time_delay!r} must be a whole number of frames")
    k = int(time_delay)
    if t < 2:
        raise IvaeError(
            f"time_delay={k} needs a series of at least 2 frames; the images have {t} frame"
        )
    if k == 0 or abs(k) >= t:
        raise IvaeError(
            f"time_delay={k} is out of range; expected 1 ≤ |time_delay| ≤ {t - 1} "
            f"(the images have {t} frames)"
        )
    partner = frame + k
    return (partner >= 0) & (partner < t)


def _delay_names(names: tuple[str, ...], time_delay: int) -> tuple[str, ...]:
    """``name@t, name@t+K`` for every channel, in channel order."""
    later = f"t{time_delay:+d}"
    return tuple(f"{n}@{s}" for n in names for s in ("t", later))


def _phase_channels(phase: str, phase_channels, arrays, names, roles) -> list[int]:
    """Indices of the channels cropped as a phase (``phase="domain"``), checked."""
    if phase == "raw":
        if phase_channels is not None:
            raise IvaeError(
                f"phase_channels={list(phase_channels)!r} is only used with phase='domain'"
            )
        return []
    if phase_channels is None:
        found = [i for i, r in enumerate(roles) if r == "phase"]
        found = found or [i for i, n in enumerate(names) if "phase" in n.lower()]
        if not found:
            raise IvaeError(
                f"phase='domain' needs a phase channel; none of the channels "
                f"({', '.join(names)}) is a phase (name it, or give phase_channels)"
            )
        return found
    idx = [phase_channels] if isinstance(phase_channels, (int, np.integer)) else phase_channels
    out = []
    for i in idx:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise IvaeError(f"phase_channels: {i!r} is not a channel index")
        if not 0 <= int(i) < len(arrays):
            raise IvaeError(
                f"phase_channels: index {int(i)} is out of range; expected 0 … {len(arrays) - 1}"
            )
        out.append(int(i))
    return sorted(set(out))


def domain_series(phase, amplitude=None, *, sigma: float = 1.0) -> np.ndarray:
    """A PFM phase series as its domain field: ≈ +1 / −1 in the two 180° domains.

    Every frame is flattened (offset, slow drift, scan-line offsets and
    wrapping removed, :func:`~napari_ivae.detect.walls.flatten_phase`) and
    projected on its domain axis (:func:`~napari_ivae.detect.walls.phase_projection`,
    Gaussian ``sigma`` px); the sign of each frame is then chosen so that it
    agrees with the previous frame on most pixels (a pixel keeps its
    polarity unless it switched), so ``+1`` is the same polarity in every frame.

    Parameters
    ----------
    phase : ndarray
        (T, Y, X) phase in degrees or radians (detected as in ``detect_walls``).
    amplitude : ndarray, optional
        (T, Y, X) amplitude, the weights of the smoothing.
    sigma : float
        Smoothing of the field in pixels.

    Returns
    -------
    ndarray
        (T, Y, X) float32 in [−1, 1].
    """
    from napari_ivae.detect.walls import phase_projection, phase_to_radians

    rad, _ = phase_to_radians(np.asarray(phase))
    out = np.empty(rad.shape, dtype=np.float32)
    for k in range(rad.shape[0]):
        amp = None if amplitude is None else amplitude[k]
        field = phase_projection(rad[k], amp, sigma=sigma)[0]
        if k and float(np.sum(field * out[k - 1], dtype=np.float64)) < 0:
            field = -field
        out[k] = np.clip(field, -1.0, 1.0)
    return out


def _roles(images) -> list[str]:
    """The ImageLayer role of each channel of ``images`` (``"image"`` for bare arrays)."""
    items = [images] if isinstance(images, np.ndarray) or hasattr(images, "shape") else images
    return [str(getattr(item, "role", "image") or "image") for item in items]
