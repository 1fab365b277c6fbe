"""Normalisation for :func:`napari_ivae.crop.crop`: local background removal, stack statistics.

:func:`local_background` / :func:`local_normalize` estimate an image's slowly
varying background and contrast from robust tile statistics (the ``"local"``
and ``"background"`` modes; also used by :mod:`napari_ivae.chemistry`; both are
re-exported by :mod:`napari_ivae.crop`, as is :func:`default_normalize`, the
mode the fronts choose by channel role).  :func:`_normalize` applies the
``"zscore"`` / ``"minmax"`` modes to a crop stack in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["default_normalize", "local_background", "local_normalize"]

#: crops processed at a time (bounds temporary memory)
_CHUNK = 2048


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
