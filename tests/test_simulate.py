"""Ground-truth consistency of the seeded simulators (STEM, PFM, switching, cards)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.transform import rotate

from napari_ivae import IvaeError
from napari_ivae.simulate import (
    CARD_CLASSES,
    make_cards,
    simulate_pfm,
    simulate_stem,
    simulate_switching,
)

# ----------------------------------------------------------------------------- helpers


def boundary_pixels(domains: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another value (independent of skimage)."""
    d = np.asarray(domains)
    out = np.zeros(d.shape, dtype=bool)
    diff_y = d[..., 1:, :] != d[..., :-1, :]
    diff_x = d[..., :, 1:] != d[..., :, :-1]
    out[..., 1:, :] |= diff_y
    out[..., :-1, :] |= diff_y
    out[..., :, 1:] |= diff_x
    out[..., :, :-1] |= diff_x
    return out


def log_quadratic_peaks(img: np.ndarray, yx: np.ndarray) -> np.ndarray:
    """Sub-pixel peak of a Gaussian blob: 3-point parabola through log(img) at the nearest pixel."""
    lf = np.log(np.clip(img, 1e-30, None))
    y = np.rint(yx[:, 0]).astype(int)
    x = np.rint(yx[:, 1]).astype(int)
    dy = (lf[y + 1, x] - lf[y - 1, x]) / (2 * (2 * lf[y, x] - lf[y + 1, x] - lf[y - 1, x]))
    dx = (lf[y, x + 1] - lf[y, x - 1]) / (2 * (2 * lf[y, x] - lf[y, x + 1] - lf[y, x - 1]))
    return np.stack([y + dy, x + dx], axis=1)


def interior(df: pd.DataFrame, shape, margin: float = 2.0) -> pd.DataFrame:
    h, w = shape
    m = (df.y >= margin) & (df.y <= h - 1 - margin) & (df.x >= margin) & (df.x <= w - 1 - margin)
    return df[m]


def circ_mean_deg(a: np.ndarray) -> float:
    r = np.deg2rad(a)
    return float(np.rad2deg(np.arctan2(np.sin(r).mean(), np.cos(r).mean())))


# ----------------------------------------------------------------------------- STEM


@pytest.fixture(scope="module")
def stem():
    return simulate_stem(seed=11)


def test_stem_tables_and_counts(stem):
    h, w = stem.image.shape
    assert stem.image.dtype == np.float32 and stem.image.shape == (512, 512)
    assert list(stem.atoms.columns[:4]) == ["y", "x", "kind", "grain"]
    assert list(stem.vacancies.columns[:2]) == ["y", "x"]
    a = stem.atoms
    assert ((a.y >= 0) & (a.y <= h - 1) & (a.x >= 0) & (a.x <= w - 1)).all()
    v = stem.vacancies
    assert ((v.y >= 0) & (v.y <= h - 1) & (v.x >= 0) & (v.x <= w - 1)).all()
    assert 2500 <= len(a) <= 4000  # "a few thousand" graphene atoms at spacing 8
    assert set(a.kind) == {"host", "dopant"}
    n_sites = len(a) + len(v)
    assert abs((a.kind == "dopant").sum() - 0.02 * n_sites) <= 2
    assert abs(len(v) - 0.01 * n_sites) <= 2
    assert sorted(a.grain.unique()) == [0, 1, 2]


def test_stem_positions_exact_on_noise_free_render():
    s = simulate_stem((128, 160), background=0.0, seed=4, n_grains=2)
    a = interior(s.atoms, s.clean.shape)
    fit = log_quadratic_peaks(s.clean.astype(np.float64), a[["y", "x"]].to_numpy())
    err = np.hypot(*(fit - a[["y", "x"]].to_numpy()).T)
    # a lone Gaussian has an exactly quadratic log: the only error is the overlap of
    # close neighbours (grain boundaries) and float32 rounding
    assert np.percentile(err, 99) < 0.005
    assert err.max() < 0.05


