"""A cards set whose classes differ by a subtle feature under a dominant nuisance (torch-free).

Three classes: glyph ``"A"`` (the suits "heart"), ``"A_notch"`` (the same
heart with a small round bite out of the right lobe: ``notch`` of its area)
and ``"B"`` (the suits "club").  Every image draws a rotation in [0, 2π), a
scale, a contrast and a small shift, so that the pose and the contrast carry
most of the pixel variance while A and A_notch differ only in the notch.

The notch is cut out of the heart's own mask and the template keeps the
un-notched centroid, so an A and an A_notch drawn with the same pose differ
only inside the notch (and its anti-aliased rim).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk

from napari_ivae._errors import IvaeError, check_range
from napari_ivae.simulate._glyphs import _OS, _SCALE, _T, _glyph_mask
from napari_ivae.simulate.cards import CardsSample

__all__ = ["SUBTLE_CLASSES", "SubtleCardsSample", "make_subtle_cards", "render_subtle"]

#: class names, in label order
SUBTLE_CLASSES: tuple[str, ...] = ("A", "A_notch", "B")
_BASE = {"A": "heart", "A_notch": "heart", "B": "club"}
# notch centre on the right lobe's rim (glyph units, x right, y up): lobe centre
# (0.42, 0.38), radius 0.47, at 45° up-right
_NOTCH_AT = (0.42 + 0.47 * np.cos(np.pi / 4), 0.38 + 0.47 * np.sin(np.pi / 4))


@dataclass
class SubtleCardsSample(CardsSample):
    """The subtle cards set: :class:`~napari_ivae.simulate.CardsSample` plus the scales.

    Attributes
    ----------
    scales : np.ndarray
        (N,) float64 scale factor of every glyph (1 = the cards glyph size).

    Notes
    -----
    ``labels`` index :data:`SUBTLE_CLASSES` (``params["classes"]``),
    ``gains`` are the contrasts (also :attr:`contrasts`), ``shears`` are 0.
    """

    scales: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def contrasts(self) -> np.ndarray:
        """(N,) contrast of every image (the glyph's intensity over the background)."""
        return self.gains


def _notch_mask(notch: float) -> np.ndarray:
    """Template-resolution disk at the notch centre removing ``notch`` of the heart's area."""
    heart = _glyph_mask("heart")
    r0 = _T / 2 - _NOTCH_AT[1] * _SCALE * _OS
    c0 = _T / 2 + _NOTCH_AT[0] * _SCALE * _OS
    target = notch * heart.sum()
    lo, hi = 0.0, 0.6 * _SCALE * _OS
    for _ in range(30):  # bisection on the disk radius (template px)
        mid = (lo + hi) / 2
        m = np.zeros_like(heart)
        m[disk((r0, c0), mid, shape=m.shape)] = True
        lo, hi = (mid, hi) if (m & heart).sum() < target else (lo, mid)
    m = np.zeros_like(heart)
    m[disk((r0, c0), hi, shape=m.shape)] = True
    return m


@cache
def _subtle_template(name: str, notch: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance (output px, negative inside) and the un-notched centroid."""
    m = _glyph_mask(_BASE[name])
    centroid = np.array(ndi.center_of_mass(m))
    if name == "A_notch":
        m = m & ~_notch_mask(notch)
    sdf = (ndi.distance_transform_edt(~m) - ndi.distance_transform_edt(m)) / _OS
    return sdf.astype(np.float32), centroid


def render_subtle(
    labels: np.ndarray,
    angles: np.ndarray,
    scales: np.ndarray,
    shifts: np.ndarray,
    *,
    size: int = 48,
    notch: float = 0.04,
    edge: float = 1.0,
) -> np.ndarray:
    """Noise-free glyphs (contrast 1) of the subtle set at the given poses.

    Parameters
    ----------
    labels : np.ndarray
        (N,) class indices into :data:`SUBTLE_CLASSES`.
    angles : np.ndarray
        (N,) rotations in radians, counter-clockwise as displayed, about the
        glyph's (un-notched) centroid.
    scales : np.ndarray
        (N,) scale factors.
    shifts : np.ndarray
        (N, 2) (dy, dx) of the centroid from the image centre, pixels.
    size : int
        Image side in pixels.
    notch : float
        Fraction of glyph A's area that the notch removes.
    edge : float
        Width (px) of the anti-aliased edge.

    Returns
    -------
    np.ndarray
        (N, size, size) float64 in [0, 1].
    """
    labels, angles = np.asarray(labels), np.asarray(angles, dtype=float)
    scales, shifts = np.asarray(scales, dtype=float), np.asarray(shifts, dtype=float)
    c0 = (size - 1) / 2
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float64)
    py = (gy.ravel()[None, :] - c0 - shifts[:, :1]) / scales[:, None]
    px = (gx.ravel()[None, :] - c0 - shifts[:, 1:]) / scales[:, None]
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    qy, qx = cos * py + sin * px, -sin * py + cos * px  # R(-θ) on (row, col)
    sdf = np.empty((len(labels), size * size))
    for k, name in enumerate(SUBTLE_CLASSES):
        sel = labels == k
        if not sel.any():
            continue
        tmpl, cen = _subtle_template(name, float(notch))
        coords = np.stack([qy[sel] * _OS + cen[0], qx[sel] * _OS + cen[1]]).reshape(2, -1)
        vals = ndi.map_coordinates(tmpl, coords, order=1, mode="nearest")
        sdf[sel] = vals.reshape(-1, size * size) * scales[sel, None]  # distances scale too
    img = 1.0 / (1.0 + np.exp(np.clip(sdf / (edge / 4.0), -50, 50)))
    return img.reshape(-1, size, size)


def _check(size, notch, scale_range, contrast_range, noise, max_shift, edge) -> None:
    check_range("size", size, low=32, high=128)
    check_range("notch", notch, low=0.005, high=0.2)
    check_range("noise", noise, low=0.0)
    check_range("edge", edge, low=0.05, high=5.0)
    lo_s, hi_s = (float(v) for v in scale_range)
    if not 0.3 <= lo_s <= hi_s <= 1.3:
        raise IvaeError(
            f"scale_range must be (low, high) with 0.3 ≤ low ≤ high ≤ 1.3; got {tuple(scale_range)}"
        )
    lo_c, hi_c = (float(v) for v in contrast_range)
    if not 0.0 < lo_c <= hi_c <= 10.0:
        raise IvaeError(
            "contrast_range must be (low, high) with 0 < low ≤ high ≤ 10; "
            f"got {tuple(contrast_range)}"
        )
    reach = 16.8 * hi_s + max_shift  # farthest glyph point from the image centre
    if max_shift < 0 or reach > (size - 1) / 2:
        raise IvaeError(
            f"max_shift must be in [0, {max(0.0, (size - 1) / 2 - 16.8 * hi_s):.1f}] so the glyph "
            f"stays inside the {size}-px image at scale {hi_s}; got {max_shift}"
        )


def make_subtle_cards(
    n_per_class: int = 1000,
    *,
    size: int = 48,
    notch: float = 0.04,
    scale_range: tuple[float, float] = (0.75, 1.25),
    contrast_range: tuple[float, float] = (0.5, 1.5),
    noise: float = 0.05,
    max_shift: float = 2.0,
    edge: float = 1.0,
    seed: int = 0,
) -> SubtleCardsSample:
    """Make the subtle cards set (3 classes × ``n_per_class`` images, random order).

    Parameters
    ----------
    n_per_class : int
        Images per class (≥ 1).
    size : int
        Image side in pixels (32–128).
    notch : float
        Fraction of glyph A's area that the notch removes (0.005–0.2).
    scale_range : tuple of float
        Scales are uniform in ``[low, high]`` (within 0.3–1.3).
    contrast_range : tuple of float
        Contrasts (glyph over background) are uniform in ``[low, high]``.
    noise : float
        Standard deviation of the additive Gaussian noise.
    max_shift : float
        Shifts (dy, dx) are uniform in ``[-max_shift, max_shift]`` pixels.
    edge : float
        Width (px) of the anti-aliased glyph edge.
    seed : int
        Seed of the random generator.

    Returns
    -------
    SubtleCardsSample
        ``images`` (N, 1, size, size) float32, ``labels`` (into
        ``params["classes"]`` = ``["A", "A_notch", "B"]``), ``angles``
        (radians, [0, 2π)), ``scales``, ``gains`` (= ``contrasts``),
        ``shifts`` (N, 2), ``shears`` (zeros), ``params``.
    """
    check_range("n_per_class", n_per_class, low=1)
    _check(size, notch, scale_range, contrast_range, noise, max_shift, edge)
    n_per_class, size = int(n_per_class), int(size)
    rng = np.random.default_rng(seed)
    n = 3 * n_per_class
    labels = rng.permutation(np.repeat(np.arange(3, dtype=np.int64), n_per_class))
    angles = rng.uniform(0.0, 2 * np.pi, n)
    scales = rng.uniform(*scale_range, n)
    contrasts = rng.uniform(*contrast_range, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2))
    img = render_subtle(labels, angles, scales, shifts, size=size, notch=notch, edge=edge)
    img = img * contrasts[:, None, None] + noise * rng.standard_normal(img.shape)
    return SubtleCardsSample(
        images=img.reshape(n, 1, size, size).astype(np.float32),
        labels=labels,
        angles=angles,
        shifts=shifts,
        shears=np.zeros(n),
        gains=contrasts,
        scales=scales,
        params={
            "n_per_class": n_per_class,
            "size": size,
            "notch": float(notch),
            "scale_range": [float(v) for v in scale_range],
            "contrast_range": [float(v) for v in contrast_range],
            "noise": float(noise),
            "max_shift": float(max_shift),
            "edge": float(edge),
            "seed": seed,
            "classes": list(SUBTLE_CLASSES),
            "glyphs": ["heart", "heart+notch", "club"],
        },
    )
