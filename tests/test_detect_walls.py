"""Domain-wall detection against the PFM simulator's exact ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.detect import WallResult, detect_walls, wall_points
from napari_ivae.detect._metrics import wall_f1
from napari_ivae.detect.walls import phase_to_radians
from napari_ivae.simulate import simulate_pfm, simulate_switching

#: hard case: wrapped phase, strong drift, scan-line offsets and noise
HARD = {"noise": 30.0, "drift": 120.0, "scanline_noise": 15.0}


def _agreement(domains: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of pixels with the right domain, up to the global sign."""
    a = float((domains == truth).mean())
    return max(a, 1.0 - a)


@pytest.fixture(scope="module")
def default_sample():
    return simulate_pfm((192, 192), seed=1000)


@pytest.fixture(scope="module")
def hard_sample():
    return simulate_pfm((192, 192), seed=1001, **HARD)


@pytest.mark.parametrize("which", ["default_sample", "hard_sample"])
def test_gaussian_walls_and_domains(which, request):
    s = request.getfixturevalue(which)
    res = detect_walls(s.phase, s.amplitude, method="gaussian")
    assert isinstance(res, WallResult)
    assert res.mask.shape == s.phase.shape and res.mask.dtype == bool
    assert wall_f1(res.mask, s.walls)["f1"] >= 0.95
    assert res.domains.dtype == np.int8 and set(np.unique(res.domains)) == {-1, 1}
    assert _agreement(res.domains, s.domains) >= 0.98
    # thin: far fewer wall pixels than the 2-px-thick truth
    assert res.mask.sum() < 0.75 * s.walls.sum()


@pytest.mark.parametrize("which", ["default_sample", "hard_sample"])
def test_canny_walls(which, request):
    s = request.getfixturevalue(which)
    res = detect_walls(s.phase, s.amplitude, method="canny")
    assert wall_f1(res.mask, s.walls)["f1"] >= 0.85
    assert res.domains is None


def test_phase_only_radians_and_seeds():
    for seed in (1002, 1003):
        s = simulate_pfm((160, 160), units="rad", seed=seed, **HARD)
        res = detect_walls(s.phase)  # no amplitude
        assert wall_f1(res.mask, s.walls)["f1"] >= 0.95
        assert wall_f1(detect_walls(s.phase, method="canny").mask, s.walls)["f1"] >= 0.85


def test_degrees_and_radians_give_the_same_walls(default_sample):
    s = default_sample
    deg = detect_walls(s.phase, s.amplitude)
    rad = detect_walls(np.deg2rad(s.phase), s.amplitude)
    forced = detect_walls(np.deg2rad(s.phase), s.amplitude, phase_units="rad")
    assert (deg.mask == rad.mask).mean() > 0.999
    assert np.array_equal(rad.mask, forced.mask)


def test_phase_unit_detection_warns_when_ambiguous():
    with pytest.warns(UserWarning, match="taken as degrees"):
        _, units = phase_to_radians(np.array([0.0, 10.0]))
    assert units == "deg"
    _, units = phase_to_radians(np.array([-np.pi, np.pi]))
    assert units == "rad"
    _, units = phase_to_radians(np.array([-90.0, 270.0]))
    assert units == "deg"
    with pytest.warns(UserWarning, match="raw instrument"):
        phase_to_radians(np.array([0.0, 32767.0]))
    with pytest.warns(UserWarning, match="taken as radians"):
        phase_to_radians(np.array([0.0, 0.2]))


def test_amplitude_only(default_sample):
    s = default_sample
    for method in ("gaussian", "canny"):
        res = detect_walls(amplitude=s.amplitude, method=method)
        assert res.domains is None
        assert wall_f1(res.mask, s.walls)["f1"] >= 0.9


