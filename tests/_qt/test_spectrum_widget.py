"""Spectrum dock, the user's way: an SI image layer, the dock from the Plugins menu.

Ground truth: the SI's own arrays — the cursor curve is ``si.spectrum(y, x)``
exactly, the band map is the numpy sum over the band's channels, a selection's
mean is the numpy mean over its pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._qt.spectrum import SpectrumWidget
from napari_ivae._reader import spectrum_layer_data
from napari_ivae.spectra import SpectrumImage

pytestmark = pytest.mark.gui


def _make_si(tmp_path, shape=(40, 48), n_energy=300):
    """A memory-mapped SI: a peak whose energy drifts across the scan, plus noise."""
    rng = np.random.default_rng(3)
    energy = np.linspace(0.5, 3.49, n_energy)
    _yy, xx = np.mgrid[: shape[0], : shape[1]]
    peak = 1.2 + 1.5 * xx / shape[1]
    data = 100.0 * np.exp(-0.5 * ((energy - peak[..., None]) / 0.15) ** 2)
    data = (data + rng.gamma(2.0, 5.0, data.shape)).astype(np.float32)
    np.save(tmp_path / "si.npy", data)
    return SpectrumImage(np.load(tmp_path / "si.npy", mmap_mode="r"), energy, "eV", "si")


@pytest.fixture
def docked(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    si = _make_si(tmp_path)
    data, kwargs, _kind = spectrum_layer_data(si)  # the layer the reader gives
    layer = viewer.add_image(data, **kwargs)
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "Spectrum")
    assert type(w) is SpectrumWidget
    assert w.si_layer is layer and w.si is si
    return viewer, w, layer, si


def test_cursor_spectrum_is_the_si_spectrum_and_a_click_pins_it(
    make_napari_viewer, qtbot, tmp_path
):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-ivae", "nanoparticles_eels")  # HAADF + the SI's map
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "Spectrum")
    layer = w.si_layer
    si = layer.metadata["spectrum_image"]
    assert [ly for ly in viewer.layers if "spectrum_image" in ly.metadata] == [layer]
    assert w.plot.plot.getAxis("bottom").labelText == f"energy loss ({si.unit})"
    # as a mouse move over the canvas sets it (the sample is calibrated: world = nm)
    viewer.cursor.position = tuple(layer.data_to_world((17.2, 30.6)))
    qtbot.waitUntil(lambda: w.cursor_pixel == (17, 31), timeout=5000)
    curve = w.plot.cursor_curve
    np.testing.assert_array_equal(curve.yData, si.spectrum(17, 31))
    np.testing.assert_array_equal(curve.xData, si.energy)
    viewer.cursor.position = (-3.0, 5.0)  # off the scan: the last spectrum stays
    qtbot.wait(20)
    assert w.cursor_pixel == (17, 31)
    # a click on the canvas (press and release, no drag) with the SI layer active pins
    # the spectrum under it; a drag (pan) pins nothing
    viewer.layers.selection.active = layer
    canvas = viewer.window._qt_viewer.canvas._scene_canvas
    middle = tuple(s // 2 for s in canvas.size)
    canvas.events.mouse_press(pos=middle, modifiers=(), button=1)
    canvas.events.mouse_release(pos=middle, modifiers=(), button=1)
    pixel = w.pixel_at(viewer.cursor.position)
    assert pixel is not None and len(w.plot.pins) == 1
    np.testing.assert_array_equal(w.plot.pins[0][1].yData, si.spectrum(*pixel))
    assert w.plot.pins[0][0] == f"(y={pixel[0]}, x={pixel[1]})"  # its legend entry
    press = canvas.events.mouse_press(pos=middle, modifiers=(), button=1)
    moved = (middle[0] + 30, middle[1])
    canvas.events.mouse_move(pos=moved, modifiers=(), button=1, press_event=press)
    canvas.events.mouse_release(pos=moved, modifiers=(), button=1)
    assert len(w.plot.pins) == 1
    # Export CSV: energy, then the curves named as in the legend
    import pandas as pd

    table = pd.read_csv(w.export_csv(tmp_path / "spectra.csv"))
    assert list(table.columns) == ["energy (eV)", "cursor (y=17, x=31)", w.plot.pins[0][0]]
    np.testing.assert_allclose(table["energy (eV)"], si.energy, rtol=1e-7)
    np.testing.assert_allclose(table["cursor (y=17, x=31)"], si.spectrum(17, 31), rtol=1e-7)
    w.clear_button.click()
    assert w.plot.pins == []


def test_band_redraws_the_map_as_the_numpy_sum(docked, qtbot):
    _viewer, w, layer, si = docked
    w.plot.region.setRegion((1.6, 2.2))  # as a drag of the band on the plot
    qtbot.waitUntil(lambda: w.band_channels is not None, timeout=5000)
    i0, i1 = w.band_channels
    assert si.energy[i0] >= 1.6 and si.energy[i0 - 1] < 1.6
    assert si.energy[i1 - 1] <= 2.2 and si.energy[i1] > 2.2
    truth = np.asarray(si.data)[:, :, i0:i1].sum(axis=2, dtype=np.float64)
    np.testing.assert_allclose(layer.data, truth, rtol=1e-5)
    assert w.sums.ready  # a small SI: cached at once, and the map came from the cache
    assert layer.metadata["energy_band"] == pytest.approx((1.6, 2.2))
    assert layer.name == "si [1.6–2.2 eV]"  # the reader's name, for the band shown
    assert w.band_lo.value() == pytest.approx(1.6, abs=0.01)
    assert tuple(layer.contrast_limits) == pytest.approx((truth.min(), truth.max()), rel=1e-5)
    # the spin boxes move the band too, and the map follows
    w.band_hi.setValue(1.7)
    qtbot.waitUntil(lambda: w.band_channels != (i0, i1), timeout=5000)
    j0, j1 = w.band_channels
    assert (j0, j1) == si.band_indices(1.6, 1.7)
    truth = np.asarray(si.data)[:, :, j0:j1].sum(axis=2)
    np.testing.assert_allclose(layer.data, truth, rtol=1e-5)
    # what napari draws (the slice it hands to vispy) is the new map too
    np.testing.assert_allclose(np.asarray(layer._slice.image.view), truth, rtol=1e-5)
    assert tuple(layer.contrast_limits) == pytest.approx((truth.min(), truth.max()), rel=1e-5)
    assert w.plot.band == pytest.approx((1.6, 1.7), abs=0.01)


def test_a_drag_shows_the_band_snapped_to_the_cache_then_exact(docked, qtbot):
    _viewer, w, layer, si = docked
    region = w.plot.region
    arr = np.asarray(si.data, dtype=np.float64)
    region.blockLineSignal = True  # a mouse drag: the lines move, "finished" comes at release
    region.lines[0].setValue(1.03)
    region.blockLineSignal = False
    region.lines[1].setValue(2.71)
    qtbot.waitUntil(lambda: w.band_channels is not None, timeout=5000)
    j0, j1 = w.band_channels
    assert not w.band_exact and j0 % w.sums.block == 0 and j1 % w.sums.block == 0
    np.testing.assert_allclose(layer.data, arr[:, :, j0:j1].sum(axis=2), rtol=1e-5)
    region.lineMoveFinished()  # the mouse is released
    qtbot.waitUntil(lambda: w.band_exact, timeout=5000)
    i0, i1 = w.band_channels
    assert (i0, i1) == si.band_indices(1.03, 2.71) != (j0, j1)
    np.testing.assert_allclose(layer.data, arr[:, :, i0:i1].sum(axis=2), rtol=1e-5)


def test_mean_of_a_shapes_rectangle_and_of_selected_points(docked, qtbot):
    viewer, w, layer, si = docked
    arr = np.asarray(si.data, dtype=np.float64)
    shapes = viewer.add_shapes(
        [[[1.5, 2.5], [1.5, 9.5], [6.5, 9.5], [6.5, 2.5]]], shape_type="rectangle"
    )  # covers the centres of rows 2..6, columns 3..9
    w.selection_combo.value = shapes
    np.testing.assert_allclose(
        w.plot.mean_curve.yData, arr[2:7, 3:10].mean(axis=(0, 1)), rtol=1e-10
    )
    shapes.add_rectangles([[20.5, 30.5], [24.5, 33.5]])  # the mean follows the drawing
    both = np.concatenate([arr[2:7, 3:10].reshape(-1, 300), arr[21:25, 31:34].reshape(-1, 300)])
    qtbot.waitUntil(
        lambda: np.allclose(w.plot.mean_curve.yData, both.mean(axis=0), rtol=1e-10), timeout=5000
    )
    pts = viewer.add_points([[3.2, 4.0], [10.0, 40.4], [30.0, 12.0], [39.0, 47.0]])
    w.selection_combo.value = pts
    pts.selected_data = {1, 3}  # as a lasso or click in napari
    qtbot.waitUntil(lambda: "2 selected points" in w.plot.labels["mean"], timeout=5000)
    np.testing.assert_allclose(w.plot.mean_curve.yData, (arr[10, 40] + arr[39, 47]) / 2, rtol=1e-10)
    # a calibrated SI (0.5 nm pixels) under points placed in world units: the same pixels
    layer.scale = (0.5, 0.5)
    world = viewer.add_points([[5.0, 20.2], [19.5, 23.5], [30.0, 2.0]], name="world")
    w.selection_combo.value = world
    np.testing.assert_allclose(w.plot.mean_curve.yData, (arr[10, 40] + arr[39, 47]) / 2, rtol=1e-10)
    assert "1 outside the scan left out" in w.plot.labels["mean"]


def test_a_large_si_builds_its_band_cache_in_the_background(docked, qtbot, monkeypatch):
    import napari_ivae._qt._spectrum_band as band

    _viewer, w, layer, si = docked
    monkeypatch.setattr(band, "BUILD_NOW_BYTES", 0)  # this SI counts as large
    arr = np.asarray(si.data, dtype=np.float64)
    w.set_band(1.0, 3.0)
    qtbot.waitUntil(lambda: w.band_channels is not None, timeout=5000)
    i0, i1 = w.band_channels
    np.testing.assert_allclose(layer.data, arr[:, :, i0:i1].sum(axis=2), rtol=1e-5)  # direct
    assert w.worker is not None or w.sums.ready
    qtbot.waitUntil(lambda: w.sums.ready and w.worker is None, timeout=20000)
    assert "cached" in w.status.text()
    w.set_band(0.7, 2.05)
    qtbot.waitUntil(lambda: w.band_channels != (i0, i1), timeout=5000)
    j0, j1 = w.band_channels
    np.testing.assert_allclose(layer.data, arr[:, :, j0:j1].sum(axis=2), rtol=1e-5)  # cached