def test_stem_scan_distortion_truth_follows_the_peaks():
    s = simulate_stem((128, 128), background=0.0, scan_distortion=1.5, seed=2, n_grains=1)
    plain = simulate_stem((128, 128), background=0.0, seed=2, n_grains=1)
    a = interior(s.atoms, s.clean.shape)
    fit = log_quadratic_peaks(s.clean.astype(np.float64), a[["y", "x"]].to_numpy())
    err = np.hypot(*(fit - a[["y", "x"]].to_numpy()).T)
    # the per-row jitter (0.1 × 1.5 = 0.15 px std, not in the truth) is the only miss
    assert np.sqrt(np.mean(err**2)) < 0.25
    # and the distortion really moved the atoms
    d, _ = cKDTree(plain.atoms[["y", "x"]].to_numpy()).query(a[["y", "x"]].to_numpy())
    assert np.median(d) > 0.3


def test_stem_atoms_separated_and_in_their_voronoi_grain(stem):
    xy = stem.atoms[["y", "x"]].to_numpy()
    spacing = stem.params["spacing"]
    d, _ = cKDTree(xy).query(xy, k=2)
    assert d[:, 1].min() >= 0.7 * spacing - 1e-9
    seeds = np.array(stem.params["grain_seeds"])
    _, owner = cKDTree(seeds).query(xy)
    assert np.array_equal(owner, stem.atoms.grain.to_numpy())


def test_stem_dopants_brighter_and_vacancies_dark(stem):
    img = stem.image.astype(np.float64)

    def peak(df):  # 3x3 mean around the nearest pixel
        yy = np.clip(np.rint(df.y.to_numpy()).astype(int), 1, img.shape[0] - 2)
        xx = np.clip(np.rint(df.x.to_numpy()).astype(int), 1, img.shape[1] - 2)
        return np.mean([img[yy + i, xx + j] for i in (-1, 0, 1) for j in (-1, 0, 1)], axis=0)

    a = stem.atoms
    host, dop, vac = peak(a[a.kind == "host"]), peak(a[a.kind == "dopant"]), peak(stem.vacancies)
    assert np.median(dop) > 1.4 * np.median(host)
    assert np.median(vac) < 0.6 * np.median(host)
    # no atom peak at a vacancy: nearest atom is a full bond away
    d, _ = cKDTree(a[["y", "x"]].to_numpy()).query(stem.vacancies[["y", "x"]].to_numpy())
    assert d.min() >= 0.7 * stem.params["spacing"]
    assert np.median(d) == pytest.approx(stem.params["spacing"])


@pytest.mark.parametrize(
    ("lattice", "ratio"), [("graphene", None), ("hexagonal", 0.45), ("square", 0.55)]
)
def test_stem_lattices_spacing_and_sublattices(lattice, ratio):
    s = simulate_stem((192, 192), lattice=lattice, n_grains=1, vacancy_fraction=0, seed=3)
    xy = s.atoms[["y", "x"]].to_numpy()
    d, _ = cKDTree(xy).query(xy, k=2)
    assert np.allclose(np.median(d[:, 1]), s.params["spacing"], atol=1e-6)
    kinds = set(s.atoms.kind)
    if ratio is None:
        assert "sublattice_b" not in kinds
    else:
        b = s.atoms[s.atoms.kind == "sublattice_b"].intensity.median()
        h = s.atoms[s.atoms.kind == "host"].intensity.median()
        assert b / h == pytest.approx(ratio, rel=0.05)
        nb = (s.atoms.kind == "sublattice_b").sum()
        assert 0.4 < nb / len(s.atoms) < 0.6


