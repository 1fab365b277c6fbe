"""Points sampled along the walls, with their orientation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage import feature, morphology

from napari_ivae._errors import IvaeError, check_range

WALL_COLUMNS = ["y", "x", "frame", "orientation"]
#: largest structure-tensor scale for the orientation of wall points (bounds the work for big strides)
_MAX_TENSOR_SIGMA = 16.0


def _poisson_disk(iy: np.ndarray, ix: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy subset of the pixels (in the given order) with no two closer than ``r``."""
    if r <= 1.0:
        return iy, ix
    cs = r / np.sqrt(2.0)  # a grid cell can hold at most one kept point
    r2 = r * r - 1e-9
    grid: dict[tuple[int, int], tuple[int, int]] = {}
    keep = []
    near = [(a, b) for a in (-2, -1, 0, 1, 2) for b in (-2, -1, 0, 1, 2)]
    for k, (y, x) in enumerate(zip(iy.tolist(), ix.tolist())):
        gy, gx = int(y // cs), int(x // cs)
        for a, b in near:
            q = grid.get((gy + a, gx + b))
            if q is not None and (q[0] - y) ** 2 + (q[1] - x) ** 2 < r2:
                break
        else:
            grid[(gy, gx)] = (y, x)
            keep.append(k)
    sel = np.asarray(keep, dtype=np.int64)
    return iy[sel], ix[sel]


def wall_points(mask: np.ndarray, *, stride: int = 4, frame: int = 0) -> pd.DataFrame:
    """Sample points along the walls every ``stride`` pixels, with the local orientation.

    The mask is skeletonised; the image is cut into ``stride`` × ``stride``
    cells and each cell crossed by the skeleton gives its skeleton pixel
    nearest to the cell centre, so consecutive points along a wall are about
    ``stride`` px apart.  The orientation is the direction of the wall line
    (from the structure tensor of the mask, Gaussian sigma ``max(1.5, stride/2)``, at most 16),
    in radians in (−π/2, π/2], measured from the +x (column) axis towards +y
    (rows, downwards): 0 for a horizontal wall, ±π/2 for a vertical one.

    Parameters
    ----------
    mask : ndarray
        (Y, X) bool wall mask.
    stride : int
        Sampling distance in pixels (≥ 1).
    frame : int
        Value of the ``frame`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``y, x`` (float64), ``frame`` (int64), ``orientation`` (float64).
    """
    check_range("stride", stride, low=1)
    stride = int(stride)
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise IvaeError(f"mask must be 2-D (Y, X); got shape {m.shape}")
    skel = morphology.skeletonize(m) if m.any() else m
    iy, ix = np.nonzero(skel)
    if len(iy) == 0:
        return pd.DataFrame(
            {
                "y": np.zeros(0),
                "x": np.zeros(0),
                "frame": np.zeros(0, dtype=np.int64),
                "orientation": np.zeros(0),
            }
        )
    py, px = _poisson_disk(iy, ix, float(stride))
    ts = min(max(1.5, stride / 2.0), _MAX_TENSOR_SIGMA)
    arr, arc, acc = feature.structure_tensor(skel.astype(np.float64), sigma=ts, order="rc")
    a_rr, a_rc, a_cc = arr[py, px], arc[py, px], acc[py, px]
    grad_angle = 0.5 * np.arctan2(2 * a_rc, a_cc - a_rr)
    orient = grad_angle + np.pi / 2
    orient = np.where(orient > np.pi / 2, orient - np.pi, orient)
    orient = np.where(orient <= -np.pi / 2, orient + np.pi, orient)
    return pd.DataFrame(
        {
            "y": py.astype(np.float64),
            "x": px.astype(np.float64),
            "frame": np.full(len(py), int(frame), dtype=np.int64),
            "orientation": orient.astype(np.float64),
        }
    )
