"""Rotation-invariant features, the centre of contrast, k-means class seeds and the
invariant content encoder, against the cards ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ivae import IvaeError
from napari_ivae.models import ModelConfig, build_model
from napari_ivae.models.class_init import (
    align_clusters,
    fit_class_seeds,
    invariant_code,
    invariant_features,
    ward_merge,
)
from napari_ivae.simulate import make_cards


@pytest.fixture(scope="module")
def cards():
    return make_cards(60, seed=3)


@pytest.fixture(scope="module")
def rvae():
    torch.manual_seed(0)
    return build_model(ModelConfig(kind="rvae", in_channels=1, size=48, hidden=32))


def test_centroid_finds_the_glyph_position(cards, rvae):
    """The centre of contrast is the glyph centroid (the simulator's shift) in pixels."""
    got = rvae.centroid(torch.from_numpy(cards.images)).numpy() * 23.5  # grid units -> px
    err = np.abs(got - cards.shifts)
    assert err.mean() < 0.3 and err.max() < 1.0, (err.mean(), err.max())


@pytest.mark.parametrize("k", [1, 2, 3])
def test_features_are_rotation_invariant(cards, rvae, k):
    """A 90°·k rotation on the pixel grid leaves the features unchanged."""
    x = torch.from_numpy(cards.images[:16])
    xr = torch.rot90(x, k, dims=(2, 3)).contiguous()
    for fn in (invariant_features, invariant_code):
        a = fn(x, rvae.centroid(x))
        b = fn(xr, rvae.centroid(xr))
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_features_see_a_mirror_image_of_a_chiral_glyph(cards, rvae):
    """The ring products keep the relative orientation of the rings: an L and
    its mirror image differ (magnitudes alone cannot tell them apart)."""
    x = torch.from_numpy(cards.images[cards.labels == 2][:8])
    xm = torch.flip(x, dims=(3,)).contiguous()
    a, b = invariant_code(x, rvae.centroid(x)), invariant_code(xm, rvae.centroid(xm))
    mags = 12 * 7
    torch.testing.assert_close(a[:, :mags], b[:, :mags], rtol=1e-3, atol=1e-4)
    assert (a[:, mags:] - b[:, mags:]).abs().max() > 1e-3


def test_kmeans_seeds_recover_the_glyph_classes(cards, rvae):
    """Each k-means cluster is (mostly) one glyph, and each glyph has its cluster."""
    x = torch.from_numpy(cards.images)
    c = rvae.centroid(x)
    seeds = fit_class_seeds(invariant_features(x, c).numpy(), 4, seed=0)
    labels = seeds.labels(x, c).numpy()
    table = np.zeros((4, 4), int)
    np.add.at(table, (labels, cards.labels), 1)
    assert table.max(1).sum() / table.sum() > 0.85, table  # purity
    assert sorted(table.argmax(1).tolist()) == [0, 1, 2, 3], table


def test_invariant_z_does_not_move_with_rotation(cards, rvae):
    """rVAE default (z_encoder="auto" -> invariant): z of a rotated crop is the same."""
    assert rvae.invariant_z
    x = torch.from_numpy(cards.images[:16])
    with torch.no_grad():
        z = rvae.posterior(x, exact=False)["z_mu"]
        zr = rvae.posterior(torch.rot90(x, 1, dims=(2, 3)).contiguous(), exact=False)["z_mu"]
    torch.testing.assert_close(z, zr, rtol=1e-3, atol=1e-3)


def test_z_encoder_choices():
    assert not build_model(ModelConfig(kind="jrvae", in_channels=1, size=16)).invariant_z
    assert build_model(
        ModelConfig(kind="jrvae", in_channels=1, size=16, z_encoder="invariant")
    ).invariant_z
    with pytest.raises(IvaeError, match="z_encoder='invariant' needs a rotation model"):
        ModelConfig(kind="vae", z_encoder="invariant")
    with pytest.raises(IvaeError, match="z_encoder"):
        ModelConfig(kind="rvae", z_encoder="rotation")


def test_align_clusters_recovers_every_glyph_rotation(cards, rvae):
    """Per-cluster hard EM over the bins aligns all four glyphs, the near-3-fold
    heart and club included: best bin vs the true angle, MRL > 0.95 per class."""
    x = torch.from_numpy(cards.images)
    labels = torch.from_numpy(cards.labels)
    templates = align_clusters(rvae, x, labels, 4)
    with torch.no_grad():
        nll = rvae.bins.nll(x, templates[labels][:, None], rvae.centroid(x))[:, 0]
    learned = rvae.bins.bin_centers[nll.argmin(1)].numpy()
    for k in range(4):
        sel = cards.labels == k
        mrl = max(
            abs(np.mean(np.exp(1j * (learned[sel] - s * cards.angles[sel])))) for s in (1, -1)
        )
        assert mrl > 0.95, (k, mrl)


@pytest.mark.parametrize("glyphs", ["letters", "shapes", "tools", "polygons"])
def test_cards_families_have_equal_area_gain_and_no_symmetry(glyphs):
    """Other glyph families (held-out sets): K classes, equal area when asked, per-image
    gain in range, seedable, and no glyph looks the same after a turn of 90/120/180°."""
    from scipy import ndimage as ndi

    kw = {"glyphs": glyphs, "equal_area": True, "gain": 0.3, "shear": 0.0, "noise": 0.0}
    s = make_cards(3, max_shift=0.0, seed=1, glyph_seed=2, **kw)
    assert s.images.shape == (12, 1, 48, 48) and len(s.params["classes"]) == 4
    assert np.bincount(s.labels).tolist() == [3, 3, 3, 3]
    assert (s.gains >= 0.7).all() and (s.gains <= 1.3).all() and s.gains.std() > 0
    again = make_cards(3, max_shift=0.0, seed=1, glyph_seed=2, **kw)
    np.testing.assert_array_equal(s.images, again.images)
    img = s.images[:, 0] / s.gains[:, None, None]  # contrast 1 again
    area = img.sum((1, 2))
    assert area.max() / area.min() < 1.06, area  # equal area (up to edge sampling)
    for i in range(4):
        mask = img[s.labels == i][0] > 0.5
        for turn in (90, 120, 180):
            turned = ndi.rotate(mask.astype(float), turn, reshape=False, order=1) > 0.5
            # centre both on their centroids before comparing
            sh = np.subtract(ndi.center_of_mass(mask), ndi.center_of_mass(turned))
            turned = ndi.shift(turned.astype(float), sh, order=1) > 0.5
            iou = (mask & turned).sum() / (mask | turned).sum()
            assert iou < 0.9, (glyphs, s.params["classes"][i], turn, iou)


def test_cards_default_set_is_unchanged_by_the_new_options():
    """gain draws from its own stream: the default set's labels and angles stay."""
    a, b = make_cards(5, seed=4), make_cards(5, seed=4, gain=0.3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.angles, b.angles)
    assert a.params["classes"] == ["heart", "club", "L", "F"] and (a.gains == 1).all()
    with pytest.raises(IvaeError, match="glyphs="):
        make_cards(2, glyphs="nope")
    with pytest.raises(IvaeError, match="glyphs="):
        make_cards(2, glyphs=["P", "P"])


def test_kmeans_seeds_ignore_the_per_image_gain(rvae):
    """With a per-image contrast of 0.7–1.3 the seeds still follow the glyphs (the
    features are made gain-free): raw ring magnitudes split by brightness
    (held-out polygon cards: ARI 0.42), and the same crop at another gain gets the
    same seed."""
    s = make_cards(40, glyphs="polygons", glyph_seed=0, equal_area=True, gain=0.3, seed=3)
    x = torch.from_numpy(s.images)
    c = rvae.centroid(x)
    seeds = fit_class_seeds(invariant_features(x, c).numpy(), 4, seed=0)
    labels = seeds.labels(x, c).numpy()
    table = np.zeros((4, 4), int)
    np.add.at(table, (labels, s.labels), 1)
    assert table.max(1).sum() / table.sum() > 0.9, table
    assert sorted(table.argmax(1).tolist()) == [0, 1, 2, 3], table
    for gain in (0.6, 1.5):
        np.testing.assert_array_equal(seeds.labels(x * gain, c).numpy(), labels)


def _minority_features(seed=0, n=1000, share=0.03):
    """8 features: a broad host cloud and a tight minority 3 % far from it (the
    shape of the simulated STEM sample's seed features, dopants ~7 host σ off)."""
    rng = np.random.default_rng(seed)
    m = int(n * share)
    host = rng.normal(size=(n - m, 8)) * np.sqrt([4.8, 7.2, 6.6, 4.2, 3.7, 3.2, 2.9, 2.8])
    minority = rng.normal(size=(m, 8)) * 1.5 + np.array([-18, 6, 0, 4.6, 0, 0, 0, 0])
    return np.concatenate([host, minority]), np.r_[np.zeros(n - m, int), np.ones(m, int)]


def _seed_labels(seeds, feats):
    p = seeds.project(torch.as_tensor(feats, dtype=torch.float32))
    return seeds.groups[torch.cdist(p, seeds.centres).argmin(1)].numpy()


def test_merged_seeds_isolate_a_3_percent_class_where_kmeans_halves_the_hosts():
    """k-means with K = 2 clusters can settle on halving the host cloud (here for
    its seed 3); the merged seeding (16 clusters, Ward merges) keeps the minority
    as its own class for every seed."""
    feats, truth = _minority_features()

    def isolated(lab):  # one class holds exactly the minority
        return len(set(lab[truth == 1])) == 1 and (lab == lab[truth == 1][0]).sum() == truth.sum()

    kmeans = _seed_labels(fit_class_seeds(feats, 2, seed=3, method="kmeans", features="raw"), feats)
    assert not isolated(kmeans), np.bincount(kmeans)
    for seed in range(4):
        merged = fit_class_seeds(feats, 2, seed=seed, features="raw")
        assert len(merged.centres) == 16 and sorted(set(merged.groups.tolist())) == [0, 1]
        lab = _seed_labels(merged, feats)
        assert isolated(lab), (seed, np.bincount(lab))


def test_ward_merge_joins_close_large_clusters_first():
    """Three host sub-clusters side by side and a small far one: the hosts merge."""
    centres = np.array([[0.0, 0], [1, 0], [2, 0], [0, 8]])
    groups = ward_merge(centres, np.array([300, 300, 300, 20]), 2)
    assert groups.tolist()[:3] == [groups[0]] * 3 and groups[3] != groups[0]
    assert sorted(set(groups.tolist())) == [0, 1]
    # an empty cluster goes with its nearest centre
    assert ward_merge(centres, np.array([300, 0, 300, 20]), 2)[1] == groups[0]


def test_seed_options_checked():
    feats, _ = _minority_features()
    with pytest.raises(IvaeError, match="method"):
        fit_class_seeds(feats, 2, method="ward")
    with pytest.raises(IvaeError, match="features"):
        fit_class_seeds(feats, 2, features="bright")
    raw = fit_class_seeds(feats, 2, features="raw")
    assert not raw.gain_free and fit_class_seeds(feats, 2).gain_free
