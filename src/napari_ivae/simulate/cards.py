"""The "cards" benchmark: rotated, shifted, sheared glyphs of 4 classes (torch-free).

Like the card-suit experiments of the jVAE literature, but every class is chosen
without rotational symmetry, so the true rotation of every image is defined
uniquely in [0, 2π):

==========  =====================================  ====================
class       shape                                  symmetry
==========  =====================================  ====================
0 "heart"   two discs on a downward triangle       mirror only (C1)
1 "club"    three discs and a triangular stem      mirror only (C1)
2 "L"       upright bar with a longer/shorter foot none (C1)
3 "F"       upright bar with two unequal arms      none (C1)
==========  =====================================  ====================

Each glyph is stored as a high-resolution signed-distance template (centred on
its centroid) that is sampled with :func:`scipy.ndimage.map_coordinates` at the
inversely transformed pixel grid, then turned into an anti-aliased image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk, polygon

from napari_ivae._errors import check_range

#: class names, in label order
CARD_CLASSES: tuple[str, ...] = ("heart", "club", "L", "F")
#: order of the rotational symmetry of each class (1 = none)
CARD_SYMMETRY: dict[str, int] = {"heart": 1, "club": 1, "L": 1, "F": 1}

_HALF = 24.0  # template half-extent in output pixels
_OS = 8  # template oversampling
_T = int(2 * _HALF * _OS)
_SCALE = 13.5  # glyph unit -> output pixels (farthest glyph point ≤ 16.8 px from its centroid)


@dataclass
class CardsSample:
    """The cards benchmark set.

    Attributes
    ----------
    images : np.ndarray
        (N, 1, size, size) float32, glyph ≈ 1 on background ≈ 0, plus noise.
    labels : np.ndarray
        (N,) int64 class index into :data:`CARD_CLASSES`.
    angles : np.ndarray
        (N,) float64 true rotation in radians, [0, 2π), counter-clockwise as
        displayed (row axis pointing down), about the glyph's centroid.
    shifts : np.ndarray
        (N, 2) float64 (dy, dx) in pixels: position of the glyph's centroid
        relative to the image centre ``((size - 1) / 2, (size - 1) / 2)``.
    shears : np.ndarray
        (N,) float64 shear factor k (x += k·y after the rotation).
    params : dict
        The arguments and the class names.
    """

    images: np.ndarray
    labels: np.ndarray
    angles: np.ndarray
    shifts: np.ndarray
    shears: np.ndarray = field(default_factory=lambda: np.zeros(0))
    params: dict = field(default_factory=dict)


def _to_rc(pts: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Glyph units (x, y_up) -> template (row, col) indices."""
    a = np.asarray(pts, dtype=float)
    c0 = (_T - 1) / 2
    return c0 - a[:, 1] * _SCALE * _OS, c0 + a[:, 0] * _SCALE * _OS


def _draw(mask: np.ndarray, kind: str, *args) -> None:
    if kind == "poly":
        r, c = _to_rc(args[0])
        rr, cc = polygon(r, c, mask.shape)
    else:
        (x, y), rad = args
        r, c = _to_rc([(x, y)])
        rr, cc = disk((r[0], c[0]), rad * _SCALE * _OS, shape=mask.shape)
    mask[rr, cc] = True


def _glyph_mask(name: str) -> np.ndarray:
    m = np.zeros((_T, _T), dtype=bool)
    if name == "heart":
        _draw(m, "disk", (-0.42, 0.38), 0.47)
        _draw(m, "disk", (0.42, 0.38), 0.47)
        _draw(m, "poly", [(-0.86, 0.22), (0.86, 0.22), (0.0, -0.95)])
    elif name == "club":
        _draw(m, "disk", (0.0, 0.52), 0.36)
        _draw(m, "disk", (-0.46, -0.08), 0.36)
        _draw(m, "disk", (0.46, -0.08), 0.36)
        _draw(m, "poly", [(-0.12, 0.1), (0.12, 0.1), (0.32, -0.95), (-0.32, -0.95)])
    elif name == "L":
        _draw(
            m,
            "poly",
            [(-0.6, 0.95), (-0.15, 0.95), (-0.15, -0.5), (0.7, -0.5), (0.7, -0.95), (-0.6, -0.95)],
        )
    elif name == "F":
        _draw(
            m,
            "poly",
            [
                (-0.55, 0.95),
                (0.75, 0.95),
                (0.75, 0.55),
                (-0.1, 0.55),
                (-0.1, 0.22),
                (0.45, 0.22),
                (0.45, -0.15),
                (-0.1, -0.15),
                (-0.1, -0.95),
                (-0.55, -0.95),
            ],
        )
    else:  # pragma: no cover - internal
        raise KeyError(name)
    return m


