"""Pairs of (image patch, spectrum) at points of a scan, checked up front.

The image and the spectrum image (SI) are two views of one scan: the image
(HAADF, ...) is ``(H, W)`` or ``(C, H, W)``, the SI ``(H, W, E)`` (a numpy
array, a memmap or anything with a ``.data`` attribute holding one, e.g. a
:class:`napari_ivae.spectra.SpectrumImage`).  Points are ``(y, x)`` pixels.
Patches are cut by :func:`napari_ivae.crop.crop` (``border="reflect"``, no
normalisation: the models standardise with the training statistics kept in
their configuration); the spectrum of a point is the mean over the
``(2·integrate + 1)²`` pixels around it (clipped at the edge).
"""

from __future__ import annotations

import numpy as np

from napari_ivae._errors import IvaeError

__all__ = ["as_image", "as_points", "as_si", "patches_at", "spectra_at"]


def _array_of(obj):
    """``obj.data`` for wrappers (ImageLayer, SpectrumImage), ``obj`` for arrays."""
    return obj if isinstance(obj, np.ndarray) else getattr(obj, "data", obj)


def as_image(image) -> np.ndarray:
    """The image as a ``(C, H, W)`` array view (a 2-D image gets ``C = 1``)."""
    arr = np.asarray(_array_of(image))
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise IvaeError(f"image must be (H, W) or (C, H, W); got shape {tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise IvaeError(f"image must hold real numbers; got dtype {arr.dtype}")
    return arr


def as_si(si, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The spectrum image as an ``(H, W, E)`` array (not copied); ``shape`` is the image's (H, W)."""
    arr = _array_of(si)
    if not hasattr(arr, "shape") or len(arr.shape) != 3:
        got = tuple(getattr(arr, "shape", ()))
        raise IvaeError(f"spectrum image must be (H, W, E); got shape {got}")
    if shape is not None and tuple(arr.shape[:2]) != tuple(shape):
        raise IvaeError(
            f"spectrum image scan shape {tuple(arr.shape[:2])} differs from the image shape "
            f"{tuple(shape)}; they must be the same scan"
        )
    if arr.shape[2] < 8:
        raise IvaeError(f"spectrum image must have at least 8 energy channels; got {arr.shape[2]}")
    return arr


def as_points(points, shape: tuple[int, int]) -> np.ndarray:
    """``(N, 2)`` float (y, x) from an array or a table with ``y``, ``x``; all inside ``shape``."""
    if hasattr(points, "columns"):
        if not {"y", "x"} <= set(points.columns):
            raise IvaeError("points need columns 'y' and 'x'")
        pts = points[["y", "x"]].to_numpy(dtype=float)
    else:
        pts = np.asarray(points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise IvaeError(f"points must be an (N, 2) array of (y, x); got shape {pts.shape}")
    if len(pts) == 0:
        raise IvaeError("points: no points given")
    if not np.isfinite(pts).all():
        raise IvaeError("points: coordinates must be finite; NaN or inf found")
    ny, nx = shape
    iy, ix = np.rint(pts[:, 0]), np.rint(pts[:, 1])
    bad = (iy < 0) | (iy > ny - 1) | (ix < 0) | (ix > nx - 1)
    if bad.any():
        k = int(np.argmax(bad))
        raise IvaeError(
            f"points: {int(bad.sum())} point(s) lie outside the {ny}×{nx} scan, e.g. point {k} "
            f"at (y, x) = ({pts[k, 0]:g}, {pts[k, 1]:g}); y must be in 0…{ny - 1}, x in 0…{nx - 1}"
        )
    return pts


def check_window(window: int, shape: tuple[int, int]) -> int:
    """``window`` as an int in ``8 … min(H, W)``, else :class:`IvaeError`."""
    if isinstance(window, bool) or int(window) != window:
        raise IvaeError(f"window must be an integer; got {window!r}")
    low, high = 8, min(shape)
    if not low <= int(window) <= high:
        raise IvaeError(
            f"window must be between {low} and the image's smaller side {high} px; got {window}"
        )
    return int(window)


def patches_at(image, points, window: int) -> np.ndarray:
    """Raw ``(N, C, window, window)`` float32 patches centred on the points (edges mirrored)."""
    from napari_ivae.crop import crop

    arr = as_image(image)
    shape = arr.shape[1:]
    window = check_window(window, shape)
    pts = as_points(points, shape)
    stack = crop(list(arr), pts, window=window, border="reflect", normalize="none")
    return np.ascontiguousarray(stack.images, dtype=np.float32)


def spectra_at(si, points, integrate: int = 1, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``(N, E)`` float32: the mean spectrum over ``(2·integrate + 1)²`` pixels around each point."""
    arr = as_si(si, shape)
    ny, nx = arr.shape[:2]
    pts = as_points(points, (ny, nx))
    r = int(integrate)
    out = np.empty((len(pts), arr.shape[2]), dtype=np.float32)
    for k, (y, x) in enumerate(np.rint(pts).astype(int)):
        block = np.asarray(arr[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1], dtype=float)
        out[k] = block.reshape(-1, arr.shape[2]).mean(0)
    bad = ~np.isfinite(out).all(1)
    if bad.any():
        k = int(np.argmax(bad))
        raise IvaeError(
            f"spectrum image: {int(bad.sum())} point(s) have NaN or inf spectra, e.g. point {k} "
            f"at (y, x) = ({pts[k, 0]:g}, {pts[k, 1]:g}); spectra must be finite"
        )
    return out