def test_stem_noise_scale_doubles_noise():
    s1 = simulate_stem((128, 128), seed=5)
    s2 = simulate_stem((128, 128), seed=5, noise_scale=2.0)
    assert np.array_equal(s1.clean, s2.clean)
    r = np.std(s2.image - s2.clean) / np.std(s1.image - s1.clean)
    assert 1.9 < r < 2.1
    # default noise: peak SNR per host atom about 5-10
    host = s1.atoms[s1.atoms.kind == "host"]
    peak = s1.params["dose"] * host.intensity.median()
    assert 5 <= peak / np.std(s1.image - s1.clean) <= 12


def test_stem_line_noise_is_per_row_and_separate_stream():
    a = simulate_stem((128, 128), seed=5)
    b = simulate_stem((128, 128), seed=5, line_noise=0.1)
    pd.testing.assert_frame_equal(a.atoms, b.atoms)
    d = (b.image - a.image).astype(np.float64)
    assert np.allclose(d, d[:, :1], atol=1e-3)  # one offset per row
    assert d[:, 0].std() == pytest.approx(0.1 * a.params["dose"], rel=0.3)


def test_stem_position_jitter_truth_exact():
    a = simulate_stem((96, 96), background=0.0, seed=5)
    b = simulate_stem((96, 96), background=0.0, seed=5, position_jitter=0.5)
    d, _ = cKDTree(a.atoms[["y", "x"]].to_numpy()).query(b.atoms[["y", "x"]].to_numpy())
    assert 0.4 < np.sqrt(np.mean(d**2)) / np.sqrt(2) < 0.6  # really displaced
    inner = interior(b.atoms, b.clean.shape)
    fit = log_quadratic_peaks(b.clean.astype(np.float64), inner[["y", "x"]].to_numpy())
    assert np.median(np.hypot(*(fit - inner[["y", "x"]].to_numpy()).T)) < 0.005


def test_stem_deterministic_and_seeded():
    a, b, c = (
        simulate_stem((96, 96), seed=7),
        simulate_stem((96, 96), seed=7),
        simulate_stem((96, 96), seed=8),
    )
    assert np.array_equal(a.image, b.image)
    pd.testing.assert_frame_equal(a.atoms, b.atoms)
    assert not np.array_equal(a.image, c.image)


def test_stem_bad_arguments():
    with pytest.raises(IvaeError, match="lattice"):
        simulate_stem(lattice="cubic")
    with pytest.raises(IvaeError, match="spacing"):
        simulate_stem((64, 64), spacing=1.0)
    with pytest.raises(IvaeError, match="shape"):
        simulate_stem((8, 8))


# ----------------------------------------------------------------------------- PFM


@pytest.fixture(scope="module")
def pfm():
    return simulate_pfm(seed=3)


def test_pfm_walls_are_exactly_domain_boundaries(pfm):
    assert pfm.domains.dtype == np.int8 and set(np.unique(pfm.domains)) == {-1, 1}
    assert pfm.walls.dtype == bool
    assert np.array_equal(pfm.walls, boundary_pixels(pfm.domains))
    assert 0.3 < (pfm.domains == 1).mean() < 0.7
    assert 0.01 < pfm.walls.mean() < 0.15


def test_pfm_phase_wrapped_and_domains_180_apart(pfm):
    p = pfm.phase
    assert p.dtype == np.float32 and p.min() >= -180 and p.max() < 180
    # raw phase spans the wrap (offset + 180 + drift) -- it is really wrapped
    flat = p - pfm.phase_background
    up = circ_mean_deg(flat[(pfm.domains == 1) & ~pfm.walls])
    down = circ_mean_deg(flat[(pfm.domains == -1) & ~pfm.walls])
    diff = (down - up + 180) % 360 - 180
    assert abs(abs(diff) - 180) < 2
    assert abs(up) < 2
    # without removing the drift the levels are smeared by the drift
    raw_up = p[(pfm.domains == 1) & ~pfm.walls]
    assert circ_mean_deg(raw_up) == pytest.approx(
        pfm.params["phase_offset"], abs=pfm.params["drift"]
    )


