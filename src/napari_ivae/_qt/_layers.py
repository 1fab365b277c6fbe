"""Layer choosers that follow the viewer (layers added, removed, moved or renamed).

:class:`LayerCombo` (one layer) and :class:`LayerChecklist` (several, ordered);
:func:`connect_viewer` hooks any widget with a ``refresh`` method to the layer list;
:func:`show_labels` adds (or updates) a Labels layer in given colours.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any

from napari.layers import Layer
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QComboBox, QListWidget, QListWidgetItem

from napari_ivae._errors import IvaeError

__all__ = ["LayerChecklist", "LayerCombo", "connect_viewer", "show_labels"]


# --------------------------------------------------------------------------- layer choosers
def connect_viewer(viewer: Any, widget: Any) -> None:
    """Call ``widget.refresh`` whenever layers are added, removed, moved or renamed.

    The hooks hold only a weak reference to ``widget`` and are disconnected when
    the widget is destroyed, so a closed dock widget never receives events.
    """
    events = viewer.layers.events
    ref = weakref.ref(widget)

    def _refresh(*_args: Any, inserted: Layer | None = None) -> None:
        w = ref()
        if w is None:
            return
        with contextlib.suppress(RuntimeError):  # C++ object already deleted
            w.refresh(inserted=inserted)

    def _inserted(event: Any) -> None:
        event.value.events.name.connect(_refresh)
        _refresh(inserted=event.value)

    def _removed(event: Any) -> None:
        with contextlib.suppress(Exception):
            event.value.events.name.disconnect(_refresh)
        _refresh()

    def _disconnect(*_args: Any) -> None:
        for emitter, cb in ((events.inserted, _inserted), (events.removed, _removed)):
            with contextlib.suppress(Exception):
                emitter.disconnect(cb)
        with contextlib.suppress(Exception):
            events.moved.disconnect(_refresh)
        for layer in list(viewer.layers):
            with contextlib.suppress(Exception):
                layer.events.name.disconnect(_refresh)

    events.inserted.connect(_inserted)
    events.removed.connect(_removed)
    events.moved.connect(_refresh)
    for layer in viewer.layers:
        layer.events.name.connect(_refresh)
    widget.destroyed.connect(_disconnect)


class LayerCombo(QComboBox):
    """A combo box of the viewer's layers of one type that follows the layer list.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are listed.
    layer_type : type or tuple of types
        Layer classes offered (e.g. ``napari.layers.Image``).
    optional : bool
        Offer a first entry "(none)" meaning no layer.
    accept : callable, optional
        Extra filter ``accept(layer) -> bool``.
    """

    layer_changed = Signal(object)

    def __init__(
        self,
        viewer: Any,
        layer_type: type | tuple[type, ...],
        *,
        optional: bool = False,
        accept: Callable[[Layer], bool] | None = None,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._viewer = viewer
        self._type = layer_type
        self._optional = optional
        self._accept = accept
        self._layers: list[Layer | None] = []
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.currentIndexChanged.connect(lambda _i: self.layer_changed.emit(self.value))
        connect_viewer(viewer, self)
        self.refresh()
        if not optional:
            self._select_default()

    def _candidates(self) -> list[Layer]:
        return [
            layer
            for layer in self._viewer.layers
            if isinstance(layer, self._type) and (self._accept is None or self._accept(layer))
        ]

    def _select_default(self) -> None:
        """Select the active layer when it fits, else keep the first one."""
        active = self._viewer.layers.selection.active
        if active is not None and active in self._layers:
            self.setCurrentIndex(self._layers.index(active))

    def refresh(self, *_args: Any, inserted: Layer | None = None) -> None:
        """Rebuild the list, keeping the current choice when it still exists."""
        current = before = self.value
        layers: list[Layer | None] = [None] if self._optional else []
        layers += self._candidates()
        self.blockSignals(True)
        try:
            self.clear()
            self._layers = layers
            for layer in layers:
                self.addItem("(none)" if layer is None else layer.name)
            if current is None and inserted is not None and inserted in layers:
                current = inserted if not self._optional else None
            if current in layers:
                self.setCurrentIndex(layers.index(current))
            elif layers:
                self.setCurrentIndex(0)
        finally:
            self.blockSignals(False)
        if self.value is not before:
            self.layer_changed.emit(self.value)

    @property
    def value(self) -> Layer | None:
        """The chosen layer (``None`` when nothing or "(none)" is chosen)."""
        i = self.currentIndex()
        if 0 <= i < len(self._layers):
            return self._layers[i]
        return None

    @value.setter
    def value(self, layer: Layer | None) -> None:
        if layer in self._layers:
            self.setCurrentIndex(self._layers.index(layer))
        else:
            raise IvaeError(f"layer {getattr(layer, 'name', layer)!r} is not offered here")


class LayerChecklist(QListWidget):
    """A checkable list of the viewer's layers of one type (multi-select, ordered).

    Check states survive refreshes.  Until the user (or code, through
    :attr:`value`) sets them, the checked layers follow ``default(layers)``
    whenever layers come or go (e.g. a file is opened after the widget); without
    ``default`` the first layer is checked.
    """

    changed = Signal()

    def __init__(
        self,
        viewer: Any,
        layer_type: type | tuple[type, ...],
        *,
        accept: Callable[[Layer], bool] | None = None,
        default: Callable[[list[Layer]], list[Layer]] | None = None,
        parent: Any = None,
    ):
        super().__init__(parent)
        self._viewer = viewer
        self._type = layer_type
        self._accept = accept
        self._default = default
        self._layers: list[Layer] = []
        self._checked: list[Layer] = []
        self._started = False
        self.user_set = False  # checks chosen by hand: defaults no longer apply
        self.itemChanged.connect(self._on_item_changed)
        connect_viewer(viewer, self)
        self.refresh()

    def refresh(self, *_args: Any, inserted: Layer | None = None) -> None:
        """Rebuild the list, keeping check states by layer identity."""
        layers = [
            layer
            for layer in self._viewer.layers
            if isinstance(layer, self._type) and (self._accept is None or self._accept(layer))
        ]
        checked = [layer for layer in self._checked if layer in layers]
        if self._default is not None and not self.user_set:
            checked = [layer for layer in self._default(layers) if layer in layers]
        elif not checked and layers and (inserted in layers or not self._started):
            checked = [inserted if inserted in layers else layers[0]]
        self._started = True
        self.blockSignals(True)
        try:
            self.clear()
            self._layers = layers
            for layer in layers:
                item = QListWidgetItem(layer.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(
                    Qt.CheckState.Checked if layer in checked else Qt.CheckState.Unchecked
                )
                self.addItem(item)
        finally:
            self.blockSignals(False)
        self._checked = checked
        rows = min(max(len(layers), 2), 6)  # show up to six layers without scrolling
        row_h = self.sizeHintForRow(0) if len(layers) else self.fontMetrics().height() + 4
        self.setFixedHeight(rows * max(row_h, 16) + 2 * self.frameWidth() + 2)
        self.changed.emit()

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self.user_set = True
        self._checked = [
            layer
            for i, layer in enumerate(self._layers)
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]
        self.changed.emit()

    @property
    def value(self) -> list[Layer]:
        """The checked layers, in the list's order."""
        return [layer for layer in self._layers if layer in self._checked]

    @value.setter
    def value(self, layers: list[Layer]) -> None:
        self._checked = list(layers)
        self.user_set = True
        self.refresh()


def show_labels(viewer: Any, data: Any, *, name: str, colors: dict, like: Layer) -> Any:
    """Add a Labels layer ``name`` drawn in ``colors`` and placed as ``like``, or update it.

    ``colors`` maps label values to colours; 0 (and unlisted values) are
    transparent.  An existing layer of that name gets the new data and colours.
    """
    from napari.utils.colormaps import DirectLabelColormap

    cmap = DirectLabelColormap(color_dict={0: "transparent", None: "transparent", **colors})
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        layer.colormap = cmap
        return layer
    return viewer.add_labels(
        data,
        name=name,
        scale=tuple(like.scale),
        translate=tuple(like.translate),
        units=tuple(like.units),
        colormap=cmap,
        opacity=0.9,
    )
