"""Which pixels of a spectrum image a selection covers (the Spectrum dock's mean spectrum).

* A Shapes layer: its selected shapes (all of them when none is selected),
  rasterised on the SI's pixel grid (napari's own ``to_masks``, so a pixel
  counts when the shape covers its centre, as drawn).
* A Points layer: its selected points (all of them when none is selected),
  rounded to the nearest SI pixel.  The explorer's lasso selection is its own
  Points layer ("<layer> selection"), so picking it gives the lasso's mean.

Positions go through both layers' world transforms, so a selection drawn
over a scaled or shifted SI still lands on the right pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image, Points, Shapes

from napari_ivae._errors import IvaeError

__all__ = ["selection_pixels"]


def _to_si_pixels(layer: Any, si_layer: Image, coords: np.ndarray) -> np.ndarray:
    """(N, D) data coordinates of ``layer`` → (N, 2) (y, x) data coordinates of the SI layer."""
    coords = np.asarray(coords, dtype=float)
    world = layer._data_to_world(coords)  # napari Affine, vectorised over rows
    k = si_layer.ndim
    return np.asarray(si_layer._data_to_world.inverse(world[:, -k:]))[:, -2:]


def _count(k: int, noun: str, *, selected: bool, total: int) -> str:
    """``"2 selected shapes"``, ``"all 3 points"``, ``"1 shape"``."""
    plural = noun if k == 1 else noun + "s"
    if selected:
        return f"{k} selected {plural}"
    return f"{k} {plural}" if total == 1 else f"all {k} {plural}"


def _same_grid(layer: Any, si_layer: Image) -> bool:
    a = layer._data_to_world.affine_matrix[-3:, -3:]
    b = si_layer._data_to_world.affine_matrix[-3:, -3:]
    return bool(np.allclose(a, b))


def _shapes_mask(layer: Shapes, si_layer: Image, shape: tuple[int, int]) -> tuple[np.ndarray, str]:
    n = len(layer.data)
    if n == 0:
        raise IvaeError(f"shapes layer {layer.name!r} has no shape; draw a region first")
    chosen = sorted(layer.selected_data) or list(range(n))
    what = _count(len(chosen), "shape", selected=bool(layer.selected_data), total=n)
    if _same_grid(layer, si_layer) and layer.ndim == 2:
        source = layer
    else:  # redraw the chosen shapes on the SI's grid
        data = [_to_si_pixels(layer, si_layer, layer.data[i]) for i in chosen]
        types = [layer.shape_type[i] for i in chosen]
        source, chosen = Shapes(data, shape_type=types), list(range(len(chosen)))
    masks = np.asarray(source.to_masks(mask_shape=shape), dtype=bool)
    return masks[chosen].any(axis=0), what


def selection_pixels(
    layer: Points | Shapes, si_layer: Image, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, str]:
    """The SI pixels a selection covers.

    Parameters
    ----------
    layer : napari.layers.Points or napari.layers.Shapes
        The selection.
    si_layer : napari.layers.Image
        The image layer that shows the spectrum image (its world transform).
    shape : tuple of int
        The scan's (H, W).

    Returns
    -------
    ys, xs : numpy.ndarray
        Pixel rows and columns inside the scan (a pixel given by two points counts twice).
    what : str
        What was used, for the legend (e.g. ``"12 selected points"``).
    """
    h, w = shape
    if isinstance(layer, Shapes):
        mask, what = _shapes_mask(layer, si_layer, shape)
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            raise IvaeError(f"the shapes of {layer.name!r} cover no pixel of the {h}×{w} scan")
        return ys, xs, what
    if not isinstance(layer, Points):
        raise IvaeError(f"layer {layer.name!r} is neither a Shapes nor a Points layer")
    n = len(layer.data)
    if n == 0:
        raise IvaeError(f"points layer {layer.name!r} has no point; select points first")
    chosen = np.array(sorted(layer.selected_data), dtype=np.int64)
    selected = bool(chosen.size)
    chosen = chosen if selected else np.arange(n)
    what = _count(chosen.size, "point", selected=selected, total=n)
    yx = np.rint(_to_si_pixels(layer, si_layer, np.asarray(layer.data)[chosen])).astype(np.int64)
    inside = (yx[:, 0] >= 0) & (yx[:, 0] < h) & (yx[:, 1] >= 0) & (yx[:, 1] < w)
    if not inside.any():
        raise IvaeError(f"no point of {layer.name!r} lies inside the {h}×{w} scan")
    if not inside.all():
        what += f" ({int((~inside).sum())} outside the scan left out)"
    return yx[inside, 0], yx[inside, 1], what
