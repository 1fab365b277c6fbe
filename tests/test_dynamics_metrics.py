"""Wall metrics per frame (issue 13 part 1): every column against hand-made truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize

from napari_ivae._errors import IvaeError
from napari_ivae.dynamics._geometry import link_lengths
from napari_ivae.dynamics.metrics import METRIC_COLUMNS, align_polarity, wall_metrics
from napari_ivae.dynamics.plot import plot_metrics
from napari_ivae.dynamics.series import series_metrics
from napari_ivae.simulate.switching import simulate_switching

YY, XX = np.mgrid[0:160, 0:160]


def _disc(r: float, cy: float = 80.3, cx: float = 79.6) -> np.ndarray:
    return np.where(np.hypot(YY - cy, XX - cx) <= r, 1, -1).astype(np.int8)


@pytest.mark.parametrize("radius", [3, 5, 10, 20, 40])
def test_disc_curvature_is_one_over_radius(radius):
    row = wall_metrics(_disc(radius)).iloc[0]
    assert row["mean_curvature"] * radius == pytest.approx(1.0, rel=0.10)
    assert row["domain_count"] == 2 and row["wall_count"] == 1


def test_straight_walls_length_and_curvature():
    h = wall_metrics(np.where(YY < 80, 1, -1)).iloc[0]
    # one row of 160 px, border 2 px on each side: pixels 2..157 -> 155 axis links
    assert h["wall_length_px"] == pytest.approx(155.0)
    assert h["mean_curvature"] < 0.01
    d = wall_metrics(np.where(YY < XX, 1, -1)).iloc[0]
    # the +1 side of y = x is the diagonal chain (y, y + 1); 2..156 counted -> 154 diagonal links
    assert d["wall_length_px"] == pytest.approx(154 * np.sqrt(2))
    assert d["wall_count"] == 1


def test_l_corner_is_not_counted_twice():
    walls = np.zeros((1, 40, 40), bool)
    walls[0, 20, 10:21] = True  # 11 px across, then 10 down
    walls[0, 21:31, 20] = True
    # the link rule: the corner pixel's diagonal neighbours share it, so 10 + 10 axis links
    assert link_lengths(walls[0])[0] == pytest.approx(20.0)
    # the one-pixel skeleton cuts the corner pixel: 9 + √2 + 9
    t = wall_metrics(np.ones((1, 40, 40), np.int8), walls=walls)
    assert t["wall_length_px"][0] == pytest.approx(18.0 + np.sqrt(2))
    short = np.zeros((1, 40, 40), bool)
    short[0, 5, 5:14] = True  # 8 links: too short to count as a wall
    assert wall_metrics(np.ones((1, 40, 40)), walls=short)["wall_count"][0] == 0


def test_domain_counts_and_convexity():
    d = -np.ones((100, 100), np.int8)
    d[10:30, 10:30] = 1  # square: convexity 1
    d[50:70, 50:70] = 1
    d[60:70, 60:70] = -1  # L of 300 px, hull 350 px² (the notch joins the background)
    d[85:88, 85:88] = 1  # 9 px: not a domain (< 20 px)
    shapes = wall_metrics(d).iloc[0]
    assert shapes["domain_count"] == 3  # background, square, L
    bg = 100 * 100 - 400 - 300 - 9
    ratios = {400: 1.0, 300: 300 / 350, bg: bg / 10000}  # the background's hull: the image
    want = sum(a * r for a, r in ratios.items()) / sum(ratios)
    assert shapes["domain_convexity"] == pytest.approx(want, rel=1e-9)


def test_switched_fraction_survives_a_flipped_phase_offset():
    s = simulate_switching((96, 96), n_frames=4, noise=4.0, seed=5)
    truth = s.switched_fraction - s.switched_fraction[0]
    flipped = s.domains.copy()
    flipped[2] *= -1  # what a 180° jump of the phase offset does to phase-oriented labels
    aligned, did = align_polarity(flipped)
    assert did.tolist() == [False, False, True, False]
    np.testing.assert_allclose(wall_metrics(aligned)["switched_fraction"], truth, atol=1e-9)
    phase = s.phase.copy()
    phase[2] = (phase[2] + 360.0) % 360.0 - 180.0
    with pytest.warns(UserWarning, match=r"frames \[2\]: the phase and the overlap"):
        res = series_metrics(phase, s.amplitude, register=False)
    np.testing.assert_allclose(res.table["switched_fraction"], truth, atol=0.02)


def test_align_by_phase_when_most_of_the_area_switches_at_once():
    s = simulate_switching((96, 96), n_frames=2, fraction_range=(0.1, 0.8), noise=4.0, seed=6)
    truth = s.switched_fraction[1] - s.switched_fraction[0]  # 0.7: more than half
    with pytest.warns(UserWarning, match="frames \\[1\\]"):
        wrong = series_metrics(s.phase, s.amplitude, register=False)
    assert wrong.table["switched_fraction"][1] == pytest.approx(1 - truth, abs=0.02)
    with pytest.warns(UserWarning, match="follow the phase"):
        res = series_metrics(s.phase, s.amplitude, register=False, align="phase")
    assert res.table["switched_fraction"][1] == pytest.approx(truth, abs=0.02)


def test_pinned_fraction_and_displacement_match_brute_force():
    s = simulate_switching((128, 128), n_frames=4, n_pins=12, pin_radius=4.0, seed=7)
    t = wall_metrics(s.domains)
    assert list(t.columns) == list(METRIC_COLUMNS)
    from napari_ivae.detect.walls import boundary_mask

    for k in range(3):
        a, b = (skeletonize(boundary_mask(s.domains[j])) for j in (k, k + 1))
        a[:2], a[-2:], a[:, :2], a[:, -2:] = False, False, False, False
        dist, _ = cKDTree(np.argwhere(b)).query(np.argwhere(a))
        assert t["wall_displacement_px"][k] == pytest.approx(dist.mean(), rel=1e-5)
        assert t["pinned_fraction"][k] == pytest.approx((dist <= 1.5).mean())
    assert np.isnan(t["pinned_fraction"].iloc[-1])
    free = wall_metrics(simulate_switching((128, 128), n_frames=4, seed=7).domains)
    # the walls held by the defects stay put: more pinned wall than without defects
    assert t["pinned_fraction"][:3].mean() > free["pinned_fraction"][:3].mean() + 0.05


def test_nm_twins_and_valid_mask(tmp_path):
    s = simulate_switching((96, 96), n_frames=3, seed=2)
    t = wall_metrics(s.domains, pixel_size_nm=(5.0, 5.0))
    np.testing.assert_allclose(t["wall_length_nm"], 5 * t["wall_length_px"])
    np.testing.assert_allclose(t["mean_curvature_per_nm"], t["mean_curvature"] / 5)
    half = np.zeros((96, 96), bool)
    half[:, :48] = True
    cut = wall_metrics(s.domains, valid=half)
    assert (cut["wall_length_px"] < t["wall_length_px"]).all()
    with pytest.raises(IvaeError, match="square"):
        wall_metrics(s.domains, pixel_size_nm=(5.0, 7.0))
    png = plot_metrics(t, tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_series_metrics_against_truth_and_points():
    s = simulate_switching((128, 128), n_frames=3, n_pins=6, seed=11)
    res = series_metrics(s.phase, s.amplitude)  # nothing static to register on: not shifted
    assert res.info["unshifted"] == [1, 2] and not res.shifts.any()
    sign = 1 if (res.domains[0] == s.domains[0]).mean() > 0.5 else -1
    truth = wall_metrics(sign * s.domains)
    np.testing.assert_allclose(
        res.table["switched_fraction"], truth["switched_fraction"], atol=0.02
    )
    rel = res.table["wall_length_px"] / truth["wall_length_px"] - 1
    assert np.abs(rel).max() < 0.08
    pts = res.points
    assert {"displacement_px", "pinned"} <= set(pts.columns)
    assert pts.loc[pts.frame == 2, "displacement_px"].isna().all()


def test_series_metrics_bad_input():
    s = simulate_switching((64, 64), n_frames=2, seed=1)
    with pytest.raises(IvaeError, match="single frame"):
        series_metrics(s.phase[:1], register=False)
    with pytest.raises(IvaeError, match="frame 1 has shape"):
        series_metrics([s.phase[0], s.phase[1][:60]], register=False)
    with pytest.raises(IvaeError, match="radians"):
        series_metrics(np.deg2rad(s.phase), phase_units="deg", register=False)
    with pytest.raises(IvaeError, match="reference"):
        series_metrics(s.phase)
    flat = s.phase.copy()
    flat[1] = 40.0 + np.random.default_rng(0).normal(0, 3, flat[1].shape)
    with pytest.raises(IvaeError, match="frame 1 has no domain walls"):
        series_metrics(flat, register=False)
