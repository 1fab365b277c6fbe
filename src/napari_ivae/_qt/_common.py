"""Shared adapters of the dock widgets.

* :class:`LayerCombo` / :class:`LayerChecklist` (from :mod:`._layers`): layer
  choosers that follow the viewer (layers added, removed, moved or renamed).
* :func:`notify_errors`: turns user mistakes (:class:`~napari_ivae.IvaeError`,
  ``ValueError``) into a plain napari notification instead of a traceback.
* :func:`guarded` / :class:`UserError`: run core calls inside a worker thread and
  hand user mistakes back as values (napari would otherwise show the traceback).
* :func:`points_table`, :func:`add_points_table`, :func:`set_features`: the
  marshalling between pandas tables and Points layers (:func:`join_latent` is
  :func:`napari_ivae.latent.join_latent`).
* :class:`StatusLabel` and :func:`scroll_layout` (from :mod:`._status`): the
  status line of a widget and its content in a scroll area.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Layer, Points
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal

from napari_ivae._errors import IvaeError
from napari_ivae._qt._layers import LayerChecklist, LayerCombo
from napari_ivae._qt._status import StatusLabel, scroll_layout
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
