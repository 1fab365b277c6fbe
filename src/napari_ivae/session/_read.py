"""Reading a session: zip members and ``session.json`` values back to live objects."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError
from napari_ivae.record import PointsRecord, migrate_legacy
from napari_ivae.session._format import (
    _ATTRS,
    _JSON_NAME,
    _RECORD_FIELDS,
    _RECORD_TYPES,
    FORMAT,
    LAYER_TYPES,
    READ_VERSIONS,
    _is_model,
    _is_stack,
)


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
                    else:  # kept as object (pandas ≥ 3 would infer its str dtype)
                        values = pd.Series(values, dtype=object)
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


def read_layers(zf: zipfile.ZipFile, path: Path) -> list[tuple[Any, dict, str]]:
    """The layers of an open session zip (``path`` is named in messages)."""
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
            raise reader._fail(f"has a malformed layer {i} ({type(err).__name__}: {err})") from err
    return out
