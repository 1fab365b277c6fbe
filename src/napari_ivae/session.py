"""Sessions: save the layers of a viewer (with their live objects) in one file, reopen them.

A session file (suffix ``.ivaesession``) is a zip archive holding ``session.json``
(format name, version, the layers in order with their attributes and metadata)
and the binary members it refers to: ``.npy`` arrays, ``.npz`` stacks
(:meth:`napari_ivae.crop.Stack.save`) and ``.ivae`` model checkpoints
(:func:`napari_ivae.train.save_model`).  Nothing in it is pickled: arrays load
with ``allow_pickle=False`` and models with ``weights_only=True``.  The format is
described in ``docs/session.md``.

Works on napari ``LayerData`` tuples ``(data, attributes, layer_type)`` (what
``layer.as_layer_data_tuple()`` gives and what readers return), so it runs
without napari or Qt; napari ``Layer`` objects are accepted too.

Example
-------
>>> save_session("work.ivaesession", viewer.layers)  # doctest: +SKIP
>>> for data, attrs, kind in load_session("work.ivaesession"):  # doctest: +SKIP
...     viewer.add_layer(napari.layers.Layer.create(data, attrs, kind))
"""

from __future__ import annotations

import enum
import io
import json
import math
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError
from napari_ivae.record import LEGACY_KEYS, RECORD_KEY, PointsRecord, migrate_legacy

__all__ = [
    "FORMAT",
    "READ_VERSIONS",
    "SUFFIX",
    "VERSION",
    "is_view_layer",
    "load_session",
    "read_session",
    "save_session",
    "write_session",
]

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


