"""Detect widget: atoms / walls in a worker → Points (+ Labels) layers on the image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from napari_ivae._qt.detect import DetectWidget
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui

TIMEOUT = 300_000  # ms: a failure guard for a loaded machine, not a sleep


def _messages(notes, kind=("error", "warning")):
    return [text for sev, text in notes if any(k in sev for k in kind)]


def _run(w, qtbot):
    """Run the widget's detection with the worker started by the test."""
    w.start_thread = False
    worker = w.run()
    assert worker is not None
    with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    qtbot.waitUntil(lambda: w.run_button.isEnabled(), timeout=TIMEOUT)
    return blocker.args[0]


def two_domains(shape=(96, 96), seed=0, wall=48):
    """A wrapped phase (degrees) with a vertical 180° wall at x = wall − 0.5 and its amplitude."""
    rng = np.random.default_rng(seed)
    _yy, xx = np.mgrid[: shape[0], : shape[1]]
    up = xx < wall
    phase = np.where(up, 90.0, -90.0) + rng.normal(0, 10, shape)
    phase = (phase + 180) % 360 - 180
    amplitude = 1.0 - 0.8 * np.exp(-((xx - wall + 0.5) ** 2) / 4.0)
    amplitude += rng.normal(0, 0.03, shape)
    return phase.astype(np.float32), amplitude.astype(np.float32)


def test_atoms_log_finds_the_lattice(dock, make_blobs, qtbot):
    img, centres = make_blobs(shape=(96, 96), spacing=12)
    viewer, w = dock(DetectWidget)
    image = viewer.add_image(img, name="lattice", scale=(0.05, 0.05))
    w.task = "atoms"
    w.image_combo.value = image
    w.atom_method.setCurrentText("log")
    layer = _run(w, qtbot)

    assert layer is viewer.layers["lattice atoms"]
    for col in ("y", "x", "score", "intensity", "frame"):
        assert col in layer.features
    assert tuple(layer.scale) == (0.05, 0.05)
    found = layer.data  # pixel coordinates of the image (scale copied)
    d, _ = cKDTree(found).query(centres)
    assert len(found) == len(centres)
    assert d.max() < 0.5
    np.testing.assert_allclose(found, layer.features[["y", "x"]].to_numpy())
    # the user sees what the detector decided: spacing, threshold, sublattices
    text = w.status.text()
    assert "spacing 12" in text and "threshold 3" in text and "sublattices" in text, text
    decided = get_record(layer).detection
    assert abs(decided["spacing_px"] - 12) < 0.5 and decided["threshold"] == 3
    assert float(np.max(layer.size)) < 6  # drawn small (a fraction of the spacing)
    assert "Found" in w.status.text()


def test_walls_gaussian_gives_points_mask_and_domains(dock, qtbot):
    phase, amplitude = two_domains()
    viewer, w = dock(DetectWidget)
    amp = viewer.add_image(amplitude, name="Amplitude")
    ph = viewer.add_image(phase, name="Phase", colormap="twilight")
    w.task = "walls"
    w.phase_combo.value = ph
    w.amplitude_combo.value = amp
    w.wall_method.setCurrentText("gaussian")
    w.stride.setValue(4)
    layer = _run(w, qtbot)

    assert layer is viewer.layers["Phase walls"]
    for col in ("y", "x", "frame", "orientation"):
        assert col in layer.features
    # all wall points lie on the true wall (x ≈ 47.5), spread along it
    x = layer.features["x"].to_numpy()
    assert np.all(np.abs(x - 47.5) <= 2.0)
    assert np.ptp(layer.features["y"]) > 60
    mask = viewer.layers["Phase wall mask"].data
    assert mask.shape == phase.shape and mask.any()
    cols = np.flatnonzero(mask.any(axis=0))
    assert np.all(np.abs(cols - 47.5) <= 2.0)
    domains = viewer.layers["Phase domains"].data
    # two domains, one on each side of the wall
    assert len(set(np.unique(domains[:, :40]))) == 1
    assert len(set(np.unique(domains[:, 56:]))) == 1
    assert domains[0, 0] != domains[0, -1]
    # what the wall finder decided: the noise, the significance test, the domains
    text = w.status.text()
    assert "phase noise" in text and "2 domains" in text, text
    assert get_record(layer).detection["domains"] == 2