def test_switching_stack_keeps_the_domain_sign():
    s = simulate_switching((128, 128), n_frames=4, seed=1004)
    res = detect_walls(s.phase, s.amplitude)
    assert res.mask.shape == s.phase.shape
    assert res.domains.shape == s.phase.shape
    # one global sign for the whole stack: align on frame 0, then every frame agrees
    sign = 1 if (res.domains[0] == s.domains[0]).mean() > 0.5 else -1
    for t in range(len(s.phase)):
        assert (sign * res.domains[t] == s.domains[t]).mean() >= 0.98
    frac = res.switched_fraction if sign > 0 else 1 - res.switched_fraction
    np.testing.assert_allclose(frac, s.switched_fraction, atol=0.02)
    assert set(res.points["frame"].unique()) == set(range(len(s.phase)))
    assert wall_f1(res.mask, s.walls)["f1"] >= 0.95


def test_wall_points_orientation_and_stride():
    mask = np.zeros((100, 100), dtype=bool)
    mask[50, 10:90] = True  # horizontal wall
    pts = wall_points(mask, stride=5, frame=3)
    assert list(pts.columns) == ["y", "x", "frame", "orientation"]
    assert (pts["frame"] == 3).all()
    inner = pts[(pts["x"] > 20) & (pts["x"] < 80)]
    assert np.allclose(inner["orientation"], 0.0, atol=0.1)
    gaps = np.diff(np.sort(pts["x"].to_numpy()))
    assert 4 <= np.median(gaps) <= 6
    # vertical and diagonal walls
    v = np.zeros((100, 100), dtype=bool)
    v[10:90, 40] = True
    ov = wall_points(v, stride=4)["orientation"].to_numpy()[3:-3]
    assert np.allclose(np.abs(ov), np.pi / 2, atol=0.1)
    d = np.zeros((100, 100), dtype=bool)
    rr = np.arange(10, 90)
    d[rr, rr] = True  # y = x: 45° downwards to the right
    pd_ = wall_points(d, stride=4)
    assert np.allclose(pd_["orientation"].to_numpy()[3:-3], np.pi / 4, atol=0.1)
    # about `stride` apart along a diagonal too (not stride * sqrt(2))
    step = np.hypot(np.diff(pd_["y"].to_numpy()), np.diff(pd_["x"].to_numpy()))
    assert 4 <= step.min() and step.max() <= 5.5


def test_points_follow_the_mask(default_sample):
    res = detect_walls(default_sample.phase, default_sample.amplitude, stride=6)
    pts = res.points
    assert len(pts) > 20
    yi, xi = pts["y"].to_numpy().astype(int), pts["x"].to_numpy().astype(int)
    assert res.mask[yi, xi].all()


def test_single_domain_warns_and_canny_ignores_noise():
    rng = np.random.default_rng(1005)
    phase = 40.0 + rng.normal(0, 20.0, (128, 128))  # one domain, noisy, degrees
    phase[0, 0] = -150.0  # make the span unambiguously degrees
    for method in ("gaussian", "canny"):
        with pytest.warns(UserWarning, match="no walls"):
            res = detect_walls(phase, method=method, phase_units="deg")
        assert res.mask.sum() == 0


def test_bad_inputs(default_sample):
    s = default_sample
    with pytest.raises(IvaeError, match="differs"):
        detect_walls(s.phase, s.amplitude[:100])
    with pytest.raises(IvaeError, match="both are None"):
        detect_walls()
    with pytest.raises(IvaeError, match="constant"):
        detect_walls(np.zeros((64, 64)))
    with pytest.raises(IvaeError, match="NaN"):
        detect_walls(np.full((64, 64), np.nan))
    with pytest.raises(IvaeError, match="too small"):
        detect_walls(np.random.default_rng(0).normal(size=(8, 8)))
    with pytest.raises(IvaeError, match="method"):
        detect_walls(s.phase, method="sobel")
    with pytest.raises(IvaeError, match="stride"):
        detect_walls(s.phase, stride=0)
    with pytest.raises(IvaeError, match="2-D"):
        detect_walls(np.ones((2, 2, 32, 32)))


