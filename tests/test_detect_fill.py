"""Dim-sublattice sites fitted at the positions the lattice predicts (detect/_fill.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from napari_ivae.detect import detect_atoms
from napari_ivae.detect._fill import column_model, site_scores
from napari_ivae.detect._metrics import match_points
from napari_ivae.detect.atoms import _noise_sigma
from napari_ivae.simulate import simulate_stem


def _xy(df) -> np.ndarray:
    return df[["y", "x"]].to_numpy()


def test_site_score_is_a_standard_normal_at_empty_sites():
    """At vacancies (nothing there, neighbours' tails modelled) the score is ~N(0, 1)."""
    s = simulate_stem(
        (384, 384), lattice="hexagonal", spacing=10.0, vacancy_fraction=0.1, n_grains=1, seed=1020
    )
    atoms = _xy(s.atoms)
    sig = 0.2 * 10.0
    noise = _noise_sigma(s.image)
    h, _ = site_scores(s.image, atoms, s=sig, radius=2.5 * sig, noise=noise)
    model = column_model(s.image.shape, atoms, np.clip(h, 0, None), sig)
    vac = _xy(s.vacancies)
    vac = vac[((vac > 6) & (vac < 378)).all(axis=1)]
    _, z = site_scores(s.image, vac, s=sig, radius=2.5 * sig, noise=noise, model=model)
    assert len(z) > 100
    assert abs(np.mean(z)) < 0.35 and 0.7 < np.std(z) < 1.3
    # and real columns, even dim ones, score far above
    _, z_atoms = site_scores(s.image, atoms[:200], s=sig, radius=2.5 * sig, noise=noise)
    assert np.median(z_atoms) > 8


def test_lattice_sites_filled_and_vacancies_stay_empty():
    """A dim (0.3×) sublattice at 2.5× noise: the search misses many dim columns; the
    fill adds only true atoms, and the vacancies stay empty."""
    s = simulate_stem(
        (256, 256),
        lattice="square",
        spacing=10.0,
        sublattice_ratio=0.3,
        noise_scale=2.5,
        vacancy_fraction=0.05,
        n_grains=1,
        seed=1012,
    )
    df = detect_atoms(s.image)
    n_fill = df.attrs["lattice_sites_filled"]
    assert n_fill >= 15 and df.attrs["lattice_sites_tested"] > n_fill
    assert f"lattice fill: {n_fill} of" in df.attrs["summary"]
    yx = _xy(df)
    filled = yx[-n_fill:]  # appended after the search's atoms
    d_true, j = cKDTree(_xy(s.atoms)).query(filled)
    assert np.mean(d_true <= 2.5) >= 0.95
    # and labelled with the sublattice of the atom they sit on
    is_dim = s.atoms["kind"].to_numpy()[j] == "sublattice_b"
    assert np.mean(is_dim == (df["sublattice"].to_numpy()[-n_fill:] == 1)) >= 0.95
    d_vac, _ = cKDTree(yx).query(_xy(s.vacancies))
    assert np.mean(d_vac <= 2.5) <= 0.1
    m = match_points(yx, _xy(s.atoms), radius=2.5)
    assert m["precision"] >= 0.98


def test_one_kind_lattice_fill_and_no_close_pairs():
    """Graphene with 5 % vacancies at 3× noise: only the lattice translations predict
    sites (its motif's half-height neighbours point at hexagon centres half of the
    time), the vacancies stay empty; a WSe2-like lattice (bright chalcogen pairs,
    probe tails, noise): no two atoms closer than 0.3 d."""
    g = simulate_stem(
        (256, 256),
        lattice="graphene",
        spacing=9.0,
        noise_scale=3.0,
        vacancy_fraction=0.05,
        n_grains=1,
        seed=1021,
    )
    gd = detect_atoms(g.image)
    assert 0 < gd.attrs["lattice_sites_tested"] < 2 * len(g.vacancies)
    d_vac, _ = cKDTree(_xy(gd)).query(_xy(g.vacancies))
    assert np.mean(d_vac <= 2.25) <= 0.1
    assert match_points(_xy(gd), _xy(g.atoms), radius=2.25)["f1"] >= 0.98
    w = simulate_stem(
        (320, 320),
        lattice="hexagonal",
        spacing=9.0,
        sublattice_ratio=0.7,
        probe_tail=0.3,
        noise_scale=2.0,
        n_grains=2,
        seed=1022,
    )
    df = detect_atoms(w.image)
    d, _ = cKDTree(_xy(df)).query(_xy(df), k=2)
    assert d[:, 1].min() >= 0.3 * df.attrs["spacing_px"]
    assert match_points(_xy(df), _xy(w.atoms), radius=2.25)["f1"] >= 0.95


@pytest.mark.real
def test_real_mos2_both_sublattices_complete(real_data):
    """Real Se-implanted MoS2: the S2 sites the Mo lattice predicts hold an atom (≥ 90 %
    in clean areas); the empty hexagon centres do not (≤ 2 %)."""
    from napari_ivae.detect.spacing import estimate_lattice
    from napari_ivae.io import read

    img = np.asarray(read(real_data / "example_Se_implanted_MoS2.dm3")[0].data, np.float32)
    df = detect_atoms(img)
    d = df.attrs["spacing_px"]
    est = estimate_lattice(img)
    nb = est.neighbours
    vec = nb[(nb[:, 2] < 0.45) & (np.hypot(nb[:, 0], nb[:, 1]) <= 1.2 * d), :2]
    assert len(vec) == 3  # Mo → three S2
    low = ndimage.gaussian_filter(img.astype(np.float64), 2 * d)
    mad = 1.4826 * np.median(np.abs(low - np.median(low)))
    clean = np.abs(low - np.median(low)) < 3 * mad
    b = int(2 * d)
    clean[:b], clean[-b:], clean[:, :b], clean[:, -b:] = False, False, False, False
    yx = _xy(df)
    mo = yx[df["sublattice"].to_numpy() == 0]
    tree = cKDTree(yx)
    for sign, lo, hi in ((1.0, 0.9, 1.0), (-1.0, 0.0, 0.02)):  # S2 sites, hexagon centres
        sites = (mo[:, None, :] + sign * vec[None]).reshape(-1, 2)
        iy, ix = np.rint(sites).astype(int).T
        inside = (iy >= 0) & (iy < img.shape[0]) & (ix >= 0) & (ix < img.shape[1])
        sites = sites[inside][clean[iy[inside], ix[inside]]]
        dist, _ = tree.query(sites)
        assert lo <= np.mean(dist <= 0.3 * d) <= hi, (sign, np.mean(dist <= 0.3 * d))


def test_site_scores_with_an_empty_model_and_at_the_border():
    """A model that is 0 on the disc and a disc half outside the image still fit."""
    img = np.random.default_rng(0).normal(100.0, 1.0, (40, 40)).astype(np.float32)
    img[20, 20] += 50.0
    pos = np.array([[20.0, 20.0], [0.0, 5.0], [10.0, 30.0]])
    _, z = site_scores(img, pos, s=1.0, radius=3.0, noise=1.0, model=np.zeros_like(img))
    assert np.isfinite(z).all()
    assert z[0] > 10 and abs(z[1]) < 4 and abs(z[2]) < 4