def test_rerun_replaces_the_layer(dock, make_blobs, qtbot):
    img, _ = make_blobs()
    viewer, w = dock(DetectWidget)
    viewer.add_image(img, name="lattice")
    _run(w, qtbot)
    n_layers = len(viewer.layers)
    _run(w, qtbot)
    assert len(viewer.layers) == n_layers


def test_bad_input_notifies_and_widget_stays_usable(dock, make_blobs, qtbot, notes):
    img, _ = make_blobs()
    viewer, w = dock(DetectWidget)
    # no layer at all
    w.task = "atoms"
    assert w.run() is None
    assert any("no image layer" in t for t in _messages(notes))
    # walls with neither phase nor amplitude
    viewer.add_image(img, name="lattice")
    w.task = "walls"
    w.phase_combo.value = None
    w.amplitude_combo.value = None
    notes.clear()
    assert w.run() is None
    assert any("phase" in t and "amplitude" in t for t in _messages(notes))
    # zero detections: a threshold far above any atom's score
    w.task = "atoms"
    w.threshold.setValue(900.0)
    notes.clear()
    n_layers = len(viewer.layers)
    assert _run(w, qtbot) is None
    msgs = _messages(notes)
    assert msgs and "Traceback" not in msgs[0]
    assert len(viewer.layers) == n_layers
    # running twice at once: refused with a notification
    w.threshold.setValue(0.0)  # auto
    w.start_thread = False
    worker = w.run()
    notes.clear()
    assert w.run() is None
    assert any("already running" in t for t in _messages(notes))
    with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    assert blocker.args[0] is not None  # still usable


def test_pfm_channels_are_preselected_by_role(dock):
    phase, amplitude = two_domains()
    viewer, w = dock(DetectWidget)
    assert w.task == "atoms"  # nothing open yet
    # the user opens a PFM file after docking: the layers arrive one by one, phase on top
    viewer.add_image(amplitude, name="Height", metadata={"role": "height"})
    assert w.task == "atoms"
    viewer.add_image(amplitude, name="Amplitude 2", metadata={"role": "amplitude"})
    viewer.add_image(amplitude, name="Amplitude 1", metadata={"role": "amplitude"})
    viewer.add_image(phase, name="Ph 2", metadata={"role": "phase"})
    viewer.add_image(phase, name="Ph 1", metadata={"role": "phase"})
    assert w.task == "walls" and w.walls_box.isVisibleTo(w) and not w.atoms_box.isVisibleTo(w)
    assert w.phase_combo.value.name == "Ph 1"
    assert w.amplitude_combo.value.name == "Amplitude 1"
    # a choice by hand is kept when more layers come
    w.amplitude_combo.value = viewer.layers["Amplitude 2"]
    w.atoms_radio.click()
    viewer.add_image(phase, name="Phase 3", metadata={"role": "phase"})
    assert w.task == "atoms" and w.amplitude_combo.value.name == "Amplitude 2"


def test_stem_image_opens_in_atom_mode(dock, make_blobs):
    img, _ = make_blobs()
    viewer, w = dock(DetectWidget)
    viewer.add_image(img, name="HAADF", metadata={"role": "image"})
    assert w.task == "atoms" and w.image_combo.value.name == "HAADF"


@pytest.mark.parametrize(
    ("name", "task"), [("scan_0001.ibw", "walls"), ("DMReader_Image_SI-Survey.dm3", "atoms")]
)
def test_real_files_opened_after_docking_choose_the_task(dock, real_data, name, task):
    path = real_data / name
    viewer, w = dock(DetectWidget)
    viewer.open(str(path), plugin="napari-ivae")
    assert w.task == task
    if task == "walls":
        assert w.phase_combo.value.metadata["role"] == "phase"
        assert "1" in w.phase_combo.value.name
        assert w.amplitude_combo.value.metadata["role"] == "amplitude"
        assert "1" in w.amplitude_combo.value.name
    else:
        assert w.image_combo.value is viewer.layers[-1]


