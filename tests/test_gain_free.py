"""The gain-free likelihood (``ModelConfig.gain="free"``): classes blind to a per-crop
contrast and background, against least-squares and simulated ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_ivae import IvaeError
from napari_ivae.crop import Stack
from napari_ivae.models import ModelConfig, build_model
from napari_ivae.models.bins import AngleBins, gain_free_sse
from napari_ivae.simulate import make_subtle_cards
from napari_ivae.train.seeds import resolve_gain


def test_gain_free_sse_is_the_least_squares_residual():
    """Best gain (one, ≥ 0) and offsets (one per channel): the residual of a direct lstsq."""
    rng = np.random.default_rng(0)
    n, c = 40, 2
    o, m = rng.normal(size=(n, c)), rng.uniform(0.2, 1.0, n)
    x = 1.7 * o + np.array([0.3, -0.2]) + 0.1 * rng.normal(size=(n, c))
    a_mat = np.concatenate([o.T.reshape(-1, 1), np.kron(np.eye(c), np.ones((n, 1)))], axis=1)
    sw = np.sqrt(np.tile(m, c))
    sol, *_ = np.linalg.lstsq(a_mat * sw[:, None], x.T.reshape(-1) * sw, rcond=None)
    want = float((((a_mat @ sol) - x.T.reshape(-1)) ** 2 * sw**2).sum())
    t = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731
    mw = m[:, None]
    got = gain_free_sse(t((mw * x * x).sum()), t((mw * x * o).sum()), t((mw * o * o).sum()),
                        t((mw * x).sum(0)), t((mw * o).sum(0)), t(m.sum()))  # fmt: skip
    assert abs(float(got) - want) < 1e-9 * max(1.0, want)
    # an inverted template is not a fit (the gain is ≥ 0): the residual is the centred x
    flipped = gain_free_sse(t((mw * x * x).sum()), t(-(mw * x * o).sum()), t((mw * o * o).sum()),
                            t((mw * x).sum(0)), t(-(mw * o).sum(0)), t(m.sum()))  # fmt: skip
    centred = float((mw * (x - (mw * x).sum(0) / m.sum()) ** 2).sum())
    assert abs(float(flipped) - centred) < 1e-9 * centred


def _bins_nll(bins, x, templates):
    """NLL of every image under each template drawn at the bins' lattice, zero shift."""
    pts = bins.bin_points[None, None].expand(len(templates), 1, -1, -1)
    out = F.grid_sample(bins.smooth(templates), pts, align_corners=True)[:, :, 0]  # (K, C, Pd)
    out = out[None].expand(len(x), -1, -1, -1)
    return bins.nll(x, out, torch.zeros(len(x), 2, dtype=x.dtype))  # (B, K, M)


def test_grid_nll_is_blind_to_contrast_and_background():
    """x = a·glyph + b: the gain-free NLL is a² × that of the glyph itself (exact), so
    the best class and angle do not move with a per-crop contrast; the fixed one does."""
    cards = make_subtle_cards(2, size=32, max_shift=0.0, noise=0.0, scale_range=(0.8, 0.8), seed=1)
    glyphs = torch.from_numpy(cards.images / cards.gains[:, None, None, None]).double()
    templates = glyphs[[0, int(np.flatnonzero(cards.labels != cards.labels[0])[0])]]
    x = glyphs[:1].expand(3, -1, -1, -1)
    a = torch.tensor([0.4, 1.0, 2.5], dtype=torch.float64)[:, None, None, None]
    xs = a * x + torch.tensor([0.3, 0.0, -0.5], dtype=torch.float64)[:, None, None, None]
    free = AngleBins(32, 12, np.pi, 0.1, "gaussian", 1.0, gain_free=True).double()
    fixed = AngleBins(32, 12, np.pi, 0.1, "gaussian", 1.0, gain_free=False).double()
    nll = _bins_nll(free, xs, templates)
    base = _bins_nll(free, x[:1], templates)
    torch.testing.assert_close(
        nll, a.view(3, 1, 1) ** 2 * base.expand_as(nll), rtol=1e-6, atol=1e-6
    )
    best = nll.flatten(1).argmin(1)
    assert (best == best[1]).all() and int(best[1]) // 12 == 0  # own class, same bin
    nll_fixed = _bins_nll(fixed, xs, templates)
    assert not torch.allclose(nll_fixed, a.view(3, 1, 1) ** 2 * nll_fixed[1:2], rtol=0.1)


