"""Crop widget: points + image channels → Stack in the points' metadata, gallery, counts."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._qt.crop import CropWidget
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui


def _errors(notes):
    return [text for sev, text in notes if "error" in sev.lower()]


def test_crop_cuts_windows_at_the_points(dock, make_blobs):
    img, centres = make_blobs()
    viewer, w = dock(CropWidget)
    image = viewer.add_image(img, name="img")
    # 3 extra points close to the edge: dropped with border="drop" and window 16
    edge = np.array([[2.0, 40.0], [50.0, 93.0], [5.0, 5.0]])
    pts = np.vstack([centres, edge])
    points = viewer.add_points(pts, name="img atoms", features={"label": ["x"] * len(pts)})
    w.points_combo.value = points
    w.images_list.value = [image]
    w.window.setValue(16)
    w.border.setCurrentText("drop")
    w.normalize.setCurrentText("none")

    stack = w.run()

    assert stack is not None and get_record(points).stack is stack
    inside = np.all((pts >= 8) & (pts + 8 <= 96), axis=1)
    np.testing.assert_array_equal(stack.index, np.flatnonzero(inside))
    assert stack.images.shape == (inside.sum(), 1, 16, 16)
    # the crop of a point holds the image around it (raw values with normalize="none")
    k = 5
    y, x = pts[stack.index[k]].astype(int)
    np.testing.assert_allclose(stack.images[k, 0], img[y - 8 : y + 8, x - 8 : x + 8])
    # the gallery is one 2-D montage (6×6 tiles of 16 px, 2 px gaps): no slider, no "-3" axis
    gallery = viewer.layers["img atoms gallery"]
    assert gallery.data.shape == (6 * 18 - 2, 6 * 18 - 2) and viewer.dims.ndim == 2
    assert np.isnan(gallery.data[16:18]).all()  # the gap between tile rows
    dropped = len(pts) - inside.sum()
    assert f"Kept {inside.sum()} of {len(pts)}" in w.status.text()
    assert f"{dropped} dropped" in w.status.text()
    assert list(points.features["label"]) == ["x"] * len(pts)  # features untouched


def test_two_channels_and_scaled_layers(dock, make_blobs):
    img, centres = make_blobs()
    viewer, w = dock(CropWidget)
    a = viewer.add_image(img, name="Amplitude", scale=(2.0, 2.0))
    p = viewer.add_image(-img, name="Phase", scale=(2.0, 2.0))
    # points given in world units (scale 1): the widget maps them onto the image pixels
    points = viewer.add_points(centres * 2.0, name="pts")
    w.points_combo.value = points
    w.images_list.value = [a, p]
    w.window.setValue(12)
    w.normalize.setCurrentText("none")
    stack = w.run()
    assert stack.images.shape[1] == 2 and stack.channels == ("Amplitude", "Phase")
    np.testing.assert_allclose(stack.images[:, 1], -stack.images[:, 0])
    np.testing.assert_allclose(stack.yx, centres[stack.index])
    # the brightest pixel of every crop is its centre (the blob peak)
    c = stack.images[:, 0]
    peak = np.unravel_index(c.reshape(len(c), -1).argmax(1), c.shape[1:])
    assert np.all(np.abs(np.column_stack(peak) - 6) <= 1)


def test_bad_input_gives_a_notification_and_the_widget_stays_usable(dock, make_blobs, notes):
    img, centres = make_blobs()
    viewer, w = dock(CropWidget)
    # no points layer
    assert w.run() is None
    assert any("no points layer" in t for t in _errors(notes))
    image = viewer.add_image(img, name="img")
    points = viewer.add_points(centres, name="pts")
    w.points_combo.value = points
    w.images_list.value = [image]
    # window larger than the image
    w.window.setValue(128)
    notes.clear()
    assert w.run() is None
    errs = _errors(notes)
    assert len(errs) == 1 and "window" in errs[0] and "128" in errs[0]
    assert "Traceback" not in errs[0]
    assert get_record(points).stack is None
    # the status line shows the whole message (wrapped, full text as tooltip), in red
    assert w.status.kind == "error" and w.status.text() in errs[0]
    assert w.status.toolTip() == w.status.text() and w.status.wordWrap()
    # no channel checked
    w.images_list.value = []
    w.window.setValue(16)
    notes.clear()
    assert w.run() is None
    assert any("channel" in t for t in _errors(notes))
    # still usable, and the error leaves the status line with the next success
    w.images_list.value = [image]
    assert w.run() is not None and get_record(points).stack is not None
    assert w.status.kind == "info" and w.status.text().startswith("Kept")


def test_layer_lists_follow_the_viewer(dock, make_blobs):
    img, centres = make_blobs()
    viewer, w = dock(CropWidget)
    assert w.points_combo.value is None and w.images_list.value == []
    image = viewer.add_image(img, name="img")
    points = viewer.add_points(centres, name="pts")
    assert w.points_combo.value is points
    assert w.images_list.value == [image]
    points.name = "renamed"
    assert w.points_combo.itemText(w.points_combo.currentIndex()) == "renamed"
    viewer.layers.remove(points)
    assert w.points_combo.value is None and w.points_combo.count() == 0
    viewer.layers.remove(image)
    assert w.images_list.count() == 0


def test_train_widget_follows_the_new_stack_and_galleries_are_not_channels(dock, make_blobs):
    from napari_ivae._qt.train import TrainWidget

    img, centres = make_blobs()
    viewer, w = dock(CropWidget)
    _, tr = dock(TrainWidget, viewer=viewer)
    image = viewer.add_image(img, name="img")
    first = viewer.add_points(centres, name="first")
    second = viewer.add_points(centres[:10], name="second")
    tr.points_combo.value = first
    assert "no sub-images" in tr.stack_info.text()
    w.points_combo.value = second
    w.images_list.value = [image]
    w.window.setValue(12)
    stack = w.run()
    assert tr.points_combo.value is second
    assert f"{len(stack)} sub-images" in tr.stack_info.text()
    gallery = viewer.layers["second gallery"]
    names = [w.images_list.item(i).text() for i in range(w.images_list.count())]
    assert gallery.name not in names and names == ["img"]
    assert viewer.layers.selection.active is second


def _pfm_layers(viewer, source="scan.ibw"):
    """Six PFM channels as the reader gives them (roles in metadata, phase on top)."""
    img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    names = [
        ("Frequency Retrace", "frequency"),
        ("Height Retrace", "height"),
        ("Amplitude 2 Retrace", "amplitude"),
        ("Amplitude 1 Retrace", "amplitude"),
        ("Phase 2 Retrace", "phase"),
        ("Phase 1 Retrace", "phase"),
    ]
    return {
        name: viewer.add_image(img, name=name, metadata={"role": role, "source": source})
        for name, role in names
    }


def test_pfm_channels_opened_after_docking_tick_amplitude_and_phase(dock):
    viewer, w = dock(CropWidget)
    layers = _pfm_layers(viewer)  # the user opens the file after docking the widget
    assert [ly.name for ly in w.images_list.value] == ["Amplitude 1 Retrace", "Phase 1 Retrace"]
    # wall points found in the phase: amplitude + phase of that file, never height/frequency
    walls = viewer.add_points(
        np.array([[10.0, 10.0], [20.0, 20.0]]),
        name="Phase 2 Retrace walls",
        features={"y": [10.0, 20.0], "x": [10.0, 20.0], "orientation": [0.0, 0.0]},
        # version-1 keys (a script or an old session): read through the record
        metadata={"ivae_task": "walls", "ivae_image": "Phase 2 Retrace"},
    )
    w.points_combo.value = walls
    assert [ly.name for ly in w.images_list.value] == ["Amplitude 1 Retrace", "Phase 2 Retrace"]
    # atoms: the image they were found in; a choice by hand is kept when layers change
    atoms = viewer.add_points(np.array([[5.0, 5.0]]), name="Height Retrace atoms")
    w.points_combo.value = atoms
    assert [ly.name for ly in w.images_list.value] == ["Height Retrace"]
    from qtpy.QtCore import Qt

    # the user ticks "Frequency Retrace" (row 0) by hand
    w.images_list.item(0).setCheckState(Qt.CheckState.Checked)
    viewer.add_image(np.zeros((64, 64)), name="other")
    assert layers["Frequency Retrace"] in w.images_list.value


def test_real_ibw_opened_from_the_menu_ticks_amplitude_and_phase(dock, real_data):
    path = real_data / "scan_0001.ibw"
    viewer, w = dock(CropWidget)
    viewer.open(str(path), plugin="napari-ivae")
    names = [ly.name for ly in w.images_list.value]
    assert len(names) == 2 and "Amplitude" in names[0] and "Phase" in names[1]
    assert not any("Height" in n or "Frequency" in n for n in names)


@pytest.mark.parametrize(
    ("roles", "expected"), [(("image",), "local"), (("amplitude", "phase"), "zscore")]
)
def test_auto_normalize_follows_the_channel_roles(dock, make_blobs, roles, expected):
    """STEM intensity images are measured against their neighbourhood; PFM channels z-scored."""
    img, centres = make_blobs()
    viewer, w = dock(CropWidget)
    layers = [
        viewer.add_image(img * (k + 1), name=f"ch{k}", metadata={"role": role})
        for k, role in enumerate(roles)
    ]
    points = viewer.add_points(centres, name="ch0 atoms")
    w.points_combo.value = points
    w.images_list.value = layers
    w.window.setValue(12)
    assert w.normalize.currentText() == "auto"  # the default a user gets
    stack = w.run()
    assert stack is not None
    assert f"normalize {expected}" in w.status.text()
    if expected == "zscore":  # per channel over the stack: mean 0, sd 1
        flat = stack.images.transpose(1, 0, 2, 3).reshape(len(roles), -1)
        np.testing.assert_allclose(flat.mean(1), 0, atol=1e-4)
        np.testing.assert_allclose(flat.std(1), 1, atol=1e-3)