def test_dcnn_dispatch_thins_the_probability_map(monkeypatch, default_sample):
    """method="dcnn": the network's probability map becomes thin walls and points.

    The network itself is tested in test_dcnn.py; here a stand-in returns a
    blurred version of the true walls, which must come back as thin lines on
    the walls, frame by frame, with the phase handed over in radians.
    """
    from scipy import ndimage

    from napari_ivae.detect import dcnn

    seen = {}

    def fake_probability(phase2d, amplitude2d, *, phase_units="auto", device="auto"):
        seen["units"] = phase_units
        seen["max_phase"] = float(np.abs(phase2d).max())
        return ndimage.gaussian_filter(default_sample.walls.astype(np.float32), 1.5) * 2.5

    monkeypatch.setattr(dcnn, "wall_probability", fake_probability)
    s = default_sample
    res = detect_walls(np.stack([s.phase, s.phase]), np.stack([s.amplitude] * 2), method="dcnn")
    assert seen["units"] == "rad" and seen["max_phase"] <= np.pi + 1e-5
    assert res.mask.shape == (2, *s.phase.shape) and res.domains is None
    assert wall_f1(res.mask[1], s.walls)["f1"] >= 0.95
    assert res.mask[0].sum() < 0.75 * s.walls.sum()  # thinned
    assert set(res.points["frame"]) == {0, 1}
    with pytest.raises(IvaeError, match="threshold"):
        detect_walls(s.phase, method="dcnn", threshold=1.5)


@pytest.mark.real
@pytest.mark.parametrize(
    ("name", "min_agree"), [("scan_0001.ibw", 0.97), ("PTO_Funakubo0007.tif", 0.96)]
)
def test_real_pfm_walls_follow_amplitude_dips_and_phase_levels(real_data, name, min_agree):
    """Real PFM: the walls sit on the dark lines of the amplitude, the domains on the phase levels."""
    from scipy import ndimage

    from napari_ivae.io import read

    layers = read(real_data / name)
    phase = np.asarray(next(ly for ly in layers if ly.role == "phase").data, dtype=np.float64)
    amp = np.asarray(next(ly for ly in layers if ly.role == "amplitude").data, dtype=np.float64)
    res = detect_walls(phase, amp)
    assert res.mask.sum() > 300
    # walls are the dark lines of the amplitude (instrument reading, independent of the phase)
    assert np.median(amp[res.mask]) < 0.4 * np.median(amp)
    # domains = the two phase levels (a plain two-level split of these clean phases)
    z = np.exp(1j * np.deg2rad(phase))
    axis = np.angle(np.mean(z**2)) / 2
    simple = ndimage.median_filter(np.real(z * np.exp(-1j * axis)), 5) > 0
    assert _agreement(res.domains > 0, simple) >= min_agree


def test_clean_single_domain_gives_no_canny_edges():
    """A low-noise single-domain crop: no walls in the truth, none found (Canny's floor)."""
    s = simulate_pfm((64, 64), seed=2)
    crop = (slice(0, 32), slice(0, 32))
    assert not s.walls[crop].any()
    for method in ("canny", "gaussian"):
        with pytest.warns(UserWarning, match="no walls"):
            res = detect_walls(s.phase[crop], s.amplitude[crop], method=method)
        assert not res.mask.any()


def test_core_detection_stops_between_frames_when_asked():
    from napari_ivae import detect
    from napari_ivae._errors import Cancelled

    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2  # stop before the third frame

    img = np.random.default_rng(0).normal(size=(5, 64, 64))
    with pytest.raises(Cancelled, match="frame 2"):
        detect.detect_walls(img, method="gaussian", phase_units="rad", cancel=cancel)


# --------------------------------------------------------------------------- dots, noise, report


def _dot_recall(sample, mask) -> float:
    from scipy import ndimage

    dt = ndimage.distance_transform_edt(~mask)
    yy, xx = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    found = []
    for cy, cx, r, _sign in sample.dots:
        ring = sample.walls & ((yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 1.5) ** 2)
        found.append((dt[ring] <= 2).mean() >= 0.5)
    return float(np.mean(found))


