"""The scale latent (``ModelConfig.scale="free"``): size-invariant likelihood, seeds and
encoding, against glyphs drawn at known scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from napari_ivae import IvaeError
from napari_ivae.analysis import decode, encode
from napari_ivae.models import ModelConfig
from napari_ivae.models.bins import AngleBins, gyration
from napari_ivae.models.class_init import invariant_features
from napari_ivae.models.nets import base_grid
from napari_ivae.simulate import make_subtle_cards
from napari_ivae.train import TrainConfig, fit, load_model, run_fit, save_model


def _glyphs(scale: float, n_per_class: int = 2, size: int = 48) -> tuple[torch.Tensor, np.ndarray]:
    """Noise-free, centred glyphs at one scale (same seed: same glyphs and angles)."""
    cards = make_subtle_cards(
        n_per_class, size=size, max_shift=0.0, noise=0.0, scale_range=(scale, scale), seed=1
    )
    x = cards.images / cards.gains[:, None, None, None]  # contrast 1
    return torch.from_numpy(x).double(), cards.labels


def test_gyration_measures_the_object_size():
    """The radius of gyration of a glyph drawn 1.5× larger is 1.5× larger, whatever the glyph."""
    small, labels = _glyphs(0.75)
    large, _ = _glyphs(1.125)
    grid = base_grid(48, dtype=torch.float64)
    ratio = (gyration(large, grid) / gyration(small, grid)).numpy()
    assert np.allclose(ratio, 1.5, rtol=0.03), ratio
    assert len(set(labels.tolist())) == 3


def test_likelihood_at_the_objects_scale_fits_and_sorts_the_classes():
    """Templates drawn at scale 1; crops of the same glyphs at 0.75.  At s = 0.75 the best
    bin explains the crop (residual < 5 % of its variance) and the right template wins;
    at s = 1 (no scale latent) the residual is several times larger."""
    tmpl_img, labels = _glyphs(1.0)
    x, _ = _glyphs(0.75)
    bins = AngleBins(48, 36, np.pi, 0.1, "gaussian", 1.0, gain_free=True, min_scale=2 / 3).double()
    pts = bins.bin_points[None, None].expand(len(tmpl_img), 1, -1, -1)
    out = F.grid_sample(bins.smooth(tmpl_img), pts, align_corners=True)[:, :, 0]  # (N, C, Pd)
    # every crop against every template, at the true scale and at s = 1
    outs = out[None].expand(len(x), -1, -1, -1)
    zero = torch.zeros(len(x), 2, dtype=x.dtype)
    at_s = bins.nll(x, outs, zero, scale=torch.full((len(x),), 0.75, dtype=x.dtype))
    at_1 = bins.nll(x, outs, zero)
    own = torch.arange(len(x))
    best_s, best_1 = at_s.min(2).values, at_1.min(2).values  # (N, N) best bin
    energy = 0.5 * 2.0 * bins.smooth(x).var(dim=(1, 2, 3)) * (np.pi * 24**2) * 0.75**2
    assert (best_s[own, own] < 0.05 * energy).all()
    assert (best_1[own, own] > 3 * best_s[own, own]).all()
    # the class: the template of the same glyph (A and A_notch are close: the
    # notch is 4 % of the area) fits better than the other glyph's
    for i in range(len(x)):
        other = np.flatnonzero((labels == 2) != (labels[i] == 2))
        assert best_s[i, i] < best_s[i, other].min()


def test_scale_invariant_features_ignore_the_size():
    """Ring features taken at radii × the estimated size agree for the same glyph at
    two sizes far better than fixed-radius features do."""
    small, _ = _glyphs(0.8)
    large, _ = _glyphs(1.2)
    grid = base_grid(48, dtype=torch.float64)
    zero = torch.zeros(len(small), 2, dtype=torch.float64)

    def rel(a, b):
        return float(((a - b).norm(dim=1) / a.norm(dim=1)).mean())

    fixed = rel(invariant_features(small, zero), invariant_features(large, zero))
    scaled = rel(
        invariant_features(small, zero, gyration(small, grid)),
        invariant_features(large, zero, gyration(large, grid)),
    )
    assert scaled < 0.35 * fixed, (scaled, fixed)


def test_config_validates_scale():
    with pytest.raises(IvaeError, match="scale='free' needs a rotation model"):
        ModelConfig(kind="jvae", scale="free")
    with pytest.raises(IvaeError, match="angle_inference='grid'"):
        ModelConfig(kind="rvae", scale="free", angle_inference="encoder")
    with pytest.raises(IvaeError, match="scale"):
        ModelConfig(kind="rvae", scale="large")
    with pytest.raises(IvaeError, match="sigma_scale"):
        ModelConfig(kind="rvae", scale="free", sigma_scale=0.0)
    assert ModelConfig().scale == "fixed"


def test_fit_sets_the_reference_encode_reports_the_scale_and_checkpoints_keep_it(tmp_path):
    """After a short fit the reference is the median radius of gyration, ``scale`` follows
    the true scale (log corr. > 0.9), survives a restart and a save/load, and decode
    draws a larger object for a larger scale."""
    cards = make_subtle_cards(8, size=48, max_shift=1.0, seed=4)
    mc = ModelConfig(kind="jrvae", n_classes=3, scale="free", hidden=32)
    tc = TrainConfig(epochs=2, batch_size=12, restarts=2, restart_epochs=1, num_threads=1)
    model = run_fit(fit(cards.images, mc, tc)).model
    rg = gyration(torch.from_numpy(cards.images), base_grid(48)).numpy()
    assert float(model.scale_ref) == pytest.approx(float(np.median(rg)), rel=1e-4)
    df = encode(model, cards.images)
    assert np.corrcoef(np.log(df["scale"]), np.log(cards.scales))[0, 1] > 0.9
    save_model(tmp_path / "m.ivae", model, [])
    again = load_model(tmp_path / "m.ivae")[0]
    assert float(again.scale_ref) == float(model.scale_ref)
    assert np.allclose(encode(again, cards.images)["scale"], df["scale"], atol=1e-6)
    z = np.zeros((2, 2))
    one, big = decode(again, z, scale=[1.0, 1.4])[:, 0]
    # decode at s = 1.4 is the s = 1 image magnified 1.4× about the centre
    c = (48 - 1) / 2
    zoomed = ndi.affine_transform(one, np.eye(2) / 1.4, offset=c - c / 1.4, order=1)
    inner = np.hypot(*np.mgrid[0:48, 0:48] - c) < 16
    err = np.abs(zoomed - big)[inner].mean() / np.abs(big - big[inner].mean())[inner].mean()
    assert err < 0.1, err
    with pytest.raises(IvaeError, match="scale"):
        decode(again, z, scale=0.0)


def test_cli_train_with_a_scale_latent_reports_it_and_refuses_models_without_rotation(tmp_path):
    """``ivae train --scale free`` writes ``scale`` in latent.csv (following the true
    scale); on a model without rotation it is one line, exit 2, and nothing written."""
    import pandas as pd

    from napari_ivae.cli import main

    cards = make_subtle_cards(8, size=48, max_shift=1.0, seed=6)
    np.savez(tmp_path / "cards.npz", images=cards.images)
    fast = ["--latent-dim", "2", "--epochs", "1", "--batch-size", "12", "-q"]
    run = tmp_path / "run"
    code = main(["train", str(tmp_path / "cards.npz"), "--model", "jrvae", "--classes", "3",
                 "--scale", "free", *fast, "-o", str(run)])  # fmt: skip
    assert code == 0
    lat = pd.read_csv(run / "latent.csv")
    assert np.corrcoef(np.log(lat["scale"]), np.log(cards.scales))[0, 1] > 0.9
    bad = tmp_path / "bad"
    code = main(["train", str(tmp_path / "cards.npz"), "--model", "jvae", "--classes", "3",
                 "--scale", "free", *fast, "-o", str(bad)])  # fmt: skip
    assert code == 2 and not bad.exists()
