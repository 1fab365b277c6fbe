"""Glyph templates of the cards benchmark: masks drawn from shapes, signed distances.

Every glyph is drawn at ``_OS``-fold oversampling as a mask (:func:`_glyph_mask`)
and stored as a signed-distance template centred on its centroid
(:func:`_template`), which :func:`~napari_ivae.simulate.make_cards` samples.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk, polygon

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