def test_exact_class_posterior_ignores_contrast_without_rotation():
    """jvae (no grid): with the templates fixed to the glyphs, gain="free" sends every
    image of any contrast and background to its glyph's class."""
    cards = make_subtle_cards(20, size=32, max_shift=0.0, noise=0.02,
                              scale_range=(0.8, 0.8), seed=2)  # fmt: skip
    rng = np.random.default_rng(2)
    glyph = cards.images / cards.gains[:, None, None, None]
    x = torch.from_numpy(glyph * rng.uniform(0.2, 3.0, (len(glyph), 1, 1, 1))
                         + rng.uniform(-1, 1, (len(glyph), 1, 1, 1))).float()  # fmt: skip
    model = build_model(ModelConfig(kind="jvae", n_classes=3, in_channels=1, size=32,
                                    hidden=8, gain="free")).eval()  # fmt: skip
    # class templates: a mean glyph of each class at the data's angles would be rotated;
    # use one exact glyph per image instead (the decoded template of class k = glyph k
    # at this image's pose), so the truth is known
    from napari_ivae.simulate._subtle import render_subtle

    poses = [render_subtle(np.full(len(x), k), cards.angles, cards.scales, cards.shifts,
                           size=32) for k in range(3)]  # fmt: skip
    out = torch.from_numpy(np.stack(poses, 1)[:, :, None]).float()  # (N, K, 1, H, W)
    model.decode_raw = lambda z, angle, shift, onehot: out.reshape(-1, 1, 32, 32)
    with torch.no_grad():
        cls = model.posterior(x)["logits"].argmax(1).numpy()
    assert (cls == cards.labels).mean() == 1.0
    model_fixed = build_model(ModelConfig(kind="jvae", n_classes=3, in_channels=1, size=32,
                                          hidden=8, gain="fixed")).eval()  # fmt: skip
    model_fixed.decode_raw = model.decode_raw
    with torch.no_grad():
        cls_fixed = model_fixed.posterior(x)["logits"].argmax(1).numpy()
    assert (cls_fixed == cards.labels).mean() < 0.9


def test_auto_gain_is_decided_from_the_data():
    """Joint kinds: free on bare arrays and z-scored stacks, fixed on neighbourhood-
    normalised stacks (brightness is chemistry); other kinds and explicit values kept."""
    images = np.zeros((2, 1, 8, 8), np.float32)
    stack = lambda norm: Stack(images, np.zeros((2, 2)), np.zeros(2, np.int64),  # noqa: E731
                               np.arange(2), ("c",), normalize=norm)  # fmt: skip
    joint = ModelConfig(kind="jrvae", n_classes=3)
    assert resolve_gain(joint, images).gain == "free"
    assert resolve_gain(joint, stack("zscore")).gain == "free"
    assert resolve_gain(joint, stack("local")).gain == "fixed"
    assert resolve_gain(ModelConfig(kind="rvae"), images).gain == "fixed"
    assert resolve_gain(ModelConfig(kind="jvae", gain="fixed"), images).gain == "fixed"
    assert resolve_gain(None, images) is None
    with pytest.raises(IvaeError, match="gain='free' needs likelihood='gaussian'"):
        ModelConfig(kind="jvae", gain="free", likelihood="bernoulli")


def test_gain_free_encoder_ignores_contrast_and_background():
    """gain="free": z, the shift and the class do not move with x -> a·x + b (a > 0)."""
    torch.manual_seed(0)
    cards = make_subtle_cards(3, size=32, scale_range=(0.8, 0.8), max_shift=1.0, seed=4)
    x = torch.from_numpy(cards.images)
    model = build_model(ModelConfig(kind="jrvae", n_classes=3, in_channels=1, size=32,
                                    hidden=16, angle_bins=8, gain="free")).eval()  # fmt: skip
    with torch.no_grad():
        p, q = model.posterior(x), model.posterior(2.5 * x - 0.7)
    torch.testing.assert_close(q["z_mu"], p["z_mu"], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(q["shift"], p["shift"], rtol=1e-3, atol=1e-4)
    assert (q["logits"].argmax(1) == p["logits"].argmax(1)).all()
