"""Atom detection against the STEM simulator's exact ground truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.detect import detect_atoms, estimate_spacing, refine_positions
from napari_ivae.detect._metrics import match_points
from napari_ivae.simulate import simulate_stem


def _truth(sample) -> np.ndarray:
    return sample.atoms[["y", "x"]].to_numpy()


@pytest.fixture(scope="module")
def graphene():
    return simulate_stem((256, 256), lattice="graphene", seed=1000)


def test_graphene_default_noise_accuracy(graphene):
    table = detect_atoms(graphene.image)
    assert list(table.columns) == ["y", "x", "score", "intensity", "sublattice", "frame"]
    m = match_points(table[["y", "x"]].to_numpy(), _truth(graphene), radius=2.0)
    assert m["f1"] >= 0.99, m
    assert m["rmse"] <= 0.3, m
    assert (table["frame"] == 0).all()


@pytest.mark.parametrize("seed", [1001, 1002])
def test_graphene_twice_the_noise(seed):
    s = simulate_stem((256, 256), lattice="graphene", noise_scale=2.0, seed=seed)
    m = match_points(detect_atoms(s.image)[["y", "x"]].to_numpy(), _truth(s))
    assert m["f1"] >= 0.99, m
    assert m["rmse"] <= 0.4, m


@pytest.mark.parametrize("lattice", ["hexagonal", "square"])
def test_two_sublattice_lattices(lattice):
    s = simulate_stem((256, 256), lattice=lattice, seed=1003)
    m = match_points(detect_atoms(s.image)[["y", "x"]].to_numpy(), _truth(s))
    assert m["f1"] >= 0.98, m
    assert m["rmse"] <= 0.35, m


@pytest.mark.parametrize(
    ("lattice", "spacing"),
    [("graphene", 8.0), ("hexagonal", 9.0), ("square", 10.0), ("graphene", 5.0)],
)
def test_spacing_estimate(lattice, spacing):
    s = simulate_stem((256, 256), lattice=lattice, spacing=spacing, seed=1004)
    assert estimate_spacing(s.image) == pytest.approx(spacing, rel=0.05)


def test_given_spacing_matches_estimated(graphene):
    a = detect_atoms(graphene.image)
    b = detect_atoms(graphene.image, spacing=8.0)
    assert abs(len(a) - len(b)) <= 2


def test_dopants_stand_out_in_intensity():
    s = simulate_stem((256, 256), lattice="graphene", dopant_fraction=0.05, seed=1005)
    table = detect_atoms(s.image)
    m = match_points(table[["y", "x"]].to_numpy(), _truth(s))
    pred = table.iloc[m["pairs"][:, 0]]
    kind = s.atoms["kind"].to_numpy()[m["pairs"][:, 1]]
    dop = pred["intensity"].to_numpy()[kind == "dopant"]
    host = pred["intensity"].to_numpy()[kind == "host"]
    assert len(dop) > 10
    # dopants are 1.8x brighter: their integrated intensity clearly separates
    assert np.median(dop) > 1.5 * np.median(host)
    assert np.mean(dop > np.percentile(host, 99)) > 0.9


def test_stack_gets_frame_column():
    a = simulate_stem((128, 128), seed=1006)
    b = simulate_stem((128, 128), seed=1007)
    table = detect_atoms(np.stack([a.image, b.image]))
    assert set(table["frame"].unique()) == {0, 1}
    assert table["frame"].dtype == np.int64
    for t, s in enumerate([a, b]):
        sub = table[table["frame"] == t]
        assert match_points(sub[["y", "x"]].to_numpy(), _truth(s))["f1"] >= 0.98


def test_refine_positions_subpixel():
    yy, xx = np.mgrid[0:64, 0:64]
    true = np.array([[20.3, 30.7], [40.62, 12.15], [33.5, 45.5]])
    img = np.zeros((64, 64))
    for y, x in true:
        img += 100 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.6**2))
    img += 10
    out = refine_positions(img, np.rint(true), radius=2.7)
    assert np.abs(out - true).max() < 0.02


def test_partial_nan_warns_and_still_works(graphene):
    img = graphene.image.copy()
    img[:5, :5] = np.nan
    with pytest.warns(UserWarning, match="NaN"):
        table = detect_atoms(img)
    assert match_points(table[["y", "x"]].to_numpy(), _truth(graphene))["f1"] >= 0.98


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.full((64, 64), 3.0), "constant"),
        (np.full((64, 64), np.nan), "NaN"),
        (np.ones((8, 8)), "too small"),
        (np.ones(100), "2-D"),
        (np.ones((2, 2, 32, 32)), "2-D"),
    ],
)
def test_bad_images_raise(image, match):
    with pytest.raises(IvaeError, match=match):
        detect_atoms(image)


def test_bad_options_raise(graphene):
    with pytest.raises(IvaeError, match="method"):
        detect_atoms(graphene.image, method="blob")
    with pytest.raises(IvaeError, match="spacing"):
        detect_atoms(graphene.image, spacing=1.0)
    with pytest.raises(IvaeError, match="threshold"):
        detect_atoms(graphene.image, threshold=-1.0)


def test_noise_image_is_never_a_silent_result():
    """Pure noise: either a clear error (no lattice) or a warning-free, near-empty table."""
    rng = np.random.default_rng(1008)
    img = rng.normal(100, 10, (128, 128))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = detect_atoms(img)
        except IvaeError as err:
            assert "spacing" in str(err)
            return
    # a lattice-free image must not be covered with "atoms"
    assert len(table) < 40 or any("no atoms" in str(w.message) for w in caught)


def test_no_atoms_warns(graphene):
    with pytest.warns(UserWarning, match="no atoms"):
        table = detect_atoms(graphene.image, threshold=100.0)
    assert len(table) == 0
    assert list(table.columns) == ["y", "x", "score", "intensity", "sublattice", "frame"]


def test_dcnn_dispatch_adds_frames(monkeypatch, graphene):
    """method="dcnn" calls the network per frame and returns the same table layout."""
    import pandas as pd

    from napari_ivae.detect import dcnn

    calls = []

    def fake_dcnn(image2d, *, spacing=None, threshold=0.5, device="auto"):
        calls.append((image2d.shape, spacing, threshold))
        yx = graphene.atoms[["y", "x"]].to_numpy()
        return pd.DataFrame({"y": yx[:, 0], "x": yx[:, 1], "score": 0.9, "intensity": 1.0})

    monkeypatch.setattr(dcnn, "detect_atoms_dcnn", fake_dcnn)
    table = detect_atoms(np.stack([graphene.image] * 3), method="dcnn", spacing=8.0)
    assert calls == [((256, 256), 8.0, 0.5)] * 3
    assert list(table.columns) == ["y", "x", "score", "intensity", "sublattice", "frame"]
    assert table.groupby("frame").size().tolist() == [len(graphene.atoms)] * 3
    with pytest.raises(IvaeError, match="sigma"):
        detect_atoms(graphene.image, method="dcnn", sigma=2.0)


@pytest.mark.real
def test_real_perovskite_stem(real_data):
    """The real perovskite survey: bright rows ~14.6 px apart along x, a second set of
    columns between the rows ~10.8 px below them (dim in part of the image): both found."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    from napari_ivae.io import read

    layer = read(real_data / "DMReader_Image_SI-Survey.dm3")[0]
    img = np.asarray(layer.data, dtype=np.float32)
    spacing = estimate_spacing(img)
    assert 10.0 < spacing < 11.8
    table = detect_atoms(img)
    assert 1500 < len(table) < 1800  # about 47 × 35 columns in 512 × 512
    assert set(table.attrs["sublattices"]) == {0, 1}
    d, _ = cKDTree(table[["y", "x"]].to_numpy()).query(table[["y", "x"]].to_numpy(), k=2)
    assert d[:, 1].min() >= 0.3 * spacing
    assert np.median(d[:, 1]) == pytest.approx(spacing, rel=0.12)
    # detections sit on columns brighter than their surroundings
    iy, ix = np.rint(table["y"]).astype(int), np.rint(table["x"]).astype(int)
    local = ndimage.uniform_filter(img, int(spacing) + 1)
    assert np.mean(ndimage.gaussian_filter(img, 1.5)[iy, ix] > local[iy, ix]) > 0.93