def test_pfm_amplitude_dips_at_walls(pfm):
    amp = pfm.amplitude
    far = ndi.distance_transform_edt(~pfm.walls) > 6
    assert amp[pfm.walls].mean() < 0.6 * amp[far].mean()
    g = simulate_pfm(seed=3, amplitude_gain=3.0).amplitude
    assert g.mean() == pytest.approx(3 * amp.mean(), rel=1e-5)


def test_pfm_units_offset_and_wrap():
    deg = simulate_pfm((64, 64), seed=1, phase_offset=100.0)
    rad = simulate_pfm((64, 64), seed=1, phase_offset=100.0, units="rad")
    assert deg.params["phase_offset"] == 100.0
    assert rad.phase.min() >= -np.pi and rad.phase.max() < np.pi
    d = np.angle(np.exp(1j * (np.deg2rad(deg.phase.astype(float)) - rad.phase)))
    assert np.abs(d).max() < 1e-4
    nowrap = simulate_pfm((64, 64), seed=1, phase_offset=100.0, wrap=False)
    resid = nowrap.phase - nowrap.phase_background - 180.0 * (nowrap.domains == -1)
    inside = ~nowrap.walls
    assert resid[inside].std() == pytest.approx(nowrap.params["noise"], rel=0.25)
    assert nowrap.phase.max() > 180  # offset 100 + 180 for down domains: not wrapped


def test_pfm_deterministic_and_random_offset():
    a, b = simulate_pfm((64, 64), seed=9), simulate_pfm((64, 64), seed=9)
    assert np.array_equal(a.phase, b.phase) and np.array_equal(a.domains, b.domains)
    offsets = {simulate_pfm((32, 32), seed=s).params["phase_offset"] for s in range(4)}
    assert len(offsets) == 4


def test_pfm_options_up_fraction_stripes_and_amplitude_field():
    base = simulate_pfm((128, 128), seed=6)
    minority = simulate_pfm((128, 128), seed=6, up_fraction=0.2)
    assert abs((minority.domains == 1).mean() - 0.2) < 0.05
    assert np.array_equal(minority.walls, boundary_pixels(minority.domains))
    stripes = simulate_pfm((128, 128), seed=6, domain_shape="stripes", domain_size=16)
    assert np.array_equal(stripes.walls, boundary_pixels(stripes.domains))
    # stripes of width 16 px: a 2-px wall line every 16 px
    assert stripes.walls.mean() == pytest.approx(2 / 16, rel=0.35)
    assert abs((stripes.domains == 1).mean() - 0.5) < 0.1
    # the slow amplitude field has its own random stream: domains and phase unchanged
    varied = simulate_pfm((128, 128), seed=6, amplitude_variation=0.4)
    assert np.array_equal(varied.domains, base.domains)
    assert np.array_equal(varied.phase, base.phase)
    ratio = varied.amplitude / base.amplitude
    assert 0.25 < ratio.std() < 0.55 and np.percentile(ratio, 0.1) > 0.15  # clipped at 0.2
    asym = simulate_pfm((128, 128), seed=6, amplitude_asymmetry=0.4)
    far = ~boundary_pixels(asym.domains)
    up = asym.amplitude[far & (asym.domains == 1)].mean()
    down = asym.amplitude[far & (asym.domains == -1)].mean()
    assert up / down == pytest.approx(1.2 / 0.8, rel=0.05)


def test_pfm_bad_arguments():
    with pytest.raises(IvaeError, match="units"):
        simulate_pfm(units="grad")
    with pytest.raises(IvaeError, match="domain_size"):
        simulate_pfm(domain_size=1.0)


# ----------------------------------------------------------------------------- switching


