"""Asylum Research / Igor Pro binary waves (``.ibw``) through igor2."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.io import ImageLayer
from napari_ivae.io._names import (
    colormap_for,
    nice_length,
    normalize_label,
    phase_contrast_limits,
    role_for,
)

__all__ = ["read_ibw"]

#: value units of Asylum channels by role (the wave stores one unit for all layers)
_VALUE_UNITS = {
    "phase": "deg",
    "height": "m",
    "amplitude": "m",
    "deflection": "m",
    "frequency": "Hz",
}


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, np.ndarray):
        return b"".join(value.ravel().tolist()).decode("latin-1")
    return str(value)


def _parse_note(note: bytes | str) -> dict[str, str]:
    """``Key: value`` lines of an Asylum wave note (``\\r``-separated)."""
    text = _text(note)
    out = {}
    for line in re.split(r"[\r\n]+", text):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip(), value.strip())
    return out


def _load(path: Path) -> dict:
    """``igor2.binarywave.load`` without its log lines (a truncated file logs megabytes of raw bytes)."""
    import logging

    from igor2 import binarywave

    log = logging.getLogger("igor2")
    level, propagate = log.level, log.propagate
    log.setLevel(logging.CRITICAL + 1)
    log.propagate = False
    try:
        return binarywave.load(str(path))
    except Exception as err:
        raise IvaeError(
            f"{path}: cannot read this .ibw file; it is truncated or damaged ({_reason(err)})"
        ) from err
    finally:
        log.setLevel(level)
        log.propagate = propagate


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 100 else text[:99] + "…"


def read_ibw(path: Path) -> list[ImageLayer]:
    """Read an Asylum ``.ibw`` image wave: one layer per channel.

    * The wave is stored ``[x, y, channel]`` (Igor column order); each channel
      is transposed to row/column order ``(y, x)`` (row 0 = first scan line).
    * Names come from the channel dimension labels, normalised
      (``"Phase1Retracece"`` -> ``"Phase 1 Retrace"``).
    * Pixel size: the wave's own x/y scaling (``sfA``, in the wave's dimension
      unit, metres for Asylum; Asylum sets it to ``ScanSize / (points - 1)``),
      expressed in nm or µm; the note's ``ScanSize`` is kept in the metadata.
      Without scaling, ``FastScanSize / ScanPoints`` from the note.
    * Phase channels: role ``"phase"``, cyclic ``"twilight"`` colormap, value
      unit ``deg`` and contrast limits spanning one period.
    """
    wave = _load(path)["wave"]
    header = wave["wave_header"]
    data = _image_data(wave, path)
    note = _parse_note(wave.get("note", b""))
    labels_all = wave.get("labels") or []
    raw_labels = [_text(x) for x in labels_all[2]] if len(labels_all) > 2 else []
    raw_labels = raw_labels[1:] if len(raw_labels) == data.shape[2] + 1 else raw_labels
    meta: dict = {"wave_name": _text(header.get("bname", b"")), "note": note}
    for key in _NOTE_KEYS:
        if key in note:
            meta[key] = note[key]
    scale, unit = _pixel_size(header, note, meta)
    stem = Path(path).stem
    layers = []
    for c in range(data.shape[2]):
        raw = raw_labels[c] if c < len(raw_labels) and raw_labels[c] else None
        name = normalize_label(raw)[0] if raw else (stem if data.shape[2] == 1 else f"{stem} [{c}]")
        role = role_for(name)
        arr = np.ascontiguousarray(data[:, :, c].T)
        m = dict(meta, label=raw, channel=c, value_unit=_VALUE_UNITS.get(role))
        if role == "phase":
            limits = phase_contrast_limits(float(np.nanmin(arr)), float(np.nanmax(arr)), "deg")
            if limits:
                m["contrast_limits"] = limits
        layers.append(
            ImageLayer(arr, name, scale, unit, "yx", role, colormap_for(role), str(path), m)
        )
    return layers


#: scan settings of the note kept in every layer's metadata
_NOTE_KEYS = ("ScanSize", "FastScanSize", "SlowScanSize", "ScanPoints", "ScanLines", "ImagingMode")


def _image_data(wave: dict, path: Path) -> np.ndarray:
    """The wave's data as ``[x, y, channel]``; refuses force curves, spectra and >3-D waves."""
    header = wave["wave_header"]
    data = np.asarray(wave["wData"])
    ndim = int(np.count_nonzero(np.asarray(header.get("nDim", data.shape))))
    labels_all = wave.get("labels") or []
    dim1_labels = [x for x in (labels_all[1] if len(labels_all) > 1 else []) if _text(x)]
    # force curves / spectra: 1-D, or 2-D [points, channel] with named channels on axis 1
    if data.ndim < 2 or ndim < 2 or (data.ndim == 2 and (dim1_labels or min(data.shape) < 8)):
        raise IvaeError(
            f"{path}: no image channels in this .ibw (wave of shape {data.shape}; a force curve or spectrum?)"
        )
    if data.ndim > 3:
        raise IvaeError(
            f"{path}: .ibw wave has {data.ndim} axes {data.shape}; expected [x, y, channel]"
        )
    return data[:, :, None] if data.ndim == 2 else data


def _pixel_size(header: dict, note: dict, meta: dict) -> tuple[tuple[float, float], str | None]:
    """``(scale_y, scale_x)`` and unit: the wave scaling, else the note's scan size / points.

    Records where the size came from in ``meta["pixel_size_from"]``.
    """
    sfa = np.asarray(header.get("sfA", [1.0, 1.0]), dtype=float)
    dim_units = header.get("dimUnits")
    unit_x = _text(dim_units[0]).strip() if dim_units is not None and len(dim_units) else ""
    if unit_x and sfa[0] not in (0.0, 1.0):
        size_x, size_y, unit = sfa[0], sfa[1], unit_x
        meta["pixel_size_from"] = "wave scaling (sfA)"
    elif "FastScanSize" in note and "ScanPoints" in note:
        size_x = float(note["FastScanSize"]) / float(note["ScanPoints"])
        size_y = float(note.get("SlowScanSize", note["FastScanSize"])) / float(
            note.get("ScanLines", note["ScanPoints"])
        )
        unit = "m"
        meta["pixel_size_from"] = "note ScanSize / ScanPoints"
    else:
        size_x, size_y, unit = 1.0, 1.0, None
    px, factor, unit = nice_length(size_x, unit)
    return (float(size_y * factor) if unit else 1.0, float(px)), unit
