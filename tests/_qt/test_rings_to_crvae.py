"""Graphene, the user's path through three docks opened from the Plugins menu.

1 Detect (atoms, then "Find rings" and "Use ring_label as labels") → 2 Crop →
3 Train a crvae on the Labels column "label": the model's classes are the ring
classes of the cropped atoms, and each crop was trained with the ring label of
its own atom (checked against ``ring_statistics`` of the detected atoms and,
away from the border, against the simulator's exact ring labels).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from napari_ivae._qt._common import points_table
from napari_ivae._qt._rings import RING_CLASS_NAMES
from napari_ivae.record import get_record
from napari_ivae.rings import ring_statistics
from napari_ivae.simulate import simulate_stem

pytestmark = pytest.mark.gui

TIMEOUT = 300_000  # ms: a failure guard for a loaded machine, not a sleep


def _wait(signal, worker, qtbot):
    with qtbot.waitSignal(signal, timeout=TIMEOUT) as blocker:
        worker.start()
    return blocker.args[0] if blocker.args else None


def test_ring_labels_train_a_crvae(make_napari_viewer, qtbot, notes):
    from napari_ivae.analysis import encode

    sample = simulate_stem((128, 128), lattice="graphene", n_grains=1, stone_wales=2, seed=7)
    viewer = make_napari_viewer()
    image = viewer.add_image(sample.image, name="graphene")
    _d, det = viewer.window.add_plugin_dock_widget("napari-ivae", "1 Detect")
    det.image_combo.value = image
    det.atom_method.setCurrentText("log")
    det.start_thread = False
    atoms = _wait(det.detection_finished, det.run(), qtbot)
    box = det.rings_box
    box.start_thread = False
    _wait(box.rings_finished, box.run(), qtbot)
    qtbot.waitUntil(lambda: box.run_button.isEnabled(), timeout=TIMEOUT)
    box.use_as_labels()

    _d, cw = viewer.window.add_plugin_dock_widget("napari-ivae", "2 Crop")
    cw.points_combo.value = atoms
    cw.images_list.value = [image]
    cw.window.setValue(24)
    stack = cw.run()
    assert stack is not None and 50 < len(stack.index) < len(atoms.data)

    _d, tw = viewer.window.add_plugin_dock_widget("napari-ivae", "3 Train")
    tw.points_combo.value = atoms
    tw.kind.setCurrentText("crvae")
    assert tw.label_column.isEnabled() and tw.label_column.currentText() == "label"
    tw.epochs.setValue(1)
    tw.batch_size.setValue(64)
    tw.latent_dim.setValue(2)
    tw.start_thread = False
    worker = tw.start()
    assert worker is not None, [t for _s, t in notes]
    with qtbot.waitSignal(tw.features_written, timeout=TIMEOUT):
        worker.start()
    qtbot.waitUntil(lambda: not tw.is_running, timeout=TIMEOUT)

    # the border atoms that were cropped have no label: left out, with a warning
    yx = points_table(atoms)[["y", "x"]]
    rings = ring_statistics(yx, shape=sample.image.shape).iloc[stack.index]
    border = rings.border.to_numpy()
    assert 0 < border.sum() < 0.3 * len(border)
    warned = [t for sev, t in notes if "warning" in sev and "left out" in t]
    assert len(warned) == 1 and f"{border.sum()} of the {len(border)} sub-images" in warned[0]
    z_all = atoms.features.loc[stack.index, "z1"].to_numpy()
    assert np.isnan(z_all[border]).all()
    # truth 1: the rings of the detected atoms, computed directly
    want = [RING_CLASS_NAMES[k] for k in rings.ring_label[~border]]
    model = get_record(atoms).model
    assert model.config.kind == "crvae"
    assert list(model.config.classes) == sorted(set(want))
    assert len(model.config.classes) >= 4  # pristine, defect and vacancy patterns
    # each labelled crop was trained and encoded with its own atom's class
    z = encode(model, stack.take(~border), labels=want)["z1"].to_numpy()
    np.testing.assert_allclose(z_all[~border], z, rtol=1e-5, atol=1e-6)
    # truth 2: the simulator's exact ring labels of the labelled cropped atoms
    d, idx = cKDTree(sample.atoms[["y", "x"]].to_numpy()).query(yx.to_numpy()[stack.index])
    exact = sample.rings.iloc[idx]
    keep = (d < 1.0) & exact.ring_known.to_numpy() & ~border
    got = rings.ring_label.to_numpy()[keep]
    assert (
        keep.sum() > 0.8 * (~border).sum()
        and (got == exact.ring_label.to_numpy()[keep]).mean() >= 0.95
    )
    assert not [t for sev, t in notes if "error" in sev]
