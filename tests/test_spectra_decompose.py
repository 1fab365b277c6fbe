"""PCA / NMF of spectrum images against an exact low-rank truth; the output folder is atomic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy.optimize import linear_sum_assignment

from napari_ivae._errors import IvaeError
from napari_ivae.spectra import SpectrumImage, decompose, write_decomposition


def _low_rank(h=24, w=20, e=60, seed=0):
    """An exact rank-3 non-negative SI whose maps each have pure pixels."""
    rng = np.random.default_rng(seed)
    energy = np.linspace(1.0, 4.0, e)
    spectra = (
        np.stack([np.exp(-0.5 * ((energy - mu) / 0.25) ** 2) for mu in (1.5, 2.5, 3.4)]) + 0.05
    )
    maps = rng.dirichlet([0.3, 0.3, 0.3], size=h * w)  # sparse: many near-pure pixels
    maps[:3] = np.eye(3)
    data = (maps @ spectra).reshape(h, w, e).astype(np.float32)
    return SpectrumImage(data, energy, "eV", "rank3"), spectra, maps.reshape(h, w, 3)


def _cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = a @ b.T
    rows, cols = linear_sum_assignment(-c)
    return c[rows, cols], cols


def test_nmf_recovers_exact_low_rank_spectra_and_maps():
    si, spectra, maps = _low_rank()
    dec = decompose(si, "nmf", 3, seed=0)
    assert dec.maps.shape == (3, 24, 20) and dec.maps.dtype == np.float32
    assert dec.components.shape == (3, 60) and np.allclose(dec.components.max(1), 1.0)
    cos, cols = _cosines(spectra, dec.components)
    assert cos.min() > 0.995
    recon = np.tensordot(dec.maps.transpose(1, 2, 0), dec.components, axes=1)
    assert np.abs(recon - si.data).max() < 0.01 * si.data.max()
    for k, j in enumerate(cols):
        assert np.corrcoef(maps[..., k].ravel(), dec.maps[j].ravel())[0, 1] > 0.99


def test_pca_rank_and_explained_variance():
    si, _, _ = _low_rank()
    dec = decompose(si, "pca", 4, seed=0)
    ratio = dec.scores["explained_variance_ratio"]
    assert sum(ratio[:2]) > 0.999 and ratio[3] < 1e-6  # centred rank 3 -> 2 components
    assert np.allclose(np.linalg.norm(dec.components, axis=1), 1.0)
    centred = si.data.reshape(-1, 60) - si.data.reshape(-1, 60).mean(0)
    scores = dec.maps.reshape(4, -1).T
    assert np.allclose(scores @ dec.components, centred, atol=1e-3)


def test_bad_input():
    si, _, _ = _low_rank()
    with pytest.raises(IvaeError, match="method='ica' is not one of 'pca', 'nmf'"):
        decompose(si, "ica", 2)  # type: ignore[arg-type]
    with pytest.raises(IvaeError, match="n_components=61 is out of range"):
        decompose(si, "pca", 61)
    neg = SpectrumImage(si.data - 0.5, si.energy)
    with pytest.raises(IvaeError, match="negative counts"):
        decompose(neg, "nmf", 2)
    assert decompose(neg, "pca", 2).n_components == 2  # PCA accepts offsets
    bad = si.data.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(IvaeError, match="1 NaN/inf values"):
        decompose(SpectrumImage(bad, si.energy), "pca", 2)


def test_write_decomposition_files(tmp_path):
    si, _, _ = _low_rank()
    dec = decompose(si, "nmf", 3)
    out = write_decomposition(dec, tmp_path / "dec", source="x.npz")
    maps = tifffile.imread(out / "maps.tif")
    assert maps.shape == (3, 24, 20) and np.array_equal(maps, dec.maps)
    table = pd.read_csv(out / "components.csv")
    assert list(table.columns) == ["energy", "c0", "c1", "c2"]
    assert np.allclose(table.energy, si.energy) and np.allclose(table.c1, dec.components[1])
    info = json.loads((out / "decomposition.json").read_text())
    assert info["method"] == "nmf" and info["energy_unit"] == "eV" and info["source"] == "x.npz"


def test_failed_write_leaves_no_half_written_folder(tmp_path, monkeypatch):
    si, _, _ = _low_rank()
    dec = decompose(si, "pca", 2)
    import napari_ivae.spectra._files as files

    def broken(d):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "components_table", broken)
    with pytest.raises(IvaeError, match="No space left on device; nothing was written"):
        write_decomposition(dec, tmp_path / "dec")
    assert list(tmp_path.iterdir()) == []  # no folder, no temp folder, no maps.tif alone
    # an existing folder is left as it was
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "maps.tif").write_text("previous")
    with pytest.raises(IvaeError):
        write_decomposition(dec, tmp_path / "old")
    assert (tmp_path / "old" / "maps.tif").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
