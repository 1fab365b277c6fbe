"""Crop dock (from the Plugins menu): the "Time delay" option pairs frames t and t+K."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

T, N = 4, 48


def test_time_delay_option_pairs_frames_and_crops_the_phase_as_domains(make_napari_viewer):
    viewer = make_napari_viewer()
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "2 Crop")
    amp = np.ones((T, N, N), np.float32) * (10 * np.arange(T) + 1)[:, None, None]
    phase = np.where(np.arange(N) < N // 2, -90.0, 90.0) * np.ones((T, N, N), np.float32)
    a = viewer.add_image(amp, name="Amplitude", metadata={"role": "amplitude"})
    p = viewer.add_image(phase, name="Phase", metadata={"role": "phase"})
    frames = [0, 1, 2, 3, 3]
    points = viewer.add_points(np.array([[f, 24.0, 24.0] for f in frames]), name="Phase walls")
    w.points_combo.value = points
    w.images_list.value = [a, p]
    w.window.setValue(16)
    w.normalize.setCurrentText("none")
    # the option is in the form built from crop's signature, with its auto phase choice
    w.form["time_delay"].value = 1
    assert w.form["phase"].value == "auto"

    stack = w.run()

    assert stack is not None and stack.time_delay == 1 and stack.unpaired == 2
    assert stack.channels == ("Amplitude@t", "Amplitude@t+1", "Phase@t", "Phase@t+1")
    np.testing.assert_array_equal(stack.index, [0, 1, 2])
    np.testing.assert_allclose(
        stack.images[:, :2, 8, 8], np.c_[10 * stack.frame + 1, 10 * (stack.frame + 1) + 1]
    )
    # auto → the phase cropped as its domain field: ±1, the wall between the two sides
    field = stack.images[:, 2:, 8]
    assert np.all(np.abs(np.abs(field[..., 2]) - 1) < 0.05)
    assert np.all(np.sign(field[..., 2]) == -np.sign(field[..., 13]))
    assert "2 without frame t+1" in w.status.text()
    assert "phase as domains" in w.status.text()

    # a delay as long as the series: a notification, no stack
    w.form["time_delay"].value = T
    assert w.run() is None
    assert "time_delay=4 is out of range" in w.status.text()
