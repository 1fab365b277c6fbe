"""The per-point table of a structure–property model: ``spectrum_mse`` is the squared error of
``predict_spectra`` against the measured spectra, latents are the encoders' means under the
names the GUI writes (``z1 …``; dual: ``zs1 …`` structure, ``zp1 …`` property)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_ivae._errors import IvaeError
from napari_ivae.structure import (
    StructureConfig,
    fit_structure,
    patches_at,
    predict_spectra,
    spectra_at,
    structure_latents,
    structure_table,
)
from napari_ivae.structure.metrics import spectrum_mse
from napari_ivae.structure.table import STRUCTURE_COLUMN
from napari_ivae.train import TrainConfig, run_fit


def test_spectrum_mse_is_the_row_mean_of_squared_errors():
    pred = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    true = np.array([[1.0, 2.0, 3.0], [1.0, -2.0, 3.0]])
    np.testing.assert_allclose(spectrum_mse(pred, true), [0.0, 14.0 / 3.0])
    with pytest.raises(IvaeError, match=r"\(N, E\) of one shape"):
        spectrum_mse(pred, true[:, :2])


@pytest.fixture(scope="module")
def scan():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(32, 32)).astype(np.float32)
    energy = np.arange(16.0)
    peak = 4 + 8 * (image - image.min()) / np.ptp(image)
    si = np.exp(-((energy - peak[..., None]) ** 2) / 4.0).astype(np.float32)
    points = rng.uniform(2, 29, size=(30, 2))
    return image, si, points


def _model(scan, kind):
    torch.set_num_threads(1)
    image, si, pts = scan
    config = StructureConfig(kind=kind, latent_dim=2, hidden=16, encoder="mlp")
    tc = TrainConfig(epochs=2, batch_size=15, device="cpu", seed=0)
    return run_fit(fit_structure(patches_at(image, pts, 8), spectra_at(si, pts), config, tc)).model


@pytest.mark.parametrize("kind", ["im2spec", "spec2im", "dual"])
def test_table_columns_and_values(scan, kind):
    image, si, pts = scan
    model = _model(scan, kind)
    table = structure_table(model, image, si, pts)
    assert len(table) == len(pts)
    assert all(STRUCTURE_COLUMN.match(c) for c in table.columns)
    patches, spectra = patches_at(image, pts, 8), spectra_at(si, pts)
    raw = structure_latents(model, patches=patches, spectra=spectra)
    if kind == "dual":
        assert list(table.columns) == ["zs1", "zs2", "zp1", "zp2", "spectrum_mse"]
        np.testing.assert_allclose(table["zs2"], raw["zi1"], rtol=1e-6)  # structure: image side
        np.testing.assert_allclose(table["zp1"], raw["zs0"], rtol=1e-6)  # property: spectrum side
    else:
        expected = ["z1", "z2"] + (["spectrum_mse"] if kind == "im2spec" else [])
        assert list(table.columns) == expected
        np.testing.assert_allclose(table["z2"], raw["z1"], rtol=1e-6)
    if kind != "spec2im":
        pred, _ = predict_spectra(model, image, pts)
        want = ((pred.astype(float) - spectra) ** 2).mean(1)
        np.testing.assert_allclose(table["spectrum_mse"], want, rtol=1e-6)
        assert (want > 0).all()


def test_table_refuses_points_outside_the_scan(scan):
    image, si, _pts = scan
    model = _model(scan, "im2spec")
    with pytest.raises(IvaeError):
        structure_table(model, image, si, np.array([[5.0, 40.0]]))
