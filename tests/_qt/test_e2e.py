"""End to end through the dock widgets, as a user would click it.

PFM: sample → walls (gaussian) → wall points → crop → rVAE (2 epochs, worker) →
features → explorer lasso → highlight layer → label → export.
STEM: sample → atoms (log) → crop → jrVAE (2 epochs) → the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.path import Path as MplPath

from napari_ivae._qt._common import MODEL_KEY, STACK_KEY
from napari_ivae._qt.crop import CropWidget
from napari_ivae._qt.detect import DetectWidget
from napari_ivae._qt.train import TrainWidget

pytestmark = pytest.mark.gui

TIMEOUT = 60_000


def _add_sample(viewer, layer_tuples):
    out = []
    for data, kwargs, kind in layer_tuples:
        assert kind == "image"
        out.append(viewer.add_image(data, **kwargs))
    return out


def _dock_all(viewer):
    from napari_ivae._qt.explorer import ExplorerWidget

    widgets = [DetectWidget(viewer), CropWidget(viewer), TrainWidget(viewer)]
    widgets.append(ExplorerWidget(viewer))
    for wdg in widgets:
        viewer.window.add_dock_widget(wdg, name=type(wdg).__name__)
    return widgets


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


def _train(tr, qtbot, kind, classes=None):
    tr.kind.setCurrentText(kind)
    if classes:
        tr.classes.setValue(classes)
    tr.latent_dim.setValue(2)
    tr.epochs.setValue(2)
    tr.batch_size.setValue(64)
    tr.start_thread = False
    worker = tr.start()
    assert worker is not None
    reports = []
    worker.yielded.connect(reports.append)
    with qtbot.waitSignal(tr.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not tr.is_running, timeout=TIMEOUT)
    assert reports and reports[-1].epoch == 2
    return reports


def _lasso_label_export(ex, points, qtbot, tmp_path, name):
    """Lasso the left half of the (z1, z2) cloud, label it, export; check every step."""
    ex.set_layer(points)
    ex.set_axes("z1", "z2")
    feats = points.features
    z = feats[["z1", "z2"]].to_numpy()
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

    out = ex.export_points(tmp_path / f"{name}.csv")
    table = pd.read_csv(out)
    assert sorted(table["point"]) == expected.tolist()
    assert (table["label"] == name).all() and {"z1", "z2"} <= set(table.columns)
    return expected


@pytest.mark.slow
def test_pfm_walls_to_labels(make_napari_viewer, qtbot, tmp_path):
    from napari_ivae.sample_data import pfm_sample

    viewer = make_napari_viewer()
    amp, phase = _add_sample(viewer, pfm_sample())
    det, crop, tr, ex = _dock_all(viewer)

    det.task = "walls"
    det.phase_combo.value = phase
    det.amplitude_combo.value = amp
    det.wall_method.setCurrentText("gaussian")
    det.stride.setValue(6)
    points = _detect(det, qtbot)
    assert {"y", "x", "frame", "orientation"} <= set(points.features.columns)
    assert 30 <= len(points.data) <= 2000
    assert points.scale.tolist() == phase.scale.tolist()
    assert f"{phase.name} wall mask" in viewer.layers

    crop.points_combo.value = points
    crop.images_list.value = [amp, phase]
    crop.window.setValue(16)
    stack = crop.run()
    assert stack is not None and stack.images.shape[1:] == (2, 16, 16)
    assert points.metadata[STACK_KEY] is stack

    tr.points_combo.value = points
    _train(tr, qtbot, "rvae")
    assert {"z1", "z2", "angle", "dy", "dx"} <= set(points.features.columns)
    assert points.metadata[MODEL_KEY] is tr.model

    selected = _lasso_label_export(ex, points, qtbot, tmp_path, "wall A")

    # the labeled wall mask: labeled wall pixels near the selected points
    mask_path = ex.export_label_mask(tmp_path / "walls.tif", f"{phase.name} wall mask")
    import tifffile

    lab = tifffile.imread(mask_path)
    code = list(ex.classes).index("wall A") + 1
    assert lab.shape == phase.data.shape and (lab == code).any()
    yx = points.features.loc[selected, ["y", "x"]].to_numpy()
    iy, ix = np.clip(np.rint(yx).astype(int), 0, np.array(lab.shape) - 1).T
    near = [
        (lab[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] == code).any() for y, x in zip(iy, ix)
    ]
    assert np.mean(near) > 0.9

    # retraining keeps the labels
    _train(tr, qtbot, "rvae")
    labels = points.features["label"].astype(str).to_numpy()
    assert (labels[selected] == "wall A").all()


@pytest.mark.slow
def test_stem_atoms_to_labels(make_napari_viewer, qtbot, tmp_path):
    from napari_ivae.sample_data import stem_sample

    viewer = make_napari_viewer()
    data, kwargs, _ = stem_sample()[0]
    image = viewer.add_image(np.asarray(data)[:200, :200], **kwargs)  # a few hundred atoms
    det, crop, tr, ex = _dock_all(viewer)

    det.task = "atoms"
    det.image_combo.value = image
    det.atom_method.setCurrentText("log")
    points = _detect(det, qtbot)
    assert {"y", "x", "score", "intensity", "frame"} <= set(points.features.columns)
    assert 100 <= len(points.data) <= 3000

    crop.points_combo.value = points
    crop.images_list.value = [image]
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

    _lasso_label_export(ex, points, qtbot, tmp_path, "dopant")