# --------------------------------------------------------------------------- writing
class _Writer:
    """Encodes values into JSON, writing binary members into the zip as it goes."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        self.zf = zf
        self.path = path
        self.stacks: dict[int, str] = {}
        self.models: dict[int, str] = {}
        self._keep: list[Any] = []  # objects whose id() is used as a key stay alive

    def array(self, arr: np.ndarray, member: str) -> dict:
        arr = np.asarray(arr)
        ref: dict[str, Any] = {"$array": member}
        if arr.dtype == object:
            strings = _object_strings(arr)
            if strings is None:
                return _SKIP  # type: ignore[return-value]
            arr, ref["object"] = strings, True
        with self.zf.open(member, "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
        return ref

    def file(self, member: str, write) -> None:
        with tempfile.TemporaryDirectory(prefix="ivae-session-") as tmp:
            target = Path(tmp) / Path(member).name
            write(target)
            self.zf.write(target, member, compress_type=zipfile.ZIP_STORED)

    def stack(self, stack: Any) -> dict:
        key = id(stack)
        if key not in self.stacks:
            member = f"stacks/{len(self.stacks)}.npz"
            self.file(member, stack.save)
            self.stacks[key] = member
            self._keep.append(stack)
        return {"$stack": self.stacks[key]}

    def model(self, model: Any, history: Any = None) -> dict:
        key = id(model)
        if key not in self.models:
            from napari_ivae.train import save_model

            member = f"models/{len(self.models)}.ivae"
            hist = history if isinstance(history, list) else []
            self.file(member, lambda p: save_model(p, model, hist))
            self.models[key] = member
            self._keep.append(model)
        return {"$model": self.models[key]}

    def record(self, record: PointsRecord, member: str, where: str) -> dict:
        """``{"$record": {field: value}}``; the model is saved with the record's history."""
        out: dict[str, Any] = {}
        for name in _RECORD_FIELDS:
            value = getattr(record, name)
            if name == "model" and value is not None:
                enc = self.model(value, record.history)
            else:
                enc = self.encode(value, f"{member}.{name}", where)
            if enc is _SKIP:
                warnings.warn(
                    f"{where}: record field {name!r} ({type(value).__name__}) cannot be stored "
                    "in a session and was left out",
                    stacklevel=5,
                )
                continue
            out[name] = enc
        return {"$record": out}

    def table(self, df: pd.DataFrame, prefix: str, where: str) -> dict:
        columns = []
        for j, name in enumerate(df.columns):
            col = df[name]
            entry: dict[str, Any] = {"name": self.encode(name, f"{prefix}/name", where)}
            member = f"{prefix}/{j}"
            dtype = col.dtype
            if isinstance(dtype, pd.CategoricalDtype):
                cats = np.asarray(dtype.categories)
                cref = self.array(cats, f"{member}.categories.npy")
                if cref is _SKIP:
                    col = col.astype(object)
                    warnings.warn(
                        f"{where}: categories of column {name!r} are stored as text", stacklevel=3
                    )
                else:
                    entry.update(
                        kind="categorical",
                        codes=self.array(col.cat.codes.to_numpy(), f"{member}.npy"),
                        categories=cref,
                        ordered=bool(dtype.ordered),
                    )
                    columns.append(entry)
                    continue
            if isinstance(dtype, np.dtype) and dtype.kind != "O":
                entry.update(kind="array", data=self.array(col.to_numpy(), f"{member}.npy"))
            elif isinstance(dtype, pd.StringDtype) or dtype.kind == "O":
                missing = col.isna().to_numpy()
                values = col.to_numpy(dtype=object, na_value="")
                if not all(isinstance(v, str) for v in values):
                    warnings.warn(
                        f"{where}: column {name!r} holds Python objects; stored as text",
                        stacklevel=3,
                    )
                text = np.asarray([str(v) for v in values], dtype=str)
                entry.update(
                    kind="string",
                    dtype=str(dtype) if isinstance(dtype, pd.StringDtype) else "object",
                    data=self.array(text, f"{member}.npy"),
                    missing=self.array(missing, f"{member}.missing.npy") if missing.any() else None,
                )
            else:  # nullable extension dtypes (Int64, Float64, boolean)
                try:
                    numpy_dtype = np.dtype(dtype.numpy_dtype)
                    values = col.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0))
                except (AttributeError, TypeError, ValueError):
                    warnings.warn(
                        f"{where}: column {name!r} of type {dtype} is stored as text", stacklevel=3
                    )
                    text = np.asarray([str(v) for v in col.to_numpy(dtype=object)], dtype=str)
                    entry.update(
                        kind="string",
                        dtype="object",
                        data=self.array(text, f"{member}.npy"),
                        missing=None,
                    )
                else:
                    missing = col.isna().to_numpy()
                    entry.update(
                        kind="masked",
                        dtype=str(dtype),
                        data=self.array(values, f"{member}.npy"),
                        missing=self.array(missing, f"{member}.missing.npy"),
                    )
            columns.append(entry)
        return {"$table": {"rows": len(df), "columns": columns}}

    def encode(self, value: Any, member: str, where: str) -> Any:
        """JSON form of ``value``; binary parts become members under ``member``."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (np.bool_,)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and not isinstance(value, enum.Enum):
            return int(value)
        if isinstance(value, (float, np.floating)):
            value = float(value)
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, enum.Enum):
            return self.encode(value.value, member, where)
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{member}.{i}", where) for i, v in enumerate(value)]
            items = [None if v is _SKIP else v for v in items]
            return {"$tuple": items} if isinstance(value, tuple) else items
        if isinstance(value, dict):
            return self.mapping(value, member, where)
        if isinstance(value, np.ndarray):
            if value.ndim == 0 and value.dtype != object:
                return self.encode(value.item(), member, where)
            return self.array(value, f"{member}.npy")
        if isinstance(value, pd.DataFrame):
            return self.table(value, member, where)
        if isinstance(value, PointsRecord):
            return self.record(value, member, where)
        if _is_stack(value):
            return self.stack(value)
        if _is_model(value):
            return self.model(value)
        return _SKIP

    def mapping(self, value: dict, member: str, where: str) -> dict:
        plain = all(isinstance(k, str) and not k.startswith("$") for k in value)
        out: dict[str, Any] = {}
        items: list[list[Any]] = []
        for i, (k, v) in enumerate(value.items()):
            enc = self.encode(v, f"{member}/{i}", where)
            if enc is _SKIP:
                warnings.warn(
                    f"{where}: {k!r} ({type(v).__name__}) cannot be stored in a session and was "
                    "left out",
                    stacklevel=4,
                )
                continue
            if plain:
                out[k] = enc
            else:
                items.append([self.encode(k, f"{member}/{i}.key", where), enc])
        return out if plain else {"$items": items}


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


def save_session(path: str | os.PathLike, layers: Iterable[Any]) -> Path:
    """Write layers (with their Stack, model, classes and labels) to one session file.

    The file is written atomically: a failure leaves any previous file at
    ``path`` untouched.  Layers marked as views (see :func:`is_view_layer`) are
    left out; metadata values that cannot be stored are left out with a warning.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.ivaesession`` is appended when the suffix differs.
    layers : iterable of LayerData tuples or napari layers
        ``(data, attributes, layer_type)`` with ``layer_type`` one of
        ``"image"``, ``"points"``, ``"labels"``.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    IvaeError
        A layer of another type, no layer to save, or a write failure.
    """
    path = Path(path)
    if path.suffix.lower() != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    items = [_as_tuple(layer) for layer in layers]
    items = [item for item in items if not is_view_layer(item)]
    for _data, attrs, kind in items:
        if kind not in LAYER_TYPES:
            raise IvaeError(
                f"layer {attrs.get('name', '?')!r} is a {kind} layer; a session holds "
                f"{', '.join(LAYER_TYPES)} layers"
            )
    if not items:
        raise IvaeError(f"nothing to save in {str(path)!r}: no image, points or labels layer")

    def _write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            writer = _Writer(zf, path)
            entries = []
            for i, (data, attrs, kind) in enumerate(items):
                where = f"layer {attrs.get('name', i)!r}"
                prefix = f"layers/{i}"
                if isinstance(data, (list, tuple)) and attrs.get("multiscale"):
                    enc_data = [
                        writer.array(np.asarray(level), f"{prefix}/data{j}.npy")
                        for j, level in enumerate(data)
                    ]
                else:
                    enc_data = writer.array(np.asarray(data), f"{prefix}/data.npy")
                if enc_data is _SKIP or (isinstance(enc_data, list) and _SKIP in enc_data):
                    raise IvaeError(f"{where} holds Python objects instead of numbers")
                entry: dict[str, Any] = {
                    "type": kind,
                    "name": str(attrs.get("name", f"layer {i}")),
                    "data": enc_data,
                    "attributes": writer.mapping(
                        _plain_attrs(kind, attrs), prefix + "/attr", where
                    ),
                    "metadata": writer.mapping(
                        _current_metadata(attrs.get("metadata")), prefix + "/meta", where
                    ),
                }
                for key in ("features", "feature_defaults"):
                    df = attrs.get(key)
                    if isinstance(df, pd.DataFrame) and (len(df.columns) or key == "features"):
                        if kind == "labels" and not len(df.columns):
                            continue
                        entry[key] = writer.table(df, f"{prefix}/{key}", where)
                entries.append(entry)
            from napari_ivae import __version__

            doc = {
                "format": FORMAT,
                "version": VERSION,
                "written_by": f"napari-ivae {__version__}",
                "layers": entries,
            }
            text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False)
            zf.writestr(_JSON_NAME, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)

    try:
        return atomic_write(path, _write)
    except OSError as err:
        raise IvaeError(f"cannot write session {str(path)!r}: {err.strerror or err}") from err


def write_session(path: str, data: list[tuple[Any, dict, str]]) -> list[str]:
    """npe2 writer (File > Save Layers): :func:`save_session` of the chosen layers.

    Parameters
    ----------
    path : str
        Destination chosen by the user.
    data : list of LayerData tuples
        The layers.

    Returns
    -------
    list of str
        The written path.
    """
    return [str(save_session(path, data))]


# --------------------------------------------------------------------------- reading
class _Reader:
    """Decodes ``session.json`` values, reading members from the zip."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        self.zf = zf
        self.path = path
        self.objects: dict[str, Any] = {}

    def _fail(self, what: str) -> IvaeError:
        return IvaeError(f"session {str(self.path)!r} {what}")

    def member(self, name: Any) -> bytes:
        if not isinstance(name, str):
            raise self._fail(f"has a bad member reference {name!r}")
        try:
            return self.zf.read(name)
        except KeyError:
            raise self._fail(f"is missing member {name!r}") from None
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as err:
            raise self._fail(f"has a corrupt member {name!r} ({err})") from err

    def array(self, ref: dict) -> np.ndarray:
        name = ref.get("$array")
        raw = self.member(name)
        try:
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
        except ValueError as err:
            if "allow_pickle" in str(err) or "Object arrays" in str(err):
                raise self._fail(
                    f"member {name!r} holds pickled Python objects, which are refused for safety"
                ) from err
            raise self._fail(f"member {name!r} is not a readable .npy array ({err})") from err
        except (OSError, EOFError) as err:
            raise self._fail(f"member {name!r} is not a readable .npy array ({err})") from err
        if not isinstance(arr, np.ndarray):
            raise self._fail(f"member {name!r} is not a single .npy array")
        if ref.get("object"):
            arr = arr.astype(object)
        return arr

    def _temp(self, name: str, load):
        raw = self.member(name)
        with tempfile.TemporaryDirectory(prefix="ivae-session-") as tmp:
            target = Path(tmp) / Path(name).name
            target.write_bytes(raw)
            try:
                return load(target)
            except IvaeError as err:
                detail = str(err).replace(str(target), name)
                raise self._fail(f"member {name!r}: {detail}") from err

    def stack(self, name: str) -> Any:
        if name not in self.objects:
            from napari_ivae.crop import Stack

            self.objects[name] = self._temp(name, Stack.load)
        return self.objects[name]

    def model(self, name: str) -> Any:
        if name not in self.objects:
            from napari_ivae.train import load_model

            self.objects[name] = self._temp(name, lambda p: load_model(p)[0])
        return self.objects[name]

    def record(self, spec: Any) -> PointsRecord:
        if not isinstance(spec, dict):
            raise self._fail("has a malformed points record")
        values = {k: self.decode(v) for k, v in spec.items() if k in _RECORD_FIELDS}
        for name, want in _RECORD_TYPES.items():
            value = values.get(name)
            if value is not None and not isinstance(value, want):
                raise self._fail(f"has a points record whose {name!r} is a {type(value).__name__}")
        stack = values.get("stack")
        if stack is not None and not _is_stack(stack):
            raise self._fail("has a points record whose 'stack' is not a stack")
        model = values.get("model")
        if model is not None and not _is_model(model):
            raise self._fail("has a points record whose 'model' is not a model")
        record = PointsRecord(**{k: v for k, v in values.items() if v is not None})
        if record.labels is not None:
            record.labels = np.asarray(record.labels, dtype=object)
        return record

    def table(self, spec: dict) -> pd.DataFrame:
        if not isinstance(spec, dict) or not isinstance(spec.get("columns"), list):
            raise self._fail("has a malformed table description")
        n = spec.get("rows")
        cols: dict[Any, Any] = {}
        for entry in spec["columns"]:
            try:
                name = self.decode(entry["name"])
                kind = entry["kind"]
                if kind == "array":
                    values = self.array(entry["data"])
                elif kind == "categorical":
                    codes = self.array(entry["codes"])
                    cats = self.array(entry["categories"])
                    values = pd.Categorical.from_codes(
                        codes, categories=cats, ordered=bool(entry.get("ordered"))
                    )
                elif kind == "string":
                    values = self.array(entry["data"]).astype(object)
                    if entry.get("missing") is not None:
                        values[self.array(entry["missing"]).astype(bool)] = None
                    if entry.get("dtype", "object") != "object":
                        values = pd.array(values, dtype=entry["dtype"])
                elif kind == "masked":
                    data = self.array(entry["data"])
                    missing = self.array(entry["missing"]).astype(bool)
                    values = pd.array(data, dtype=entry["dtype"])
                    values[missing] = pd.NA
                else:
                    raise self._fail(f"has a table column of unknown kind {kind!r}")
            except (KeyError, TypeError) as err:
                raise self._fail(f"has a malformed table column ({err})") from err
            except ValueError as err:
                if isinstance(err, IvaeError):
                    raise
                raise self._fail(f"has an inconsistent table column ({err})") from err
            if n is not None and len(values) != n:
                raise self._fail(f"has a table column {name!r} of {len(values)} rows, not {n}")
            cols[name] = values
        return pd.DataFrame(cols, index=pd.RangeIndex(n if n is not None else 0))

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) >= 1:
            if "$array" in value:
                return self.array(value)
            if "$float" in value and len(value) == 1:
                try:
                    return float(value["$float"])
                except (TypeError, ValueError):
                    raise self._fail(f"has a bad number {value['$float']!r}") from None
            if "$tuple" in value and len(value) == 1:
                return tuple(self.decode(v) for v in value["$tuple"])
            if "$items" in value and len(value) == 1:
                try:
                    return {self.decode(k): self.decode(v) for k, v in value["$items"]}
                except (TypeError, ValueError):
                    raise self._fail("has a malformed mapping") from None
            if "$stack" in value and len(value) == 1:
                return self.stack(value["$stack"])
            if "$model" in value and len(value) == 1:
                return self.model(value["$model"])
            if "$table" in value and len(value) == 1:
                return self.table(value["$table"])
            if "$record" in value and len(value) == 1:
                return self.record(value["$record"])
            bad = [k for k in value if k.startswith("$")]
            if bad:
                raise self._fail(f"has an unknown reference {bad[0]!r}")
        return {k: self.decode(v) for k, v in value.items()}


