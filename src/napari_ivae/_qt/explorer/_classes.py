"""The explorer's class views: the confusion matrix and the class of a per-class manifold.

* **Confusion matrix** (shown when the features have a predicted ``class``
  column: joint, semi-supervised and ensemble models): the predicted class
  against a truth column the user picks (a categorical feature column,
  ``label`` or ``truth`` by default); rows with an empty truth are left out.
  A table coloured by the fraction of each truth row, the accuracy, and
  *Save PNG…* (:func:`napari_ivae.confusion.plot_confusion`).  It follows the
  features (new predictions, the user's labels).
* **Manifold class**: for a conditional model (its ``classes`` vocabulary) or
  a joint one (class numbers), the class the latent manifold and the decoded
  clicks are drawn as (each class has its own latent space).
"""

from __future__ import annotations

import html
import re

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from napari_ivae._errors import IvaeError
from napari_ivae.colors import is_categorical, score_map

__all__ = ["ClassesMixin", "decode_classes"]

#: Columns never offered as truth (positions, frames, latents and scores are not labels).
_NOT_TRUTH = {"y", "x", "frame", "index", "point", "y_nm", "x_nm"}
#: Latent columns and their spreads (never truth).
_LATENT = re.compile(r"^z\d+(_std)?$")
#: Truth columns chosen first, in this order.
_TRUTH_FIRST = ("label", "truth", "true_class", "ring_label")


def decode_classes(model) -> list[str]:
    """The classes a model can decode as: its vocabulary, or its class numbers, or none."""
    config = getattr(model, "config", None)
    classes = tuple(getattr(config, "classes", ()) or ())
    if classes:
        return [str(c) for c in classes]
    if config is not None and config.joint:
        return [str(k) for k in range(int(config.n_classes))]
    return []


def _cell_color(frac: float) -> QColor:
    """Matplotlib's ``Blues`` at ``frac`` (as in the PNG)."""
    import matplotlib

    r, g, b, _a = matplotlib.colormaps["Blues"](float(frac))
    return QColor(round(r * 255), round(g * 255), round(b * 255))


