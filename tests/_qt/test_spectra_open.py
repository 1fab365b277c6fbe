"""Spectrum images in napari, the user's way: drag-and-drop (viewer.open) and File > Open Sample."""

from __future__ import annotations

import numpy as np

from napari_ivae.spectra import SpectrumImage

PLUGIN = "napari-ivae"


def test_dropped_npz_spectrum_image_is_a_layer_that_knows_its_spectra(make_napari_viewer, tmp_path):
    rng = np.random.default_rng(0)
    data = rng.poisson(20, (12, 10, 30)).astype(np.float32)
    energy = np.linspace(0.5, 3.4, 30)
    np.savez(tmp_path / "si.npz", data=data, energy=energy, unit="eV")
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "si.npz"), plugin=PLUGIN)
    si = layer.metadata["spectrum_image"]
    assert isinstance(si, SpectrumImage) and si.unit == "eV"
    assert np.array_equal(layer.data, data.sum(-1))
    assert np.array_equal(si.spectrum(3, 4), data[3, 4])
    assert viewer.layers[-1].metadata["spectrum_image"] is si  # the object, not a copy


def test_open_sample_nanoparticles(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "nanoparticles_eels")
    names = [layer.name for layer in viewer.layers]
    assert names[0].startswith("HAADF") and names[1].startswith("EELS SI")
    si = viewer.layers[1].metadata["spectrum_image"]
    assert si.shape == (64, 64, 256) and viewer.layers[0].data.shape == (64, 64)
    assert tuple(viewer.layers[1].scale) == tuple(viewer.layers[0].scale) == (2.5, 2.5)  # nm
