"""Shared adapters of the dock widgets.

* :class:`LayerCombo` / :class:`LayerChecklist`: layer choosers that follow the
  viewer (layers added, removed, moved or renamed).
* :func:`notify_errors`: turns user mistakes (:class:`~napari_ivae.IvaeError`,
  ``ValueError``) into a plain napari notification instead of a traceback.
* :func:`guarded` / :class:`UserError`: run core calls inside a worker thread and
  hand user mistakes back as values (napari would otherwise show the traceback).
* :func:`points_table`, :func:`add_points_table`, :func:`set_features`: the
  marshalling between pandas tables and Points layers (:func:`join_latent` is
  :func:`napari_ivae.latent.join_latent`).
* :class:`StatusLabel`: the one-line status of a widget (wraps, full text as
  tooltip, errors in red until the next action); :func:`scroll_layout`: a
  widget's content in a scroll area, so docked panels never overlap.
"""

from __future__ import annotations

import contextlib
import re
import warnings
import weakref
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from napari.layers import Image, Layer, Points
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from napari_ivae._errors import IvaeError
from napari_ivae.latent import LATENT_COLUMN, join_latent  # the core data path, re-exported

GALLERY_KEY = "ivae_gallery_of"
"""Metadata key marking a crop-gallery image layer (value: name of the points layer)."""


def is_source_image(layer: Layer) -> bool:
    """Whether an image layer is a real image (not a gallery of crops made by the plugin)."""
    return GALLERY_KEY not in layer.metadata


def is_data_points(layer: Layer) -> bool:
    """Whether a points layer holds data (not the explorer's selection highlight)."""
    return "ivae_highlight_of" not in layer.metadata


class _Bus(QObject):
    """Process-wide signals between the dock widgets (they never hold each other)."""

    stack_changed = Signal(object)  # the Points layer whose Stack was (re)made


_BUS: _Bus | None = None


def bus() -> _Bus:
    """The shared :class:`_Bus` (created on first use, in the GUI thread)."""
    global _BUS
    if _BUS is None:
        _BUS = _Bus()
    return _BUS


__all__ = [
    "GALLERY_KEY",
    "LATENT_COLUMN",
    "LayerChecklist",
    "LayerCombo",
    "Outcome",
    "StatusLabel",
    "UserError",
    "add_points_table",
    "bus",
    "guarded",
    "guarded_gen",
    "image_array",
    "is_data_points",
    "is_source_image",
    "join_latent",
    "notify_errors",
    "point_size",
    "points_table",
    "report",
    "scroll_layout",
    "set_features",
    "show_error",
    "show_info",
    "show_warning",
    "stop_worker_on_destroy",
]


# --------------------------------------------------------------------------- status / layout
_SOFT_BREAK = re.compile(r"([/\\_.:,=-])(?=\S)")


class StatusLabel(QLabel):
    """The status line of a dock widget.

    Wraps (long paths and names too: soft breaks after ``/``, ``_``, ``.`` ...),
    keeps the full text as its tooltip and selectable, and shows errors in red.
    An error stays until :meth:`clear_error` (called when the next action
    starts) or the next :meth:`set_message`.
    """

    _COLORS: ClassVar[dict[str, str]] = {"error": "#ff7070", "warning": "#f0c040", "info": ""}

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._plain = ""
        self.kind = "info"
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        # an explicit minimum: Qt's would be the text wrapped at 60 px (a tall column
        # that keeps the panel from shrinking); the layout gives it the height the
        # text needs at the width it really has
        self.setMinimumSize(60, self.fontMetrics().lineSpacing())

    def set_message(self, text: str, kind: str = "info") -> None:
        """Show ``text``; ``kind`` is ``"info"``, ``"warning"`` or ``"error"``."""
        self._plain = str(text)
        self.kind = kind if text else "info"
        words = [
            _SOFT_BREAK.sub("\\1\u200b", w) if len(w) > 20 else w for w in self._plain.split(" ")
        ]
        super().setText(" ".join(words))
        self.setToolTip(self._plain)
        color = self._COLORS.get(self.kind, "")
        self.setStyleSheet(f"color:{color};" if color else "")

    def setText(self, text: str) -> None:
        """Plain-info message (Qt's name, so existing callers keep working)."""
        self.set_message(text)

    def text(self) -> str:
        """The message as given (without the soft breaks)."""
        return self._plain

    def set_error(self, text: str) -> None:
        """Show an error message (red, until the next action or message)."""
        self.set_message(text, "error")

    def clear_error(self) -> None:
        """Remove the message if it is an error or a warning (an action starts)."""
        if self.kind != "info":
            self.set_message("")


