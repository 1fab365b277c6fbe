"""Latent outputs: encode / decode / manifold / traversal, and the invariance of a trained rVAE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_ivae import IvaeError
from napari_ivae.analysis import decode, encode, manifold, traversal
from napari_ivae.models import ModelConfig, build_model
from napari_ivae.train import TrainConfig, fit


def _model(kind, c=1, size=16, k=2):
    torch.manual_seed(0)
    joint = kind in ("jvae", "jrvae")
    cfg = ModelConfig(kind=kind, in_channels=c, size=size, latent_dim=k, hidden=16,
                      n_classes=3 if joint else None, angle_bins=8)  # fmt: skip
    return build_model(cfg).eval()


@pytest.mark.parametrize("kind", ["vae", "rvae", "jvae", "jrvae"])
def test_encode_columns(kind):
    model = _model(kind, c=2)
    x = np.random.default_rng(0).random((7, 2, 16, 16), dtype=np.float32)
    df = encode(model, x, batch_size=3)
    want = ["z1", "z2", "z1_std", "z2_std"]
    if kind in ("rvae", "jrvae"):
        want += ["angle", "angle_std", "dy", "dx"]
    if kind in ("jvae", "jrvae"):
        want += ["class", "p0", "p1", "p2"]
    assert list(df.columns) == want and len(df) == 7
    assert (df[["z1_std", "z2_std"]] > 0).all().all()
    if "angle" in df:
        assert ((df.angle >= -math.pi) & (df.angle < math.pi)).all()
    if "class" in df:
        np.testing.assert_allclose(df[["p0", "p1", "p2"]].sum(axis=1), 1, rtol=1e-6)
        assert (df["class"] == df[["p0", "p1", "p2"]].to_numpy().argmax(1)).all()
    # batch size does not change the result
    np.testing.assert_allclose(
        encode(model, x, batch_size=100).to_numpy(), df.to_numpy(), atol=1e-5, rtol=1e-5
    )


def test_encode_carries_stack_coordinates():
    class Stack:
        images = np.zeros((3, 1, 16, 16), np.float32)
        yx = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        frame = np.array([0, 0, 2])
        index = np.array([4, 7, 9])

    df = encode(_model("rvae"), Stack())
    assert list(df.columns[:3]) == ["y", "x", "frame"]
    np.testing.assert_array_equal(df[["y", "x"]].to_numpy(), Stack.yx)
    np.testing.assert_array_equal(df["frame"], Stack.frame)


def test_decode_shift_moves_the_object_in_pixels():
    model = _model("rvae", size=24)
    z = np.zeros((1, 2))
    base = decode(model, z)[0, 0]
    moved = decode(model, z, shift=(3.0, -2.0))[0, 0]
    # the decoded image is the same pattern translated by (+3 rows, -2 columns)
    want = ndimage.shift(base, (3.0, -2.0), order=1)
    inner = (slice(6, -6), slice(6, -6))
    assert np.abs(moved[inner] - want[inner]).max() < 1e-3 * max(1, np.abs(base).max())
    # with a rotation the displacement is still in image rows/columns
    rot = decode(model, z, angle=0.7)[0, 0]
    rot_moved = decode(model, z, angle=0.7, shift=(3.0, -2.0))[0, 0]
    want = ndimage.shift(rot, (3.0, -2.0), order=1)
    assert np.abs(rot_moved[inner] - want[inner]).max() < 1e-3 * max(1, np.abs(base).max())


def test_manifold_traversal_shapes_and_errors():
    model = _model("jrvae", c=2, k=3)
    g = manifold(model, dims=(0, 2), n=4, cls=1)
    assert g.shape == (2, 64, 64)
    t = traversal(model, 1, n=5, cls=2)
    assert t.shape == (2, 16, 80)
    # the traversal tiles are the decoded images
    d = decode(model, np.array([[0.0, -2.0, 0.0]]), cls=2)
    np.testing.assert_allclose(t[:, :, :16], d[0], atol=1e-6)
    with pytest.raises(IvaeError, match="dims"):
        manifold(model, dims=(0, 0))
    with pytest.raises(IvaeError, match="dim"):
        traversal(model, 3)
    with pytest.raises(IvaeError, match="cls"):
        decode(model, np.zeros((1, 3)), cls=3)
    with pytest.raises(IvaeError, match="latent"):
        decode(model, np.zeros((1, 2)))
    with pytest.raises(IvaeError, match="shape"):
        encode(model, np.zeros((2, 1, 16, 16), np.float32))


def _glyph(size=24):
    g = np.zeros((size, size), np.float32)
    g[5:19, 7:11] = 1.0  # vertical bar
    g[5:9, 11:18] = 1.0  # top arm: an "F"-like glyph without rotational symmetry
    g[11:14, 11:15] = 1.0
    return ndimage.gaussian_filter(g, 0.8)


def _rotate(img, deg):
    return ndimage.rotate(img, deg, reshape=False, order=1)


@pytest.mark.slow
def test_rotation_goes_to_angle_not_z():
    """Train a small rVAE on rotated copies of one glyph; rotating an input by θ
    moves ``angle`` by ±θ and hardly moves z."""
    rng = np.random.default_rng(0)
    g = _glyph()
    degs = rng.uniform(0, 360, 600)
    x = np.stack([_rotate(g, d) for d in degs])[:, None]
    x += 0.03 * rng.standard_normal(x.shape).astype(np.float32)
    mc = ModelConfig(kind="rvae", latent_dim=2, hidden=64)
    tc = TrainConfig(epochs=25, batch_size=64, device="cpu", seed=0)
    reports = list(fit(x, mc, tc))
    model = reports[-1].model.eval()
    test_degs = np.arange(0, 360, 30.0)
    probe = np.stack([_rotate(g, d) for d in test_degs])[:, None]
    df = encode(model, probe)
    theta = np.deg2rad(test_degs)
    diffs = [np.abs(np.mean(np.exp(1j * (df.angle - s * theta)))) for s in (1, -1)]
    assert max(diffs) > 0.9, diffs  # angle follows the rotation (up to sign and offset)
    z = df[["z1", "z2"]].to_numpy()
    z_spread = np.linalg.norm(z - z.mean(0), axis=1).mean()
    assert z_spread < 0.5, z_spread  # z (prior scale 1) hardly moves
