"""The session format: names, versions, which layer attributes are kept, and how.

Shared by the writer (``_write``) and the reader (``_read``); see ``docs/session.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.record import LEGACY_KEYS, RECORD_KEY, PointsRecord, migrate_legacy

FORMAT = "napari-ivae-session"
"""Value of ``format`` in ``session.json``."""
VERSION = 2
"""Session format version written."""
READ_VERSIONS: tuple[int, ...] = (1, 2)
"""Session format versions read (1: the record's fields as separate metadata keys)."""
SUFFIX = ".ivaesession"
"""File suffix of sessions."""
LAYER_TYPES: tuple[str, ...] = ("image", "points", "labels")
"""Layer types a session holds."""

#: Metadata keys marking layers that are views made by the widgets (the explorer's
#: selection overlay, crop galleries): not saved, they are made again from the data.
#: Same strings as ``HIGHLIGHT_KEY`` / ``GALLERY_KEY`` in ``napari_ivae._qt``.
VIEW_KEYS: tuple[str, ...] = ("ivae_highlight_of", "ivae_gallery_of")

_COMMON = (
    "name",
    "scale",
    "translate",
    "rotate",
    "shear",
    "affine",
    "units",
    "axis_labels",
    "opacity",
    "visible",
    "blending",
)
_ATTRS: dict[str, tuple[str, ...]] = {
    "image": (
        *_COMMON,
        "rgb",
        "multiscale",
        "colormap",
        "contrast_limits",
        "gamma",
        "interpolation2d",
    ),
    "points": (
        *_COMMON,
        "ndim",
        "size",
        "face_color",
        "border_color",
        "border_width",
        "border_width_is_relative",
        "symbol",
    ),
    "labels": (*_COMMON, "multiscale", "colormap"),
}
_JSON_NAME = "session.json"
#: Fields of a PointsRecord stored in a session, and the types they decode to.
_RECORD_FIELDS: tuple[str, ...] = (
    "task",
    "image",
    "detection",
    "stack",
    "model",
    "history",
    "train_config",
    "classes",
    "labels",
)
_RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "task": str,
    "image": str,
    "detection": dict,
    "history": list,
    "train_config": dict,
    "classes": dict,
    "labels": np.ndarray,
}


# --------------------------------------------------------------------------- helpers
def is_view_layer(layer: Any) -> bool:
    """Whether a layer is a view made by the widgets (not saved in a session).

    Parameters
    ----------
    layer : LayerData tuple, or anything with a ``metadata`` dict (a napari Layer)
        The layer.

    Returns
    -------
    bool
        True for the explorer's selection overlay and crop galleries.
    """
    meta = getattr(layer, "metadata", None)
    if not isinstance(meta, Mapping):
        meta = _as_tuple(layer)[1].get("metadata") or {}
    return any(key in meta for key in VIEW_KEYS)


def _as_tuple(layer: Any) -> tuple[Any, dict, str]:
    if hasattr(layer, "as_layer_data_tuple"):
        layer = layer.as_layer_data_tuple()
    try:
        data, attrs, kind = layer
    except (TypeError, ValueError) as err:
        raise IvaeError(
            f"layers must be napari layers or (data, attributes, type) tuples; got {type(layer).__name__}"
        ) from err
    return data, dict(attrs or {}), str(kind)


def _is_model(value: Any) -> bool:
    return hasattr(value, "state_dict") and hasattr(value, "config") and callable(value.state_dict)


def _is_stack(value: Any) -> bool:
    from napari_ivae.crop import Stack

    return isinstance(value, Stack)


class _Skip:
    """Marker of a value that cannot be stored (dropped with a warning)."""


_SKIP = _Skip()


def _current_metadata(meta: Any) -> dict:
    """A copy of a layer's metadata with version-1 keys folded into its record.

    The live record is not changed: a copy (sharing stack and model) takes the keys.
    """
    meta = dict(meta or {})
    if any(key in LEGACY_KEYS for key in meta):
        if isinstance(meta.get(RECORD_KEY), PointsRecord):
            meta[RECORD_KEY] = meta[RECORD_KEY].copy()
        migrate_legacy(meta)
    return meta


def _object_strings(arr: np.ndarray) -> np.ndarray | None:
    """An object array of ``str`` as a unicode array, else None."""
    flat = arr.ravel()
    if not all(isinstance(v, str) for v in flat):
        return None
    return np.asarray(flat.tolist(), dtype=str).reshape(arr.shape)


def _plain_attrs(kind: str, attrs: dict) -> dict:
    """The attributes kept in a session, in a form the encoder understands."""
    out: dict[str, Any] = {}
    for key in _ATTRS[kind]:
        if key not in attrs or attrs[key] is None:
            continue
        value = attrs[key]
        if key == "units":
            value = [str(u) for u in value] if isinstance(value, (list, tuple)) else str(value)
        elif key in ("scale", "translate", "rotate", "shear", "affine", "contrast_limits"):
            value = np.asarray(value, dtype=float).tolist()
        elif key == "axis_labels":
            value = [str(v) for v in value]
        elif key == "colormap":
            value = _colormap(kind, value)
            if value is None:
                continue
        elif kind == "points" and key in ("size", "border_width", "face_color", "border_color"):
            value = np.asarray(value, dtype=float)
            if value.ndim == 0:  # one number (what load_session gives back)
                value = float(value)
            elif len(value) and (value == value[:1]).all():
                value = value[0].tolist()  # one value for all points
        elif key == "symbol":
            names = [str(getattr(s, "value", s)) for s in np.atleast_1d(np.asarray(value))]
            if not names:
                continue
            value = names[0] if len(set(names)) == 1 else np.asarray(names, dtype=str)
        out[key] = value
    return out


def _colormap(kind: str, cmap: Any) -> Any:
    """Colormap as JSON-able values: image colormap dict, or labels colour dict."""
    if kind == "labels":
        colors = cmap if isinstance(cmap, dict) else getattr(cmap, "color_dict", None)
        if colors is None:  # the default cyclic label colormap: nothing to keep
            return None
        return {
            k: v if isinstance(v, str) else np.asarray(v, dtype=float).ravel().tolist()
            for k, v in colors.items()
        }
    if isinstance(cmap, str):
        return cmap
    if isinstance(cmap, dict):
        name, colors = cmap.get("name"), cmap.get("colors")
        controls, interp = cmap.get("controls"), cmap.get("interpolation")
    else:
        name, colors = getattr(cmap, "name", None), getattr(cmap, "colors", None)
        controls, interp = getattr(cmap, "controls", None), getattr(cmap, "interpolation", None)
    if colors is None:
        return None if name is None else str(name)
    colors = np.asarray(getattr(colors, "rgba", colors), dtype=float)
    out: dict[str, Any] = {"name": str(name), "colors": colors.tolist()}
    if controls is not None:
        out["controls"] = np.asarray(controls, dtype=float).tolist()
    if interp is not None:
        out["interpolation"] = str(getattr(interp, "value", interp))
    return out