def test_saturated_and_uint8_images(graphene):
    """Clipped (saturated) columns and 8-bit images are still found once each."""
    clipped = np.clip(graphene.image, None, np.percentile(graphene.image, 90))
    u8 = (np.clip(graphene.image / graphene.image.max(), 0, 1) * 255).astype(np.uint8)
    for img in (clipped, u8):
        table = detect_atoms(img)
        assert match_points(table[["y", "x"]].to_numpy(), _truth(graphene))["f1"] >= 0.99


@pytest.mark.parametrize(("lattice", "ratio"), [("hexagonal", 0.25), ("square", 0.3)])
def test_dim_sublattice_spacing_and_labels(lattice, ratio):
    """The spacing is the bright–dim distance, the dim sublattice is found and labelled 1."""
    s = simulate_stem(
        (256, 256), lattice=lattice, spacing=10.0, sublattice_ratio=ratio, n_grains=1, seed=1010
    )
    table = detect_atoms(s.image)
    assert table.attrs["spacing_px"] == pytest.approx(10.0, rel=0.05)
    m = match_points(table[["y", "x"]].to_numpy(), _truth(s))
    assert m["f1"] >= 0.97, m
    truth_dim = s.atoms["kind"].to_numpy()[m["pairs"][:, 1]] == "sublattice_b"
    pred_dim = table["sublattice"].to_numpy()[m["pairs"][:, 0]] == 1
    assert np.mean(truth_dim == pred_dim) > 0.97
    assert set(table.attrs["sublattices"]) == {0, 1}


