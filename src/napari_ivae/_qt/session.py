"""Session dock widget ("5 Session"): save the whole work in one file, open it again.

A thin adapter over :func:`napari_ivae.session.save_session` /
:func:`~napari_ivae.session.load_session` (format in ``docs/session.md``).  The
image, points and labels layers of the viewer are saved in their order, with
every feature column, the label classes and labels, the cropped
:class:`~napari_ivae.crop.Stack` and the trained model (``layer.metadata``);
the explorer's selection overlay and crop galleries are views made again from
the data, so they are left out.  Opening adds the saved layers to the viewer
with each points layer's record (:mod:`napari_ivae.record`: the Stack, the model,
the classes, ...) back in ``metadata``, so the Train and Explore widgets work on
the reopened session.

The same file opens with File > Open (the plugin's reader) and is written by
File > Save Layers (the plugin's ``.ivaesession`` writer).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import napari.viewer
from napari.layers import Image, Labels, Layer, Points
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_ivae._qt._common import bus, notify_errors, show_warning
from napari_ivae.record import get_record

__all__ = ["SessionWidget"]

_FILTER = "napari-ivae session (*.ivaesession)"


class SessionWidget(QWidget):
    """Save the viewer's layers to a ``.ivaesession`` file, or open one.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (napari passes it by this name).
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("session file (.ivaesession)")
        self.path_edit.setToolTip(
            "The session file: the buttons start their file dialogs here and put the "
            "chosen file here."
        )
        self.save_button = QPushButton("Save session…")
        self.save_button.setToolTip(
            "Save the image, points and labels layers with their features, label classes, "
            "cropped sub-images and trained model in one file."
        )
        self.open_button = QPushButton("Open session…")
        self.open_button.setToolTip(
            "Add the layers of a saved session to the viewer (Train and Explore work on them)."
        )
        self.save_button.clicked.connect(self._save_dialog)
        self.open_button.clicked.connect(self._open_dialog)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.path_edit)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

    # ------------------------------------------------------------------ dialogs
    def _start(self, default: str) -> str:
        text = self.path_edit.text().strip()
        return text or str(Path.home() / default)

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", self._start("session.ivaesession"), _FILTER
        )
        if path:
            self.save(path)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self._start(""), _FILTER)
        if path:
            self.load(path)

    # ------------------------------------------------------------------ actions
    def _fail(self, err: Exception) -> None:
        self.status.setText(f"Error: {err}")

    def data_layers(self) -> tuple[list[Layer], list[Layer]]:
        """The layers a session keeps, and those it cannot keep (other layer types).

        Returns
        -------
        kept : list of Layer
            Image, points and labels layers in the viewer's order, without the
            explorer's overlay and crop galleries.
        other : list of Layer
            Layers of other types (shapes, vectors, ...), not saved.
        """
        from napari_ivae.session import is_view_layer

        kept, other = [], []
        for layer in self.viewer.layers:
            if not isinstance(layer, (Image, Points, Labels)):
                other.append(layer)
            elif not is_view_layer(layer):
                kept.append(layer)
        return kept, other

    def save(self, path: str | Path | None = None) -> Path | None:
        """Save the session to ``path`` (default: the path field).

        Returns
        -------
        Path or None
            The written file, or None after a user mistake (shown as a notification).
        """
        from napari_ivae.session import save_session

        self.status.setText("")
        with notify_errors("Save session"):
            try:
                target = str(path if path is not None else self.path_edit.text()).strip()
                if not target:
                    raise ValueError("no session file given; type a path or use Save session…")
                layers, other = self.data_layers()
                if not layers:
                    raise ValueError(
                        "nothing to save: the viewer has no image, points or labels layer"
                    )
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out = save_session(target, [layer.as_layer_data_tuple() for layer in layers])
            except ValueError as err:
                self._fail(err)
                raise
            for w in caught:
                show_warning(f"Save session: {w.message}")
            self.path_edit.setText(str(out))
            text = f"Saved {len(layers)} layer(s) to {out.name}."
            if other:
                names = ", ".join(repr(layer.name) for layer in other)
                text += f" Not saved (not image, points or labels): {names}."
            self.status.setText(text)
            return out
        return None

    def load(self, path: str | Path | None = None) -> list[Layer]:
        """Open the session at ``path`` (default: the path field); its layers are added.

        Returns
        -------
        list of Layer
            The added layers (empty after a user mistake, shown as a notification).
        """
        from napari_ivae.session import load_session

        self.status.setText("")
        with notify_errors("Open session"):
            try:
                source = str(path if path is not None else self.path_edit.text()).strip()
                if not source:
                    raise ValueError("no session file given; type a path or use Open session…")
                items = load_session(source)
            except ValueError as err:
                self._fail(err)
                raise
            added = []
            for data, attrs, kind in items:
                layer = Layer.create(data, attrs, kind)
                self.viewer.add_layer(layer)
                added.append(layer)
            for layer in added:
                record = get_record(layer, create=False) if isinstance(layer, Points) else None
                if record is not None and record.stack is not None:
                    bus().stack_changed.emit(layer)
            self.path_edit.setText(source)
            text = f"Opened {len(added)} layer(s) from {Path(source).name}."
            self.status.setText(text)
            return added
        return []