def load_session(path: str | os.PathLike) -> list[tuple[Any, dict, str]]:
    """Read a session file into napari ``LayerData`` tuples, in the saved order.

    Each points layer's :class:`~napari_ivae.record.PointsRecord` comes back in
    its metadata under ``"ivae"`` with live objects (``stack``: a
    :class:`~napari_ivae.crop.Stack`, ``model``: the model in eval mode on the
    CPU), so the widgets work on a reopened session.  Version-1 files (the
    record's fields as separate metadata keys) are read into a record too.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.ivaesession`` file.

    Returns
    -------
    list of (data, attributes, layer_type)
        Ready for ``napari.layers.Layer.create(data, attributes, layer_type)``.

    Raises
    ------
    IvaeError
        Missing, corrupt or truncated file, another format or version, missing
        members, or members holding pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise IvaeError(f"session file {str(path)!r} does not exist")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as err:
        raise IvaeError(
            f"{str(path)!r} is not a readable napari-ivae session (not a complete zip archive: {err})"
        ) from err
    with zf:
        reader = _Reader(zf, path)
        if _JSON_NAME not in zf.namelist():
            raise reader._fail(f"has no {_JSON_NAME}; it is not a napari-ivae session")
        try:
            doc = json.loads(reader.member(_JSON_NAME).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise reader._fail(f"has an unreadable {_JSON_NAME} ({err})") from err
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise IvaeError(f"{str(path)!r} is not a napari-ivae session (format {FORMAT!r})")
        if doc.get("version") not in READ_VERSIONS:
            raise reader._fail(
                f"has session format version {doc.get('version')!r}; this napari-ivae reads "
                f"versions {', '.join(map(str, READ_VERSIONS))}"
            )
        entries = doc.get("layers")
        if not isinstance(entries, list):
            raise reader._fail(f"has no layer list in {_JSON_NAME}")
        out = []
        for i, entry in enumerate(entries):
            try:
                out.append(_load_layer(reader, entry))
            except IvaeError:
                raise
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise reader._fail(
                    f"has a malformed layer {i} ({type(err).__name__}: {err})"
                ) from err
        return out


def _load_layer(reader: _Reader, entry: dict) -> tuple[Any, dict, str]:
    kind = entry["type"]
    if kind not in LAYER_TYPES:
        raise reader._fail(f"has a layer of unknown type {kind!r}")
    data = reader.decode(entry["data"])
    attrs = reader.decode(entry.get("attributes") or {})
    attrs = {k: v for k, v in attrs.items() if k in _ATTRS[kind]}
    for key in ("scale", "translate", "units", "axis_labels", "contrast_limits"):
        if isinstance(attrs.get(key), list):
            attrs[key] = tuple(attrs[key])
    attrs["name"] = str(entry.get("name", attrs.get("name", kind)))
    attrs["metadata"] = reader.decode(entry.get("metadata") or {})
    if not isinstance(attrs["metadata"], dict):
        raise reader._fail(f"has layer {attrs['name']!r} whose metadata is not a mapping")
    migrate_legacy(attrs["metadata"])  # version 1: the record's fields as separate keys
    for key in ("features", "feature_defaults"):
        if key in entry:
            attrs[key] = reader.decode(entry[key])
            if not isinstance(attrs[key], pd.DataFrame):
                raise reader._fail(f"has a {key} entry that is not a table")
    if isinstance(data, list):
        if not all(isinstance(d, np.ndarray) for d in data):
            raise reader._fail(f"has layer {attrs['name']!r} whose data are not arrays")
    elif not isinstance(data, np.ndarray):
        raise reader._fail(f"has layer {attrs['name']!r} whose data is not an array")
    return data, attrs, kind


def read_session(path: str | list[str]) -> list[tuple[Any, dict, str]]:
    """npe2 reader adapter: :func:`load_session` (napari may pass a one-item list)."""
    if isinstance(path, (list, tuple)):
        return [ld for p in path for ld in load_session(p)]
    return load_session(path)
