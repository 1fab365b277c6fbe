"""Models: configuration checks, shapes, and the geometry of the spatial decoder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from napari_ivae import IvaeError
from napari_ivae.models import ModelConfig, build_model
from napari_ivae.models.base import wrapped_normal_bins


@pytest.mark.parametrize("kind", ["vae", "rvae", "jvae", "jrvae"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("decoder", ["template", "coord"])
def test_shapes_all_kinds(kind, channels, decoder):
    torch.manual_seed(0)
    joint = kind in ("jvae", "jrvae")
    cfg = ModelConfig(
        kind=kind, in_channels=channels, size=12, latent_dim=3, hidden=16,
        n_classes=3 if joint else None, decoder=decoder, angle_bins=8,
    )  # fmt: skip
    model = build_model(cfg)
    x = torch.rand(5, channels, 12, 12)
    p = model.posterior(x)
    assert p["z_mu"].shape == (5, 3) and p["z_logstd"].shape == (5, 3)
    assert ("angle" in p) == (kind in ("rvae", "jrvae"))
    assert ("logits" in p) == joint
    if joint:
        assert p["logits"].shape == (5, 3)
    onehot = torch.eye(3)[[0, 1, 2, 0, 1]] if joint else None
    out = model.decode_mean(p["z_mu"], p.get("angle"), p.get("shift"), onehot)
    assert out.shape == (5, channels, 12, 12)
    terms = model(x)
    assert all(torch.isfinite(v) for v in terms.values())
    assert "recon" in terms and "kl_z" in terms
    assert ("kl_disc" in terms) == joint
    sum(terms.values()).backward()


def test_config_errors_name_the_parameter():
    with pytest.raises(IvaeError, match="latent_dim"):
        ModelConfig(latent_dim=0)
    with pytest.raises(IvaeError, match="n_classes"):
        ModelConfig(kind="rvae", n_classes=4)
    with pytest.raises(IvaeError, match="kind"):
        ModelConfig(kind="bvae")
    with pytest.raises(IvaeError, match="likelihood"):
        ModelConfig(likelihood="poisson")
    with pytest.raises(IvaeError, match="n_classes"):
        ModelConfig(kind="jrvae", n_classes=1)
    assert ModelConfig(kind="jvae").n_classes == 2
    with pytest.raises(IvaeError, match="in_channels"):
        build_model(ModelConfig())


def test_config_roundtrip():
    cfg = ModelConfig(kind="jrvae", in_channels=2, size=16, n_classes=4)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(IvaeError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize("decoder", ["template", "coord"])
def test_decoder_rotates_the_grid(decoder):
    """Decoding at angle π/2 is the angle-0 image rotated by 90° (ground truth geometry)."""
    torch.manual_seed(1)
    model = build_model(ModelConfig(kind="rvae", in_channels=1, size=17, decoder=decoder))
    z = torch.randn(1, 2).repeat(4, 1)
    ang = torch.tensor([0.0, math.pi / 2, math.pi, -math.pi / 2])
    with torch.no_grad():
        out = model.decode_mean(z, ang, torch.zeros(4, 2)).numpy()[:, 0]
    for k in (1, 2, 3):
        cands = [np.abs(np.rot90(out[0], s * k) - out[k]).max() for s in (1, -1)]
        assert min(cands) < 1e-4 * max(1.0, np.abs(out).max())
    assert np.abs(out[0] - out[1]).max() > 1e-3  # it does depend on the angle


def test_bin_likelihood_matches_direct_rotation():
    """The rotate-the-input NLL over bins equals the NLL of the rotated output on the disk."""
    torch.manual_seed(2)
    cfg = ModelConfig(kind="rvae", in_channels=2, size=15, angle_bins=4, hidden=8)
    model = build_model(cfg)
    x = torch.rand(3, 2, 15, 15)
    z = torch.randn(3, 2)
    out = model.decode_raw(z, torch.zeros(3), torch.zeros(3, 2))  # (3, C, H, W)
    got = model._nll_bins(x, out[:, None])[:, 0]  # (3, 4)
    disk = model.disk.view(15, 15)
    xs = model.smooth(x)
    for m, theta in enumerate(model.bin_centers.tolist()):
        rot = model.decode_raw(z, torch.full((3,), theta), torch.zeros(3, 2))
        want = (0.5 * (rot - xs).pow(2))[..., disk].flatten(1).sum(1)
        np.testing.assert_allclose(got[:, m].detach(), want.detach(), rtol=1e-4, atol=1e-3)


def test_wrapped_prior_bins():
    lp = wrapped_normal_bins(36, math.pi)
    p = lp.exp()
    assert abs(float(p.sum()) - 1) < 1e-5
    assert int(p.argmax()) == 0  # bin 0 is centred on angle 0
    assert float(p.max() / p.min()) < 3  # broad: covers 0-360°


@pytest.mark.parametrize("kind", ["jvae", "jrvae"])
def test_exact_class_posterior(kind):
    """``discrete="exact"``: the class posterior favours the class whose decode fits."""
    torch.manual_seed(3)
    cfg = ModelConfig(kind=kind, in_channels=1, size=12, hidden=16, n_classes=3,
                      discrete="exact", angle_bins=8)  # fmt: skip
    model = build_model(cfg)
    x = torch.rand(4, 1, 12, 12)
    p = model.posterior(x)
    assert p["logits"].shape == (4, 3)
    terms = model(x)
    assert torch.isfinite(sum(terms.values()))
    sum(terms.values()).backward()
    if kind == "jvae":  # the logits are the per-class log-likelihoods at z_mu
        with torch.no_grad():
            for k in range(3):
                out = model.decode_raw(p["z_mu"], None, None, torch.eye(3)[[k] * 4])
                want = -(0.5 * (out - x).pow(2)).flatten(1).sum(1)
                torch.testing.assert_close(p["logits"][:, k], want, rtol=1e-4, atol=1e-3)
