"""Shared adapters: error notification, worker guards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qtpy.QtWidgets import QLabel

from napari_ivae import IvaeError
from napari_ivae._qt._common import Outcome, UserError, guarded, notify_errors

pytestmark = pytest.mark.gui


def test_notify_errors_as_context_manager_and_decorator(notes):
    with notify_errors("Crop"):
        raise IvaeError("window=80 is larger than the image (64×64)")

    @notify_errors("Train")
    def bad():
        raise ValueError("lr=-1 is out of range")

    assert bad() is None
    got = [(sev, text) for sev, text in notes]
    assert got == [
        ("error", "Crop: window=80 is larger than the image (64×64)"),
        ("error", "Train: lr=-1 is out of range"),
    ]
    with pytest.raises(KeyError), notify_errors("Crop"):  # bugs are not swallowed
        raise KeyError("bug")


def test_guarded_returns_errors_and_warnings_as_values():
    def warns():
        warnings.warn("no wall found in the phase image", UserWarning, stacklevel=1)
        return 3

    assert guarded(warns) == Outcome(3, None, ("no wall found in the phase image",))
    out = guarded(lambda: (_ for _ in ()).throw(IvaeError("stride=0 is out of range")))
    assert out.error == UserError("stride=0 is out of range") and out.value is None
    with pytest.raises(ZeroDivisionError):
        guarded(lambda: 1 / 0)


def test_point_size_follows_the_image_and_the_spacing():
    from napari_ivae._qt._common import point_size

    ys, xs = np.mgrid[6:96:12, 6:96:12]
    atoms = np.column_stack([ys.ravel(), xs.ravel()]).astype(float)
    assert point_size(atoms, image_shape=(96, 96)) == pytest.approx(4.0)  # a third of 12 px
    # a big image: at least ~1 % of its side, but atoms never merge (≤ 0.6 spacing)
    assert point_size(atoms, image_shape=(2048, 2048)) == pytest.approx(7.2)
    wall = np.column_stack([np.arange(0, 400, 4.0), np.full(100, 50.0)])  # stride 4
    assert point_size(wall, image_shape=(512, 512), walls=True) == pytest.approx(5.12)
    assert point_size(wall, image_shape=(64, 64), walls=True) >= 1.5  # never 1 px


def test_status_label_wraps_long_paths_and_keeps_errors_until_cleared(qtbot):
    from napari_ivae._qt._common import StatusLabel

    label = StatusLabel()
    qtbot.addWidget(label)
    path = "/a/very/long/folder_name_without_spaces/and/a_file_name.ivae"
    label.set_error(f"cannot read {path}: not a napari-ivae model")
    assert label.text() == f"cannot read {path}: not a napari-ivae model"
    assert label.toolTip() == label.text() and label.kind == "error"
    assert "\u200b" in QLabel.text(label)  # soft breaks inside the path: it wraps
    label.clear_error()
    assert label.text() == "" and label.kind == "info"
    label.set_message("Kept 3 of 4 points.")
    label.clear_error()  # an info message stays
    assert label.text() == "Kept 3 of 4 points."
