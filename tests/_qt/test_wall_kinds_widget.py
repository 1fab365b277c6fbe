"""The Detect dock's "Wall kind" option, opened from the Plugins menu (the user's path)."""

from __future__ import annotations

import pytest

from napari_ivae.detect._metrics import wall_f1
from napari_ivae.simulate import simulate_ferroelastic

pytestmark = pytest.mark.gui

TIMEOUT = 300_000  # ms: a failure guard for a loaded machine, not a sleep


def _run(w, qtbot):
    w.start_thread = False
    worker = w.run()
    assert worker is not None
    with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    qtbot.waitUntil(lambda: w.run_button.isEnabled(), timeout=TIMEOUT)
    return blocker.args[0]


def test_kind_all_from_the_menu_gives_both_kinds(make_napari_viewer, qtbot, notes):
    s = simulate_ferroelastic((128, 128), seed=41)
    viewer = make_napari_viewer()
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "1 Detect")
    viewer.add_image(s.amplitude, name="Amplitude", metadata={"role": "amplitude"})
    viewer.add_image(s.phase, name="Phase", metadata={"role": "phase"}, colormap="twilight")
    assert w.task == "walls"
    # the option is a visible row of the walls box, built from detect_walls' signature
    kind = w.walls_form["kind"]
    assert w.wall_kind is kind.native and w.wall_kind.isVisibleTo(w)
    assert [kind.native.itemText(i) for i in range(kind.native.count())] == ["180", "all", "non180"]
    assert kind.value == "180"
    kind.value = "all"
    layer = _run(w, qtbot)
    assert set(layer.features["kind"]) == {"180", "non180"}
    mask = viewer.layers["Phase wall mask"].data > 0
    assert wall_f1(mask, s.walls_all)["f1"] >= 0.85
    # a kind that needs the amplitude, without it: one readable notification, nothing added
    w.amplitude_combo.value = None
    notes.clear()
    n_layers = len(viewer.layers)
    assert _run(w, qtbot) is None
    msgs = [t for sev, t in notes if "error" in sev or "warning" in sev]
    assert any("kind='all' needs an amplitude image" in t for t in msgs), msgs
    assert len(viewer.layers) == n_layers
