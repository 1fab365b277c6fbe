"""Train widget: training in a worker, Stop, features written by Stack.index, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._qt.train import TrainWidget
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui

TIMEOUT = 300_000  # ms: a failure guard for a loaded machine, not a sleep


def _errors(notes):
    return [text for sev, text in notes if "error" in sev or "warning" in sev]


@pytest.fixture
def stacked(make_blobs):
    """(image, centres, add) where add(viewer) adds image + points with a cropped stack."""
    from napari_ivae.crop import crop

    img, centres = make_blobs(shape=(120, 120), spacing=10)
    # two points near the edge are dropped by the crop: their latents must be NaN
    pts = np.vstack([[1.0, 1.0], centres, [118.0, 60.0]])

    def add(viewer, name="pts"):
        viewer.add_image(img, name="img")
        layer = viewer.add_points(pts, name=name, features={"label": ["a"] * len(pts)})
        table = {"y": pts[:, 0], "x": pts[:, 1]}
        import pandas as pd

        get_record(layer).stack = crop(img, pd.DataFrame(table), window=10)
        return layer

    return img, pts, add


def _small(w, kind="rvae", epochs=2):
    w.kind.setCurrentText(kind)
    w.epochs.setValue(epochs)
    w.batch_size.setValue(32)
    w.latent_dim.setValue(2)
    w.start_thread = False


def test_train_writes_latents_by_stack_index(dock, stacked, qtbot):
    from napari_ivae.analysis import encode

    _img, pts, add = stacked
    viewer, w = dock(TrainWidget)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "rvae", epochs=2)
    worker = w.start()
    assert worker is not None
    seen = []
    worker.yielded.connect(seen.append)
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)

    stack = get_record(points).stack
    model = get_record(points).model
    assert model is w.model and model.config.kind == "rvae"
    feats = points.features
    assert len(feats) == len(pts)
    assert list(feats["label"]) == ["a"] * len(pts)  # existing columns kept
    for col in ("z1", "z2", "angle", "dy", "dx"):
        assert col in feats
    # rows of points dropped by the crop are NaN, the others equal encode() by Stack.index
    dropped = np.setdiff1d(np.arange(len(pts)), stack.index)
    assert len(dropped) == 2 and feats.loc[dropped, "z1"].isna().all()
    expected = encode(model, stack)
    np.testing.assert_allclose(feats.loc[stack.index, "z1"], expected["z1"], rtol=1e-5)
    np.testing.assert_allclose(feats.loc[stack.index, "angle"], expected["angle"], rtol=1e-5)
    # progress: a "start" report, then one curve point per step report; last is epoch 2
    assert seen and seen[0].phase == "start" and seen[-1].epoch == 2
    assert w.progress.value() == w.progress.maximum()
    assert len(w.curve.getData()[0]) == len(seen) - 1


def test_progress_says_what_it_is_doing_and_how_long_is_left(dock, stacked, qtbot):
    _img, _pts, add = stacked
    viewer, w = dock(TrainWidget)
    w.points_combo.value = add(viewer)
    _small(w, "rvae", epochs=3)
    worker = w.start()
    # before the worker reports anything: busy (not a stuck "0 %") and saying so
    assert w.progress.maximum() == 0 and w.status.text().startswith("Preparing data")
    seen = []
    worker.yielded.connect(lambda p: seen.append((p.phase, w.status.text())))
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    phases = [ph for ph, _ in seen]
    assert phases[0] == "start" and set(phases[1:]) == {"train"}
    assert seen[0][1].startswith("Model ready; first batch")
    assert seen[1][1].startswith("Epoch 1/3 · step")
    assert any(" left" in text for _, text in seen[2:-1]) or len(seen) <= 3
    assert w.progress.maximum() > 0 and w.progress.value() == w.progress.maximum()


def test_format_duration():
    from napari_ivae._qt.train import format_duration

    assert format_duration(3.2) == "3 s"
    assert format_duration(42) == "40 s"
    assert format_duration(95) == "2 min"
    assert format_duration(3900) == "1 h 5 min"


def test_retraining_keeps_labels_and_replaces_latents(dock, stacked, qtbot):
    _img, pts, add = stacked
    viewer, w = dock(TrainWidget)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "jrvae", epochs=1)
    w.classes.setValue(3)
    worker = w.start()
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)
    assert {"class", "p0", "p1", "p2"} <= set(points.features.columns)
    feats = points.features.copy()
    feats["label"] = ["wall"] * 10 + ["a"] * (len(pts) - 10)
    points.features = feats
    # retrain a plain VAE with 3 latents: class/p*/angle columns disappear, label stays
    _small(w, "vae", epochs=1)
    w.latent_dim.setValue(3)
    worker = w.start()
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)
    cols = set(points.features.columns)
    assert {"z1", "z2", "z3"} <= cols
    assert not cols & {"class", "p0", "angle", "dy"}
    assert list(points.features["label"][:11]) == ["wall"] * 10 + ["a"]


def test_stop_aborts_and_still_writes_latents(dock, stacked, qtbot):
    _img, _pts, add = stacked
    viewer, w = dock(TrainWidget)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "rvae", epochs=500)
    worker = w.start()
    worker.yielded.connect(lambda p: p.phase == "train" and w.stop())
    with qtbot.waitSignal(worker.aborted, timeout=TIMEOUT):
        worker.start()
    # the encode worker is created by the aborted handler (not started: start_thread=False)
    assert w.encode_worker is not None
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        w.encode_worker.start()
    assert "z1" in points.features and get_record(points).model is w.model
    import re

    stopped_at = int(re.search(r"Stopped at epoch (\d+)", w.status.text()).group(1))
    assert stopped_at < 50  # stopped promptly, far before the 500 epochs asked for
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)
    assert w.start_button.isEnabled() and not w.stop_button.isEnabled()


def test_stop_keeps_the_finished_epochs_and_saves_how_it_was_trained(
    dock, stacked, qtbot, tmp_path
):
    from napari_ivae.train import _read_checkpoint, load_model

    _img, _pts, add = stacked
    viewer, w = dock(TrainWidget)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "rvae", epochs=500)
    worker = w.start()
    worker.yielded.connect(lambda p: p.epoch == 2 and p.epoch_time is not None and w.stop())
    with qtbot.waitSignal(worker.aborted, timeout=TIMEOUT):
        worker.start()
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        w.encode_worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)
    assert [h["epoch"] for h in w.history][:2] == [1, 2]
    assert all(np.isfinite(h["loss"]) and h["time"] > 0 for h in w.history)
    assert all(p.device.type == "cpu" for p in w.model.parameters()) and not w.model.training
    path = w.save_model(tmp_path / "stopped.ivae")
    assert path is not None
    _model, history = load_model(path)
    assert [h["epoch"] for h in history] == [h["epoch"] for h in w.history]
    trained = _read_checkpoint(path)["train_config"]
    assert trained["epochs"] == 500 and trained["seed"] == w.seed.value()
    # the data-decided options are stored as decided, not as "auto"
    assert trained["seed_features"] in ("raw", "gain_free") and trained["seed_centre"] != "auto"
    assert trained["capacity_cont"] is not None


def test_stop_after_the_last_report_keeps_the_trained_model(dock, stacked, qtbot, monkeypatch):
    """Stop pressed while the stack is encoded (after the last progress report): superqt's
    worker emits neither returned nor aborted; the trained model must still be written."""
    from napari_ivae.analysis import encode

    monkeypatch.setattr("napari_ivae._qt._train_jobs._background_thread", lambda: None)
    _img, _pts, add = stacked
    viewer, w = dock(TrainWidget)  # Plugins > napari-ivae > 3 Train
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "rvae", epochs=1)
    worker = w.start()
    pressed = []

    def _press(p):  # the report that ends the only epoch is the last one
        if p.epoch_time is not None:
            pressed.append(w.stop_button.isEnabled())
            w.stop_button.click()

    worker.yielded.connect(_press)
    worker.run()  # in this thread: Stop lands after the last report, deterministically
    assert pressed == [True] and worker.abort_requested
    if w.encode_worker is not None:  # a fix may encode again with the last weights
        with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
            w.encode_worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)
    assert "Stopping" not in w.status.text() and "wrote z1" in w.status.text()
    assert w.model is not None and get_record(points).model is w.model
    assert [h["epoch"] for h in w.history] == [1]
    stack = get_record(points).stack
    expected = encode(w.model, stack)
    np.testing.assert_allclose(points.features.loc[stack.index, "z1"], expected["z1"], rtol=1e-5)
    assert w.start_button.isEnabled() and not w.stop_button.isEnabled()


def test_bad_input_notifies_and_widget_stays_usable(dock, stacked, qtbot, notes, tmp_path):
    _img, pts, add = stacked
    viewer, w = dock(TrainWidget)
    # no points layer
    assert w.start() is None
    assert any("no points layer" in t for t in _errors(notes))
    # a points layer without a stack
    bare = viewer.add_points(pts[:5], name="bare")
    w.points_combo.value = bare
    notes.clear()
    assert w.start() is None
    assert any("run Crop" in t for t in _errors(notes))
    # too few samples: a stack of one sub-image
    from napari_ivae.crop import crop

    get_record(bare).stack = crop(_img, pts[5:6], window=10)
    notes.clear()
    assert w.start() is None
    assert any("at least 2" in t for t in _errors(notes))
    # a model file of the wrong kind
    junk = tmp_path / "junk.ivae"
    junk.write_bytes(b"not a model at all")
    notes.clear()
    assert w.load_model(str(junk)) is None
    errs = _errors(notes)
    assert len(errs) == 1 and "junk.ivae" in errs[0] and "Traceback" not in errs[0]
    assert w.model is None
    assert w.status.kind == "error" and "junk.ivae" in w.status.text()  # in full, in red
    # a valid torch file that is not a napari-ivae model
    import torch

    other = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    notes.clear()
    assert w.load_model(str(other)) is None
    assert any("not a napari-ivae model" in t for t in _errors(notes))
    assert w.model is None
    # encoding without a model
    notes.clear()
    assert w.encode() is None
    assert any("no model" in t for t in _errors(notes))
    # started twice: the second start is refused with a notification, the first runs on
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "vae", epochs=1)
    worker = w.start()
    notes.clear()
    assert w.start() is None
    assert any("already running" in t for t in _errors(notes))
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    assert "z1" in points.features
    assert w.status.kind == "info"  # the earlier errors left with the next action


def test_save_load_and_encode_new_points(dock, stacked, qtbot, tmp_path, notes):
    _img, _pts, add = stacked
    viewer, w = dock(TrainWidget)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "jvae", epochs=1)
    worker = w.start()
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)
    path = w.save_model(str(tmp_path / "m.ivae"))
    assert path and (tmp_path / "m.ivae").is_file()
    z_trained = points.features["z1"].to_numpy()

    # a fresh widget loads the model and encodes another points layer without training
    _viewer2, w2 = dock(TrainWidget, viewer=viewer)
    model = w2.load_model(path)
    assert model is not None and w2.kind.currentText() == "jvae"
    assert w2.classes.isEnabled()
    other = add(viewer, name="pts2")
    w2.points_combo.value = other
    w2.start_thread = False
    enc = w2.encode()
    with qtbot.waitSignal(w2.features_written, timeout=TIMEOUT):
        enc.start()
    np.testing.assert_allclose(
        other.features["z1"].to_numpy(), z_trained, rtol=1e-5, equal_nan=True
    )
    assert get_record(other).model is w2.model

    # a stack of another window size than the model's: a notification, nothing written
    from napari_ivae.crop import crop

    third = viewer.add_points(np.asarray(other.data), name="pts3")
    get_record(third).stack = crop(_img, np.asarray(other.data), window=14)
    w2.points_combo.value = third
    enc = w2.encode()
    with qtbot.waitSignal(w2.encode_worker.finished, timeout=TIMEOUT):
        enc.start()
    assert any("14" in t for t in _errors(notes))
    assert "z1" not in third.features


def test_classes_enabled_only_for_joint_models(dock):
    _viewer, w = dock(TrainWidget)
    for kind, joint in (("vae", False), ("rvae", False), ("jvae", True), ("jrvae", True)):
        w.kind.setCurrentText(kind)
        assert w.classes.isEnabled() is joint
        mc, _tc = w.configs()
        assert (mc.n_classes is not None) is joint


def test_viewer_closed_during_training_stops_the_worker(make_napari_viewer, stacked, qtbot):
    _img, _pts, add = stacked
    viewer = make_napari_viewer()
    w = TrainWidget(viewer)
    viewer.window.add_dock_widget(w)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "rvae", epochs=500)
    w.start_thread = True
    worker = w.start()
    qtbot.waitSignal(worker.yielded, timeout=TIMEOUT).wait()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT):
        viewer.close()
    assert worker.abort_requested


def test_closing_the_dock_widget_during_training_stops_the_worker(dock, stacked, qtbot):
    _img, _pts, add = stacked
    viewer, w = dock(TrainWidget)
    points = add(viewer)
    w.points_combo.value = points
    _small(w, "rvae", epochs=500)
    w.start_thread = True
    worker = w.start()
    qtbot.waitUntil(lambda: w.view.last is not None, timeout=TIMEOUT)  # a step is done
    # closing the panel (napari's "x") stops training as Stop does: latents still written
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        viewer.window.remove_dock_widget(w)
        if w.encode_worker is None:
            qtbot.waitSignal(worker.aborted, timeout=TIMEOUT).wait()
    assert worker.abort_requested
    assert "z1" in points.features
    assert "Stopped at epoch" in w.status.text()
    w.deleteLater()
