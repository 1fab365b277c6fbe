"""The explorer's "Labels" box: classes, assigning, the labeled wall mask, exports.

The rules are :class:`napari_ivae.labels.LabelSet` (no Qt); this file is the
box and the one-line calls (the exports are ``_exports.py``).  The classes (ordered, with colours) live in the
points layer's record (``get_record(layer).classes``), the labels in its
categorical ``label`` feature column (``""`` = unlabeled), with a copy in the
record (``labels``) that restores them when a rewrite of the features drops
the column.  There are no placeholder classes: the first class the user adds
(or names when assigning) is class 1 in the exported wall mask.  "Export
points CSV" writes every point with all its features (latents included),
labelled or not, with ``y_nm, x_nm`` beside ``y, x`` when the image is calibrated.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
)

from napari_ivae._errors import IvaeError
from napari_ivae.labels import LabelSet
from napari_ivae.record import get_record

__all__ = ["CLASSES_KEY", "LabelsMixin"]

CLASSES_KEY = "ivae_label_classes"
"""Version-1 metadata key of the label classes (ordered dict name → "#rrggbb").

The classes now live in the points layer's record
(``napari_ivae.record.get_record(layer).classes``); a layer or session that
still carries this key is folded into the record when read
(:data:`napari_ivae.record.LEGACY_KEYS`)."""


def _swatch(hex_color: str, size: int = 12) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(hex_color))
    return QIcon(pix)


_NO_LAYER = "no points layer chosen; choose a Points layer first"


class LabelsMixin:
    """Labelling of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``viewer``, ``status``, ``scatter``, ``color_combo``,
    ``_layer``, ``_df``, ``_selected``, ``_xcol``, ``_color_col``, ``_updating``,
    ``_guard``, ``_notify``, ``_set_combo``, ``_scheme`` and the export dialogs;
    owns ``class_list``, ``assign_button`` and ``mask_combo``.
    """

    def _build_label_box(self) -> QGroupBox:
        box = QGroupBox("Labels")
        v = QVBoxLayout(box)
        v.setContentsMargins(4, 4, 4, 4)
        v.addLayout(self._class_row())
        self.assign_button = self._action_button(
            "Assign selection",
            "Give the selected points the active class (relabels them)",
            self._assign_active,
        )
        g = self._guard
        for buttons in (
            [
                self.assign_button,
                ("Unlabel", "Remove the label of the selected points",
                 lambda: g("Unlabel", self.clear_labels, selected_only=True)),
                ("Clear all", "Remove every label of this layer",
                 lambda: g("Clear labels", self.clear_labels)),
            ],
            [
                ("Colour points by label",
                 "Colour the points in the image by their class (face_color='label')",
                 lambda: g("Colour by label", self.color_points_by_label)),
                ("Show labeled walls",
                 "Paint the wall mask with the class of the nearest wall point",
                 lambda: g("Labeled walls", self.show_label_mask)),
            ],
        ):  # fmt: skip
            v.addLayout(self._button_row(buttons))
        f = QFormLayout()
        self.mask_combo = QComboBox()
        self.mask_combo.setToolTip("Wall mask (Labels layer from Detect) used for the labeled mask")
        f.addRow("Wall mask", self.mask_combo)
        v.addLayout(f)
        v.addLayout(
            self._button_row(
                [
                    ("Export points CSV…", "", self._export_points_dialog),
                    ("Export wall mask TIFF…", "", self._export_mask_dialog),
                ]
            )
        )
        return box

    def _class_row(self) -> QHBoxLayout:
        """The class list and its Add / Rename / Colour / Remove buttons."""
        row = QHBoxLayout()
        self.class_list = QListWidget()
        self.class_list.setMinimumHeight(60)
        self.class_list.setMaximumHeight(110)
        self.class_list.itemDoubleClicked.connect(lambda _i: self._rename_dialog())
        row.addWidget(self.class_list, 1)
        col = QVBoxLayout()
        for text, slot, tip in (
            ("Add", self._add_dialog, "Add a class"),
            ("Rename", self._rename_dialog, "Rename the active class"),
            ("Colour", self._colour_dialog, "Change the colour of the active class"),
            (
                "Remove",
                self._remove_active,
                "Remove the active class (its points become unlabeled)",
            ),
        ):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.clicked.connect(slot)
            col.addWidget(b)
        row.addLayout(col)
        return row

    def _button_row(self, buttons) -> QHBoxLayout:
        """A row of push buttons: widgets, or (text, tooltip, slot) to make one."""
        row = QHBoxLayout()
        for b in buttons:
            row.addWidget(b if isinstance(b, QPushButton) else self._action_button(*b))
        return row

    @staticmethod
    def _action_button(text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        if tip:
            button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # ------------------------------------------------------------------ the labelling
    def _labelset(self) -> LabelSet:
        """The layer's labelling: record classes + ``label`` column (new labels become classes)."""
        if self._layer is None:
            raise IvaeError(_NO_LAYER)
        record = get_record(self._layer)
        labels = LabelSet.from_table(
            self._layer.features, record.classes, n_points=len(self._layer.data)
        )
        if labels.classes != record.classes:
            record.classes = labels.classes
        return labels

    def _store(self, labels: LabelSet, *, write: bool = True, active: str | None = None):
        """Keep a changed labelling: classes in the record, labels in the features (``write``)."""
        get_record(self._layer).classes = labels.classes
        if write:
            self._write_labels(labels)
        self._labels_changed()
        self._update_class_list(active=active)

    def _write_labels(self, labels: LabelSet):
        layer = self._layer
        column = labels.column()
        df = layer.features.copy()
        df["label"] = column
        self._updating = True
        try:
            layer.features = df
            defaults = layer.feature_defaults.copy()
            defaults["label"] = pd.Categorical([""], categories=column.categories)
            with contextlib.suppress(Exception):
                layer.feature_defaults = defaults
        finally:
            self._updating = False
        get_record(layer).labels = labels.labels
        self._df = layer.features

    def _labels_changed(self):
        """Refresh scatter colours, class counts and napari colours after a label edit."""
        if self._layer is None or self._df is None:
            return
        cols = [str(c) for c in self._df.columns]
        if self._color_col == "label" and self._xcol is not None:
            self._set_combo(self.color_combo, cols, "label")
            self.scatter.recolor(self._scheme())
            self._recolor_second()
        else:
            self._set_combo(self.color_combo, cols, self._color_col)
        self._update_class_list()
        self._refresh_class_views()  # the labels may be the confusion matrix's truth
        layer = self._layer
        if getattr(layer, "_face", None) is not None and layer._face.color_properties is not None:
            if layer._face.color_properties.name == "label":
                self.color_points_by_label()

    def _classes(self) -> dict[str, str]:
        if self._layer is None:
            return {}
        return get_record(self._layer).classes

    def _label_rgba(self) -> dict[str, tuple[int, int, int, int]]:
        return {} if self._layer is None else self._labelset().rgba()

    @property
    def classes(self) -> dict[str, str]:
        """Label classes of the layer: name → colour "#rrggbb", in order (index 1, 2, ...)."""
        return dict(self._classes())

    def active_class(self) -> str | None:
        """Name of the class chosen in the list."""
        item = self.class_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _update_class_list(self, active: str | None = None):
        active = active or self.active_class()
        counts = self._labelset().counts() if self._layer is not None else {}
        self.class_list.blockSignals(True)
        self.class_list.clear()
        for i, (name, color) in enumerate(self._classes().items(), start=1):
            item = QListWidgetItem(_swatch(color), f"{i}  {name}  ({counts.get(name, 0):,})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.class_list.addItem(item)
            if name == active:
                self.class_list.setCurrentItem(item)
        if not self._classes():  # a hint instead of placeholder classes
            hint = QListWidgetItem("No classes yet:\nselect points, then\nAssign selection or Add")
            hint.setToolTip("Select points (lasso or click), then 'Assign selection' or 'Add'.")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            hint.setForeground(QColor("#999"))
            self.class_list.addItem(hint)
        if self.class_list.currentItem() is None and self._classes():
            self.class_list.setCurrentRow(0)
        self.class_list.blockSignals(False)

    # ------------------------------------------------------------------ class and label edits
    def add_class(self, name: str, color: str | None = None):
        """Add a label class (``color`` as "#rrggbb"; a free palette colour by default)."""
        labels = self._labelset()
        self._store(labels, write=False, active=labels.add(name, color))

    def rename_class(self, old: str, new: str):
        """Rename class ``old`` to ``new`` (its points keep the class)."""
        labels = self._labelset()
        labels.rename(old, new)
        self._store(labels, active=str(new).strip())

    def remove_class(self, name: str):
        """Remove class ``name``; its points become unlabeled."""
        labels = self._labelset()
        labels.remove(name)
        self._store(labels)

    def set_class_color(self, name: str, color: str):
        """Set the colour ("#rrggbb") of class ``name``."""
        labels = self._labelset()
        labels.recolor(name, color)
        self._store(labels, write=False, active=name)

    def assign_label(self, name: str):
        """Give the selected points class ``name`` (added if new; relabels labeled points)."""
        labels = self._labelset()
        if self._selected.size == 0:
            raise IvaeError("no points selected; lasso or click points first")
        labels.assign(self._selected, name)
        if self._color_col != "label" and self._xcol is not None:
            self._color_col = "label"
        self._store(labels, active=str(name).strip())

    def clear_labels(self, *, selected_only: bool = False):
        """Unlabel all points (or only the selected ones)."""
        labels = self._labelset()
        labels.clear_labels(self._selected if selected_only else None)
        self._store(labels)

    def color_points_by_label(self):
        """Colour the points in napari by class (``face_color="label"`` with the class colours)."""
        labels = self._labelset()
        layer = self._layer
        if "label" not in layer.features:
            self._write_labels(labels)
        self._updating = True
        try:
            layer.face_color = "label"
            layer.face_color_cycle = {
                "colormap": labels.point_colormap(),
                "fallback_color": [0.55, 0.55, 0.55, 1.0],
            }
            layer.refresh_colors(update_color_mapping=False)
        finally:
            self._updating = False

    def _restore_labels(self):
        """Put back the ``label`` column when a rewrite of the features dropped it."""
        layer = self._layer
        record = get_record(layer, create=False)
        backup = None if record is None else record.labels
        if (
            "label" not in layer.features.columns
            and backup is not None
            and len(backup) == len(layer.data)
            and (np.asarray(backup) != "").any()
        ):
            self._write_labels(LabelSet(len(layer.data), record.classes, backup))

    # ------------------------------------------------------------------ dialogs
    def _assign_active(self):
        name = self.active_class()
        if name is None:  # no class yet: name the first one now
            if self._selected.size == 0:
                self._notify("Select points first (lasso or click), then Assign.", warn=True)
                return
            default = f"class {len(self._classes()) + 1}"
            name, ok = QInputDialog.getText(self, "New class", "Class name:", text=default)
            if not ok or not str(name).strip():
                return
        self._guard("Assign label", self.assign_label, name)

    def _add_dialog(self):
        name, ok = QInputDialog.getText(self, "Add class", "Class name:")
        if ok:
            self._guard("Add class", self.add_class, name)

    def _rename_dialog(self):
        old = self.active_class()
        if old is None:
            return
        new, ok = QInputDialog.getText(self, "Rename class", "New name:", text=old)
        if ok and new != old:
            self._guard("Rename class", self.rename_class, old, new)

    def _colour_dialog(self):
        name = self.active_class()
        if name is None:
            return
        c = QColorDialog.getColor(QColor(self._classes()[name]), self, f"Colour of {name}")
        if c.isValid():
            self._guard("Class colour", self.set_class_color, name, c.name())

    def _remove_active(self):
        name = self.active_class()
        if name is not None:
            self._guard("Remove class", self.remove_class, name)
