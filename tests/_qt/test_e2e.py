"""End to end, the way a user takes it: File > Open (or Open Sample), the Plugins menu.

Every widget is opened from the Plugins menu (``add_plugin_dock_widget``),
every file through the plugin's reader (``viewer.open(..., plugin=...)``),
and the defaults the widgets pick from the files' channel roles are used as a
user gets them. Each run goes Detect → Crop → Train (background worker) →
Explore (lasso, highlight) → label → export → save session → reopen, and
checks that nothing was lost on the way back.

- the real Asylum ``.ibw`` (PFM, 6 channels, 5 µm): walls, rVAE;
- the real Gatan ``.dm3`` (STEM survey, uncalibrated): atoms, jrVAE;
- the simulated PFM sample from File > Open Sample.

Waits are on signals (with generous timeouts that only guard against hangs),
never fixed sleeps, so the tests hold on a busy machine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.path import Path as MplPath

from napari_ivae.record import get_record

pytestmark = pytest.mark.gui

PLUGIN = "napari-ivae"
#: a guard against a hang, not a sleep: the waits return as soon as the signal comes
TIMEOUT = 600_000
STEPS = ("1 Detect", "2 Crop", "3 Train", "4 Explore and label", "5 Session")


def _open_docks(viewer) -> dict:
    return {name: viewer.window.add_plugin_dock_widget(PLUGIN, name)[1] for name in STEPS}


def _detect(det, qtbot):
    det.start_thread = False
    worker = det.run()
    assert worker is not None
    with qtbot.waitSignal(det.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    qtbot.waitUntil(lambda: det.run_button.isEnabled(), timeout=TIMEOUT)
    layer = blocker.args[0]
    assert layer is not None
    return layer


def _train(tr, qtbot, kind, classes=None, epochs=2):
    tr.kind.setCurrentText(kind)
    if classes:
        tr.classes.setValue(classes)
    tr.latent_dim.setValue(2)
    tr.epochs.setValue(epochs)
    tr.start_thread = False
    worker = tr.start()
    assert worker is not None
    reports = []
    worker.yielded.connect(reports.append)
    with qtbot.waitSignal(tr.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not tr.is_running, timeout=TIMEOUT)
    assert reports and reports[-1].epoch == epochs
    return reports


def _lasso_label_export(ex, points, tmp_path, name):
    """Lasso the left half of the (z1, z2) cloud, label it, export; check every step."""
    ex.set_layer(points)
    ex.set_axes("z1", "z2")
    z = points.features[["z1", "z2"]].to_numpy()
    finite = np.isfinite(z).all(axis=1)
    zf = z[finite]
    mid = float(np.median(zf[:, 0]))
    lo, hi = zf.min(0) - 1, zf.max(0) + 1
    poly = np.array([[lo[0], lo[1]], [mid, lo[1]], [mid, hi[1]], [lo[0], hi[1]]])
    expected = np.flatnonzero(finite & MplPath(poly).contains_points(np.nan_to_num(z)))
    assert 0 < len(expected) < finite.sum()

    selected = ex.lasso(poly)
    np.testing.assert_array_equal(np.sort(selected), expected)
    hl = ex.highlight_layer
    assert hl is not None and hl in ex.viewer.layers
    np.testing.assert_allclose(np.asarray(hl.data), np.asarray(points.data)[expected])
    assert hl.scale.tolist() == points.scale.tolist()

    ex.assign_label(name)
    labels = points.features["label"].astype(str).to_numpy()
    assert (labels[expected] == name).all()
    assert (labels[np.setdiff1d(np.arange(len(labels)), expected)] != name).all()
    # the first class the user makes is class 1 (no placeholder classes before it)
    assert next(iter(ex.classes)) == name

    # every point is exported, labelled or not, with its latent values
    table = pd.read_csv(ex.export_points(tmp_path / f"{name}.csv"))
    assert len(table) == len(points.data)
    assert {"z1", "z2", "label"} <= set(table.columns)
    assert (table["label"].astype(str).to_numpy()[expected] == name).all()
    return expected


def _save_and_reopen(viewer, docks, points, tmp_path, qtbot):
    """Save the session, clear the viewer, open the file again; return the new points layer."""
    before = points.features.copy()
    classes = dict(docks["4 Explore and label"].classes)
    model = get_record(points).model
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    kept, _other = docks["5 Session"].data_layers()
    names = [ly.name for ly in kept]
    path = docks["5 Session"].save(tmp_path / "work.ivaesession")
    assert path is not None and path.is_file()

    viewer.layers.clear()
    layers = viewer.open(str(path), plugin=PLUGIN)
    assert [ly.name for ly in viewer.layers] == names  # same layers, same order
    reopened = next(ly for ly in layers if ly.name == points.name)
    pd.testing.assert_frame_equal(
        reopened.features.reset_index(drop=True), before.reset_index(drop=True)
    )
    np.testing.assert_allclose(np.asarray(reopened.data), np.asarray(points.data))
    back = get_record(reopened).model
    for key, value in back.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights[key].numpy())
    assert get_record(reopened).stack is not None
    ex = docks["4 Explore and label"]
    ex.set_layer(reopened)
    assert dict(ex.classes) == classes
    return reopened


@pytest.mark.slow
@pytest.mark.real
def test_real_ibw_walls_to_session(make_napari_viewer, qtbot, tmp_path, real_data):
    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data / "scan_0001.ibw"), plugin=PLUGIN)
    assert len(layers) == 6
    # a PFM channel on top; height and frequency hidden
    assert viewer.layers[-1].metadata["role"] in {"phase", "amplitude"}
    for layer in layers:
        if layer.metadata["role"] in {"height", "frequency"}:
            assert not layer.visible
    docks = _open_docks(viewer)
    det, crop, tr, ex = (docks[s] for s in STEPS[:4])

    # Detect: walls from phase + amplitude, chosen from the channel roles
    assert det.task == "walls"
    assert det.phase_combo.value.metadata["role"] == "phase"
    assert det.amplitude_combo.value.metadata["role"] == "amplitude"
    det.stride.setValue(6)
    points = _detect(det, qtbot)
    assert {"y", "x", "frame", "orientation"} <= set(points.features.columns)
    assert 30 <= len(points.data) <= 3000
    assert str(points.units[-1]) in {"nanometer", "micrometer"}
    assert float(np.max(points.size)) > 1  # visible, not size 1

    # Crop: amplitude + phase ticked by role
    assert crop.points_combo.value is points
    roles = sorted(ly.metadata["role"] for ly in crop.images_list.value)
    assert roles == ["amplitude", "phase"]
    crop.window.setValue(16)
    stack = crop.run()
    assert stack is not None and stack.images.shape[1:] == (2, 16, 16)

    # Train an rVAE in the background
    tr.points_combo.value = points
    _train(tr, qtbot, "rvae")
    assert {"z1", "z2", "angle", "dy", "dx"} <= set(points.features.columns)
    assert get_record(points).model is tr.model

    _lasso_label_export(ex, points, tmp_path, "wall A")
    out = pd.read_csv(ex.export_points(tmp_path / "all.csv"))
    assert {"y_nm", "x_nm"} <= set(out.columns)  # a calibrated scan speaks nm
    np.testing.assert_allclose(out["x_nm"], out["x"] * 5000.0 / 256, rtol=0.02)

    _save_and_reopen(viewer, docks, points, tmp_path, qtbot)


@pytest.mark.slow
@pytest.mark.real
def test_real_dm3_atoms_to_session(make_napari_viewer, qtbot, tmp_path, real_data):
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(real_data / "DMReader_Image_SI-Survey.dm3"), plugin=PLUGIN)
    docks = _open_docks(viewer)
    det, crop, tr, ex = (docks[s] for s in STEPS[:4])

    assert det.task == "atoms"  # a STEM image: atoms by default
    assert det.image_combo.value is image
    det.atom_method.setCurrentText("log")
    points = _detect(det, qtbot)
    assert {"y", "x", "score", "intensity", "frame"} <= set(points.features.columns)
    assert len(points.data) >= 100

    assert [ly.name for ly in crop.images_list.value] == [image.name]
    crop.window.setValue(16)
    stack = crop.run()
    assert stack is not None

    tr.points_combo.value = points
    _train(tr, qtbot, "jrvae", classes=2)
    feats = points.features
    assert {"z1", "z2", "angle", "class", "p0", "p1"} <= set(feats.columns)
    kept = feats.loc[stack.index]
    assert set(kept["class"].astype(int)) <= {0, 1}
    np.testing.assert_allclose(kept["p0"] + kept["p1"], 1.0, atol=1e-5)

    _lasso_label_export(ex, points, tmp_path, "bright")
    out = pd.read_csv(ex.export_points(tmp_path / "all.csv"))
    assert "y_nm" not in out.columns  # uncalibrated: no invented physical size

    reopened = _save_and_reopen(viewer, docks, points, tmp_path, qtbot)
    # the reopened model keeps working: retrain from the reopened session
    tr.points_combo.value = reopened
    _train(tr, qtbot, "jrvae", classes=2, epochs=1)
    assert (reopened.features["label"].astype(str) == "bright").any()


@pytest.mark.slow
def test_sample_walls_label_mask(make_napari_viewer, qtbot, tmp_path):
    """File > Open Sample > PFM: walls → crop → rVAE → label → the labeled wall mask."""
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "pfm")
    docks = _open_docks(viewer)
    det, crop, tr, ex = (docks[s] for s in STEPS[:4])
    assert det.task == "walls"
    phase = det.phase_combo.value
    det.wall_method.setCurrentText("gaussian")
    det.stride.setValue(6)
    points = _detect(det, qtbot)
    assert points.scale.tolist() == phase.scale.tolist()
    assert f"{phase.name} wall mask" in viewer.layers

    crop.window.setValue(16)
    assert crop.run() is not None
    tr.points_combo.value = points
    _train(tr, qtbot, "rvae")
    selected = _lasso_label_export(ex, points, tmp_path, "wall A")

    import tifffile

    lab = tifffile.imread(ex.export_label_mask(tmp_path / "walls.tif", f"{phase.name} wall mask"))
    # the first (and only) class is 1 in the mask
    assert set(np.unique(lab)) <= {0, 1} and (lab == 1).any()
    yx = points.features.loc[selected, ["y", "x"]].to_numpy()
    iy, ix = np.clip(np.rint(yx).astype(int), 0, np.array(lab.shape) - 1).T
    near = [(lab[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] == 1).any() for y, x in zip(iy, ix)]
    assert np.mean(near) > 0.9

    # retraining keeps the labels
    _train(tr, qtbot, "rvae")
    labels = points.features["label"].astype(str).to_numpy()
    assert (labels[selected] == "wall A").all()
