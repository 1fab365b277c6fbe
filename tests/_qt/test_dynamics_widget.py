"""Dynamics dock on the switching sample, the user's way (File > Open Sample, Plugins menu).

Ground truth: :func:`napari_ivae.dynamics.series.series_metrics` run directly
on the same arrays; the dock must show exactly its table, walls and points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from qtpy.QtCore import Qt

from napari_ivae._qt.dynamics import DynamicsWidget
from napari_ivae.colors import legend
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui

TIMEOUT = 120_000  # ms: a failure guard for a loaded machine, not a sleep


def _compute(w, qtbot):
    w.start_thread = False
    worker = w.run()
    assert worker is not None
    with qtbot.waitSignal(w.computed, timeout=TIMEOUT) as blocker:
        worker.start()
    qtbot.waitUntil(lambda: w.run_button.isEnabled(), timeout=TIMEOUT)
    return blocker.args[0]


@pytest.fixture
def computed(make_napari_viewer, qtbot):
    """The switching sample, the Dynamics dock from the Plugins menu, computed; and the truth."""
    from napari_ivae.dynamics.series import series_metrics
    from napari_ivae.io import pixel_size_nm

    viewer = make_napari_viewer()
    viewer.open_sample("napari-ivae", "switching")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "6 Dynamics")
    assert type(w) is DynamicsWidget
    phase, amp = w.phase_combo.value, w.amplitude_combo.value
    assert "phase" in phase.name.lower() and "amplitude" in amp.name.lower()  # by role
    result = _compute(w, qtbot)
    assert result is w.result
    assert w.artefacts.isChecked() and w.common.isChecked()  # the defaults
    assert w.reference_list.value == [amp]  # by role, as ivae wall-metrics: no deflection here
    truth = series_metrics(
        np.asarray(phase.data),
        np.asarray(amp.data),
        method="gaussian",
        register=True,
        reference=[np.asarray(amp.data)],
        artefacts=True,
        common=True,
        pixel_size_nm=pixel_size_nm(phase),
    )
    return viewer, w, truth


def test_dock_shows_the_metrics_walls_and_points_of_the_core(computed, qtbot, tmp_path):
    viewer, w, truth = computed
    table = w.result.table
    pd.testing.assert_frame_equal(table, truth.table)
    assert len(table) == 6 and set(table["frame"]) == set(range(6))
    # the plot draws the table: default group = the fractions, against the frame
    curve = w.plot.curves["switched_fraction"]
    np.testing.assert_allclose(curve.xData, table["frame"])
    np.testing.assert_allclose(curve.yData, table["switched_fraction"])
    w.plot.show_group("Wall length")  # calibrated sample: nm, said on the axis
    np.testing.assert_allclose(w.plot.curves["wall_length_nm"].yData, table["wall_length_nm"])
    assert "(nm)" in w.plot.plot.getAxis("left").labelText
    w.plot.show_group("Mean wall curvature")
    np.testing.assert_allclose(
        w.plot.curves["mean_curvature_per_nm"].yData, table["mean_curvature_per_nm"]
    )
    assert "(1/nm)" in w.plot.plot.getAxis("left").labelText
    assert w.plot.plot.getAxis("bottom").labelText.startswith("frame")

    # the wall mask: every wall pixel of the core, nothing else
    phase = w.phase_combo.value.name
    mask = viewer.layers[f"{phase} wall motion"].data
    np.testing.assert_array_equal((mask > 0) & (mask < 4), truth.walls)
    np.testing.assert_array_equal(mask == 4, ~truth.valid)  # the veil: pixels left out
    # the wall points: the core's points with displacement and pinned in the features
    points = viewer.layers[f"{phase} wall points (dynamics)"]
    for col in ("frame", "displacement_px", "pinned"):
        assert col in points.features
    np.testing.assert_array_equal(points.features["pinned"], truth.points["pinned"])
    np.testing.assert_allclose(points.data[:, 0], truth.points["frame"])
    np.testing.assert_allclose(points.data[:, 1:], truth.points[["y", "x"]])

    # a click on frame 3's point moves the viewer there; the marker follows the viewer
    w.plot.show_group("Switched and pinned fractions, convexity")
    qtbot.waitExposed(w.plot.plot)
    qtbot.mouseClick(
        w.plot.plot.viewport(), Qt.MouseButton.LeftButton, pos=w.plot.frame_position(3)
    )
    assert viewer.dims.current_step[0] == 3
    assert w.plot.current_frame == 3
    viewer.dims.set_current_step(0, 1)
    assert w.plot.current_frame == 1
    assert "frame 1" in w.plot.plot.getAxis("bottom").labelText

    # Export CSV: the same table back
    out = w.export_csv(tmp_path / "metrics.csv")
    back = pd.read_csv(out)
    assert list(back.columns) == list(table.columns)
    np.testing.assert_allclose(
        back.to_numpy(float), table.to_numpy(float), rtol=1e-5, equal_nan=True
    )


def test_explorer_colours_the_wall_points_by_pinned_frame_and_displacement(
    make_napari_viewer, qtbot
):
    """Dynamics → Crop with a time delay → the explorer on the wall points of a pinned series."""
    from napari_ivae.simulate import simulate_switching

    sim = simulate_switching((128, 128), n_frames=4, n_pins=6, seed=1)  # walls stick at pins
    viewer = make_napari_viewer()
    viewer.add_image(sim.amplitude, name="Amplitude")
    viewer.add_image(sim.phase, name="Phase", colormap="twilight")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "6 Dynamics")
    _compute(w, qtbot)
    points = viewer.layers["Phase wall points (dynamics)"]
    pinned = points.features["pinned"].to_numpy()
    assert pinned.dtype == bool and 0 < pinned.sum() < len(pinned)
    # 2 Crop with a time delay of 1 (Advanced): pairs [t, t+1]; the last frame has no partner
    from napari_ivae.crop import crop

    _dock, cw = viewer.window.add_plugin_dock_widget("napari-ivae", "2 Crop")
    cw.points_combo.value = points
    cw.images_list.value = [viewer.layers["Amplitude"], viewer.layers["Phase"]]
    cw.form["time_delay"].value = 1
    stack = cw.run()
    assert stack is not None, cw.status.text()
    table = points.features[["y", "x", "frame"]]
    direct = crop(
        [sim.amplitude, sim.phase], table, window=32, normalize="zscore", time_delay=1,
        channels=("Amplitude", "Phase"),
    )  # fmt: skip
    assert stack.channels == direct.channels == (
        "Amplitude@t", "Amplitude@t+1", "Phase@t", "Phase@t+1",
    )  # fmt: skip
    np.testing.assert_array_equal(stack.index, direct.index)
    assert stack.unpaired == direct.unpaired == int((table["frame"] == 3).sum())
    assert f"{stack.unpaired:,} without frame t+1" in cw.status.text()

    _dock, ex = viewer.window.add_plugin_dock_widget("napari-ivae", "4 Explore and label")
    ex.set_layer(points)
    ex.set_color_by("pinned")  # a bool column: two colours, counted in the legend
    scheme = ex._scheme()
    assert scheme.kind == "categorical" and len(scheme.colors) == 2
    counts = {name: n for name, _c, n in legend("pinned", scheme).entries}
    assert counts == {"False": int((~pinned).sum()), "True": int(pinned.sum())}
    colors = scheme.point_colors()
    assert len({tuple(c) for c in colors[pinned]} | {tuple(c) for c in colors[~pinned]}) == 2
    ex.set_color_by("frame")
    assert ex._scheme().kind == "categorical" and len(ex._scheme().colors) == 4
    ex.set_color_by("displacement_px")  # NaN in the last frame: grey
    assert ex._scheme().kind == "sequential"

    # a selection of walls of frames 1 and 2 shows, in each frame, that frame's walls
    frames = points.features["frame"].to_numpy()
    rows = np.flatnonzero(np.isin(frames, (1, 2)))
    ex.select_indices(rows)
    hl = ex.highlight_layer
    for t in (1, 2, 0):
        viewer.dims.set_current_step(0, t)
        shown = np.asarray(hl.data)[hl._view_indices]
        assert len(shown) == int((frames[rows] == t).sum())
        assert (shown[:, 0] == t).all()
        assert f"{len(shown):,} in this frame" in ex.count_label.text()


def test_a_single_frame_is_one_plain_sentence_and_nothing_is_added(
    make_napari_viewer, notes, tmp_path
):
    viewer = make_napari_viewer()
    one = viewer.add_image(np.zeros((32, 32), np.float32), name="phase frame")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "6 Dynamics")
    w.phase_combo.value = one
    before = [layer.name for layer in viewer.layers]
    notes.clear()
    assert w.run() is None
    errors = [text for sev, text in notes if "error" in sev]
    assert len(errors) == 1, errors
    assert "phase frame" in errors[0] and "(32, 32)" in errors[0] and errors[0].count(".") <= 1
    assert w.status.kind == "error"
    assert [layer.name for layer in viewer.layers] == before
    assert w.run_button.isEnabled() and w.result is None
    with pytest.raises(Exception, match="Compute"):
        w.export_csv(tmp_path / "m.csv")
    assert not list(tmp_path.iterdir())


def test_explorer_colours_by_wall_kind_from_the_detect_dock(make_napari_viewer, qtbot):
    from napari_ivae.detect import detect_walls
    from napari_ivae.simulate import simulate_ferroelastic

    sim = simulate_ferroelastic((128, 128), seed=0)  # 180° walls and a/c stripe walls
    viewer = make_napari_viewer()
    viewer.add_image(sim.amplitude, name="Amplitude")
    viewer.add_image(sim.phase, name="Phase")
    _dock, det = viewer.window.add_plugin_dock_widget("napari-ivae", "1 Detect")
    det.task = "walls"
    det.walls_form["kind"].value = "all"  # Advanced > Kind
    det.start_thread = False
    worker = det.run()
    with qtbot.waitSignal(det.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    points = blocker.args[0]
    truth = detect_walls(sim.phase, sim.amplitude, kind="all").points["kind"].value_counts()
    _dock, ex = viewer.window.add_plugin_dock_widget("napari-ivae", "4 Explore and label")
    ex.set_layer(points)
    ex.set_color_by("kind")  # text: one colour per kind, counted
    counts = {name: n for name, _c, n in legend("kind", ex._scheme()).entries}
    assert counts == {str(k): int(v) for k, v in truth.items()}
    assert set(counts) == {"180", "non180"}


def test_a_drifting_series_is_registered_and_the_walls_sit_on_the_registered_frames(
    make_napari_viewer, qtbot
):
    """Cancel first (nothing added), then Compute: drift found, walls on the registered frames."""
    from napari_ivae.dynamics import apply_shifts
    from napari_ivae.simulate import simulate_switching

    sim = simulate_switching((128, 128), n_frames=3, seed=4)
    drift = np.array([[0, 0], [4, -3], [7, 2]])  # the sample moves under the tip
    amp = np.stack([np.roll(a, tuple(d), axis=(0, 1)) for a, d in zip(sim.amplitude, drift)])
    phase = np.stack([np.roll(p, tuple(d), axis=(0, 1)) for p, d in zip(sim.phase, drift)])
    from scipy import ndimage

    rng = np.random.default_rng(0)
    relief = ndimage.gaussian_filter(rng.normal(size=(128, 128)), 2.0)  # topography: the reference
    height = np.stack([np.roll(relief, tuple(d), axis=(0, 1)) for d in drift])
    viewer = make_napari_viewer()
    viewer.add_image(height, name="Height")
    viewer.add_image(amp, name="Amplitude")
    viewer.add_image(phase, name="Phase")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "6 Dynamics")
    w.reference_list.value = [viewer.layers["Height"]]  # registered on the topography
    # Cancel: the dock is free at once, and nothing is added
    before = [layer.name for layer in viewer.layers]
    w.start_thread = False
    worker = w.run()
    assert not w.run_button.isEnabled() and not w.cancel_button.isHidden()
    with qtbot.waitSignal(w.computed, timeout=TIMEOUT) as blocker:
        w.cancel()
    assert blocker.args == [None] and w.run_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        worker.start()  # the core sees the cancel before its first frame
    assert [layer.name for layer in viewer.layers] == before
    assert w.result is None and "Cancelled" in w.status.text()

    result = _compute(w, qtbot)
    assert result is not None, w.status.text()
    np.testing.assert_allclose(result.shifts, -drift, atol=0.5)  # back onto frame 0
    registered = viewer.layers["Phase registered"]
    rows = result.row_shifts if result.row_shifts is not None else result.shifts
    np.testing.assert_array_equal(registered.data, apply_shifts(phase, rows, order=0))
    assert "Amplitude registered" in viewer.layers
    points = viewer.layers["Phase wall points (dynamics)"]
    assert get_record(points).image == "Phase registered"  # Crop and the explorer find it
    mask = viewer.layers["Phase wall motion"].data
    np.testing.assert_array_equal((mask > 0) & (mask < 4), result.walls)
    assert (mask == 4).any()  # the parts of frames 1, 2 the drift took out of the common area
    assert "registered (shifts ≤" in w.status.text()
    # the registered copies are never taken as inputs: Compute again measures the raw frames
    assert w.phase_combo.value is viewer.layers["Phase"]
    assert w.amplitude_combo.value is viewer.layers["Amplitude"]
