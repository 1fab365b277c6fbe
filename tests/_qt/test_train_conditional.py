"""Train dock: a conditional model takes its classes from a features column of the points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae._qt.train import TrainWidget
from napari_ivae.record import get_record

pytestmark = pytest.mark.gui

TIMEOUT = 300_000


def _labelled(viewer, make_blobs, labels):
    from napari_ivae.crop import crop

    img, centres = make_blobs(shape=(120, 120), spacing=10)
    viewer.add_image(img, name="img")
    n = len(centres)
    layer = viewer.add_points(
        centres, name="pts", features={"label": labels(n), "size_class": np.arange(n) % 2}
    )
    table = pd.DataFrame({"y": centres[:, 0], "x": centres[:, 1]})
    get_record(layer).stack = crop(img, table, window=10)
    return layer


def _train_small(w, qtbot):
    """Train 2 epochs of a 2-latent model on the dock's choices, until the features are written."""
    w.epochs.setValue(2)
    w.batch_size.setValue(32)
    w.latent_dim.setValue(2)
    w.start_thread = False
    worker = w.start()
    assert worker is not None
    with qtbot.waitSignal(w.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not w.is_running, timeout=TIMEOUT)


def test_crvae_trains_on_the_label_column_and_encodes_with_it(dock, make_blobs, qtbot):
    from napari_ivae.analysis import encode

    viewer, w = dock(TrainWidget)
    points = _labelled(viewer, make_blobs, lambda n: np.where(np.arange(n) % 3 == 0, "A", "B"))
    w.points_combo.value = points
    w.kind.setCurrentText("rvae")
    assert not w.label_column.isEnabled()  # only conditional models take labels
    w.kind.setCurrentText("crvae")
    assert w.label_column.isEnabled()
    offered = [w.label_column.itemText(i) for i in range(w.label_column.count())]
    assert offered == ["label", "size_class"]  # the explorer's labels first
    _train_small(w, qtbot)
    model = get_record(points).model
    assert model.config.kind == "crvae" and list(model.config.classes) == ["A", "B"]
    stack = get_record(points).stack
    labels = points.features["label"].iloc[stack.index].tolist()
    expected = encode(model, stack, labels=labels)
    np.testing.assert_allclose(points.features.loc[stack.index, "z1"], expected["z1"], rtol=1e-5)


def test_fewer_than_two_labelled_points_are_refused_in_one_sentence(dock, make_blobs, notes):
    viewer, w = dock(TrainWidget)
    points = _labelled(viewer, make_blobs, lambda n: ["A"] + [""] * (n - 1))
    w.points_combo.value = points
    w.kind.setCurrentText("cvae")
    w.start_thread = False
    assert w.start() is None
    errors = [text for sev, text in notes if "error" in sev]
    n = len(get_record(points).stack.index)
    assert errors and f"only 1 of the {n} cropped points have a 'label'" in errors[-1]
    assert "explorer" in errors[-1] and errors[-1].count(". ") == 0
    assert "z1" not in points.features  # nothing written


def test_ssrvae_trains_on_a_few_labels_and_infers_the_rest(dock, make_blobs, qtbot):
    """Semi-supervised: empty label cells are the points whose class the model infers."""
    viewer, w = dock(TrainWidget)
    points = _labelled(
        viewer,
        make_blobs,
        lambda n: np.where(np.arange(n) % 4 == 0, np.where(np.arange(n) % 8 == 0, "A", "B"), ""),
    )
    w.points_combo.value = points
    w.kind.setCurrentText("ssrvae")
    assert w.label_column.isEnabled() and w.label_column.currentText() == "label"
    _train_small(w, qtbot)
    model = get_record(points).model
    assert model.config.kind == "ssrvae" and list(model.config.classes) == ["A", "B"]
    f = points.features
    stack = get_record(points).stack
    # every cropped point has a class in the user's names and its probabilities
    assert set(f.loc[stack.index, "class"]) <= {"A", "B"}
    np.testing.assert_allclose(f.loc[stack.index, ["p_A", "p_B"]].sum(axis=1), 1.0, atol=1e-5)
    assert (f["label"] == "").sum() > 0  # the user's labels are kept as they were
