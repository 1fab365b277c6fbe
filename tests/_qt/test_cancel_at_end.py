"""Cancel pressed in the very last moment of a Detect / Dynamics job (after the core's
last cancel check): the dock must be free, say "Cancelled", add nothing and report
``None`` exactly once; the next run must work (ground truth: the blob centres)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._qt.detect import DetectWidget
from napari_ivae._qt.dynamics import DynamicsWidget

pytestmark = pytest.mark.gui


def test_detect_cancel_during_the_last_step(dock, make_blobs, monkeypatch):
    import napari_ivae.detect as detect

    img, centres = make_blobs()
    viewer, w = dock(DetectWidget)  # Plugins > napari-ivae > 1 Detect
    viewer.add_image(img, name="img")
    real = detect.detect_atoms

    def _late_cancel(*args, **kwargs):  # the detection is done, then Cancel is pressed
        out = real(*args, **kwargs)
        w.cancel_button.click()
        return out

    monkeypatch.setattr(detect, "detect_atoms", _late_cancel)
    w.task = "atoms"
    w.start_thread = False
    seen = []
    w.detection_finished.connect(seen.append)
    n_layers = len(viewer.layers)
    worker = w.run()
    worker.run()  # in this thread: the Cancel lands after the core's last check
    assert seen == [None] and len(viewer.layers) == n_layers
    assert "Cancelled" in w.status.text() and w.run_button.isEnabled() and not w._running
    assert w.cancel_button.isHidden() and w.busy.isHidden()
    monkeypatch.setattr(detect, "detect_atoms", real)
    worker = w.run()
    worker.run()
    layer = seen[-1]
    assert layer is not None and not w._running and w.run_button.isEnabled()
    found = np.asarray(layer.data)[:, -2:]
    d = np.hypot(*(found[:, None, :] - np.asarray(centres)[None, :, :2]).transpose(2, 0, 1))
    assert len(found) == len(centres) and d.min(1).max() < 1.5


def test_dynamics_cancel_during_the_last_step(make_napari_viewer, monkeypatch):
    import napari_ivae._qt._dynamics_jobs as jobs

    viewer = make_napari_viewer()
    viewer.open_sample("napari-ivae", "switching")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "6 Dynamics")
    assert type(w) is DynamicsWidget
    real = jobs._compute

    def _late_cancel(job, cancel):
        out = real(job, cancel)
        w.cancel_button.click()
        return out

    monkeypatch.setattr(jobs, "_compute", _late_cancel)
    before = [layer.name for layer in viewer.layers]
    seen = []
    w.computed.connect(seen.append)
    w.start_thread = False
    w.run().run()  # in this thread: the Cancel lands after the core's last check
    assert seen == [None] and [layer.name for layer in viewer.layers] == before
    assert w.result is None and "Cancelled" in w.status.text()
    assert w.run_button.isEnabled() and w.cancel_button.isHidden() and not w._running
    worker = w.run()  # not refused as "already running"
    assert worker is not None and w._running
    w.cancel()
