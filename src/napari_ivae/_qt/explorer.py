"""Latent-space explorer and domain-wall labeling (dock widget).

A pyqtgraph scatter of two ``features`` columns of a Points layer, linked both
ways with the napari canvas:

* lasso / rectangle / click in the scatter → the selected points are shown in
  the image by a small, separate highlight Points layer ``"<layer> selection"``
  (the colours of the points themselves are never rewritten);
* selecting points in napari (``layer.selected_data``) → the same points are
  ringed in the scatter;
* hovering the scatter shows the sub-image of the point under the cursor
  (``layer.metadata["ivae_stack"]``); a click in empty latent space decodes the
  latent vector there (``layer.metadata["ivae_model"]``).

* the crop gallery (``"<layer> gallery"``, made by Crop) shows a montage of the
  selected points' crops (up to 8×8, channels side by side).

Labels are named classes with their own colours, stored in a categorical
``label`` column of the layer's features (``""`` = unlabeled).  There are no
placeholder classes: the first class the user adds (or names when assigning)
is class 1 in the exported wall mask.  "Export points CSV" writes every point
with all its features (latents included), labelled or not, with ``y_nm, x_nm``
beside ``y, x`` when the image is calibrated.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import napari.viewer
import numpy as np
import pandas as pd
from napari.layers import Labels, Points
from qtpy.QtCore import QSize, Qt, QTimer
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import (
    MODEL_KEY,
    STACK_KEY,
    StatusLabel,
    notify_errors,
    scroll_layout,
    show_info,
    show_warning,
)
from napari_ivae._qt._scatter import ScatterView, array_to_pixmap, gradient_pixmap
from napari_ivae.colors import SELECTION_COLOR, categorical_colors, color_scheme
from napari_ivae.labels import paint_wall_labels
from napari_ivae.selection import points_in_polygon

__all__ = ["ExplorerWidget"]

HIGHLIGHT_KEY = "ivae_highlight_of"
"""Metadata key marking a highlight layer (value: name of its points layer when created)."""
CLASSES_KEY = "ivae_label_classes"
"""Metadata key of the label classes: ordered dict name → "#rrggbb"."""
LABELS_BACKUP_KEY = "ivae_labels"
"""Metadata key of a copy of the label column (restored if a rewrite drops it)."""
_Z = re.compile(r"^z(\d+)$")
#: Smallest height of the latent scatter (pixels), whatever the dock size.
SCATTER_MIN_HEIGHT = 240
#: At most this many categories are listed in the legend.
LEGEND_ROWS = 12


def _hex(rgba) -> str:
    return "#{:02x}{:02x}{:02x}".format(*[int(c) for c in rgba[:3]])


def _rgba(hex_color: str) -> tuple[int, int, int, int]:
    c = QColor(hex_color)
    return (c.red(), c.green(), c.blue(), 255)


def _swatch(hex_color: str, size: int = 12) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(hex_color))
    return QIcon(pix)


def _atomic_write(path: str | os.PathLike, write) -> Path:
    """Write through ``write(tmp_path)`` into a temp file beside ``path``, then rename."""
    return atomic_write(path, write, make_parents=False)


def _channels_side_by_side(grid: np.ndarray) -> np.ndarray:
    """(C, H, W) → (H, C·W + gaps): channels next to each other, each z-scored on its own."""
    grid = np.asarray(grid, dtype=np.float32)
    if grid.shape[0] == 1:
        return grid[0]
    gap = max(2, grid.shape[-1] // 40)
    parts = []
    for k, ch in enumerate(grid):
        sd = float(np.nanstd(ch)) or 1.0
        parts.append((ch - float(np.nanmean(ch))) / sd)
        if k < len(grid) - 1:
            parts.append(np.full((ch.shape[0], gap), np.nan, dtype=np.float32))
    return np.concatenate(parts, axis=1)


class HighlightPoints(Points):
    """The selection overlay: a Points layer whose points all share one symbol.

    napari's ``Points`` keeps a per-point array of ``Symbol`` objects: every
    time the layer grows it re-validates the whole array, and every redraw
    turns each into a string for vispy (about 40 ms per 100,000 points, most
    of a large lasso's time, docs/gui.md).  The overlay only ever uses the
    symbol it was created with, so this layer fills that array in one step and
    hands vispy plain strings.  Everything else is a normal ``Points`` layer
    (napari picks its visual and controls by class inheritance).
    """

    @property
    def symbol(self) -> np.ndarray:
        """(N,) array of the (one) marker symbol."""
        return self._symbol

    @symbol.setter
    def symbol(self, symbol) -> None:
        if np.ndim(symbol) == 0 or len(self._symbol) == 0:  # one symbol: napari's own check
            first = symbol if np.ndim(symbol) == 0 else self.current_symbol
            Points.symbol.fset(self, first)
            return
        self._symbol = np.full(len(self.data), self._symbol[0], dtype=object)
        self.events.symbol()
        self.events.highlight()

    @property
    def _view_symbol(self) -> np.ndarray:
        marker = str(self._symbol[0]) if len(self._symbol) else "o"
        return np.full(len(self._view_indices), marker, dtype=object)


def _numeric_columns(df: pd.DataFrame) -> list[str]:
    return [
        str(c)
        for c in df.columns
        if pd.api.types.is_numeric_dtype(df[c].dtype)
        and not pd.api.types.is_bool_dtype(df[c].dtype)
    ]


class ExplorerWidget(QWidget):
    """Latent-space explorer with lasso selection and class labeling.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose Points layers are explored.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent=None):
        super().__init__(parent)
        viewer = self.viewer = napari_viewer
        self._layer: Points | None = None
        self._df: pd.DataFrame | None = None
        self._xcol: str | None = None
        self._ycol: str | None = None
        self._color_col: str | None = None
        self._selected = np.zeros(0, dtype=np.int64)
        self._highlight: Points | None = None
        self._highlights: dict[int, Points] = {}  # id(highlight layer) -> its points layer
        self._updating = False  # guards napari → explorer → napari feedback
        self._row_to_entry: np.ndarray | None = None
        self._hover_row: int | None = None
        self._hover_pos: tuple[float, float] | None = None
        self.last_decoded: np.ndarray | None = None
        self._build_ui()
        ev = viewer.layers.events
        ev.inserted.connect(self._on_layers_changed)
        ev.removed.connect(self._on_layers_changed)
        ev.moved.connect(self._on_layers_changed)
        for lay in viewer.layers:
            lay.events.name.connect(self._on_layer_renamed)
        self.destroyed.connect(self._disconnect_viewer_factory())
        self._refresh_layers()

    # ------------------------------------------------------------------ UI
    def _build_ui(self):
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        outer = scroll_layout(self, grow=True)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layer_combo = QComboBox()
        self.layer_combo.currentIndexChanged.connect(self._on_layer_combo)
        form.addRow("Points", self.layer_combo)
        axes = QHBoxLayout()
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        for c in (self.x_combo, self.y_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(5)
            c.currentTextChanged.connect(self._on_axis_combo)
            axes.addWidget(c)
        form.addRow("x / y", axes)
        self.color_combo = QComboBox()
        self.color_combo.currentTextChanged.connect(self._on_color_combo)
        form.addRow("Colour by", self.color_combo)
        outer.addLayout(form)

        tools = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons = {}
        for mode, text, tip in (
            ("lasso", "Lasso", "Draw a free-hand lasso (shift: add to the selection)"),
            ("rect", "Rect", "Drag a rectangle (shift: add to the selection)"),
            ("pan", "Pan", "Left-drag pans, wheel zooms; click still picks a point"),
        ):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.clicked.connect(lambda _c=False, m=mode: self.set_mode(m))
            self.mode_group.addButton(b)
            self.mode_buttons[mode] = b
            tools.addWidget(b)
        self.mode_buttons["lasso"].setChecked(True)
        clear = QToolButton()
        clear.setText("Clear")
        clear.setToolTip("Clear the selection")
        clear.clicked.connect(lambda: self.select_indices([]))
        tools.addWidget(clear)
        fit = QToolButton()
        fit.setText("Fit")
        fit.setToolTip("Zoom to all points")
        fit.clicked.connect(lambda: self.scatter.auto_range())
        tools.addWidget(fit)
        tools.addStretch(1)
        self.count_label = QLabel("0 selected")
        tools.addWidget(self.count_label)
        outer.addLayout(tools)

        # scatter | hover + legend | labels, one above the other: the user can move the
        # handles, nothing overlaps, and the dock scrolls when it is too low for all
        self.splitter = split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.setHandleWidth(6)
        self.scatter = ScatterView()
        self.scatter.setMinimumSize(220, SCATTER_MIN_HEIGHT)
        self.scatter.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.scatter.sigPolygon.connect(self._on_polygon)
        self.scatter.sigClick.connect(self._on_click)
        self.scatter.sigHover.connect(self._on_hover_moved)
        split.addWidget(self.scatter)

        info = QWidget()
        row = QHBoxLayout(info)
        row.setContentsMargins(0, 2, 0, 2)
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(112, 112))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background:#111; border:1px solid #444;")
        self.preview.setToolTip("Sub-image of the point under the cursor, or the decoded image")
        row.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        self.preview_text = QLabel("hover a point")
        self.preview_text.setWordWrap(True)
        col.addWidget(self.preview_text)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        col.addWidget(self.legend, 1)
        self.manifold_button = QPushButton("Show latent manifold")
        self.manifold_button.setToolTip(
            "Decode a grid over the two latent axes of the scatter and show it as an image layer"
        )
        self.manifold_button.clicked.connect(lambda: self.show_manifold())
        col.addWidget(self.manifold_button)
        row.addLayout(col, 1)
        split.addWidget(info)

        split.addWidget(self._build_label_box())
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setStretchFactor(2, 0)
        outer.addWidget(split, 1)

        self.status = StatusLabel()
        outer.addWidget(self.status)
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(25)
        self._hover_timer.timeout.connect(self._do_hover)
        self._gallery_timer = QTimer(self)
        self._gallery_timer.setSingleShot(True)
        self._gallery_timer.setInterval(60)
        self._gallery_timer.timeout.connect(self.update_gallery)

    def _build_label_box(self) -> QGroupBox:
        box = QGroupBox("Labels")
        v = QVBoxLayout(box)
        v.setContentsMargins(4, 4, 4, 4)
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
        v.addLayout(row)
        r2 = QHBoxLayout()
        self.assign_button = QPushButton("Assign selection")
        self.assign_button.setToolTip("Give the selected points the active class (relabels them)")
        self.assign_button.clicked.connect(self._assign_active)
        r2.addWidget(self.assign_button)
        unl = QPushButton("Unlabel")
        unl.setToolTip("Remove the label of the selected points")
        unl.clicked.connect(lambda: self._guard("Unlabel", self.clear_labels, selected_only=True))
        r2.addWidget(unl)
        clr = QPushButton("Clear all")
        clr.setToolTip("Remove every label of this layer")
        clr.clicked.connect(lambda: self._guard("Clear labels", self.clear_labels))
        r2.addWidget(clr)
        v.addLayout(r2)
        r3 = QHBoxLayout()
        show = QPushButton("Colour points by label")
        show.setToolTip("Colour the points in the image by their class (face_color='label')")
        show.clicked.connect(lambda: self._guard("Colour by label", self.color_points_by_label))
        r3.addWidget(show)
        walls = QPushButton("Show labeled walls")
        walls.setToolTip("Paint the wall mask with the class of the nearest wall point")
        walls.clicked.connect(lambda: self._guard("Labeled walls", self.show_label_mask))
        r3.addWidget(walls)
        v.addLayout(r3)
        f = QFormLayout()
        self.mask_combo = QComboBox()
        self.mask_combo.setToolTip("Wall mask (Labels layer from Detect) used for the labeled mask")
        f.addRow("Wall mask", self.mask_combo)
        v.addLayout(f)
        r4 = QHBoxLayout()
        exp = QPushButton("Export points CSV…")
        exp.clicked.connect(self._export_points_dialog)
        r4.addWidget(exp)
        expm = QPushButton("Export wall mask TIFF…")
        expm.clicked.connect(self._export_mask_dialog)
        r4.addWidget(expm)
        v.addLayout(r4)
        return box

    def _guard(self, what, func, *args, **kwargs):
        self.status.clear_error()
        with notify_errors(what, self.status):
            return func(*args, **kwargs)

    def _notify(self, message: str, *, warn: bool = False):
        self.status.set_message(message, "warning" if warn else "info")
        (show_warning if warn else show_info)(message)

    def _disconnect_viewer_factory(self):
        viewer = self.viewer
        cbs = (self._on_layers_changed,)
        ev = viewer.layers.events

        def _disconnect(*_a):
            for cb in cbs:
                for emitter in (ev.inserted, ev.removed, ev.moved):
                    with contextlib.suppress(Exception):
                        emitter.disconnect(cb)

        return _disconnect

    # ------------------------------------------------------------------ layers
    def _candidate_layers(self) -> list[Points]:
        return [
            layer
            for layer in self.viewer.layers
            if isinstance(layer, Points) and HIGHLIGHT_KEY not in layer.metadata
        ]

    def _on_layers_changed(self, event=None):
        if self._highlight is not None and self._highlight not in self.viewer.layers:
            self._highlight = None
        if getattr(event, "type", "") == "inserted":
            event.value.events.name.connect(self._on_layer_renamed)
        if getattr(event, "type", "") == "removed":
            # a removed points layer takes its highlight layer with it (after this event)
            QTimer.singleShot(0, self._remove_orphan_highlights)
        self._refresh_layers()
        new = getattr(event, "value", None) if getattr(event, "type", "") == "inserted" else None
        if (
            isinstance(new, Points)
            and HIGHLIGHT_KEY not in new.metadata
            and self._xcol is None  # the current layer has nothing to plot: follow the new one
            and len(new.data) > 0
            and len(_numeric_columns(new.features)) >= 2
        ):
            self.set_layer(new)
        elif self._layer is not None and self._layer not in self.viewer.layers:
            self.set_layer(None)

    def _on_layer_renamed(self, event=None):
        self._refresh_layers()
        if self._highlight is not None and self._layer is not None:
            self._highlight.name = f"{self._layer.name} selection"

    def _remove_orphan_highlights(self):
        for lay in list(self.viewer.layers):
            src = self._highlights.get(id(lay))
            if src is not None and src not in self.viewer.layers:
                self._highlights.pop(id(lay), None)
                self.viewer.layers.remove(lay)

    def _refresh_layers(self):
        layers = self._candidate_layers()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for layer in layers:
            self.layer_combo.addItem(layer.name)
        self._combo_layers = layers
        keep = self._layer if self._layer in layers else None
        if keep is None and layers:
            # prefer a layer with latent columns, then the active one, then the last one
            active = self.viewer.layers.selection.active
            with_z = [lay for lay in layers if "z1" in lay.features.columns]
            keep = with_z[-1] if with_z else (active if active in layers else layers[-1])
        if keep is not None:
            self.layer_combo.setCurrentIndex(layers.index(keep))
        self.layer_combo.blockSignals(False)
        self._refresh_masks()
        if keep is not self._layer:
            self.set_layer(keep)

    def _refresh_masks(self):
        current = self.mask_combo.currentText()
        labels = [lay for lay in self.viewer.layers if isinstance(lay, Labels)]
        self._mask_layers = labels
        self.mask_combo.blockSignals(True)
        self.mask_combo.clear()
        for lay in labels:
            self.mask_combo.addItem(lay.name)
        names = [lay.name for lay in labels]
        if current in names:
            self.mask_combo.setCurrentIndex(names.index(current))
        else:
            guess = [i for i, lay in enumerate(labels) if "wall" in lay.name.lower()]
            if guess:
                self.mask_combo.setCurrentIndex(guess[0])
        self.mask_combo.blockSignals(False)

    def _on_layer_combo(self, i: int):
        layers = getattr(self, "_combo_layers", [])
        self.set_layer(layers[i] if 0 <= i < len(layers) else None)

    @property
    def layer(self) -> Points | None:
        """The explored Points layer."""
        return self._layer

    def set_layer(self, layer: Points | None):
        """Explore ``layer`` (a Points layer of the viewer, or ``None``)."""
        if layer is self._layer and layer is not None:
            return
        self._disconnect_layer()
        if self._highlight is not None and self._highlight in self.viewer.layers:
            self._highlight.data = np.zeros((0, self._highlight.ndim))  # selection is per layer
        self._layer = layer
        self._selected = np.zeros(0, dtype=np.int64)
        self._highlight = self._find_highlight(layer) if layer is not None else None
        if layer is not None:
            if layer in getattr(self, "_combo_layers", []):
                self.layer_combo.blockSignals(True)
                self.layer_combo.setCurrentIndex(self._combo_layers.index(layer))
                self.layer_combo.blockSignals(False)
            layer.events.features.connect(self._on_features_changed)
            layer.events.data.connect(self._on_data_changed)
            layer.selected_data.events.items_changed.connect(self._on_napari_selection)
            self._ensure_classes()
        self._reload(autorange=True)
        self._update_class_list()

    def _disconnect_layer(self):
        old = self._layer
        if old is None:
            return
        for emitter, cb in (
            (old.events.features, self._on_features_changed),
            (old.events.data, self._on_data_changed),
            (old.selected_data.events.items_changed, self._on_napari_selection),
        ):
            with contextlib.suppress(Exception):
                emitter.disconnect(cb)

    def _find_highlight(self, layer: Points) -> Points | None:
        for lay in self.viewer.layers:
            if isinstance(lay, Points) and self._highlights.get(id(lay)) is layer:
                return lay
        return None

    # ------------------------------------------------------------------ data
    def _reload(self, *, autorange: bool = False):
        """Re-read the features of the layer and redraw the scatter."""
        layer = self._layer
        self._df = None
        self._row_to_entry = None
        if layer is None:
            self._set_combo(self.x_combo, [], None)
            self._set_combo(self.y_combo, [], None)
            self._set_combo(self.color_combo, [], None)
            self.scatter.set_points(np.zeros(0), np.zeros(0), color_scheme("none", np.zeros(0)))
            self.scatter.set_selection(np.zeros(0, dtype=np.int64))
            self.status.setText("No points layer: run Detect (and Train) or open one.")
            return
        df = layer.features
        n = len(layer.data)
        if len(df) != n:  # napari keeps them equal; be safe with empty tables
            df = pd.DataFrame(index=pd.RangeIndex(n))
        self._df = df
        numeric = _numeric_columns(df)
        if n == 0 or len(numeric) < 2:
            self._set_combo(self.x_combo, numeric, None)
            self._set_combo(self.y_combo, numeric, None)
            self._set_combo(self.color_combo, [], None)
            self._xcol = self._ycol = None
            self.scatter.set_points(np.zeros(0), np.zeros(0), color_scheme("none", np.zeros(0)))
            self.scatter.set_selection(np.zeros(0, dtype=np.int64))
            why = (
                f"layer {layer.name!r} has no points"
                if n == 0
                else f"layer {layer.name!r} has fewer than two numeric feature columns "
                "(train a model first to get z1, z2)"
            )
            self._notify(f"Explorer: nothing to plot: {why}.", warn=True)
            return
        xcol = self._xcol if self._xcol in numeric else None
        ycol = self._ycol if self._ycol in numeric else None
        if xcol is None or ycol is None:
            if "z1" in numeric and "z2" in numeric:
                xcol, ycol = "z1", "z2"
            else:
                xcol, ycol = numeric[0], numeric[1]
            autorange = True
        self._xcol, self._ycol = xcol, ycol
        self._set_combo(self.x_combo, numeric, xcol)
        self._set_combo(self.y_combo, numeric, ycol)
        colorable = [str(c) for c in df.columns]
        ccol = self._color_col if self._color_col in colorable else None
        if ccol is None:
            for pref in ("label", "class", "angle", "orientation"):
                if pref in colorable and (pref != "label" or self._has_labels()):
                    ccol = pref
                    break
            else:
                ccol = ycol
        self._color_col = ccol
        self._set_combo(self.color_combo, colorable, ccol)
        stack = layer.metadata.get(STACK_KEY)
        if stack is not None and hasattr(stack, "index"):
            idx = np.asarray(stack.index, dtype=np.int64)
            r2e = np.full(n, -1, dtype=np.int64)
            ok = (idx >= 0) & (idx < n)
            r2e[idx[ok]] = np.flatnonzero(ok)
            self._row_to_entry = r2e
        self._redraw(autorange=autorange)
        self.status.setText(f"{layer.name}: {n:,} points")

    def _has_labels(self) -> bool:
        df = self._df
        return df is not None and "label" in df and (df["label"].astype(str) != "").any()

    @staticmethod
    def _set_combo(combo: QComboBox, items: list[str], current: str | None):
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(items)
        if current is not None and current in items:
            combo.setCurrentIndex(items.index(current))
        combo.blockSignals(False)

    def _column(self, col: str) -> np.ndarray:
        return self._df[col].to_numpy(dtype=np.float64, na_value=np.nan)

    def _redraw(self, *, autorange: bool = False):
        x, y = self._column(self._xcol), self._column(self._ycol)
        self.scatter.setLabel("bottom", self._xcol)
        self.scatter.setLabel("left", self._ycol)
        self.scatter.set_points(x, y, self._scheme(), autorange=autorange)
        self._selected = self._selected[self._selected < len(x)]
        self.scatter.set_selection(self._selected)

    def _scheme(self):
        col = self._color_col
        values = self._df[col] if col in self._df else np.zeros(len(self._df))
        scheme = color_scheme(col, values, label_colors=self._label_rgba())
        self._update_legend(col, scheme)
        return scheme

    def _update_legend(self, col, scheme):
        if scheme.kind == "categorical":
            import html

            counts = np.bincount(scheme.codes, minlength=len(scheme.colors))
            rows = []
            for k, (name, c) in enumerate(list(zip(scheme.labels, scheme.colors))[:LEGEND_ROWS]):
                label = html.escape(name) if name else "unlabeled"
                rows.append(
                    f"<span style='color:{_hex(c)}; font-size:14px'>■</span>&nbsp;{label}"
                    f" <span style='color:#999'>({int(counts[k]):,})</span>"
                )
            if len(scheme.labels) > LEGEND_ROWS:
                rows.append(f"… {len(scheme.labels) - LEGEND_ROWS} more")
            self.legend.setText(f"<b>{html.escape(col)}</b><br>" + "<br>".join(rows))
            self._fit_legend(len(rows) + 1)
        else:
            self._legend_pix = gradient_pixmap(scheme.colors[:64], 120, 10)
            import base64

            from qtpy.QtCore import QBuffer, QByteArray, QIODevice

            ba = QByteArray()
            buf = QBuffer(ba)
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            self._legend_pix.save(buf, "PNG")
            b64 = base64.b64encode(bytes(ba.data())).decode()
            cyc = " (cyclic)" if scheme.kind == "cyclic" else ""
            self.legend.setText(
                f"<b>{col}</b>{cyc}<br><img src='data:image/png;base64,{b64}'><br>"
                f"{scheme.vmin:.3g} … {scheme.vmax:.3g}"
            )
            self._fit_legend(3)

    def _fit_legend(self, lines: int):
        """Keep room for every legend line: the splitter never squeezes it under the plot."""
        self.legend.setMinimumHeight(
            int(lines * self.legend.fontMetrics().lineSpacing() * 1.15) + 6
        )

    def _on_features_changed(self, event=None):
        if self._updating or self._layer is None:
            return
        layer = self._layer
        backup = layer.metadata.get(LABELS_BACKUP_KEY)
        if (
            "label" not in layer.features.columns
            and backup is not None
            and len(backup) == len(layer.data)
            and (np.asarray(backup) != "").any()
        ):
            # the features were rewritten (e.g. by retraining) without the labels: keep them
            self._write_labels(np.asarray(backup, dtype=object))
        n_old = 0 if self._df is None else len(self._df)
        had_z = self._df is not None and {"z1", "z2"} <= {str(c) for c in self._df.columns}
        has_z = {"z1", "z2"} <= {str(c) for c in layer.features.columns}
        if has_z and not had_z:  # latents just arrived (training finished): show them
            self._xcol = self._ycol = None
            if self._color_col in ("x", "y", None):
                self._color_col = None
        self._reload(autorange=n_old != len(layer.data))

    def _on_data_changed(self, event=None):
        # points added or removed in napari: the rows changed, re-read everything
        if (
            self._layer is not None
            and self._df is not None
            and len(self._layer.data) != len(self._df)
        ):
            self._selected = np.zeros(0, dtype=np.int64)
            self._on_features_changed()
            self._update_highlight()

    # ------------------------------------------------------------------ axes/colour
    def _on_axis_combo(self, _text):
        x, y = self.x_combo.currentText(), self.y_combo.currentText()
        if x and y and (x, y) != (self._xcol, self._ycol):
            self.set_axes(x, y)

    def _on_color_combo(self, text):
        if text and text != self._color_col:
            self.set_color_by(text)

    def set_axes(self, xcol: str, ycol: str):
        """Plot feature ``xcol`` against ``ycol``."""
        if self._df is None:
            raise IvaeError("no points layer to plot; choose a Points layer first")
        numeric = _numeric_columns(self._df)
        for name, col in (("xcol", xcol), ("ycol", ycol)):
            if col not in numeric:
                raise IvaeError(
                    f"{name}={col!r} is not a numeric feature column; choose one of {numeric}"
                )
        self._xcol, self._ycol = xcol, ycol
        self._set_combo(self.x_combo, numeric, xcol)
        self._set_combo(self.y_combo, numeric, ycol)
        self._redraw(autorange=True)

    def set_color_by(self, col: str):
        """Colour the scatter by feature ``col``."""
        if self._df is None:
            raise IvaeError("no points layer to colour; choose a Points layer first")
        cols = [str(c) for c in self._df.columns]
        if col not in cols:
            raise IvaeError(f"col={col!r} is not a feature column; choose one of {cols}")
        self._color_col = col
        self._set_combo(self.color_combo, cols, col)
        self.scatter.recolor(self._scheme())

    def set_mode(self, mode: str):
        """Selection mode of a left drag: ``"lasso"``, ``"rect"`` or ``"pan"``."""
        from napari_ivae._errors import check_choice

        check_choice("mode", mode, ("lasso", "rect", "pan"))
        self.scatter.select_mode = mode
        self.mode_buttons[mode].setChecked(True)

    # ------------------------------------------------------------------ selection
    @property
    def selected(self) -> np.ndarray:
        """Row indices (into the layer's points/features) of the selection, sorted."""
        return self._selected.copy()

    @property
    def highlight_layer(self) -> Points | None:
        """The Points layer showing the selection in the image (created on first use)."""
        return self._highlight

    def select_indices(self, indices, *, add: bool = False):
        """Select the points with row ``indices`` (``add``: union with the selection)."""
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        idx = idx.astype(np.int64, copy=False).ravel()
        n = 0 if self._df is None else len(self._df)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IvaeError(
                f"indices must be in 0..{n - 1}; got {int(idx.min())}..{int(idx.max())}"
            )
        if add and self._selected.size:
            idx = np.union1d(self._selected, idx)
        else:
            idx = np.unique(idx)
        self._apply_selection(idx)

    def lasso(self, polygon_xy, *, add: bool = False) -> np.ndarray:
        """Select the points inside ``polygon_xy`` ((M, 2) in scatter data coordinates)."""
        if self._df is None or self._xcol is None:
            return self.selected
        idx = points_in_polygon(self.scatter.x, self.scatter.y, np.asarray(polygon_xy, float))
        self.select_indices(idx, add=add)
        return self.selected

    def rect(self, x0: float, y0: float, x1: float, y1: float, *, add: bool = False) -> np.ndarray:
        """Select the points inside the rectangle spanned by ``(x0, y0)`` and ``(x1, y1)``."""
        if self._df is None or self._xcol is None:
            return self.selected
        xa, xb = sorted((x0, x1))
        ya, yb = sorted((y0, y1))
        x, y = self.scatter.x, self.scatter.y
        idx = np.flatnonzero((x >= xa) & (x <= xb) & (y >= ya) & (y <= yb))
        self.select_indices(idx, add=add)
        return self.selected

    def _on_polygon(self, poly, additive):
        self.lasso(poly, add=additive)

    def _on_click(self, x, y, additive):
        if self._df is None or self._xcol is None:
            return
        i = self.scatter.nearest(x, y)
        if i >= 0:
            if additive and i in set(self._selected.tolist()):
                self.select_indices(np.setdiff1d(self._selected, [i]))
            else:
                self.select_indices([i], add=additive)
            self.scatter.set_marker(None)
        else:
            if not additive:
                self.select_indices([])
            self.decode_at(x, y, quiet=True)

    def _apply_selection(self, idx: np.ndarray, *, from_napari: bool = False):
        self._selected = idx
        self.scatter.set_selection(idx)
        self.count_label.setText(f"{idx.size:,} selected")
        self._update_highlight()
        self._gallery_timer.start()  # the montage follows, once the selection settles

    def update_gallery(self):
        """Show the crops of the selection (up to 8×8) in the layer's gallery.

        The gallery is the montage layer made by Crop (``"<layer> gallery"``);
        with no selection it shows crops spread over the whole stack.  Nothing
        happens when the layer has no crops or its gallery was removed.
        """
        layer = self._layer
        stack = None if layer is None else layer.metadata.get(STACK_KEY)
        name = None if layer is None else f"{layer.name} gallery"
        if stack is None or name not in self.viewer.layers or self._row_to_entry is None:
            return None
        from napari_ivae._qt.crop import show_gallery

        rows = None
        if self._selected.size:
            entries = self._row_to_entry[self._selected[self._selected < len(self._row_to_entry)]]
            rows = entries[entries >= 0][:64]
        return show_gallery(self.viewer, layer, stack, rows)

    def _update_highlight(self):
        layer = self._layer
        if layer is None:
            return
        coords = np.asarray(layer.data)[self._selected]
        hl = self._highlight
        if hl is None or hl not in self.viewer.layers:
            if self._selected.size == 0:
                return
            hl = self._create_highlight(layer)
        self._updating = True
        try:
            hl.data = coords
        finally:
            self._updating = False

    def _create_highlight(self, layer: Points) -> Points:
        size = float(np.median(layer.size)) if len(layer.size) else 3.0
        hl = HighlightPoints(
            np.zeros((0, layer.ndim)),
            ndim=layer.ndim,
            name=f"{layer.name} selection",
            size=max(size * 1.8, size + 2.0),
            symbol="o",
            face_color="transparent",
            border_color=_hex(SELECTION_COLOR),
            border_width=0.25,
            border_width_is_relative=True,
            scale=layer.scale,
            translate=layer.translate,
            units=tuple(layer.units),
            rotate=layer.rotate,
            shear=layer.shear,
            affine=layer.affine,
            metadata={HIGHLIGHT_KEY: layer.name},
            blending="translucent_no_depth",
        )
        active = self.viewer.layers.selection.active
        selection = set(self.viewer.layers.selection)
        self._highlight = hl
        self._highlights[id(hl)] = layer
        self.viewer.layers.append(hl)
        # keep the user's layer selection: the highlight layer is not for editing
        self.viewer.layers.selection.clear()
        self.viewer.layers.selection.update(selection)
        if active is not None:
            self.viewer.layers.selection.active = active
        hl.editable = False
        return hl

    def _on_napari_selection(self, *_args):
        if self._updating or self._layer is None:
            return
        idx = np.fromiter(self._layer.selected_data, dtype=np.int64)
        idx.sort()
        self._apply_selection(idx, from_napari=True)

    # ------------------------------------------------------------------ hover / decode
    def _on_hover_moved(self, x, y):
        self._hover_pos = (x, y)
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def _do_hover(self):
        if self._hover_pos is not None:
            self.hover_at(*self._hover_pos)

    def hover_at(self, x: float, y: float) -> int | None:
        """Show the sub-image of the point nearest to ``(x, y)``; return its row or None."""
        if self._df is None or self._xcol is None:
            return None
        i = self.scatter.nearest(x, y)
        if i < 0:
            return None
        self._hover_row = i
        entry = -1 if self._row_to_entry is None else int(self._row_to_entry[i])
        text = f"point {i}"
        if self._color_col in self._df:
            v = self._df[self._color_col].iloc[i]
            text += f"<br>{self._color_col} = " + (
                f"{v:.3g}" if isinstance(v, float | np.floating) else str(v)
            )
        if entry >= 0:
            stack = self._layer.metadata[STACK_KEY]
            img = np.asarray(stack.images[entry])
            self.preview.setPixmap(array_to_pixmap(self._tile_channels(img)))
        else:
            self.preview.clear()
            self.preview.setText("no sub-image\n(crop first)")
        self.preview_text.setText(text)
        self.hover_entry = entry
        return i

    @staticmethod
    def _tile_channels(img: np.ndarray) -> np.ndarray:
        """(C, h, w) → (h, C*w) side by side, each channel normalised on its own."""
        img = np.asarray(img, dtype=np.float64)
        if img.ndim == 2:
            return img
        parts = []
        for ch in img:
            lo, hi = np.nanpercentile(ch, [1, 99]) if np.isfinite(ch).any() else (0, 1)
            parts.append((ch - lo) / (hi - lo if hi > lo else 1.0))
        return np.concatenate(parts, axis=1)

    def _model(self):
        return None if self._layer is None else self._layer.metadata.get(MODEL_KEY)

    def _latent_dims(self) -> tuple[int, int] | None:
        mx, my = _Z.match(self._xcol or ""), _Z.match(self._ycol or "")
        if mx and my:
            return int(mx.group(1)) - 1, int(my.group(1)) - 1
        return None

    def decode_at(self, x: float, y: float, *, quiet: bool = False) -> np.ndarray | None:
        """Decode the latent vector at scatter position ``(x, y)`` and show it beside the scatter.

        Works when both axes are latent columns ``z<k>`` and the layer holds a
        model; the other latents are 0.  Returns the decoded image (C, H, W).
        """
        model = self._model()
        dims = self._latent_dims()
        if model is None or dims is None:
            if not quiet:
                raise IvaeError(
                    "decoding needs a trained model on the layer and z-columns on both axes"
                )
            return None
        from napari_ivae.analysis import decode

        k = model.config.latent_dim
        if max(dims) >= k:
            raise IvaeError(f"the model has {k} latents; axes {self._xcol}/{self._ycol} are beyond")
        z = np.zeros((1, k), dtype=np.float32)
        z[0, dims[0]], z[0, dims[1]] = x, y
        img = decode(model, z)[0]
        self.last_decoded = img
        self.preview.setPixmap(array_to_pixmap(self._tile_channels(img)))
        self.preview_text.setText(f"decoded at<br>{self._xcol}={x:.2f}, {self._ycol}={y:.2f}")
        self.scatter.set_marker((x, y))
        return img

    def show_manifold(self, *, n: int = 10):
        """Add (or update) an image layer with the model's latent manifold over the plotted z axes."""
        with notify_errors("Latent manifold"):
            model = self._model()
            if model is None:
                raise IvaeError("the points layer has no trained model; train one with Train first")
            dims = self._latent_dims() or (0, 1)
            from napari_ivae.analysis import manifold

            cols = [f"z{d + 1}" for d in dims]
            span = 2.0
            if self._df is not None and all(c in self._df for c in cols):
                vals = np.abs(self._df[cols].to_numpy(dtype=float))
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    span = float(np.clip(np.percentile(vals, 98), 0.05, 6.0))
            grid = manifold(model, dims=dims, n=n, span=span)
            img = _channels_side_by_side(grid)
            name = f"{self._layer.name} manifold {cols[0]}-{cols[1]}"
            self.status.setText(
                f"Manifold: {cols[0]} left→right, {cols[1]} bottom→top, ±{span:.2f}"
                + (f"; {grid.shape[0]} channels side by side" if grid.shape[0] > 1 else "")
            )
            limits = tuple(float(v) for v in np.nanpercentile(img, [1, 99]))
            if limits[1] <= limits[0]:
                limits = (limits[0], limits[0] + 1.0)
            if name in self.viewer.layers:
                lay = self.viewer.layers[name]
                lay.data = img
                lay.contrast_limits = limits
                lay.visible = True
                return lay
            # place it to the right of the points so that it does not cover the image
            ext = np.asarray(self._layer.extent.world)
            right = float(ext[1, -1]) + 0.05 * float(ext[1, -1] - ext[0, -1])
            return self.viewer.add_image(
                img,
                name=name,
                colormap="gray",
                contrast_limits=limits,
                translate=(float(ext[0, -2]), right),
                scale=self._layer.scale[-2:],
                units=tuple(self._layer.units)[-2:],
            )

    # ------------------------------------------------------------------ labels
    def _classes(self) -> dict[str, str]:
        if self._layer is None:
            return {}
        return self._layer.metadata.setdefault(CLASSES_KEY, {})

    def _label_rgba(self) -> dict[str, tuple[int, int, int, int]]:
        return {k: _rgba(v) for k, v in self._classes().items()}

    def _ensure_classes(self):
        classes = self._classes()
        df = self._layer.features
        if "label" in df:
            for v in pd.unique(df["label"].astype(str)):
                if v and v not in classes:
                    self._add_class_silent(v)

    def _add_class_silent(self, name: str, color: str | None = None):
        classes = self._classes()
        if color is None:
            pal = categorical_colors(10)
            used = set(classes.values())
            free = [_hex(c) for c in pal if _hex(c) not in used]
            color = free[0] if free else _hex(pal[len(classes) % 10])
        classes[name] = color

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
        self.class_list.blockSignals(True)
        self.class_list.clear()
        labels = (
            self._df["label"].astype(str)
            if self._df is not None and "label" in self._df
            else pd.Series(dtype=str)
        )
        counts = labels.value_counts()
        for i, (name, color) in enumerate(self._classes().items(), start=1):
            item = QListWidgetItem(_swatch(color), f"{i}  {name}  ({int(counts.get(name, 0)):,})")
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

    def add_class(self, name: str, color: str | None = None):
        """Add a label class (``color`` as "#rrggbb"; a free palette colour by default)."""
        name = str(name).strip()
        if not name:
            raise IvaeError("name='' is empty; give the class a name")
        if self._layer is None:
            raise IvaeError("no points layer chosen; choose a Points layer first")
        if name in self._classes():
            raise IvaeError(f"name={name!r} already exists; choose another name")
        self._add_class_silent(name, color)
        self._update_class_list(active=name)
        self._labels_changed()

    def rename_class(self, old: str, new: str):
        """Rename class ``old`` to ``new`` (its points keep the class)."""
        classes = self._classes()
        new = str(new).strip()
        if old not in classes:
            raise IvaeError(f"old={old!r} is not a class; classes are {list(classes)}")
        if not new or new in classes:
            raise IvaeError(f"new={new!r} is empty or already a class")
        self._layer.metadata[CLASSES_KEY] = {
            (new if k == old else k): v for k, v in classes.items()
        }
        labels = self._labels()
        labels[labels == old] = new
        self._write_labels(labels)
        self._update_class_list(active=new)
        self._labels_changed()

    def remove_class(self, name: str):
        """Remove class ``name``; its points become unlabeled."""
        classes = self._classes()
        if name not in classes:
            raise IvaeError(f"name={name!r} is not a class; classes are {list(classes)}")
        del classes[name]
        labels = self._labels()
        labels[labels == name] = ""
        self._write_labels(labels)
        self._update_class_list()
        self._labels_changed()

    def set_class_color(self, name: str, color: str):
        """Set the colour ("#rrggbb") of class ``name``."""
        classes = self._classes()
        if name not in classes:
            raise IvaeError(f"name={name!r} is not a class; classes are {list(classes)}")
        classes[name] = QColor(color).name()
        self._update_class_list(active=name)
        self._labels_changed()

    def _labels(self) -> np.ndarray:
        df = self._layer.features
        n = len(self._layer.data)
        if "label" in df and len(df) == n:
            return df["label"].astype(str).replace({"nan": ""}).to_numpy(dtype=object)
        return np.full(n, "", dtype=object)

    def _write_labels(self, labels: np.ndarray):
        layer = self._layer
        classes = list(self._classes())
        extra = sorted({str(v) for v in labels} - set(classes) - {""})
        cat = pd.Categorical(labels, categories=["", *classes, *extra])
        df = layer.features.copy()
        df["label"] = cat
        self._updating = True
        try:
            layer.features = df
            defaults = layer.feature_defaults.copy()
            defaults["label"] = pd.Categorical([""], categories=cat.categories)
            with contextlib.suppress(Exception):
                layer.feature_defaults = defaults
        finally:
            self._updating = False
        layer.metadata[LABELS_BACKUP_KEY] = np.asarray(labels, dtype=object)
        self._df = layer.features

    def _labels_changed(self):
        """Refresh scatter colours, class counts and napari colours after a label edit."""
        if self._layer is None or self._df is None:
            return
        cols = [str(c) for c in self._df.columns]
        if self._color_col == "label" and self._xcol is not None:
            self._set_combo(self.color_combo, cols, "label")
            self.scatter.recolor(self._scheme())
        else:
            self._set_combo(self.color_combo, cols, self._color_col)
        self._update_class_list()
        layer = self._layer
        if getattr(layer, "_face", None) is not None and layer._face.color_properties is not None:
            if layer._face.color_properties.name == "label":
                self.color_points_by_label()

    def assign_label(self, name: str):
        """Give the selected points class ``name`` (added if new; relabels labeled points)."""
        if self._layer is None:
            raise IvaeError("no points layer chosen; choose a Points layer first")
        if self._selected.size == 0:
            raise IvaeError("no points selected; lasso or click points first")
        name = str(name).strip()
        if not name:
            raise IvaeError("name='' is empty; use clear_labels() to unlabel points")
        if name not in self._classes():
            self._add_class_silent(name)
        labels = self._labels()
        labels[self._selected] = name
        self._write_labels(labels)
        if self._color_col != "label" and self._xcol is not None:
            self._color_col = "label"
        self._labels_changed()
        self._update_class_list(active=name)

    def clear_labels(self, *, selected_only: bool = False):
        """Unlabel all points (or only the selected ones)."""
        if self._layer is None:
            raise IvaeError("no points layer chosen; choose a Points layer first")
        labels = self._labels()
        if selected_only:
            labels[self._selected] = ""
        else:
            labels[:] = ""
        self._write_labels(labels)
        self._labels_changed()

    def color_points_by_label(self):
        """Colour the points in napari by class (``face_color="label"`` with the class colours)."""
        layer = self._layer
        if layer is None:
            raise IvaeError("no points layer chosen; choose a Points layer first")
        if "label" not in layer.features:
            self._write_labels(self._labels())
        cmap = {"": [0.55, 0.55, 0.55, 1.0]}
        for name, color in self._classes().items():
            cmap[name] = [c / 255 for c in _rgba(color)]
        self._updating = True
        try:
            layer.face_color = "label"
            layer.face_color_cycle = {"colormap": cmap, "fallback_color": [0.55, 0.55, 0.55, 1.0]}
            layer.refresh_colors(update_color_mapping=False)
        finally:
            self._updating = False

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

    # ------------------------------------------------------------------ export
    def _source_image(self):
        """The image the explored points were found in (Detect's metadata, else by name)."""
        from napari.layers import Image

        layer = self._layer
        name = layer.metadata.get("ivae_image")
        if name is None:
            name = layer.name
            for suffix in (" preview", " walls", " atoms"):
                name = name.removesuffix(suffix)
        image = self.viewer.layers[name] if name in self.viewer.layers else None
        return image if isinstance(image, Image) else None

    def _pixel_size_nm(self):
        """Pixel size (y, x) in nm of the points' image, or None when uncalibrated."""
        from napari_ivae.io import pixel_size_nm

        image = self._source_image()
        if image is not None:
            size = pixel_size_nm(image)
            if size is not None:
                return size
        layer = image if image is not None else self._layer
        try:  # a layer with length units (napari/pint): its scale in nm
            nm = [float((1.0 * u).to("nm").magnitude) for u in tuple(layer.units)[-2:]]
        except Exception:  # dimensionless pixels, or no length unit
            return None
        return tuple(float(s) * f for s, f in zip(tuple(layer.scale)[-2:], nm))

    def points_export_table(self) -> pd.DataFrame:
        """Every point with all its features (latents included), labelled or not.

        Columns: ``point`` (row), the features (``y, x`` in image pixels; added
        from the layer's positions when missing), ``y_nm, x_nm`` beside them when
        the image is calibrated, and ``label`` (``""`` = unlabelled).
        """
        from napari_ivae._qt._common import points_table
        from napari_ivae.io import add_physical_columns

        if self._layer is None:
            raise IvaeError("no points layer chosen; choose a Points layer first")
        df = self._layer.features.copy().reset_index(drop=True)
        if not {"y", "x"} <= {str(c) for c in df.columns}:
            pos = points_table(self._layer, self._source_image())
            for k, c in enumerate(c for c in ("y", "x", "frame") if c not in df.columns):
                df.insert(k, c, pos[c].to_numpy())
        df["label"] = self._labels()
        df = add_physical_columns(df, self._pixel_size_nm())
        df.insert(0, "point", np.arange(len(df)))
        return df

    def export_points(self, path) -> Path:
        """Write every point with all its features, labelled or not, as CSV.

        See :meth:`points_export_table` for the columns.
        """
        df = self.points_export_table()
        if df.empty:
            raise IvaeError(f"layer {self._layer.name!r} has no points to export")
        out = _atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
        n_lab = int((df["label"] != "").sum())
        self.status.set_message(
            f"Wrote {len(df):,} points ({n_lab:,} labelled, {df.shape[1]} columns) to {out.name}"
        )
        return out

    def _mask_layer(self, mask_layer=None) -> Labels:
        if isinstance(mask_layer, Labels):
            return mask_layer
        if isinstance(mask_layer, str):
            return self.viewer.layers[mask_layer]
        i = self.mask_combo.currentIndex()
        layers = getattr(self, "_mask_layers", [])
        if 0 <= i < len(layers) and layers[i] in self.viewer.layers:
            return layers[i]
        raise IvaeError(
            "no wall mask: run Detect in walls mode (it makes a Labels layer) or choose one"
        )

    def label_mask(self, mask_layer=None) -> np.ndarray:
        """The wall mask painted with class indices.

        Every wall pixel (mask > 0) gets the class index (1, 2, ... in the order
        of :attr:`classes`) of the nearest wall point of the same frame; pixels
        whose nearest point is unlabeled, and non-wall pixels, are 0.
        """
        if self._layer is None:
            raise IvaeError("no points layer chosen; choose a Points layer first")
        mlayer = self._mask_layer(mask_layer)
        mask = np.asarray(mlayer.data)
        labels = self._labels()
        classes = list(self._classes())
        code = np.array(
            [0 if v == "" else classes.index(v) + 1 if v in classes else 0 for v in labels]
        )
        if not (code > 0).any():
            raise IvaeError("no labeled points; assign a label to a selection first")
        df = self._layer.features
        data = np.asarray(self._layer.data, dtype=float)
        yx = df[["y", "x"]].to_numpy(float) if {"y", "x"} <= set(df.columns) else data[:, -2:]
        if "frame" in df:
            frame = df["frame"].to_numpy()
        elif data.shape[1] >= 3:
            frame = np.rint(data[:, -3])
        else:
            frame = np.zeros(len(yx))
        frame = np.nan_to_num(np.asarray(frame, dtype=float)).astype(np.int64)
        return paint_wall_labels(mask, yx, code, frame=frame)

    def export_label_mask(self, path, mask_layer=None) -> Path:
        """Write :meth:`label_mask` as a TIFF (0 = unlabeled / no wall, k = k-th class)."""
        import tifffile

        lab = self.label_mask(mask_layer)
        names = {str(i): n for i, n in enumerate(self._classes(), start=1)}
        desc = "napari-ivae labeled walls; " + ", ".join(f"{k}={v}" for k, v in names.items())
        out = _atomic_write(path, lambda tmp: tifffile.imwrite(tmp, lab, description=desc))
        self.status.setText(f"Wrote the labeled wall mask to {out.name}")
        return out

    def show_label_mask(self, mask_layer=None) -> Labels:
        """Add (or update) a Labels layer with :meth:`label_mask`, in the class colours."""
        from napari.utils.colormaps import DirectLabelColormap

        lab = self.label_mask(mask_layer)
        mlayer = self._mask_layer(mask_layer)
        colors = {0: "transparent", None: "transparent"}
        for i, c in enumerate(self._classes().values(), start=1):
            colors[i] = c
        name = f"{self._layer.name} labeled walls"
        cmap = DirectLabelColormap(color_dict=colors)
        if name in self.viewer.layers:
            lay = self.viewer.layers[name]
            lay.data = lab
            lay.colormap = cmap
            return lay
        return self.viewer.add_labels(
            lab,
            name=name,
            scale=mlayer.scale,
            translate=mlayer.translate,
            units=tuple(mlayer.units),
            colormap=cmap,
            opacity=0.9,
        )

    def _export_points_dialog(self):
        path, _ = QFileDialog.getSaveFileName(
            self, "Export points with their latents and labels", "points.csv", "CSV (*.csv)"
        )
        if path:
            self._guard("Export points", self.export_points, path)

    def _export_mask_dialog(self):
        path, _ = QFileDialog.getSaveFileName(
            self, "Export labeled wall mask", "labeled_walls.tif", "TIFF (*.tif *.tiff)"
        )
        if path:
            self._guard("Export wall mask", self.export_label_mask, path)
