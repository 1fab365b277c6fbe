"""The subtle cards set: classes differ exactly by the notch, pose truth, seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_ivae._errors import IvaeError
from napari_ivae.simulate import SUBTLE_CLASSES, make_subtle_cards
from napari_ivae.simulate._subtle import render_subtle

A, A_NOTCH, B = 0, 1, 2


def _pair(angle: float, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    sh = np.array([shift, shift], dtype=float)
    return render_subtle([A, A_NOTCH], [angle, angle], [scale, scale], sh)


def _notch_blob(angle: float, scale: float = 1.0, shift=(0.0, 0.0)):
    """(area, centroid offset from the glyph centre) of the A minus A_notch difference."""
    a, an = _pair(angle, scale, shift)
    diff = a - an
    assert diff.min() > -1e-6  # the notch only removes glyph
    blob = diff > 0.5  # inside the notch, away from its anti-aliased rim
    _, n = ndi.label(diff > 0.02)
    assert n == 1  # one connected region: the notch
    cy, cx = ndi.center_of_mass(diff)
    c0 = (a.shape[-1] - 1) / 2
    return diff.sum(), a.sum(), blob.sum(), np.array([cy - c0 - shift[0], cx - c0 - shift[1]])


def test_classes_differ_exactly_by_the_notch():
    notch_sum, glyph_sum, core, off = _notch_blob(0.7)
    assert 0.03 < notch_sum / glyph_sum < 0.05  # notch=0.04 of the glyph's area
    assert core >= 4
    # away from the notch the two renders are identical (to the interpolation)
    a, an = _pair(0.7)
    far = ndi.distance_transform_edt(~(np.abs(a - an) > 0.02)) > 2
    assert np.abs(a - an)[far].max() < 1e-4
    # the notch turns and scales with the glyph: its offset follows R(θ)·s
    _, _, _, off90 = _notch_blob(0.7 + np.pi / 2, scale=1.2)
    # counter-clockwise as displayed (row axis down): (dy, dx) -> (-dx, dy)
    np.testing.assert_allclose(off90, 1.2 * np.array([-off[1], off[0]]), atol=0.6)


def test_notch_option_sets_its_size():
    small = render_subtle([A, A_NOTCH], [0.0, 0.0], [1, 1], np.zeros((2, 2)), notch=0.02)
    big = render_subtle([A, A_NOTCH], [0.0, 0.0], [1, 1], np.zeros((2, 2)), notch=0.08)
    frac = [(r[0] - r[1]).sum() / r[0].sum() for r in (small, big)]
    np.testing.assert_allclose(frac, [0.02, 0.08], rtol=0.2)


def test_pose_truth():
    s = make_subtle_cards(20, noise=0.0, seed=5)
    assert s.params["classes"] == list(SUBTLE_CLASSES) == ["A", "A_notch", "B"]
    assert np.bincount(s.labels).tolist() == [20, 20, 20]
    img = s.images[:, 0].astype(float)
    c0 = (img.shape[-1] - 1) / 2
    # contrast: the glyph's plateau; scale: area ∝ s²
    np.testing.assert_allclose(img.max(axis=(1, 2)), s.contrasts, rtol=0.01)
    area = img.sum(axis=(1, 2)) / s.contrasts
    for k in (B,):
        sel = s.labels == k
        ratio = area[sel] / s.scales[sel] ** 2
        assert ratio.std() / ratio.mean() < 0.01
    # position: the un-notched glyphs' centroid sits at the centre + shift
    sel = s.labels != A_NOTCH
    com = np.array([ndi.center_of_mass(im) for im in img[sel]]) - c0
    np.testing.assert_allclose(com, s.shifts[sel], atol=0.05)
    # rotation: each glyph equals the upright render rotated by its angle
    for i in np.flatnonzero(s.labels == B)[:5]:
        up = render_subtle([B], [0.0], [s.scales[i]], np.zeros((1, 2)))[0]
        own = img[i] / s.contrasts[i]

        def corr(deg, up=up, i=i, own=own):
            turned = ndi.rotate(up, np.degrees(s.angles[i]) + deg, reshape=False, order=1)
            return np.corrcoef(ndi.shift(turned, s.shifts[i], order=1).ravel(), own.ravel())[0, 1]

        assert corr(0) > 0.97
        assert corr(0) > max(corr(d) for d in (-20, 20, 90, 180, 270)) + 0.02


def test_nuisance_dominates_the_pixel_variance():
    s = make_subtle_cards(100, noise=0.0, seed=2)
    x = s.images[:, 0].reshape(len(s.labels), -1).astype(float)
    a, an = x[s.labels == A], x[s.labels == A_NOTCH]
    between = ((a.mean(0) - an.mean(0)) ** 2).sum()
    within = a.var(0).sum()
    assert between < 0.02 * within


def test_seeds_are_deterministic():
    a, b = make_subtle_cards(4, seed=3), make_subtle_cards(4, seed=3)
    for name in ("images", "labels", "angles", "scales", "gains", "shifts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = make_subtle_cards(4, seed=4)
    assert not np.array_equal(a.images, c.images)


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"notch": 0.5}, "notch"),
        ({"scale_range": (1.0, 0.8)}, "scale_range"),
        ({"contrast_range": (0.0, 1.0)}, "contrast_range"),
        ({"max_shift": 5.0}, "max_shift"),
        ({"size": 16}, "size"),
    ],
)
def test_bad_options_are_one_sentence(kw, word):
    with pytest.raises(IvaeError, match=word):
        make_subtle_cards(2, **kw)
