"""Structure–property dock, the user's way: the nanoparticle sample, a points grid, the dock
from the Plugins menu, a short training.  Ground truth: the plotted prediction is
``predict_spectra`` of the clicked point, ``spectrum_mse`` is its squared error against
``spectra_at`` (the measured spectrum), and a stopped run keeps its last weights."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._qt.structure import StructureWidget
from napari_ivae.structure import predict_spectra, spectra_at

pytestmark = pytest.mark.gui
TIMEOUT = 60_000


@pytest.fixture
def docked(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-ivae", "nanoparticles_eels")
    haadf = next(ly for ly in viewer.layers if "HAADF" in ly.name)
    grid = np.mgrid[6:58:5, 6:58:5].reshape(2, -1).T.astype(float)  # image pixels
    points = viewer.add_points(grid, name="grid", scale=haadf.scale, size=1.5)
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "Structure–property")
    assert type(w) is StructureWidget
    assert w.image_combo.value is haadf and w.points_combo.value is points
    assert "spectrum_image" in w.si_combo.value.metadata
    w.encoder.setCurrentText("mlp")
    w.window.setValue(8)
    w.latent_dim.setValue(2)
    return viewer, w, haadf, points, grid


def test_train_writes_error_map_and_plots_the_prediction(docked, qtbot):
    viewer, w, haadf, points, grid = docked
    w.kind.setCurrentText("dual")
    w.epochs.setValue(2)
    w.start()
    qtbot.waitUntil(lambda: w.model is not None and not w._busy, timeout=TIMEOUT)
    assert len(w.history) == 2
    feats = points.features
    assert {"zs1", "zs2", "zp1", "zp2", "spectrum_mse"} <= set(feats.columns)
    si = w.si_combo.value.metadata["spectrum_image"]
    pred, _ = predict_spectra(w.model, haadf.data, grid)
    measured = spectra_at(si, grid, w.model.config.integrate)
    np.testing.assert_allclose(feats["spectrum_mse"], ((pred - measured) ** 2).mean(1), rtol=1e-5)
    # a click on point 7 (world coordinates, as the canvas gives them) plots that point
    event = type("E", (), {"position": tuple(haadf.data_to_world(grid[7]))})()
    w._on_click(viewer, event)
    assert w.shown == 7
    np.testing.assert_allclose(w.prediction.predicted.yData, pred[7], rtol=1e-5)
    np.testing.assert_allclose(w.prediction.measured.yData, measured[7])
    np.testing.assert_array_equal(w.prediction.predicted.xData, si.energy)
    assert w.prediction.plot.getAxis("bottom").labelText == f"energy loss ({si.unit})"
    points.selected_data = {3}  # selecting a point in the layer plots it too
    assert w.shown == 3


def test_stop_keeps_the_last_weights(docked, qtbot, tmp_path):
    _viewer, w, _haadf, points, _grid = docked
    w.epochs.setValue(500)
    worker = w.start()
    worker.yielded.connect(lambda p: w.stop() if p.epoch_time is not None else None)
    qtbot.waitUntil(lambda: w.model is not None and not w._busy, timeout=TIMEOUT)
    assert 1 <= len(w.history) < 500
    assert {"z1", "z2", "spectrum_mse"} <= set(points.features.columns)
    path = w.save_model(str(tmp_path / "m.ivae"))
    before = points.features["spectrum_mse"].to_numpy()
    w.model = None
    points.features = points.features * 0  # an earlier table, to be replaced
    assert w.load_model(path) is not None and w.model.config.kind == "im2spec"
    w.predict()  # the loaded model's table, without training
    qtbot.waitUntil(lambda: points.features["spectrum_mse"].all() and not w._busy, timeout=TIMEOUT)
    np.testing.assert_allclose(points.features["spectrum_mse"], before, rtol=1e-5)
    assert list(points.features.columns) == ["z1", "z2", "spectrum_mse"]


def test_stop_after_the_last_report_still_writes(docked, qtbot, monkeypatch):
    """Stop pressed while the table is computed: the worker emits neither returned nor aborted."""
    _viewer, w, _haadf, points, _grid = docked
    monkeypatch.setattr("napari_ivae._qt._structure_jobs._background_thread", lambda: None)
    w.start_thread = False
    w.epochs.setValue(1)
    worker = w.start()
    worker.yielded.connect(lambda p: w.stop() if p.epoch_time is not None else None)
    worker.run()  # in this thread: Stop lands after the last report, deterministically
    assert worker.abort_requested
    qtbot.waitUntil(lambda: w.table_worker is not None, timeout=TIMEOUT)
    w.table_worker.start()
    qtbot.waitUntil(lambda: "spectrum_mse" in points.features and not w._busy, timeout=TIMEOUT)
    assert len(w.history) == 1