@cache
def _template(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance (output px, negative inside) and centroid (template index)."""
    m = _glyph_mask(name)
    sdf = (ndi.distance_transform_edt(~m) - ndi.distance_transform_edt(m)) / _OS
    centroid = np.array(ndi.center_of_mass(m))
    return sdf.astype(np.float32), centroid


def make_cards(
    n_per_class: int = 1500,
    *,
    size: int = 48,
    max_shift: float = 3.0,
    shear: float = 0.1,
    noise: float = 0.05,
    edge: float = 1.0,
    seed: int = 0,
) -> CardsSample:
    """Make the rotated-glyph benchmark set (4 classes × ``n_per_class`` images).

    Parameters
    ----------
    n_per_class : int
        Images per class (≥ 1); the set has ``4 * n_per_class`` images in a
        random order.
    size : int
        Image side in pixels (32–128).
    max_shift : float
        Shifts (dy, dx) are uniform in ``[-max_shift, max_shift]`` pixels.
    shear : float
        Shear factors are uniform in ``[-shear, shear]``.
    noise : float
        Standard deviation of the additive Gaussian noise (glyph contrast is 1).
    edge : float
        Width (px, ≈ 10–90 % rise) of the anti-aliased glyph edge (logistic in the
        signed distance, scale ``edge / 4``).
    seed : int
        Seed of the random generator.

    Returns
    -------
    CardsSample
        ``images`` (N, 1, size, size) float32, ``labels``, ``angles`` (radians,
        [0, 2π)), ``shifts`` (N, 2), ``shears``, ``params``.
    """
    check_range("n_per_class", n_per_class, low=1)
    check_range("size", size, low=32, high=128)
    check_range("max_shift", max_shift, low=0.0, high=size / 8)
    check_range("shear", shear, low=0.0, high=0.5)
    check_range("noise", noise, low=0.0)
    check_range("edge", edge, low=0.05, high=5.0)
    rng = np.random.default_rng(seed)
    n_per_class, size = int(n_per_class), int(size)
    n = 4 * n_per_class
    labels = rng.permutation(np.repeat(np.arange(4, dtype=np.int64), n_per_class))
    angles = rng.uniform(0.0, 2 * np.pi, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2))
    shears = rng.uniform(-shear, shear, n)

    c0 = (size - 1) / 2
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float64)
    py = gy.ravel()[None, :] - c0 - shifts[:, :1]  # (N, P)
    px = gx.ravel()[None, :] - c0 - shifts[:, 1:]
    px = px - shears[:, None] * py  # undo the shear (x += k·y)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    qy = cos * py + sin * px  # undo the rotation: R(-θ) on (row, col)
    qx = -sin * py + cos * px
    sdf = np.empty((n, size * size), dtype=np.float32)
    for k, name in enumerate(CARD_CLASSES):
        tmpl, centroid = _template(name)
        sel = labels == k
        coords = np.stack([qy[sel] * _OS + centroid[0], qx[sel] * _OS + centroid[1]])
        sdf[sel] = ndi.map_coordinates(
            tmpl, coords.reshape(2, -1), order=1, mode="nearest"
        ).reshape(-1, size * size)
    img = 1.0 / (1.0 + np.exp(np.clip(sdf / (edge / 4.0), -50, 50)))
    img = img + noise * rng.standard_normal(img.shape)
    return CardsSample(
        images=img.reshape(n, 1, size, size).astype(np.float32),
        labels=labels,
        angles=angles,
        shifts=shifts,
        shears=shears,
        params={
            "n_per_class": n_per_class,
            "size": size,
            "max_shift": float(max_shift),
            "shear": float(shear),
            "noise": float(noise),
            "edge": float(edge),
            "seed": seed,
            "classes": list(CARD_CLASSES),
        },
    )