def test_wall_points_are_sized_by_the_image_and_errors_stay_readable(dock, qtbot):
    phase, amplitude = two_domains(shape=(256, 256), wall=128)
    viewer, w = dock(DetectWidget)
    viewer.add_image(amplitude, name="Amplitude", metadata={"role": "amplitude"})
    viewer.add_image(phase, name="Phase", metadata={"role": "phase"})
    assert w.task == "walls"
    w.stride.setValue(4)
    layer = _run(w, qtbot)
    # about 1 % of the image side (2.56 px), not 1 px; never under 3 px on screen
    assert float(np.min(layer.size)) >= 2.5 and min(layer.canvas_size_limits) >= 3
    assert (get_record(layer).task, get_record(layer).image) == ("walls", "Phase")
    # an error: in full in the status line (tooltip too), until the next action
    w.phase_combo.value = None
    w.amplitude_combo.value = None
    assert w.run() is None
    assert w.status.kind == "error" and "phase" in w.status.text()
    assert w.status.toolTip() == w.status.text()
    w.phase_combo.value = viewer.layers["Phase"]
    assert _run(w, qtbot) is not None
    assert w.status.kind == "info" and "Found" in w.status.text()


def test_walls_in_a_stack_keep_their_frame(dock, qtbot):
    # three frames; the wall moves right by 8 px per frame (switching)
    phase = np.stack([two_domains(seed=t, wall=48 + 8 * t)[0] for t in range(3)])
    viewer, w = dock(DetectWidget)
    ph = viewer.add_image(phase, name="Phase")
    w.task = "walls"
    w.phase_combo.value = ph
    w.amplitude_combo.value = None
    layer = _run(w, qtbot)
    assert layer.ndim == 3
    feats = layer.features
    np.testing.assert_array_equal(np.asarray(layer.data)[:, 0], feats["frame"])
    for t in range(3):
        x = feats.loc[feats["frame"] == t, "x"].to_numpy()
        assert len(x) > 10
        assert np.median(np.abs(x - (47.5 + 8 * t))) <= 1.5


@pytest.mark.slow
def test_widgets_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; import napari_ivae._qt.detect, napari_ivae._qt.crop, napari_ivae._qt.train; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_preview_searches_only_the_visible_region(make_napari_viewer, make_blobs, qtbot):
    img, centres = make_blobs(shape=(192, 192), spacing=12)
    viewer = make_napari_viewer(show=True)
    w = DetectWidget(viewer)
    viewer.window.add_dock_widget(w)
    image = viewer.add_image(img, name="lattice")
    scene = getattr(viewer, "scene", None)  # napari >= 0.9 (viewer.camera is deprecated there)
    camera = scene.camera if scene is not None else viewer.camera
    camera.zoom *= 3
    camera.center = (0, 60, 60)

    def _zoomed():
        y0, y1, x0, x1, _frame = w._view_box(image)
        return (y1 - y0) < 150 and (x1 - x0) < 150

    qtbot.waitUntil(_zoomed, timeout=TIMEOUT)  # the canvas has drawn the new view
    y0, y1, x0, x1, frame = w._view_box(image)
    assert frame is None and (y1 - y0) < 150 and (x1 - x0) < 150
    w.start_thread = False
    worker = w.run(preview=True)
    with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    layer = blocker.args[0]
    assert layer.name == "lattice atoms preview"
    found = np.asarray(layer.data)
    inside = centres[
        (centres[:, 0] >= y0 + 3)
        & (centres[:, 0] < y1 - 3)
        & (centres[:, 1] >= x0 + 3)
        & (centres[:, 1] < x1 - 3)
    ]
    d, _ = cKDTree(found).query(inside)
    assert d.max() < 0.5  # every atom well inside the view is found at the right place
    assert len(found) < len(centres) / 2
    assert (found[:, 0] >= y0 - 1).all() and (found[:, 0] <= y1).all()
    assert "lattice atoms" not in viewer.layers  # the full result layer is not touched


