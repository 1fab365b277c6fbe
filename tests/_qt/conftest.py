"""Fixtures of the widget tests: a viewer with a docked widget, notification capture."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}
for _name in ("napari", "pytestqt"):
    if _CI:  # under CI a missing GUI stack fails (see tests/conftest.py), never skips
        importlib.import_module(_name)
    else:
        pytest.importorskip(_name)


class _Notes(list):
    """Notifications dispatched since the fixture started: (severity, text) pairs."""

    def __init__(self, manager):
        super().__init__()
        self._manager = manager
        self._start = len(manager.records)

    def _sync(self):
        new = self._manager.records[self._start :]
        self._start = len(self._manager.records)
        self.extend((str(n.severity).lower(), str(n.message)) for n in new)

    def __iter__(self):
        self._sync()
        return super().__iter__()

    def __len__(self):
        self._sync()
        return super().__len__()

    def clear(self):
        self._sync()
        super().clear()


@pytest.fixture
def notes():
    """Messages shown as napari notifications during the test: iterable of (severity, text)."""
    from napari.utils.notifications import notification_manager

    return _Notes(notification_manager)


#: The widgets' names in the Plugins menu (napari.yaml).
MENU_NAMES = {
    "DetectWidget": "1 Detect",
    "CropWidget": "2 Crop",
    "TrainWidget": "3 Train",
    "ExplorerWidget": "4 Explore and label",
}


@pytest.fixture
def dock(make_napari_viewer):
    """``dock(WidgetClass) -> (viewer, widget)``: a fresh viewer with the widget docked.

    The widget is opened the user's way, from the Plugins menu
    (``add_plugin_dock_widget``); a second one of the same kind in the same
    viewer (napari would show the first again) is built and docked directly.
    """

    def _make(cls, viewer=None):
        viewer = viewer or make_napari_viewer()
        name = MENU_NAMES[cls.__name__]
        if not any(name in key for key in viewer.window.dock_widgets):
            _dock_widget, widget = viewer.window.add_plugin_dock_widget("napari-ivae", name)
            assert type(widget) is cls
            return viewer, widget
        widget = cls(viewer)
        viewer.window.add_dock_widget(widget, name=f"{cls.__name__} {id(widget)}")
        return viewer, widget

    return _make


def blobs(shape=(96, 96), spacing=12, sigma=2.0, seed=0):
    """A square lattice of Gaussian blobs and its exact centres (y, x)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[spacing // 2 : shape[0] : spacing, spacing // 2 : shape[1] : spacing]
    centres = np.column_stack([ys.ravel(), xs.ravel()]).astype(float)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.zeros(shape, dtype=np.float32)
    for y, x in centres:
        img += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2)).astype(np.float32)
    img += rng.normal(0, 0.02, shape).astype(np.float32)
    return img, centres


@pytest.fixture
def make_blobs():
    """The :func:`blobs` factory (a lattice image with known centres)."""
    return blobs
