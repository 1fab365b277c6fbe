"""Estimate the nearest-neighbour atom spacing of a lattice image.

Two stages (:func:`estimate_lattice`):

1. a first-pass period ``P`` from the image autocorrelation (the nearest
   significant autocorrelation peak, median over up to 3×3 tiles).  With two
   sublattices of very different brightness this is the period of the bright
   one (Mo–Mo in MoS2, A–A in a perovskite), and on noisy honeycombs it can be
   the ring period: the autocorrelation weighs a dim sublattice by the product
   of the two brightnesses, and its noise floor hides it;
2. the **motif**: the mean of the image around the brightest local maxima
   found at that period (hundreds of columns averaged, so its noise is
   ``1/sqrt(N)`` of the image's).  Every column near a bright column shows up
   in it as a peak, however dim (a 0.1× sublattice included), at its true
   vector.  The nearest peak that is significant (filtered height ≥ 6 standard
   errors of the mean and ≥ 3 % of the central column) is the nearest-neighbour
   vector; the width of the central peak gives the column width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_ivae.detect._acf import _MAX_SIDE as _MAX_SIDE
from napari_ivae.detect._acf import _acf_period, _prepare, autocorrelation_profile
from napari_ivae.detect._acf import _autocorrelation as _autocorrelation
from napari_ivae.detect._acf import _estimate_one as _estimate_one
from napari_ivae.detect._motif import _MOTIF_BUDGET as _MOTIF_BUDGET
from napari_ivae.detect._motif import _MOTIF_K as _MOTIF_K
from napari_ivae.detect._motif import _MOTIF_REL as _MOTIF_REL
from napari_ivae.detect._motif import _log as _log
from napari_ivae.detect._motif import _motif as _motif
from napari_ivae.detect._motif import _tile_motif
from napari_ivae.detect._motif import log_kernel_norm as log_kernel_norm

__all__ = ["LatticeEstimate", "autocorrelation_profile", "estimate_lattice", "estimate_spacing"]


@dataclass
class LatticeEstimate:
    """What :func:`estimate_lattice` found.

    Attributes
    ----------
    spacing : float
        Nearest-neighbour distance between atom columns, pixels.
    period : float
        First-pass autocorrelation period (the bright sublattice's), pixels.
    column_sigma : float
        Gaussian sigma of a bright column, pixels (from the motif's centre).
    neighbours : numpy.ndarray
        (K, 3) significant motif peaks: ``dy, dx`` from a bright column and
        the peak's filtered height relative to the central column, nearest first.
    n_averaged : int
        Number of bright columns averaged into the motif.
    """

    spacing: float
    period: float
    column_sigma: float
    neighbours: np.ndarray
    n_averaged: int


def _tile_boxes(ny: int, nx: int, tile: int) -> list[tuple[int, int, int, int]]:
    """``(y, x, height, width)`` of the motif tiles: the whole image, or 2×2 to 3×3 tiles."""
    if tile > 0.8 * min(ny, nx):
        return [(0, 0, ny, nx)]
    ys = np.linspace(0, ny - tile, max(2, min(3, 2 * ny // tile - 1))).astype(int)
    xs = np.linspace(0, nx - tile, max(2, min(3, 2 * nx // tile - 1))).astype(int)
    return [(y, x, tile, tile) for y in ys for x in xs]


def _consensus_spacing(dist: np.ndarray) -> float:
    """The smallest tile distance that a third of the tiles agree on (±12 %), their median."""
    need = max(1, int(np.ceil(len(dist) / 3)))
    spacing = float(np.median(dist))
    for d0 in np.sort(dist):
        close = np.abs(dist - d0) <= 0.12 * d0
        if close.sum() >= need:
            spacing = float(np.median(dist[close]))
            break
    return spacing


def estimate_lattice(image: np.ndarray, *, min_spacing: float = 3.0) -> LatticeEstimate:
    """Nearest-neighbour spacing, bright-lattice period and column width of a lattice image.

    See the module docstring for the method.  The motif is averaged per tile
    (so that one tile mostly holds one grain: in a polycrystal a dim
    sublattice's peaks would otherwise be spread over the grains'
    orientations); the spacing is the smallest nearest-peak distance that at
    least a third of the tiles agree on (±12 %), their median.  Works for
    honeycomb, hexagonal, square and perovskite-like lattices, with a second
    sublattice down to about 0.1× the brightness of the first.

    Parameters
    ----------
    image : ndarray
        2-D image of atoms (bright on dark, as HAADF-STEM).
    min_spacing : float
        Smallest spacing considered, in pixels.

    Returns
    -------
    LatticeEstimate

    Raises
    ------
    IvaeError
        When the image is too small, constant, or shows no periodic structure.
    """
    period = _acf_period(image, min_spacing=min_spacing)
    img = _prepare(image).astype(np.float32)
    ny, nx = img.shape
    radius = int(min(np.ceil(1.7 * period) + 2, min(ny, nx) // 3))
    tile = int(max(128, 2 * radius + 10 * period))
    found = []
    for y, x, th, tw in _tile_boxes(ny, nx, tile):
        t = img[y : y + th, x : x + tw]
        if not np.ptp(t) > 0:
            continue
        res = _tile_motif(t, period, radius, min_spacing)
        if res is not None:
            found.append(res)
    if not found:
        return LatticeEstimate(period, period, max(0.5, period / 5.0), np.zeros((0, 3)), 0)
    col_sigma = float(np.median([f[1] for f in found]))
    n_avg = int(sum(f[2] for f in found))
    with_nb = [f for f in found if len(f[0])]
    if not with_nb:
        return LatticeEstimate(period, period, col_sigma, np.zeros((0, 3)), n_avg)
    dist = np.array([np.hypot(*f[0][0, :2]) for f in with_nb])
    spacing = _consensus_spacing(dist)
    best = min(with_nb, key=lambda f: abs(np.hypot(*f[0][0, :2]) - spacing))
    return LatticeEstimate(spacing, period, col_sigma, best[0], n_avg)


def estimate_spacing(image: np.ndarray, *, min_spacing: float = 3.0) -> float:
    """Estimate the nearest-neighbour spacing of the atoms in an image.

    The nearest significant peak of the motif averaged around the bright
    columns (:func:`estimate_lattice`), so a dim second sublattice (0.1× and
    up) counts, and neither a superlattice nor a ring period is returned.

    Parameters
    ----------
    image : ndarray
        2-D image of atoms (bright on dark, as HAADF-STEM).
    min_spacing : float
        Smallest spacing considered, in pixels.

    Returns
    -------
    float
        The nearest-neighbour distance in pixels.

    Raises
    ------
    IvaeError
        When the image is too small, constant, or shows no periodic structure.
    """
    return estimate_lattice(image, min_spacing=min_spacing).spacing