class ClassesMixin:
    """Confusion matrix and manifold class of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``_layer``, ``_df``, ``_model``, ``_guard``; owns
    ``confusion_box``, ``truth_combo``, ``confusion_table``, ``accuracy_label``,
    ``manifold_class_combo`` and ``confusion`` (the last
    :class:`~napari_ivae.confusion.ConfusionMatrix`, or None).
    """

    confusion = None

    def _build_confusion_box(self) -> QGroupBox:
        box = self.confusion_box = QGroupBox("Confusion matrix")
        v = QVBoxLayout(box)
        v.setContentsMargins(4, 4, 4, 4)
        form = QFormLayout()
        self.truth_combo = QComboBox()
        self.truth_combo.setToolTip(
            "Feature column holding the true class (empty = unlabelled, left out)"
        )
        self.truth_combo.currentTextChanged.connect(lambda _t: self.update_confusion())
        form.addRow("Truth", self.truth_combo)
        v.addLayout(form)
        self.accuracy_label = QLabel()
        self.accuracy_label.setWordWrap(True)
        self.accuracy_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        v.addWidget(self.accuracy_label)
        table = self.confusion_table = QTableWidget()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        rows = table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        v.addWidget(table)
        self.save_confusion_button = QPushButton("Save PNG…")
        self.save_confusion_button.setToolTip("Write the confusion matrix as a PNG")
        self.save_confusion_button.clicked.connect(self._save_confusion_dialog)
        v.addWidget(self.save_confusion_button)
        v.addStretch(1)
        box.setVisible(False)
        return box

    # ------------------------------------------------------------------ following the layer
    def _refresh_class_views(self):
        """Re-read what the class views show: truth columns, matrix, manifold classes."""
        self._refresh_manifold_classes()
        df = self._df
        has_class = df is not None and "class" in df.columns and len(df) > 0
        self.confusion_box.setVisible(has_class)
        if not has_class:
            self.confusion = None
            return
        options = self._truth_columns()
        keep = self.truth_combo.currentText()
        if keep not in options:
            filled = [c for c in _TRUTH_FIRST if c in options and self._has_values(c)]
            first = [c for c in _TRUTH_FIRST if c in options]
            keep = (filled or first or options or [None])[0]
        self._set_combo(self.truth_combo, options, keep)
        self.update_confusion()

    def _truth_columns(self) -> list[str]:
        df = self._df
        out = []
        for col in map(str, df.columns):
            if col in _NOT_TRUTH or col == "class" or score_map(col) is not None:
                continue
            if _LATENT.match(col) or not is_categorical(col, df[col]):
                continue
            out.append(col)
        return sorted(out, key=lambda c: (c not in _TRUTH_FIRST, _TRUTH_FIRST.index(c)
                                          if c in _TRUTH_FIRST else 0, c))  # fmt: skip

    def _has_values(self, col: str) -> bool:
        values = self._df[col]
        return bool((values.notna() & (values.astype(str).str.strip() != "")).any())

    def update_confusion(self):
        """Recompute the matrix of ``class`` against the chosen truth column; return it (or None)."""
        from napari_ivae.confusion import confusion_matrix

        self.confusion = None
        truth = self.truth_combo.currentText()
        df = self._df
        if df is None or "class" not in df.columns or not truth or truth not in df.columns:
            self._show_matrix(None, "No truth column: label points (Labels box) or add a "
                              "feature column with the true classes.")  # fmt: skip
            return None
        try:
            cm = confusion_matrix(df[truth], df["class"])
        except IvaeError as err:
            self._show_matrix(None, f"{truth}: {err}")
            return None
        self.confusion = cm
        if cm.shared:
            score = f"<b>accuracy {cm.accuracy:.3f}</b>"
        else:
            score = (
                f"<b>matched accuracy {cm.matched_accuracy:.3f}</b> (classes are cluster numbers)"
            )
        left = f"; {cm.n_skipped:,} without truth left out" if cm.n_skipped else ""
        named = "truth" if truth == "truth" else f"truth ({html.escape(truth)})"
        text = f"{score} over {cm.n:,} points{left}<br>rows: {named} · columns: predicted (class)"
        self._show_matrix(cm, text)
        return cm

    def _show_matrix(self, cm, text: str):
        self.accuracy_label.setText(text)
        table = self.confusion_table
        self.save_confusion_button.setEnabled(cm is not None)
        if cm is None:
            table.clear()
            table.setRowCount(0)
            table.setColumnCount(0)
            table.setVisible(False)
            return
        counts = cm.counts.to_numpy()
        rows = counts.sum(1, keepdims=True)
        frac = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
        table.setRowCount(counts.shape[0])
        table.setColumnCount(counts.shape[1])
        table.setVerticalHeaderLabels([str(r) for r in cm.counts.index])
        table.setHorizontalHeaderLabels([str(c) for c in cm.counts.columns])
        for i in range(counts.shape[0]):
            for j in range(counts.shape[1]):
                item = QTableWidgetItem(f"{counts[i, j]:,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(QBrush(_cell_color(frac[i, j])))
                item.setForeground(QBrush(QColor("white" if frac[i, j] > 0.6 else "black")))
                item.setToolTip(f"truth {cm.counts.index[i]}, predicted {cm.counts.columns[j]}: "
                                f"{counts[i, j]:,} ({frac[i, j]:.0%} of the row)")  # fmt: skip
                table.setItem(i, j, item)
        table.setVisible(True)
        height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth() + 6
        height += table.verticalHeader().defaultSectionSize() * table.rowCount()
        table.setFixedHeight(min(height, 360))
        if height > 360:
            table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    def _save_confusion_dialog(self):
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the confusion matrix", "confusion.png", "PNG (*.png)"
        )
        if path:
            self._guard("Save confusion matrix", self.save_confusion, path)

    def save_confusion(self, path):
        """Write the shown confusion matrix as a PNG (atomic); returns the path."""
        from napari_ivae.confusion import plot_confusion

        if self.confusion is None:
            raise IvaeError(
                "no confusion matrix to save: the points need a class and a truth column"
            )
        truth = self.truth_combo.currentText()
        out = plot_confusion(self.confusion, path, truth_name=truth, predicted_name="class")
        self.status.setText(f"Wrote {out}")
        return out

    # ------------------------------------------------------------------ manifold class
    def _refresh_manifold_classes(self):
        names = decode_classes(self._model())
        keep = self.manifold_class_combo.currentText()
        self._set_combo(self.manifold_class_combo, names, keep if keep in names else
                        (names[0] if names else None))  # fmt: skip
        self.manifold_class_combo.setVisible(bool(names))
        self.manifold_class_label.setVisible(bool(names))

    def manifold_class(self) -> str | None:
        """The class the manifold and the decoded clicks are drawn as (None: no classes)."""
        names = decode_classes(self._model())
        if not names:
            return None
        current = self.manifold_class_combo.currentText()
        return current if current in names else names[0]

    def set_manifold_class(self, name) -> None:
        """Draw the manifold and decoded clicks as class ``name`` (its label or number)."""
        names = decode_classes(self._model())
        if str(name) not in names:
            raise IvaeError(f"class={name!r} is not a class of the model; choose one of {names}")
        self._set_combo(self.manifold_class_combo, names, str(name))

    def _decode_arg(self, label: str | None):
        """``label`` as :func:`napari_ivae.analysis.decode` takes it: a conditional model's
        class name, a joint model's class number."""
        if label is None:
            return None
        config = self._model().config
        classes = [str(c) for c in getattr(config, "classes", ()) or ()]
        if config.joint:  # the decoder takes the class number (also with a vocabulary)
            return classes.index(label) if classes else int(label)
        return label
