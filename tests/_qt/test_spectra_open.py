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


def test_dropped_chunked_hspy_stays_on_disk_and_the_spectrum_dock_reads_it(
    make_napari_viewer, tmp_path, qtbot, monkeypatch
):
    """A compressed .hspy: the layer's SI is chunked, the dock's readings are the array's."""
    from rsciio.hspy import file_writer

    import napari_ivae._qt._spectrum_band as band

    rng = np.random.default_rng(1)
    data = rng.poisson(20, (12, 10, 30)).astype(np.float32)
    axes = [{"name": n, "size": s, "scale": 1.0, "offset": 0.0, "units": "nm", "navigate": True,
             "index_in_array": i} for i, (n, s) in enumerate(zip("yx", (12, 10)))]  # fmt: skip
    axes.append({"name": "E", "size": 30, "scale": 0.1, "offset": 0.5, "units": "eV",
                 "navigate": False, "index_in_array": 2})  # fmt: skip
    signal = {"data": data, "axes": axes, "metadata": {"General": {"title": "chunked"}},
              "original_metadata": {}, "attributes": {"_lazy": False}, "tmp_parameters": {},
              "package_info": {"name": "napari-ivae", "version": "0"}, "learning_results": {},
              "models": {}}  # fmt: skip
    file_writer(str(tmp_path / "si.hspy"), signal)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "si.hspy"), plugin=PLUGIN)
    si = layer.metadata["spectrum_image"]
    assert si.metadata["storage"] == "chunked"
    assert np.array_equal(layer.data, data.sum(-1))
    monkeypatch.setattr(band, "BUILD_NOW_BYTES", 0)  # the band cache builds in a worker
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectrum")
    assert w.si is si
    assert w.pin((5, 7)) == (5, 7)
    np.testing.assert_array_equal(w.plot.pins[-1][1].yData, data[5, 7])
    w.set_band(1.0, 2.0)
    qtbot.waitUntil(lambda: w.sums is not None and w.sums.ready and w.worker is None, timeout=20000)
    w.set_band(0.8, 2.3)
    qtbot.waitUntil(lambda: w.band_channels == si.band_indices(0.8, 2.3), timeout=5000)
    i0, i1 = w.band_channels
    np.testing.assert_allclose(layer.data, data[:, :, i0:i1].sum(-1), rtol=1e-6)
    pts = viewer.add_points([[3.0, 4.0], [10.0, 9.0]])
    w.selection_combo.value = pts
    pts.selected_data = {0, 1}
    qtbot.waitUntil(lambda: "2 selected points" in w.plot.labels["mean"], timeout=5000)
    np.testing.assert_allclose(w.plot.mean_curve.yData, (data[3, 4] + data[10, 9]) / 2)
