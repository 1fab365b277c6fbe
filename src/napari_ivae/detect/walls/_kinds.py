"""Wall kinds: 180° walls (the phase reverses), all walls (amplitude valleys), non-180° walls.

The method's "subtraction": every wall is a dark line of the amplitude,
whether the polarisation reverses across it (180°) or only rotates
(ferroelastic a/c walls: a small phase step); the 180° walls are those the
phase detectors find.  So

- ``"180"``: the phase detector's walls;
- ``"non180"``: the amplitude valleys (:func:`~napari_ivae.detect.walls.ridge_walls`)
  farther than :data:`KIND_TOLERANCE` px from every 180° wall pixel, pieces
  shorter than :data:`MIN_PIECE` px left by the subtraction dropped; the
  others regrown along their own valley line for 2 px, so that a non-180°
  wall crossing or meeting a 180° wall goes on up to it;
- ``"all"``: the 180° walls plus the non-180° walls (each wall once, at the
  position its own detector gives).

:func:`wall_maps` turns the kinds into image channels (smoothed lines) for a
"multilayer" crop: a 180° wall point shows a line in both the 180° and the
all-walls channel, a non-180° point only in the latter.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.detect.walls._frames import _drop_small
from napari_ivae.detect.walls._valleys import ridge_walls

__all__ = [
    "KINDS",
    "KIND_TOLERANCE",
    "MAP_KINDS",
    "MIN_PIECE",
    "WallKind",
    "kind_frame",
    "point_kinds",
    "wall_maps",
]

WallKind = Literal["180", "all", "non180"]
KINDS: tuple[str, ...] = ("180", "all", "non180")
#: an amplitude valley pixel within this distance (px) of a 180° wall pixel is that 180° wall
KIND_TOLERANCE = 3.0
#: non-180° wall pieces shorter than this (px) after the subtraction are dropped
MIN_PIECE = 8
#: the channels :func:`wall_maps` can make
MAP_KINDS: tuple[str, ...] = ("180", "all", "non180")


def kind_frame(
    kind: str, mask180: np.ndarray | None, amplitude: np.ndarray, *, sigma: float
) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """The walls of one kind in one frame, the per-kind masks and counts.

    Parameters
    ----------
    kind : {"all", "non180"}
        Which walls to return.
    mask180 : ndarray or None
        (Y, X) bool 180° walls from the phase; None without a phase (``"all"``
        only: every valley, kind unknown).
    amplitude : ndarray
        (Y, X) amplitude.
    sigma : float
        Valley filter scale, pixels.

    Returns
    -------
    mask : ndarray
        (Y, X) bool walls of ``kind``.
    masks : dict
        ``"180"``, ``"non180"``, ``"all"`` bool masks (empty dict without a phase).
    info : dict
        ``wall_px_180``, ``wall_px_non180`` (pixels of each kind; absent without a phase).
    """
    valleys = ridge_walls(amplitude, sigma=max(float(sigma), 1.0))
    if mask180 is None:
        return valleys, {}, {}
    non = subtract_180(valleys, mask180)
    masks = {"180": mask180, "non180": non, "all": mask180 | non}
    info = {"wall_px_180": int(mask180.sum()), "wall_px_non180": int(non.sum())}
    return masks[kind], masks, info


def subtract_180(valleys: np.ndarray, mask180: np.ndarray) -> np.ndarray:
    """Valley pixels farther than :data:`KIND_TOLERANCE` px from the 180° walls, short pieces dropped."""
    if not mask180.any():
        return _drop_small(valleys, MIN_PIECE, connectivity=2)
    near = ndimage.distance_transform_edt(~mask180) <= KIND_TOLERANCE
    seeds = _drop_small(valleys & ~near, MIN_PIECE, connectivity=2)
    if not seeds.any():
        return seeds
    # a non-180° wall that crosses or meets a 180° wall goes on up to it: regrow the
    # pieces along their own valley line through the band the subtraction removed
    steps = int(np.ceil(KIND_TOLERANCE)) - 1
    eight = ndimage.generate_binary_structure(2, 2)
    return ndimage.binary_dilation(seeds, structure=eight, iterations=steps, mask=valleys)


def point_kinds(points: pd.DataFrame, kind: str, mask180: np.ndarray | None) -> pd.Series:
    """The kind of each wall point of one frame: ``"180"``, ``"non180"`` or ``"unknown"``.

    ``kind="180"`` or ``"non180"``: every point has that kind; ``"all"``: a
    point on a pixel of ``mask180`` is 180°, the others non-180°.  Without
    ``mask180`` (no phase) the kind is ``"unknown"``.
    """
    n = len(points)
    if mask180 is None:
        return pd.Series(["unknown"] * n, index=points.index, dtype=object)
    if kind != "all" or n == 0:
        return pd.Series([kind] * n, index=points.index, dtype=object)
    iy = np.clip(np.rint(points["y"].to_numpy()).astype(int), 0, mask180.shape[0] - 1)
    ix = np.clip(np.rint(points["x"].to_numpy()).astype(int), 0, mask180.shape[1] - 1)
    kinds = np.where(mask180[iy, ix], "180", "non180")
    return pd.Series(kinds, index=points.index, dtype=object)


def wall_maps(result, *, kinds=("180", "all"), sigma: float = 1.0) -> dict[str, np.ndarray]:
    """Wall maps of a :class:`~napari_ivae.detect.WallResult` as image channels ("multilayer").

    Each map is a kind's wall mask blurred by a Gaussian of ``sigma`` px and
    scaled so that a straight wall line peaks at 1 (float32, the result's
    shape).  Cropped together around the wall points, a 180° point sees a
    line in every channel, a non-180° point none in the ``"180"`` channel:
    an rVAE trained on such a stack separates the kinds in its latent.

    Parameters
    ----------
    result : WallResult
        From :func:`~napari_ivae.detect.detect_walls` with ``kind="all"`` or
        ``"non180"`` (both a phase and an amplitude).
    kinds : sequence of {"180", "all", "non180"}
        The channels, in order (default the 180° and the all-walls map).
    sigma : float
        Blur in pixels, 0 ≤ sigma ≤ 10 (0: the binary masks).

    Returns
    -------
    dict
        ``{"180 walls": map, "all walls": map, ...}`` in ``kinds`` order: pass
        ``list(maps.values())`` to :func:`~napari_ivae.crop.crop` with
        ``channels=list(maps)``.
    """
    masks = getattr(result, "kind_masks", None)
    if not masks:
        raise IvaeError(
            "wall_maps needs the walls of every kind; run detect_walls with kind='all' or "
            "'non180' and both a phase and an amplitude"
        )
    kinds = tuple(kinds)
    if not kinds:
        raise IvaeError("kinds=() is empty; expected one or more of '180', 'all', 'non180'")
    for k in kinds:
        check_choice("kinds", k, MAP_KINDS)
    check_range("sigma", sigma, low=0.0, high=10.0)
    return {f"{k} walls": _blur_lines(masks[k], float(sigma)) for k in kinds}


def _blur_lines(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A bool wall mask ((Y, X) or (T, Y, X)) as lines of peak ≈ 1, blurred in-plane."""
    m = mask.astype(np.float32)
    if sigma <= 0:
        return m
    s = (0.0, sigma, sigma) if m.ndim == 3 else sigma
    return (ndimage.gaussian_filter(m, s) * np.sqrt(2.0 * np.pi) * sigma).astype(np.float32)
