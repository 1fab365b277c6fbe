"""Rings in the Detect dock: atoms → ring statistics, a Shapes layer of rings, ring labels.

The user's path: the Detect dock from the Plugins menu, atoms detected in a
simulated graphene image with Stone–Wales defects, "Find rings", "Use
ring_label as labels"; checked against ``ring_statistics`` run directly and
against the simulator's exact ring labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from napari_ivae._qt._common import points_table
from napari_ivae._qt._rings import RING_CLASS_NAMES, RING_COLORS
from napari_ivae.labels import LabelSet
from napari_ivae.record import get_record
from napari_ivae.rings import find_rings, ring_statistics
from napari_ivae.simulate import simulate_stem

pytestmark = pytest.mark.gui

TIMEOUT = 300_000  # ms: a failure guard for a loaded machine, not a sleep
COLUMNS = ["ring_sizes", "ring_count", "ring_label", "border"]


def _wait(widget_signal, worker, qtbot):
    with qtbot.waitSignal(widget_signal, timeout=TIMEOUT) as blocker:
        worker.start()
    return blocker.args[0]


@pytest.fixture(scope="module")
def graphene():
    return simulate_stem(shape=(192, 192), lattice="graphene", n_grains=1, stone_wales=3, seed=11)


def _detect_and_ring(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()
    image = viewer.add_image(sample.image, name="graphene", scale=(0.02, 0.02))
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "1 Detect")
    assert w.rings_box.isVisibleTo(w)  # atoms mode shows the rings box
    w.image_combo.value = image
    w.atom_method.setCurrentText("log")
    w.start_thread = False
    atoms = _wait(w.detection_finished, w.run(), qtbot)
    assert atoms is not None and w.rings_box.points_combo.value is atoms
    box = w.rings_box
    box.start_thread = False
    shapes = _wait(box.rings_finished, box.run(), qtbot)
    qtbot.waitUntil(lambda: box.run_button.isEnabled(), timeout=TIMEOUT)
    return viewer, w, image, atoms, shapes


def test_rings_of_detected_graphene(make_napari_viewer, qtbot, graphene, notes):
    viewer, w, image, atoms, shapes = _detect_and_ring(make_napari_viewer, qtbot, graphene)
    box = w.rings_box
    # features equal ring_statistics run directly on the layer's atoms
    yx = points_table(atoms)[["y", "x"]]
    truth = ring_statistics(yx, shape=image.data.shape)
    pd.testing.assert_frame_equal(
        atoms.features[COLUMNS].reset_index(drop=True), truth[COLUMNS], check_dtype=False
    )
    assert {"score", "intensity"} <= set(atoms.features.columns)  # detection columns kept
    # one polygon per ring, coloured by its size, under the atoms, on the image's scale
    rings = find_rings(yx, shape=image.data.shape)
    assert len(shapes.data) == len(rings.rings) > 100
    np.testing.assert_array_equal(shapes.features["size"], rings.sizes)
    for k in (5, 6, 7):
        got = shapes.face_color[rings.sizes == k]
        assert len(got) and np.allclose(got, RING_COLORS[k], atol=0.01)
    assert (rings.sizes == 5).sum() >= 6 and (rings.sizes == 7).sum() >= 6  # 3 Stone–Wales
    assert viewer.layers.index(shapes) < viewer.layers.index(atoms)
    assert tuple(shapes.scale) == tuple(atoms.scale)
    assert "5 red" in shapes.name and "rings: " in box.status.text()
    # the labels agree with the simulator's exact ring labels away from the border
    d, idx = cKDTree(graphene.atoms[["y", "x"]].to_numpy()).query(yx.to_numpy())
    exact = graphene.rings.iloc[idx]
    keep = (d < 1.0) & ~truth["border"].to_numpy() & exact["ring_known"].to_numpy()
    agree = (truth["ring_label"].to_numpy()[keep] == exact["ring_label"].to_numpy()[keep]).mean()
    assert keep.sum() > 0.6 * len(yx) and agree >= 0.95

    # "Use ring_label as labels": the explorer's label column, border atoms unlabelled
    box.use_as_labels()
    labels = LabelSet.from_table(atoms.features, get_record(atoms).classes)
    want = np.array([RING_CLASS_NAMES[k] for k in truth["ring_label"]], dtype=object)
    want[truth["border"].to_numpy()] = ""
    np.testing.assert_array_equal(labels.labels, want)
    assert list(get_record(atoms).classes) == [
        RING_CLASS_NAMES[k] for k in sorted(set(truth["ring_label"][~truth["border"]]))
    ]
    assert list(atoms.features["label"].cat.categories) == ["", *get_record(atoms).classes]
    # the explorer, opened from the menu, shows these classes
    _dock, ex = viewer.window.add_plugin_dock_widget("napari-ivae", "4 Explore and label")
    ex.set_layer(atoms)
    assert ex.classes == get_record(atoms).classes
    assert not [t for sev, t in notes if "error" in sev]


@pytest.mark.parametrize(
    ("coords", "message"),
    [
        ([[10, 10], [20, 20]], "at least 3 atoms"),
        ([[0, 0], [0, 1], [0, 1000], [1000, 0]], "no bonds"),
        ([[0, 0], [0, 10], [0, 20], [0, 30], [0, 40]], "no rings"),
    ],
)
def test_bad_atoms_one_sentence_nothing_added(make_napari_viewer, qtbot, notes, coords, message):
    viewer = make_napari_viewer()
    _dock, w = viewer.window.add_plugin_dock_widget("napari-ivae", "1 Detect")
    layer = viewer.add_points(np.asarray(coords, float), name="few")
    box = w.rings_box
    box.points_combo.value = layer
    box.start_thread = False
    n_layers = len(viewer.layers)
    assert _wait(box.rings_finished, box.run(), qtbot) is None
    errors = [t for sev, t in notes if "error" in sev]
    assert len(errors) == 1 and message in errors[0] and errors[0].count(". ") == 0
    assert len(viewer.layers) == n_layers and "ring_label" not in layer.features
    box.use_as_labels()  # no rings yet: one sentence, no label column
    errors = [t for sev, t in notes if "error" in sev]
    assert len(errors) == 2 and "run Find rings first" in errors[1]
    assert "label" not in layer.features