class _VerticalScrollArea(QScrollArea):
    """A scroll area that scrolls only vertically: as wide as its content, any height.

    Its size hint is the content's, so a dock shares the window's height among
    panels by what they hold; its minimum height is small, so panels never
    overlap; its minimum width is the content's, so nothing is cut at the side.
    """

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def eventFilter(self, obj: Any, event: Any) -> bool:
        from qtpy.QtCore import QEvent

        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content changed size: so does the hint
        return super().eventFilter(obj, event)

    def sizeHint(self) -> Any:
        content = self.widget()
        if content is None:
            return super().sizeHint()
        hint = content.sizeHint()
        width = self.viewport().width()
        if width > 0 and content.hasHeightForWidth():
            # wrapped status lines: the height the content needs at the width it has
            hint.setHeight(max(hint.height(), content.heightForWidth(width)))
        hint.setWidth(hint.width() + self._bar())
        hint.setHeight(hint.height() + 2 * self.frameWidth() + 2)  # no scroll bar when it fits
        return hint

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.updateGeometry()  # a new width: wrapped text needs another height

    def minimumSizeHint(self) -> Any:
        hint = super().minimumSizeHint()
        if self.widget() is not None:
            hint.setWidth(self.widget().minimumSizeHint().width() + self._bar())
        hint.setHeight(min(hint.height(), 80))
        return hint


