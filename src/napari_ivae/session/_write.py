"""Writing a session: values to JSON, binary parts to zip members (no pickles)."""

from __future__ import annotations

import enum
import json
import math
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError
from napari_ivae.record import PointsRecord
from napari_ivae.session._format import (
    _JSON_NAME,
    _RECORD_FIELDS,
    _SKIP,
    FORMAT,
    VERSION,
    _current_metadata,
    _is_model,
    _is_stack,
    _object_strings,
    _plain_attrs,
)


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
                _left_out(where, f"record field {name!r}", value, stacklevel=8)
                continue
            out[name] = enc
        return {"$record": out}

    def table(self, df: pd.DataFrame, prefix: str, where: str) -> dict:
        """``{"$table": ...}``: one entry a column (array, categorical, string or masked)."""
        columns = []
        for j, name in enumerate(df.columns):
            col = df[name]
            entry: dict[str, Any] = {"name": self.encode(name, f"{prefix}/name", where)}
            member = f"{prefix}/{j}"
            dtype = col.dtype
            if isinstance(dtype, pd.CategoricalDtype):
                done = self._categorical(entry, col, member)
                if done:
                    columns.append(entry)
                    continue
                col = col.astype(object)
                warnings.warn(
                    f"{where}: categories of column {name!r} are stored as text", stacklevel=5
                )
                dtype = col.dtype
            if isinstance(dtype, np.dtype) and dtype.kind != "O":
                entry.update(kind="array", data=self.array(col.to_numpy(), f"{member}.npy"))
            elif isinstance(dtype, pd.StringDtype) or dtype.kind == "O":
                self._strings(entry, col, member, where)
            else:  # nullable extension dtypes (Int64, Float64, boolean)
                self._masked(entry, col, member, where)
            columns.append(entry)
        return {"$table": {"rows": len(df), "columns": columns}}

    def _categorical(self, entry: dict, col: pd.Series, member: str) -> bool:
        """Codes and categories; False when the categories are not numbers or text."""
        dtype = col.dtype
        cref = self.array(np.asarray(dtype.categories), f"{member}.categories.npy")
        if cref is _SKIP:
            return False
        entry.update(
            kind="categorical",
            codes=self.array(col.cat.codes.to_numpy(), f"{member}.npy"),
            categories=cref,
            ordered=bool(dtype.ordered),
        )
        return True

    def _strings(self, entry: dict, col: pd.Series, member: str, where: str) -> None:
        dtype = col.dtype
        missing = col.isna().to_numpy()
        values = col.to_numpy(dtype=object, na_value="")
        if not all(isinstance(v, str) for v in values):
            warnings.warn(
                f"{where}: column {col.name!r} holds Python objects; stored as text",
                stacklevel=6,
            )
        text = np.asarray([str(v) for v in values], dtype=str)
        entry.update(
            kind="string",
            dtype=str(dtype) if isinstance(dtype, pd.StringDtype) else "object",
            data=self.array(text, f"{member}.npy"),
            missing=self.array(missing, f"{member}.missing.npy") if missing.any() else None,
        )

    def _masked(self, entry: dict, col: pd.Series, member: str, where: str) -> None:
        dtype = col.dtype
        try:
            numpy_dtype = np.dtype(dtype.numpy_dtype)
            values = col.to_numpy(dtype=numpy_dtype, na_value=numpy_dtype.type(0))
        except (AttributeError, TypeError, ValueError):
            warnings.warn(
                f"{where}: column {col.name!r} of type {dtype} is stored as text", stacklevel=6
            )
            text = np.asarray([str(v) for v in col.to_numpy(dtype=object)], dtype=str)
            entry.update(
                kind="string", dtype="object", data=self.array(text, f"{member}.npy"), missing=None
            )
            return
        entry.update(
            kind="masked",
            dtype=str(dtype),
            data=self.array(values, f"{member}.npy"),
            missing=self.array(col.isna().to_numpy(), f"{member}.missing.npy"),
        )

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
                _left_out(where, repr(k), v, stacklevel=7)
                continue
            if plain:
                out[k] = enc
            else:
                items.append([self.encode(k, f"{member}/{i}.key", where), enc])
        return out if plain else {"$items": items}


def _left_out(where: str, what: str, value: Any, *, stacklevel: int) -> None:
    """Warn that a value that cannot be stored (no JSON form, no member kind) was dropped."""
    warnings.warn(
        f"{where}: {what} ({type(value).__name__}) cannot be stored in a session and was left out",
        stacklevel=stacklevel,
    )


def write_archive(tmp: Path, path: Path, items: list[tuple[Any, dict, str]]) -> None:
    """Write the zip of a session of ``items`` (LayerData tuples) to ``tmp``.

    ``path`` is the final file (named in messages); the caller renames ``tmp`` onto it.
    """
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        writer = _Writer(zf, path)
        entries = [_layer_entry(writer, i, *item) for i, item in enumerate(items)]
        from napari_ivae import __version__

        doc = {
            "format": FORMAT,
            "version": VERSION,
            "written_by": f"napari-ivae {__version__}",
            "layers": entries,
        }
        text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False)
        zf.writestr(_JSON_NAME, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)


def _layer_entry(writer: _Writer, i: int, data: Any, attrs: dict, kind: str) -> dict:
    """The ``session.json`` entry of layer ``i``; its arrays go into the zip."""
    where = f"layer {attrs.get('name', i)!r}"
    prefix = f"layers/{i}"
    if isinstance(data, (list, tuple)) and attrs.get("multiscale"):
        enc_data = [
            writer.array(np.asarray(level), f"{prefix}/data{j}.npy") for j, level in enumerate(data)
        ]
    else:
        enc_data = writer.array(np.asarray(data), f"{prefix}/data.npy")
    if enc_data is _SKIP or (isinstance(enc_data, list) and _SKIP in enc_data):
        raise IvaeError(f"{where} holds Python objects instead of numbers")
    entry: dict[str, Any] = {
        "type": kind,
        "name": str(attrs.get("name", f"layer {i}")),
        "data": enc_data,
        "attributes": writer.mapping(_plain_attrs(kind, attrs), prefix + "/attr", where),
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
    return entry
