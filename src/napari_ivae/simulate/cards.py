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

Other glyph families (``glyphs=``) make cards-like sets that the models were
never tuned on: :data:`GLYPH_FAMILIES` (``"suits"``: the four above;
``"letters"``: P, R, G, J; ``"shapes"``: right triangle, Latin cross, broken
ring, arrow; ``"tools"``: key, flag, hook, boot), any list of their names, or
``"polygons"``: random star-shaped polygons drawn from ``glyph_seed`` (7–10
vertices; no rotational symmetry).  ``equal_area=True`` scales every glyph
to the same area (so size does not tell the classes apart) and ``gain``
draws a per-image contrast factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from napari_ivae._errors import IvaeError, check_range
from napari_ivae.simulate._glyphs import (
    _OS,
    CARD_CLASSES,
    CARD_SYMMETRY,
    EQUAL_AREA,
    GLYPH_FAMILIES,
    _template,
)

__all__ = [
    "CARD_CLASSES",
    "CARD_SYMMETRY",
    "EQUAL_AREA",
    "GLYPH_FAMILIES",
    "CardsSample",
    "make_cards",
]


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
    gains : np.ndarray
        (N,) float64 contrast factor of every image (1 when ``gain=0``).
    """

    images: np.ndarray
    labels: np.ndarray
    angles: np.ndarray
    shifts: np.ndarray
    shears: np.ndarray = field(default_factory=lambda: np.zeros(0))
    params: dict = field(default_factory=dict)
    gains: np.ndarray = field(default_factory=lambda: np.zeros(0))


def make_cards(
    n_per_class: int = 1500,
    *,
    size: int = 48,
    max_shift: float = 3.0,
    shear: float = 0.1,
    noise: float = 0.05,
    edge: float = 1.0,
    seed: int = 0,
    glyphs: str | tuple[str, ...] | list[str] = "suits",
    n_classes: int = 4,
    glyph_seed: int = 0,
    equal_area: bool = False,
    gain: float = 0.0,
) -> CardsSample:
    """Make a rotated-glyph set (K classes × ``n_per_class`` images).

    The defaults make the project's cards benchmark (4 suits-like glyphs);
    the same seed gives the same images as before the other options existed.

    Parameters
    ----------
    n_per_class : int
        Images per class (≥ 1); the set has ``K * n_per_class`` images in a
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
    glyphs : str or sequence of str
        A family of :data:`GLYPH_FAMILIES` (``"suits"``, ``"letters"``,
        ``"shapes"``, ``"tools"``), ``"polygons"`` (``n_classes`` random
        polygons from ``glyph_seed``), or a list of glyph names of the families
        (2–8 of them).
    n_classes : int
        Number of random polygons for ``glyphs="polygons"`` (2–8).
    glyph_seed : int
        Seed of the random polygons.
    equal_area : bool
        Scale every glyph to :data:`EQUAL_AREA` px² (48 px crops), so that
        the classes do not differ in size.
    gain : float
        Per-image contrast factor uniform in ``[1 - gain, 1 + gain]`` (0–0.9;
        0 = none), drawn from its own random stream.

    Returns
    -------
    CardsSample
        ``images`` (N, 1, size, size) float32, ``labels``, ``angles`` (radians,
        [0, 2π)), ``shifts`` (N, 2), ``shears``, ``gains``, ``params``
        (``params["classes"]``: the glyph names in label order).
    """
    check_range("n_per_class", n_per_class, low=1)
    check_range("size", size, low=32, high=128)
    check_range("max_shift", max_shift, low=0.0, high=size / 8)
    check_range("shear", shear, low=0.0, high=0.5)
    check_range("noise", noise, low=0.0)
    check_range("edge", edge, low=0.05, high=5.0)
    check_range("gain", gain, low=0.0, high=0.9)
    names = _glyph_names(glyphs, n_classes, glyph_seed)
    area = EQUAL_AREA * (size / 48.0) ** 2 if equal_area else None
    rng = np.random.default_rng(seed)
    n_per_class, size = int(n_per_class), int(size)
    kk = len(names)
    n = kk * n_per_class
    labels = rng.permutation(np.repeat(np.arange(kk, dtype=np.int64), n_per_class))
    angles = rng.uniform(0.0, 2 * np.pi, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2))
    shears = rng.uniform(-shear, shear, n)

    sdf = _sample_templates(names, area, labels, angles, shifts, shears, size)
    img = 1.0 / (1.0 + np.exp(np.clip(sdf / (edge / 4.0), -50, 50)))
    gains = np.ones(n)
    if gain > 0:  # own stream: the rest of a seed's sample is unchanged
        gains = np.random.default_rng([seed, 1]).uniform(1 - gain, 1 + gain, n)
        img = img * gains[:, None]
    img = img + noise * rng.standard_normal(img.shape)
    return CardsSample(
        images=img.reshape(n, 1, size, size).astype(np.float32),
        labels=labels,
        angles=angles,
        shifts=shifts,
        shears=shears,
        gains=gains,
        params={
            "n_per_class": n_per_class,
            "size": size,
            "max_shift": float(max_shift),
            "shear": float(shear),
            "noise": float(noise),
            "edge": float(edge),
            "seed": seed,
            "glyphs": glyphs if isinstance(glyphs, str) else list(glyphs),
            "glyph_seed": glyph_seed,
            "equal_area": bool(equal_area),
            "gain": float(gain),
            "classes": list(names),
        },
    )


def _glyph_names(glyphs, n_classes: int, glyph_seed: int) -> tuple[str, ...]:
    """The glyph names (label order) that ``glyphs`` asks for."""
    known = {g for fam in GLYPH_FAMILIES.values() for g in fam}
    if isinstance(glyphs, str):
        if glyphs == "polygons":
            check_range("n_classes", n_classes, low=2, high=8)
            return tuple(f"poly:{int(glyph_seed)}:{k}" for k in range(n_classes))
        if glyphs not in GLYPH_FAMILIES:
            raise IvaeError(
                f"glyphs={glyphs!r} must be one of {[*sorted(GLYPH_FAMILIES), 'polygons']} "
                "or a list of glyph names"
            )
        return GLYPH_FAMILIES[glyphs]
    names = tuple(glyphs)
    bad = [g for g in names if g not in known]
    if bad or not 2 <= len(names) <= 8 or len(set(names)) != len(names):
        raise IvaeError(f"glyphs={list(names)!r} must be 2–8 different names of {sorted(known)}")
    return names


def _sample_templates(
    names: tuple[str, ...],
    area: float | None,
    labels: np.ndarray,
    angles: np.ndarray,
    shifts: np.ndarray,
    shears: np.ndarray,
    size: int,
) -> np.ndarray:
    """Signed distance (N, size²) of every image's glyph, sampled at the inversely transformed grid."""
    n = len(labels)
    c0 = (size - 1) / 2
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float64)
    py = gy.ravel()[None, :] - c0 - shifts[:, :1]  # (N, P)
    px = gx.ravel()[None, :] - c0 - shifts[:, 1:]
    px = px - shears[:, None] * py  # undo the shear (x += k·y)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    qy = cos * py + sin * px  # undo the rotation: R(-θ) on (row, col)
    qx = -sin * py + cos * px
    sdf = np.empty((n, size * size), dtype=np.float32)
    for k, name in enumerate(names):
        tmpl, centroid = _template(name, area)
        sel = labels == k
        coords = np.stack([qy[sel] * _OS + centroid[0], qx[sel] * _OS + centroid[1]])
        sdf[sel] = ndi.map_coordinates(
            tmpl, coords.reshape(2, -1), order=1, mode="nearest"
        ).reshape(-1, size * size)
    return sdf