def test_device_choice_applies_to_the_dcnn_and_an_absent_gpu_is_one_sentence(
    dock, make_blobs, qtbot, notes
):
    import torch

    img, _ = make_blobs()
    viewer, w = dock(DetectWidget)
    viewer.add_image(img, name="lattice")
    w.task = "atoms"
    w.atom_method.setCurrentText("log")
    assert not w.device.isEnabled()  # the classical finders run on the CPU
    w.atom_method.setCurrentText("dcnn")
    assert w.device.isEnabled()
    w.task = "walls"
    w.wall_method.setCurrentText("gaussian")
    assert not w.device.isEnabled()
    w.task = "atoms"
    assert w.device.isEnabled()
    w.device.setCurrentText("cpu")
    assert w._make_job()["kwargs"]["device"] == "cpu"
    if torch.cuda.is_available():
        return
    w.device.setCurrentText("cuda")
    n_layers = len(viewer.layers)
    notes.clear()
    assert _run(w, qtbot) is None
    msgs = _messages(notes)
    assert msgs and "cuda" in msgs[0].lower() and "Traceback" not in msgs[0]
    assert len(viewer.layers) == n_layers and w.run_button.isEnabled()


def test_cancel_frees_the_widget_at_once_and_adds_nothing(dock, make_blobs, qtbot):
    img, _ = make_blobs()
    viewer, w = dock(DetectWidget)
    viewer.add_image(np.stack([img] * 6), name="stack")
    w.task = "atoms"
    w.start_thread = False
    worker = w.run()
    assert worker is not None and not w.cancel_button.isHidden()
    n_layers = len(viewer.layers)
    with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
        w.cancel()
    assert blocker.args[0] is None
    assert w.run_button.isEnabled() and "Cancelled" in w.status.text()
    assert w.cancel_button.isHidden()
    # the worker (started only now) stops before its first frame and adds nothing
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        worker.start()
    assert len(viewer.layers) == n_layers
    # the widget works again afterwards
    w.start_thread = False
    worker = w.run()
    with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
        worker.start()
    layer = blocker.args[0]
    assert layer is not None and set(np.unique(layer.features["frame"])) == set(range(6))


def test_viewer_closed_during_detection_stops_the_worker(
    make_napari_viewer, make_blobs, qtbot, monkeypatch
):
    import napari_ivae.detect as detect

    frames = []
    real = detect.find_atoms_log
    monkeypatch.setattr(detect, "find_atoms_log", lambda *a, **k: frames.append(1) or real(*a, **k))
    img, _ = make_blobs()
    viewer = make_napari_viewer()
    w = DetectWidget(viewer)
    viewer.window.add_dock_widget(w)
    viewer.add_image(np.stack([img] * 6), name="stack")
    w.task = "atoms"
    w.start_thread = False
    worker = w.run()
    viewer.close()  # destroys the dock widget: the worker is asked to quit
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        worker.start()
    assert worker.abort_requested
    assert frames == []  # the core stopped before its first frame


def test_a_bug_in_detection_is_said_in_the_status_and_frees_the_widget(
    dock, make_blobs, qtbot, monkeypatch
):
    """A bug (not a user mistake) ends the job: the status line says so instead of staying
    on "Detecting …", nothing is added, and the widget works again."""
    import napari_ivae.detect as detect

    def broken(*_args, **_kwargs):
        raise RuntimeError("simulated bug")

    img, _ = make_blobs()
    viewer, w = dock(DetectWidget)
    viewer.add_image(img, name="lattice")
    w.task = "atoms"
    w.atom_method.setCurrentText("log")
    n_layers = len(viewer.layers)
    monkeypatch.setattr(detect, "find_atoms_log", broken)
    w.start_thread = False
    worker = w.run()
    with qtbot.capture_exceptions() as raised:  # napari shows the traceback
        with qtbot.waitSignal(w.detection_finished, timeout=TIMEOUT) as blocker:
            worker.start()
        qtbot.waitUntil(lambda: w.run_button.isEnabled(), timeout=TIMEOUT)
    assert [str(e[1]) for e in raised] == ["simulated bug"]
    assert blocker.args[0] is None and len(viewer.layers) == n_layers
    text = w.status.text()
    assert "failed" in text and "simulated bug" in text and "Detecting" not in text
    monkeypatch.undo()
    assert _run(w, qtbot) is not None
