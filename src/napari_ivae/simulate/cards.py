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
from functools import cache

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk, polygon

from napari_ivae._errors import IvaeError, check_range

#: class names, in label order
CARD_CLASSES: tuple[str, ...] = ("heart", "club", "L", "F")
#: order of the rotational symmetry of each class (1 = none)
CARD_SYMMETRY: dict[str, int] = {"heart": 1, "club": 1, "L": 1, "F": 1}
#: named glyph families (every glyph without rotational symmetry)
GLYPH_FAMILIES: dict[str, tuple[str, ...]] = {
    "suits": CARD_CLASSES,
    "letters": ("P", "R", "G", "J"),
    "shapes": ("triangle", "cross", "ring", "arrow"),
    "tools": ("key", "flag", "hook", "boot"),
}

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


def _to_rc(pts, scale: float = _SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Glyph units (x, y_up) -> template (row, col) indices."""
    a = np.asarray(pts, dtype=float)
    c0 = (_T - 1) / 2
    return c0 - a[:, 1] * scale * _OS, c0 + a[:, 0] * scale * _OS


def _draw(mask: np.ndarray, kind: str, *args, scale: float = _SCALE, value: bool = True) -> None:
    if kind == "poly":
        r, c = _to_rc(args[0], scale)
        rr, cc = polygon(r, c, mask.shape)
    else:
        (x, y), rad = args
        r, c = _to_rc([(x, y)], scale)
        rr, cc = disk((r[0], c[0]), rad * scale * _OS, shape=mask.shape)
    mask[rr, cc] = value


#: polygons (glyph units, x right, y up, about ±1) of the extra families
_POLYS: dict[str, list[list[tuple[float, float]]]] = {
    "P": [
        [
            (-0.6, -0.95),
            (-0.6, 0.95),
            (0.35, 0.95),
            (0.7, 0.7),
            (0.7, 0.15),
            (0.35, -0.1),
            (-0.15, -0.1),
            (-0.15, -0.95),
        ]
    ],
    "R": [
        [
            (-0.6, -0.95),
            (-0.6, 0.95),
            (0.35, 0.95),
            (0.65, 0.7),
            (0.65, 0.2),
            (0.3, 0.0),
            (0.75, -0.95),
            (0.3, -0.95),
            (-0.1, -0.05),
            (-0.15, -0.05),
            (-0.15, -0.95),
        ]
    ],
    "J": [
        [
            (0.2, 0.95),
            (0.65, 0.95),
            (0.65, -0.55),
            (0.35, -0.95),
            (-0.35, -0.95),
            (-0.65, -0.6),
            (-0.65, -0.25),
            (-0.25, -0.25),
            (-0.2, -0.5),
            (0.2, -0.5),
        ]
    ],
    "triangle": [[(-0.9, -0.7), (0.95, -0.7), (-0.9, 0.85)]],
    "cross": [
        [
            (-0.18, 0.95),
            (0.18, 0.95),
            (0.18, 0.45),
            (0.65, 0.45),
            (0.65, 0.1),
            (0.18, 0.1),
            (0.18, -0.95),
            (-0.18, -0.95),
            (-0.18, 0.1),
            (-0.65, 0.1),
            (-0.65, 0.45),
            (-0.18, 0.45),
        ]
    ],
    "arrow": [
        [
            (0.0, 0.95),
            (0.7, 0.2),
            (0.22, 0.2),
            (0.22, -0.95),
            (-0.22, -0.95),
            (-0.22, 0.2),
            (-0.7, 0.2),
        ]
    ],
    "key": [
        [(-0.15, 0.3), (0.15, 0.3), (0.15, -0.95), (-0.15, -0.95)],
        [(0.15, -0.55), (0.5, -0.55), (0.5, -0.75), (0.15, -0.75)],
        [(0.15, -0.8), (0.4, -0.8), (0.4, -0.95), (0.15, -0.95)],
    ],
    "flag": [
        [(-0.6, -0.95), (-0.35, -0.95), (-0.35, 0.95), (-0.6, 0.95)],
        [(-0.35, 0.95), (0.75, 0.6), (-0.35, 0.2)],
    ],
    "hook": [[(-0.15, 0.95), (0.15, 0.95), (0.15, -0.4), (-0.15, -0.4)]],
    "boot": [[(-0.5, 0.95), (0.0, 0.95), (0.0, -0.4), (0.75, -0.4), (0.75, -0.95), (-0.5, -0.95)]],
}


def _family_mask(m: np.ndarray, name: str, scale: float) -> None:
    """Draw a glyph of the extra families into ``m``."""
    if name == "G":  # a ring open to the right, with an inward bar
        _draw(m, "disk", (0.0, 0.0), 0.95, scale=scale)
        _draw(m, "disk", (0.0, 0.0), 0.55, scale=scale, value=False)
        _draw(m, "poly", [(0.0, 0.0), (1.0, 0.0), (1.0, 0.6)], scale=scale, value=False)
        _draw(m, "poly", [(0.05, -0.12), (0.9, -0.12), (0.9, 0.1), (0.05, 0.1)], scale=scale)
    elif name == "ring":  # thick ring with a gap, and a dot on one side
        _draw(m, "disk", (0.0, 0.1), 0.85, scale=scale)
        _draw(m, "disk", (0.0, 0.1), 0.5, scale=scale, value=False)
        _draw(m, "poly", [(0.0, 0.1), (1.0, -0.3), (1.0, 0.5)], scale=scale, value=False)
        _draw(m, "disk", (-0.35, -0.82), 0.15, scale=scale)
    elif name == "hook":  # shaft with a curled end and a barb
        _draw(m, "poly", _POLYS["hook"][0], scale=scale)
        _draw(m, "disk", (0.35, -0.45), 0.5, scale=scale)
        _draw(m, "disk", (0.35, -0.45), 0.22, scale=scale, value=False)
        _draw(m, "poly", [(0.35, -0.45), (1.0, -0.2), (1.0, 0.3)], scale=scale, value=False)
    elif name == "key":
        _draw(m, "disk", (0.0, 0.55), 0.42, scale=scale)
        _draw(m, "disk", (0.0, 0.6), 0.17, scale=scale, value=False)
        for poly in _POLYS["key"]:
            _draw(m, "poly", poly, scale=scale)
    else:
        for poly in _POLYS[name]:
            _draw(m, "poly", poly, scale=scale)


def _random_polygon(glyph_seed: int, k: int) -> list[tuple[float, float]]:
    """A star-shaped polygon with 7–10 vertices at random radii (0.45–1).

    Drawn again until no turn by 360°/n (n = 2–6) maps it onto itself (IoU of
    the turned shape below 0.85), so its orientation is defined.
    """
    rng = np.random.default_rng([glyph_seed, k, 7919])
    while True:
        n = int(rng.integers(7, 11))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        if np.diff(np.r_[ang, ang[0] + 2 * np.pi]).min() < 0.25:  # no slivers
            continue
        pts = np.stack([np.cos(ang), np.sin(ang)], 1) * rng.uniform(0.45, 1.0, n)[:, None]
        if _max_self_overlap(pts) < 0.85:
            return [(float(x), float(y)) for x, y in pts]


def _max_self_overlap(pts: np.ndarray) -> float:
    """Largest IoU of a polygon with itself turned by 360°/n about its centroid."""
    g = (np.arange(64) + 0.5) / 32 - 1
    m = np.zeros((64, 64), bool)
    rr, cc = polygon(32 - pts[:, 1] * 30, 32 + pts[:, 0] * 30, m.shape)
    m[rr, cc] = True
    cy, cx = ndi.center_of_mass(m)
    yy, xx = np.meshgrid(g * 32 + 32 - 0.5, g * 32 + 32 - 0.5, indexing="ij")
    best = 0.0
    for n in range(2, 7):
        t = 2 * np.pi / n
        ry = cy + np.cos(t) * (yy - cy) - np.sin(t) * (xx - cx)
        rx = cx + np.sin(t) * (yy - cy) + np.cos(t) * (xx - cx)
        turned = ndi.map_coordinates(m.astype(float), [ry, rx], order=1) > 0.5
        best = max(best, (m & turned).sum() / max((m | turned).sum(), 1))
    return float(best)


def _glyph_mask(name: str, scale: float = _SCALE) -> np.ndarray:
    m = np.zeros((_T, _T), dtype=bool)
    if name.startswith("poly:"):
        _, gseed, k = name.split(":")
        _draw(m, "poly", _random_polygon(int(gseed), int(k)), scale=scale)
        return m
    if name not in CARD_CLASSES:
        _family_mask(m, name, scale)
        return m
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


#: glyph area (output px²) with ``equal_area=True``
EQUAL_AREA = 380.0


@cache
def _template(name: str, area: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance (output px, negative inside) and centroid (template index).

    ``area`` (output px²): the glyph scaled to that area; None: its own size.
    """
    m = _glyph_mask(name)
    if area is not None:
        own = m.sum() / _OS**2
        m = _glyph_mask(name, _SCALE * float(np.sqrt(area / own)))
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
