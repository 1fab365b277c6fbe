"""The explorer dock: its layout, and following the viewer's layers.

:class:`ExplorerWidget` is the layout and the wiring; each concern is a mixin
in its own file: :mod:`._plot` (axes, colours, legend), :mod:`._selection`
(scatter ↔ napari selection, the highlight layer), :mod:`._twin` (a second
scatter of two other columns, same selection), :mod:`._preview` (hover,
decode, manifold, gallery), :mod:`._labels` (the Labels box, on
:class:`napari_ivae.labels.LabelSet`), :mod:`._classes` (confusion matrix,
manifold class) and :mod:`._exports` (CSV, wall mask).  What the explorer keeps about a points
layer is in its record (:mod:`napari_ivae.record`).
"""

from __future__ import annotations

import contextlib

import napari.viewer
import numpy as np
from napari.layers import Image, Points
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QWidget,
)

from napari_ivae._qt._common import (
    StatusLabel,
    notify_errors,
    scroll_layout,
    show_info,
    show_warning,
)
from napari_ivae._qt._scatter import ScatterView
from napari_ivae._qt.explorer._classes import ClassesMixin
from napari_ivae._qt.explorer._exports import ExportsMixin
from napari_ivae._qt.explorer._labels import LabelsMixin
from napari_ivae._qt.explorer._plot import PlotMixin, numeric_columns
from napari_ivae._qt.explorer._preview import PreviewMixin
from napari_ivae._qt.explorer._selection import HIGHLIGHT_KEY, SelectionMixin
from napari_ivae._qt.explorer._twin import TwinMixin
from napari_ivae.record import get_record

__all__ = ["SCATTER_MIN_HEIGHT", "ExplorerWidget"]

#: Smallest height of the latent scatter (pixels), whatever the dock size.
SCATTER_MIN_HEIGHT = 240


class ExplorerWidget(
    PlotMixin,
    SelectionMixin,
    TwinMixin,
    PreviewMixin,
    LabelsMixin,
    ClassesMixin,
    ExportsMixin,
    QWidget,
):
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
        self._df = None
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
        viewer.dims.events.current_step.connect(self._update_count)
        self.destroyed.connect(self._disconnect_viewer_factory())
        self._refresh_layers()

    # ------------------------------------------------------------------ UI
    def _build_ui(self):
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        outer = scroll_layout(self, grow=True)
        outer.addLayout(self._build_form())
        outer.addLayout(self._build_tools())

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
        # the second scatter (another pair of columns, same selection) beside the first
        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.setChildrenCollapsible(False)
        self.plots.addWidget(self.scatter)
        self.plots.addWidget(self.scatter2)
        split.addWidget(self.plots)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        split.addWidget(self._build_info_row(self.legend))
        split.addWidget(self._build_label_box())
        split.addWidget(self._build_confusion_box())
        split.setStretchFactor(0, 1)
        for k in (1, 2, 3):
            split.setStretchFactor(k, 0)
        outer.addWidget(split, 1)

        self.status = StatusLabel()
        outer.addWidget(self.status)
        self._hover_timer = self._timer(25, self._do_hover)
        self._gallery_timer = self._timer(60, self.update_gallery)

    def _build_form(self) -> QFormLayout:
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
        form.addRow("", self._build_twin())
        return form

    def _build_tools(self) -> QHBoxLayout:
        tools = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons = {}
        for mode, text, tip in (
            ("lasso", "Lasso", "Draw a free-hand lasso (shift: add to the selection)"),
            ("rect", "Rect", "Drag a rectangle (shift: add to the selection)"),
            ("pan", "Pan", "Left-drag pans, wheel zooms; click still picks a point"),
        ):
            b = self._tool_button(text, tip, lambda _c=False, m=mode: self.set_mode(m))
            b.setCheckable(True)
            self.mode_group.addButton(b)
            self.mode_buttons[mode] = b
            tools.addWidget(b)
        self.mode_buttons["lasso"].setChecked(True)
        tools.addWidget(
            self._tool_button("Clear", "Clear the selection", lambda: self.select_indices([]))
        )
        tools.addWidget(self._tool_button("Fit", "Zoom to all points", self._fit_plots))
        tools.addStretch(1)
        self.count_label = QLabel("0 selected")
        tools.addWidget(self.count_label)
        return tools

    def _fit_plots(self):
        self.scatter.auto_range()
        self.scatter2.auto_range()

    @staticmethod
    def _tool_button(text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _timer(self, ms: int, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    def _guard(self, what, func, *args, **kwargs):
        self.status.clear_error()
        with notify_errors(what, self.status):
            return func(*args, **kwargs)

    def _notify(self, message: str, *, warn: bool = False):
        self.status.set_message(message, "warning" if warn else "info")
        (show_warning if warn else show_info)(message)

    def _disconnect_viewer_factory(self):
        ev = self.viewer.layers.events
        cb = self._on_layers_changed
        step, count = self.viewer.dims.events.current_step, self._update_count

        def _disconnect(*_a):
            for emitter in (ev.inserted, ev.removed, ev.moved):
                with contextlib.suppress(Exception):
                    emitter.disconnect(cb)
            with contextlib.suppress(Exception):
                step.disconnect(count)

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
        kind = getattr(event, "type", "")
        if kind == "inserted":
            event.value.events.name.connect(self._on_layer_renamed)
        if kind == "removed":
            # a removed points layer takes its highlight layer with it (after this event)
            QTimer.singleShot(0, self._remove_orphan_highlights)
        self._refresh_layers()
        new = getattr(event, "value", None) if kind == "inserted" else None
        if (
            isinstance(new, Points)
            and HIGHLIGHT_KEY not in new.metadata
            and self._xcol is None  # the current layer has nothing to plot: follow the new one
            and len(new.data) > 0
            and len(numeric_columns(new.features)) >= 2
        ):
            self.set_layer(new)
        elif self._layer is not None and self._layer not in self.viewer.layers:
            self.set_layer(None)

    def _on_layer_renamed(self, event=None):
        self._refresh_layers()
        if self._highlight is not None and self._layer is not None:
            self._highlight.name = f"{self._layer.name} selection"

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

    def _on_layer_combo(self, i: int):
        layers = getattr(self, "_combo_layers", [])
        self.set_layer(layers[i] if 0 <= i < len(layers) else None)

    def _source_image(self) -> Image | None:
        """The image the explored points were found in (Detect's record, else by name)."""
        layer = self._layer
        record = get_record(layer, create=False)
        name = None if record is None else record.image
        if name is None:
            name = layer.name
            for suffix in (" preview", " walls", " atoms"):
                name = name.removesuffix(suffix)
        image = self.viewer.layers[name] if name in self.viewer.layers else None
        return image if isinstance(image, Image) else None

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
            self._labelset()  # labels of the layer without a class become classes
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
