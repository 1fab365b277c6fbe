"""Structure–property models on a tiny scan whose spectrum peak position is a known function
of the local particle density (the patch content): each model beats the mean baseline on
held-out points; checkpoints round-trip; bad inputs are refused with one sentence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ivae._errors import IvaeError
from napari_ivae.structure import (
    StructureConfig,
    fit_structure,
    load_structure,
    patches_at,
    predict_patches,
    predict_spectra,
    save_structure,
    spectra_at,
)
from napari_ivae.structure.metrics import affine_unexplained, ring_profile
from napari_ivae.train import TrainConfig, run_fit

WINDOW = 12


@pytest.fixture(scope="module")
def scan():
    """Blobs with a density varying over the scan; peak energy = 6 + 20 × local density."""
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(0)
    h = w = 64
    yy, xx = np.mgrid[:h, :w]
    density = 0.5 + 0.5 * np.sin(xx / 9.0) * np.cos(yy / 11.0)
    image = np.zeros((h, w))
    for y, x in rng.uniform(0, h, size=(220, 2)):
        if rng.random() < density[int(y), int(x)]:
            image += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 4.0)
    local = uniform_filter(image, 9)
    peak = 6 + 20 * (local - local.min()) / np.ptp(local)
    energy = np.arange(32.0)
    si = np.exp(-((energy - peak[..., None]) ** 2) / 8.0) + 0.05 * rng.normal(size=(h, w, 32))
    points = rng.uniform(0, h - 1, size=(240, 2))
    return image.astype(np.float32), si.astype(np.float32), points[:120], points[120:]


def _train(scan, kind, epochs=40):
    torch.set_num_threads(1)
    image, si, train, _ = scan
    config = StructureConfig(kind=kind, latent_dim=4, hidden=64, encoder="mlp")
    tc = TrainConfig(epochs=epochs, batch_size=40, lr=3e-3, device="cpu", seed=1)
    reports = []
    result = run_fit(fit_structure(patches_at(image, train, WINDOW), spectra_at(si, train),
                                   config, tc), reports.append)  # fmt: skip
    assert reports[0].phase == "start" and reports[-1].epoch_time is not None
    assert len(result.history) == epochs and result.stopped is None
    return result.model


@pytest.fixture(scope="module")
def dual(scan):
    return _train(scan, "dual")


def _spectrum_ratio(scan, model):
    image, si, train, test = scan
    truth, mean = spectra_at(si, test), spectra_at(si, train).mean(0)
    pred, std = predict_spectra(model, image, test, n_samples=4)
    assert pred.shape == truth.shape == std.shape and (std >= 0).all()
    return ((pred - truth) ** 2).mean() / ((mean - truth) ** 2).mean()


def _patch_ratio(scan, model):
    """(Ring-profile 1 − r² of the prediction, whole-patch MSE over that of the mean patch)."""
    image, si, train, test = scan
    truth, mean = patches_at(image, test, WINDOW), patches_at(image, train, WINDOW).mean(0)
    pred, _ = predict_patches(model, si, test)
    assert pred.shape == truth.shape == (len(test), 1, WINDOW, WINDOW)
    mse = ((pred - truth) ** 2).mean() / ((mean - truth) ** 2).mean()
    return affine_unexplained(ring_profile(pred), ring_profile(truth)), mse


def test_im2spec_beats_the_mean_spectrum(scan):
    assert _spectrum_ratio(scan, _train(scan, "im2spec")) < 0.4


def test_spec2im_recovers_the_ring_profile(scan):
    rings, mse = _patch_ratio(scan, _train(scan, "spec2im"))
    assert rings < 0.5 and mse < 0.9  # the mean patch: rings 1 (no variation), mse 1


def test_dual_predicts_both_directions(scan, dual):
    assert _spectrum_ratio(scan, dual) < 0.5
    rings, mse = _patch_ratio(scan, dual)
    assert rings < 0.5 and mse < 0.9


def test_checkpoint_round_trip(scan, dual, tmp_path):
    image, _, _, test = scan
    save_structure(tmp_path / "m.ivae", dual, [{"loss": 1.0}])
    loaded, history = load_structure(tmp_path / "m.ivae")
    assert history == [{"loss": 1.0}] and loaded.config == dual.config
    assert len(loaded.config.spec_mean) == 32 and loaded.config.spec_scale > 0
    np.testing.assert_array_equal(predict_spectra(loaded, image, test)[0],
                                  predict_spectra(dual, image, test)[0])  # fmt: skip


def test_an_ivae_checkpoint_is_not_a_structure_model(tmp_path):
    from napari_ivae.models import ModelConfig, build_model
    from napari_ivae.train import save_model

    save_model(
        tmp_path / "r.ivae", build_model(ModelConfig(kind="vae", in_channels=1, size=16)), []
    )
    with pytest.raises(IvaeError, match="not a structure–property model"):
        load_structure(tmp_path / "r.ivae")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda im, si: patches_at(im, [[10, 70]], WINDOW), "outside the 64×64 scan"),
        (lambda im, si: patches_at(im, [[10, 10]], 65), "window must be between 8 and"),
        (lambda im, si: spectra_at(si[:, :50], [[1, 1]], shape=(64, 64)), "differs from the image"),
        (lambda im, si: spectra_at(np.full_like(si, np.nan), [[1, 1]]), "NaN or inf spectra"),
        (lambda im, si: StructureConfig(kind="spec2img"), "kind='spec2img' is not one of"),
    ],
)
def test_bad_inputs(scan, call, message):
    with pytest.raises(IvaeError, match=message):
        call(scan[0], scan[1])


def test_wrong_direction_is_refused(scan, dual):
    import dataclasses

    from napari_ivae.models.structure_config import build_structure_model

    im2spec = build_structure_model(dataclasses.replace(dual.config, kind="im2spec"))
    with pytest.raises(IvaeError, match="predicts spectra, not image patches"):
        predict_patches(im2spec, scan[1], scan[3])


def test_ring_profile_and_affine_scores():
    from napari_ivae.structure.metrics import affine_unexplained_rows, pearson_r

    yy, xx = np.mgrid[:12, :12]
    r = np.hypot(yy - 5.5, xx - 5.5)
    disk = (r < 3).astype(float)[None, None]  # bright centre, dark outside
    ring = ((r >= 3) & (r < 5)).astype(float)[None, None]
    profiles = ring_profile(np.concatenate([disk, ring]))
    assert profiles.shape == (2, 6)
    np.testing.assert_allclose(profiles, [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 0]])
    assert affine_unexplained(3 * profiles + 1, profiles) < 1e-12
    rows = affine_unexplained_rows(profiles[::-1], profiles)
    assert (rows > 0.3).all() and pearson_r(profiles, profiles) == pytest.approx(1.0)