def test_switching_grows_monotonically():
    s = simulate_switching(seed=2)
    t = s.params["n_frames"]
    assert s.amplitude.shape == s.phase.shape == s.domains.shape == s.walls.shape == (t, 192, 192)
    assert np.all(np.diff(s.switched_fraction) > 0)
    assert np.allclose(s.switched_fraction, (s.domains == 1).mean(axis=(1, 2)))
    # switched regions only grow
    assert np.all(s.domains[1:][s.domains[:-1] == 1] == 1)
    assert np.array_equal(s.walls, boundary_pixels(s.domains))
    # the phase follows the domains in every frame
    flat = s.phase - s.phase_background
    for k in range(t):
        up = circ_mean_deg(flat[k][(s.domains[k] == 1) & ~s.walls[k]])
        down = circ_mean_deg(flat[k][(s.domains[k] == -1) & ~s.walls[k]])
        assert abs(abs((down - up + 180) % 360 - 180) - 180) < 3


def test_switching_bad_arguments():
    with pytest.raises(IvaeError, match="fraction_range"):
        simulate_switching(fraction_range=(0.5, 0.2))


# ----------------------------------------------------------------------------- cards


@pytest.fixture(scope="module")
def cards():
    return make_cards(60, shear=0.0, noise=0.0, seed=1)


def test_cards_shapes_and_classes():
    c = make_cards(25, seed=3)
    assert c.images.shape == (100, 1, 48, 48) and c.images.dtype == np.float32
    assert np.array_equal(np.bincount(c.labels), [25, 25, 25, 25])
    assert c.angles.min() >= 0 and c.angles.max() < 2 * np.pi
    assert np.abs(c.shifts).max() <= 3
    assert len(CARD_CLASSES) == 4
    d = make_cards(25, seed=3)
    assert np.array_equal(c.images, d.images) and np.array_equal(c.angles, d.angles)


def test_cards_shift_is_centroid(cards):
    img = cards.images[:, 0].astype(np.float64)
    yy, xx = np.mgrid[0:48, 0:48]
    m = img.sum(axis=(1, 2))
    cy = (img * yy).sum(axis=(1, 2)) / m - 23.5
    cx = (img * xx).sum(axis=(1, 2)) / m - 23.5
    assert np.abs(cy - cards.shifts[:, 0]).max() < 0.15
    assert np.abs(cx - cards.shifts[:, 1]).max() < 0.15


def _derotate(c, sign):
    """Undo the shift (scipy) then rotate by ``sign * angle`` about the centre (skimage)."""
    out = []
    for img, a, (dy, dx) in zip(c.images[:, 0], c.angles, c.shifts):
        centred = ndi.shift(img, (-dy, -dx), order=1)
        out.append(rotate(centred, sign * np.rad2deg(a), order=1))
    return np.array(out)


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_cards_angles_are_the_true_rotation(cards):
    # skimage's rotate is counter-clockwise as displayed: undoing the true angle
    # maps every glyph of a class onto the same upright shape; the opposite sign does not.
    good, bad = _derotate(cards, -1), _derotate(cards, +1)
    for k in range(4):
        idx = np.flatnonzero(cards.labels == k)
        c_good = [_corr(good[idx[0]], good[i]) for i in idx[1:]]
        c_bad = [_corr(bad[idx[0]], bad[i]) for i in idx[1:]]
        assert min(c_good) > 0.98
        assert np.median(c_bad) < 0.9


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_cards_classes_have_no_rotational_symmetry(cards):
    up = _derotate(cards, -1)
    means = [up[cards.labels == k].mean(axis=0) for k in range(4)]
    masks = [m > 0.5 for m in means]
    for k, m in enumerate(means):
        for order in (2, 3, 4, 5, 6):
            turned = rotate(m, 360.0 / order, order=1) > 0.5
            # at least 10 % of the glyph's area changes under any symmetric rotation
            assert _iou(masks[k], turned) < 0.9, (CARD_CLASSES[k], order)
        for j in range(k):  # and the classes differ from each other
            assert _iou(masks[k], masks[j]) < 0.8
