"""Where :func:`napari_ivae.crop.crop` cuts: placement, memory check, the gather, finiteness."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from napari_ivae._crop_inputs import _map_index
from napari_ivae._errors import IvaeError
from napari_ivae._normalize import _CHUNK, _mask


def _placement(
    y: np.ndarray, x: np.ndarray, window: int, ny: int, nx: int, border: str, paired=None
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
    if paired is not None:
        keep = keep & paired
    kept = np.flatnonzero(keep)
    if kept.size == 0:
        why = "window crosses the border" if border == "drop" else "centre outside the image"
        why += "" if paired is None else ", or no partner frame t + time_delay"
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