def scroll_layout(widget: QWidget, *, margins: int = 4, grow: bool = False) -> QVBoxLayout:
    """Give ``widget`` a (vertical) scroll area and return the layout to fill inside it.

    Docked in napari beside other panels, a widget then never asks for more
    height than the window has (panels would overlap or be cut); when there is
    too little room a vertical scroll bar appears instead.  Without ``grow``
    the widget takes no more height than its content needs, leaving the rest
    of the dock to panels that ``grow`` (the explorer's plot).
    """
    if not grow:  # at most the content's height (napari adds no stretch: the area expands)
        widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    area = _VerticalScrollArea(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    inner = QWidget()
    area.setWidget(inner)
    inner.installEventFilter(area)
    outer.addWidget(area)
    layout = QVBoxLayout(inner)
    layout.setContentsMargins(margins, margins, margins, margins)
    widget.scroll_area = area
    return layout


# --------------------------------------------------------------------------- errors
def _message(err: BaseException) -> str:
    text = str(err).strip()
    if not text:
        text = type(err).__name__
    return text


@contextlib.contextmanager
def notify_errors(what: str | None = None, status: StatusLabel | None = None) -> Iterator[None]:
    """Show user mistakes as a napari error notification, without a traceback.

    Works as a context manager (``with notify_errors("Crop"): ...``) and as a
    decorator (``@notify_errors()``).  :class:`~napari_ivae.IvaeError` and
    ``ValueError`` are swallowed and shown with their plain message (prefixed
    with ``what``); anything else is a bug and propagates.

    Parameters
    ----------
    what : str, optional
        Short name of the action, e.g. ``"Crop"``, shown before the message.
    status : StatusLabel, optional
        The widget's status line: the message is shown there too, in full.
    """
    try:
        yield
    except (IvaeError, ValueError) as err:
        prefix = f"{what}: " if what else ""
        show_error(prefix + _message(err))
        if status is not None:
            status.set_error(_message(err))


@dataclass(frozen=True)
class UserError:
    """A user mistake caught inside a worker thread, returned as a value."""

    message: str


@dataclass(frozen=True)
class Outcome:
    """What a :func:`guarded` call gives back: a value, or a user error; and warnings."""

    value: Any = None
    error: UserError | None = None
    warnings: tuple[str, ...] = ()


def guarded(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Call ``func`` in a worker thread; hand back user mistakes and warnings as values.

    Used as the body of napari function workers: an
    :class:`~napari_ivae.IvaeError` (or ``ValueError``) and the warnings the core
    issues (e.g. "no wall found") reach the GUI thread as plain values, shown by
    :func:`report` as notifications without a traceback.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = func(*args, **kwargs)
        except (IvaeError, ValueError) as err:
            value, error = None, UserError(_message(err))
        else:
            error = None
    seen: list[str] = []
    for w in caught:
        text = str(w.message).strip()
        if text and text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.append(text)
    return Outcome(value, error, tuple(seen))


def guarded_gen(gen: Generator) -> Generator:
    """Generator version of :func:`guarded`: ``return (yield from gen)``, or a UserError."""
    try:
        return (yield from gen)
    except (IvaeError, ValueError) as err:
        return UserError(_message(err))


def report(result: Any, what: str | None = None, status: StatusLabel | None = None) -> bool:
    """Show a :class:`UserError` (or an :class:`Outcome`'s error and warnings).

    With ``status``, the error is also shown, in full, in the widget's status line.
    Returns whether there was an error.
    """
    prefix = f"{what}: " if what else ""
    if isinstance(result, Outcome):
        for text in result.warnings:
            show_warning(prefix + text)
        result = result.error
    if isinstance(result, UserError):
        show_error(prefix + result.message)
        if status is not None:
            status.set_error(result.message)
        return True
    return False


def stop_worker_on_destroy(widget: Any, attr: str = "worker") -> None:
    """Quit ``widget.<attr>`` (a napari worker) when the widget is destroyed.

    Closing the viewer destroys its dock widgets; a running worker then stops at
    its next yield.  Signals connected to the widget's bound methods are
    disconnected by Qt automatically, so nothing touches the deleted widget.
    """
    holder = {"w": widget}

    def _quit(*_args: Any) -> None:
        worker = getattr(holder.pop("w", None), attr, None)
        if worker is not None:
            with contextlib.suppress(RuntimeError):
                worker.quit()

    widget.destroyed.connect(_quit)


# --------------------------------------------------------------------------- layer choosers
def _connect_viewer(viewer: Any, widget: Any) -> None:
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
        _connect_viewer(viewer, self)
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
        _connect_viewer(viewer, self)
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


# --------------------------------------------------------------------------- tables <-> layers
def scale_bar(viewer: Any) -> Any:
    """The viewer's scale-bar overlay (``viewer.canvas.overlays.scale_bar`` from napari 0.9;
    ``viewer.scale_bar``, deprecated there, before)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    if overlays is not None and "scale_bar" in overlays:
        return overlays["scale_bar"]
    return viewer.scale_bar


def image_array(layer: Image | None, role: str = "image") -> Any:
    """The pixel array of an image layer (full resolution), or an IvaeError."""
    if layer is None:
        raise IvaeError(f"no {role} layer chosen; open an image or pick one in the list")
    if not isinstance(layer, Image):
        raise IvaeError(f"layer {layer.name!r} is not an image layer")
    if layer.rgb:
        raise IvaeError(
            f"layer {layer.name!r} is an RGB image; use a single-channel (grayscale) image"
        )
    data = layer.data[0] if layer.multiscale else layer.data
    return data


#: Smallest marker on screen (napari ``canvas_size_limits``), in screen pixels.
MIN_SCREEN_SIZE = 3.0


def point_size(
    yx: np.ndarray,
    default: float = 3.0,
    *,
    image_shape: tuple[int, ...] | None = None,
    walls: bool = False,
) -> float:
    """Marker size in image pixels, readable at the zoom that shows the whole image.

    A third of the median nearest-neighbour distance, and at least about 1 % of
    the image side (``image_shape``): for atoms no more than 0.6 of the spacing
    (markers never merge); wall points, a stride apart along a line, may
    touch.  On screen napari keeps markers at least :data:`MIN_SCREEN_SIZE` px
    (``canvas_size_limits``, set by :func:`add_points_table`).
    """
    yx = np.asarray(yx, dtype=float)
    side = float(min(image_shape[-2:])) if image_shape is not None else 0.0
    floor = 0.01 * side
    if len(yx) < 2:
        return max(default, floor)
    from scipy.spatial import cKDTree

    sample = yx[:: max(1, len(yx) // 5000)]
    d, _ = cKDTree(yx).query(sample, k=2)
    nn = float(np.median(d[:, 1]))
    if not np.isfinite(nn) or nn <= 0:
        return max(default, floor)
    size = nn / 3.0
    if walls:
        size = max(size, floor, 1.5)
    else:
        size = max(size, min(floor, 0.6 * nn))
    return float(max(size, 1.0))


def add_points_table(
    viewer: Any,
    table: pd.DataFrame,
    *,
    image_layer: Image,
    name: str,
    face_color: str = "yellow",
    replace: bool = True,
) -> Points:
    """Show a points table (``y, x`` [, ``frame``] in image pixels) as a Points layer.

    The layer gets the image's ``scale``, ``translate`` and ``units``, so the
    points sit on the image; ``features`` hold the whole table.  Markers are
    sized by the image and the spacing (:func:`point_size`; wall points when
    the table has an ``orientation`` column).  An existing layer of the same
    name is replaced in place (re-running a detection does not pile up layers).
    """
    table = table.reset_index(drop=True)
    ndim = image_layer.ndim
    yx = table[["y", "x"]].to_numpy(dtype=float)
    if ndim >= 3:
        frame = (
            table["frame"].to_numpy(dtype=float)
            if "frame" in table
            else np.zeros(len(table), dtype=float)
        )
        lead = np.zeros((len(table), ndim - 2), dtype=float)
        lead[:, -1] = frame
        coords = np.column_stack([lead, yx])
    else:
        coords = yx
    shape = image_layer.data[0].shape if image_layer.multiscale else image_layer.data.shape
    kwargs = dict(
        features=table,
        name=name,
        size=point_size(yx, image_shape=shape, walls="orientation" in table.columns),
        canvas_size_limits=(MIN_SCREEN_SIZE, 10000.0),
        face_color=face_color,
        border_width=0,
        scale=tuple(image_layer.scale),
        translate=tuple(image_layer.translate),
        units=tuple(image_layer.units),
        ndim=ndim,
    )
    old = viewer.layers[name] if (replace and name in viewer.layers) else None
    layer = Points(coords, **kwargs)
    if old is not None:
        pos = viewer.layers.index(old)
        viewer.layers.remove(old)
        viewer.layers.insert(pos, layer)
    else:
        viewer.layers.append(layer)
    return layer


def points_table(points: Points, image: Image | None = None) -> pd.DataFrame:
    """The points' positions as ``y, x, frame`` in the image's pixel coordinates.

    Positions come from the layer's data (so points moved or added by hand count),
    mapped through both layers' ``scale``/``translate`` when they differ.
    """
    if points is None:
        raise IvaeError("no points layer chosen; run Detect or pick a points layer")
    data = np.asarray(points.data, dtype=float)
    if data.ndim != 2 or data.shape[1] < 2:
        raise IvaeError(f"points layer {points.name!r} has no 2-D positions")
    if image is not None:
        world = data * np.asarray(points.scale) + np.asarray(points.translate)
        k = min(world.shape[1], image.ndim)
        scale = np.asarray(image.scale)[-k:]
        translate = np.asarray(image.translate)[-k:]
        data = (world[:, -k:] - translate) / scale
    table = pd.DataFrame({"y": data[:, -2], "x": data[:, -1]})
    if data.shape[1] >= 3:
        table["frame"] = np.rint(data[:, -3]).astype(np.int64)
    else:
        table["frame"] = np.zeros(len(data), dtype=np.int64)
    return table


def set_features(points: Points, table: pd.DataFrame) -> None:
    """Replace the features of ``points`` with ``table`` (same number of rows)."""
    if len(table) != len(points.data):
        raise IvaeError(
            f"the table has {len(table)} rows but layer {points.name!r} has {len(points.data)} points"
        )
    points.features = table.reset_index(drop=True)