def test_threshold_in_noise_sigma_has_an_effect(graphene):
    a = detect_atoms(graphene.image)
    assert a.attrs["threshold"] == 3.0 and "σ" in a.attrs["summary"]
    b = detect_atoms(graphene.image, threshold=a["score"].quantile(0.5))
    assert len(b) < 0.6 * len(a)
    # lattice-predicted sites need half the threshold, free peaks all of it
    assert b["score"].min() >= 0.5 * a["score"].quantile(0.5) - 1e-9


def test_merge_duplicates_keeps_the_higher_score():
    from napari_ivae.detect.atoms import merge_duplicates

    yx = np.array([[10.0, 10.0], [10.5, 10.2], [30.0, 30.0], [30.0, 33.5]])
    keep, n = merge_duplicates(yx, np.array([1.0, 2.0, 5.0, 1.0]), min_distance=3.0)
    assert keep.tolist() == [False, True, True, True] and n == 1


def test_dcnn_duplicates_merged(monkeypatch, graphene):
    import pandas as pd

    from napari_ivae.detect import dcnn

    t = graphene.atoms[["y", "x"]].to_numpy()[:200]
    twins = np.concatenate([t, t + 0.7])  # two peaks refined onto one column

    def fake(frame, *, spacing, threshold, device):
        return pd.DataFrame(
            {
                "y": twins[:, 0],
                "x": twins[:, 1],
                "score": np.linspace(0.6, 0.9, len(twins)),
                "intensity": np.ones(len(twins)),
            }
        )

    monkeypatch.setattr(dcnn, "detect_atoms_dcnn", fake)
    table = detect_atoms(graphene.image, method="dcnn", spacing=8.0)
    assert len(table) == 200 and table.attrs["duplicates_merged"] == 200