def test_simulator_dots_and_artefacts_keep_existing_seeds():
    base = simulate_pfm((96, 96), seed=1020)
    s = simulate_pfm((96, 96), seed=1020, dots=6, noisy_patches=1, line_glitches=2, tip_bands=1)
    assert base.noisy is None and base.dots is None
    assert s.dots.shape[1] == 4 and 1 <= len(s.dots) <= 6
    assert np.all((s.dots[:, 2] >= 2) & (s.dots[:, 2] <= 6))
    # every dot is a disc of the opposite polarisation in the truth
    for cy, cx, _r, sign in s.dots:
        assert s.domains[round(cy), round(cx)] == sign
    assert s.noisy.any() and s.noisy.dtype == bool
    # the base random stream is untouched: same phase away from the dots and artefacts
    yy, xx = np.mgrid[0:96, 0:96]
    near_dot = np.zeros((96, 96), dtype=bool)
    for cy, cx, r, _sign in s.dots:
        near_dot |= (yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 8) ** 2
    rows = np.abs(s.phase_background - base.phase_background).max(axis=1) < 1e-3
    keep = ~near_dot & ~s.noisy & rows[:, None]
    assert keep.sum() > 1000
    d = np.angle(np.exp(1j * np.deg2rad(s.phase[keep] - base.phase[keep])))
    assert np.abs(d).max() < 1e-4
    with pytest.raises(IvaeError, match="dot_radius"):
        simulate_pfm((64, 64), dots=2, dot_radius=(0.5, 3.0))


@pytest.mark.parametrize("method", ["gaussian", "canny"])
def test_small_dots_are_found(method):
    s = simulate_pfm((160, 160), seed=1021, dots=12)
    res = detect_walls(s.phase, s.amplitude, method=method)
    assert len(s.dots) >= 8
    assert _dot_recall(s, res.mask) >= 0.9
    assert wall_f1(res.mask, s.walls)["f1"] >= 0.95


@pytest.mark.parametrize("method", ["gaussian", "canny"])
def test_no_walls_inside_noisy_patches(method):
    from scipy import ndimage

    s = simulate_pfm((160, 160), seed=1022, noisy_patches=3, patch_size=40.0, line_glitches=4)
    inner = ndimage.binary_erosion(s.noisy, iterations=2)
    far = ndimage.distance_transform_edt(~s.walls) > 2
    off = detect_walls(s.phase, s.amplitude, method=method, significance=0.0, min_size=16)
    on = detect_walls(s.phase, s.amplitude, method=method)
    false_off = int((off.mask & inner & far).sum())
    false_on = int((on.mask & inner & far).sum())
    assert false_off > 20  # the problem exists without the test
    assert false_on <= 0.2 * false_off
    assert on.info["walls_dropped"] > 0 and on.info["wall_px_dropped"] > 0


def test_wall_report_contract(default_sample):
    s = default_sample
    res = detect_walls(s.phase, s.amplitude)
    info = res.info
    for key in (
        "method",
        "inputs",
        "significance",
        "min_contrast",
        "noise_deg",
        "walls_tested",
        "walls_dropped",
        "wall_px_dropped",
        "regions_merged",
        "domains",
        "dots",
        "frames",
    ):
        assert key in info, key
    assert info["method"] == "gaussian" and info["inputs"] == "phase+amplitude"
    assert info["significance"] == 4.0 and 4 <= info["noise_deg"] <= 14  # simulated 8°
    assert res.points.attrs["walls"] is info
    line = res.summary
    assert "\n" not in line and "phase noise" in line and "wall pieces dropped" in line
    import json

    json.dumps(info)  # plain data for the GUI and sessions
    amp_only = detect_walls(amplitude=s.amplitude)
    assert amp_only.info["significance"] is None and "not tested" in amp_only.summary
    off = detect_walls(s.phase, significance=0)
    assert "test off" in off.summary
    with pytest.raises(IvaeError, match="significance"):
        detect_walls(s.phase, significance=-1)
