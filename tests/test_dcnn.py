"""DCNN detectors: shipped weights, tiling, accuracy on simulated ground truth, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

torch = pytest.importorskip("torch")

from napari_ivae import IvaeError  # noqa: E402
from napari_ivae.detect import dcnn  # noqa: E402
from napari_ivae.detect._metrics import match_points, wall_f1  # noqa: E402
from napari_ivae.simulate import simulate_pfm, simulate_stem  # noqa: E402

CONFIG_KEYS = {
    "task": str, "in_channels": int, "out_channels": int, "base": int, "depth": int,
    "tile": int, "margin": int, "seed": int, "steps": int, "heat_sigma": float,
    "spacing_min": float, "spacing_max": float, "version": int,
}  # fmt: skip


@pytest.mark.parametrize("task, in_channels", [("atoms", 1), ("walls", 5)])
def test_weights_load_safely_with_documented_config(task, in_channels):
    path = dcnn.WEIGHTS_DIR / f"{task}.pt"
    assert path.stat().st_size <= 5 * 1024 * 1024
    blob = torch.load(path, map_location="cpu", weights_only=True)  # no pickled objects
    assert set(blob) == {"state_dict", "config"}
    cfg = blob["config"]
    for key, typ in CONFIG_KEYS.items():
        assert isinstance(cfg[key], typ), key
    assert all(isinstance(v, (int, float, str)) for v in cfg.values())
    assert cfg["task"] == task and cfg["in_channels"] == in_channels
    assert all(isinstance(v, torch.Tensor) for v in blob["state_dict"].values())
    net, cfg2, dev = dcnn.load_network(task, device="cpu")
    assert cfg2 == cfg and dev.type == "cpu"
    assert dcnn.load_network(task, device="cpu")[0] is net  # cached per process


def test_tiling_matches_single_pass_and_handles_odd_and_small_sizes():
    from napari_ivae.detect._unet import predict_tiled

    net, cfg, dev = dcnn.load_network("atoms", device="cpu")
    img = dcnn.normalize(simulate_stem((203, 171), seed=1001).image)[None]
    single = predict_tiled(net, img, device=dev, tile=512, margin=cfg["margin"])
    tiled = predict_tiled(net, img, device=dev, tile=128, margin=cfg["margin"], batch=8)
    assert single.shape == tiled.shape == (203, 171)
    assert np.abs(single - tiled).max() < 0.05
    assert np.abs(single - tiled).mean() < 1e-3
    small = dcnn.atom_heatmap(simulate_stem((37, 45), seed=1002).image, spacing=8.0, device="cpu")
    assert small.shape == (37, 45) and small.dtype == np.float32 and small.max() > 0.5


@pytest.mark.parametrize("shape", [(31, 100), (100, 20)])
def test_too_small_image_raises(shape):
    with pytest.raises(IvaeError, match="minimum"):
        dcnn.atom_heatmap(np.random.default_rng(0).random(shape))
    with pytest.raises(IvaeError, match="minimum"):
        dcnn.wall_probability(np.random.default_rng(0).random(shape) * 360)


@pytest.mark.parametrize(
    "image", [np.full((64, 64), 3.0), np.full((64, 64), np.nan), np.zeros((2, 64, 64))]
)
def test_unusable_image_raises(image):
    with pytest.raises(IvaeError, match="image"):
        dcnn.detect_atoms_dcnn(image)


def test_atoms_f1_on_simulated_graphene():
    s = simulate_stem((160, 160), lattice="graphene", seed=1003)
    df = dcnn.detect_atoms_dcnn(s.image, device="cpu")
    assert list(df.columns) == ["y", "x", "score", "intensity"]
    m = match_points(df[["y", "x"]].to_numpy(), s.atoms[["y", "x"]].to_numpy())
    assert m["f1"] >= 0.97
    assert m["rmse"] <= 0.5
    assert df["score"].between(0.5, 1.0 + 1e-6).all()
    # dopants are brighter columns: their integrated intensity stands out
    _, j = cKDTree(df[["y", "x"]].to_numpy()).query(s.atoms[["y", "x"]].to_numpy())
    dop = s.atoms["kind"].to_numpy() == "dopant"
    assert dop.any()
    inten = df["intensity"].to_numpy()[j]
    assert np.median(inten[dop]) > 1.3 * np.median(inten[~dop])


def test_atoms_spacing_outside_training_range_is_rescaled():
    s = simulate_stem((192, 192), lattice="square", spacing=30.0, seed=1004)
    df = dcnn.detect_atoms_dcnn(s.image, spacing=30.0, device="cpu")
    assert match_points(df[["y", "x"]].to_numpy(), s.atoms[["y", "x"]].to_numpy())["f1"] >= 0.95


def test_wall_f1_on_simulated_pfm_and_units():
    from skimage.morphology import skeletonize

    s = simulate_pfm((128, 128), seed=1005)
    prob = dcnn.wall_probability(s.phase, s.amplitude, device="cpu")
    assert prob.shape == (128, 128) and prob.dtype == np.float32
    assert 0 <= prob.min() and prob.max() <= 1
    assert wall_f1(skeletonize(prob > 0.5), s.walls)["f1"] >= 0.9
    # the same phase in radians (detected automatically) gives the same map
    prob_rad = dcnn.wall_probability(np.deg2rad(s.phase), s.amplitude, device="cpu")
    assert np.abs(prob_rad - prob).max() < 1e-3
    # phase only still finds the walls
    only_phase = dcnn.wall_probability(s.phase, None, device="cpu")
    assert wall_f1(skeletonize(only_phase > 0.5), s.walls)["f1"] >= 0.85


def test_wall_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(IvaeError, match="both are None"):
        dcnn.wall_probability(None, None)
    with pytest.raises(IvaeError, match="shapes differ"):
        dcnn.wall_probability(rng.random((64, 64)), rng.random((64, 80)))
    with pytest.raises(IvaeError, match="phase_units"):
        dcnn.wall_probability(rng.random((64, 64)), phase_units="grad")


def test_unavailable_or_unknown_device_raises():
    with pytest.raises(IvaeError, match="device"):
        dcnn.load_network("atoms", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(IvaeError, match="not available"):
            dcnn.load_network("atoms", device="cuda")
