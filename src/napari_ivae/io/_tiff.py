"""TIFF reader (tifffile): 2-D, stacks and multichannel, ImageJ and OME metadata."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.io import ImageLayer
from napari_ivae.io._names import (
    colormap_for,
    nice_length,
    normalize_label,
    phase_contrast_limits,
    phase_unit,
    role_for,
)
from napari_ivae.io._validate import split_axes

__all__ = ["read_tiff"]


def read_tiff(path: Path) -> list[ImageLayer]:
    """Read the first series of a TIFF file; one layer per channel.

    * Data are memory-mapped when the file is uncompressed and contiguous
      (lazy), otherwise read into memory.
    * Channels: a ``C`` axis (ImageJ hyperstacks, OME) or RGB samples (``S``);
      identical RGB planes collapse to one gray layer.  Other extra axes
      (``T``, ``Z``, ...) become frames.
    * Names: ImageJ ``Labels`` (e.g. ``"PhaseRetrace (deg)"`` -> ``"Phase
      Retrace"``, value unit ``deg``) or OME ``Channel/@Name``.
    * Pixel size: OME ``PhysicalSizeX/Y`` with units; ImageJ resolution tags
      (pixels per ``unit``); TIFF resolution in centimetres.  Resolution in
      inches is a print setting (dpi), not a pixel size: uncalibrated.
    """
    import tifffile

    log = logging.getLogger("tifffile")
    level, propagate = log.level, log.propagate
    seen = _Recorder()
    log.setLevel(logging.WARNING)  # corrupt files: one IvaeError, not log lines
    log.propagate = False
    log.addHandler(seen)
    try:
        layers = _read(path, tifffile)
    finally:
        log.removeHandler(seen)
        log.setLevel(level)
        log.propagate = propagate
    if seen.truncated:
        raise IvaeError(
            f"{path}: the TIFF is truncated or damaged ({seen.truncated}); "
            "some of its images cannot be read"
        )
    return layers


class _Recorder(logging.Handler):
    """Keeps tifffile's complaints that mean images of the file are missing."""

    _MISSING = ("invalid page offset", "invalid tiff structure", "truncated")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.truncated = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if not self.truncated and any(k in text.lower() for k in self._MISSING):
            self.truncated = text.split(">", 1)[-1].strip()[:120]


def _read(path: Path, tifffile) -> list[ImageLayer]:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        page = tif.pages[0]
        ij = tif.imagej_metadata or {}
        ome = tif.ome_metadata
        meta: dict = {"tiff_axes": axes}
        _check_complete(path, tif, series, ij)
        labels, label_units = _labels(ij, ome, axes, series.shape)
        size_x, size_y, unit = _pixel_size(page, ij, ome, meta)
        try:
            data = tifffile.memmap(path, series=0, mode="r")
            meta["lazy"] = "memmap"
        except Exception:  # compressed, tiled or not contiguous: read it
            data = series.asarray()
            meta["lazy"] = False
    if data.shape != tuple(series.shape):
        data = data.reshape(series.shape)
    channels, out_axes, chan_letter = split_axes(data, axes)
    if chan_letter == "S" and len(channels) >= 3 and not labels:
        channels, labels = _rgb(channels)
    px, factor, unit = nice_length(size_x, unit)
    py = size_y * factor if unit else 1.0
    scale = (py, px) if out_axes == "yx" else (1.0, py, px)
    stem = Path(path).stem
    layers = []
    for i, arr in enumerate(channels):
        raw = labels[i] if i < len(labels) else None
        if raw:
            name, unit_in_label = normalize_label(raw)
        else:
            name, unit_in_label = (stem if len(channels) == 1 else f"{stem} [{i}]"), None
        vunit = unit_in_label or (label_units[i] if i < len(label_units) else None)
        role = role_for(name)
        m = dict(meta, label=raw, channel=i, value_unit=vunit)
        if role == "phase":
            arr_f = np.asarray(arr)
            lo, hi = float(np.nanmin(arr_f)), float(np.nanmax(arr_f))
            m["value_unit"] = phase_unit(vunit, lo, hi)
            if m["value_unit"] != vunit:
                m["label_unit"] = vunit
            limits = phase_contrast_limits(lo, hi, m["value_unit"])
            if limits:
                m["contrast_limits"] = limits
        layers.append(
            ImageLayer(arr, name, scale, unit, out_axes, role, colormap_for(role), str(path), m)
        )
    return layers


def _check_complete(path: Path, tif, series, ij: dict) -> None:
    """Refuse a file whose images lie (partly) past its end, or fewer than ImageJ announced.

    A truncated ImageJ hyperstack still opens in tifffile as its first plane
    only; without this check its other channels would vanish silently.
    """
    size = int(tif.filehandle.size)
    planes = int(np.prod([n for n, a in zip(series.shape, series.axes) if a not in "YXS"] or [1]))
    announced = int(ij.get("images") or 0)
    if announced > planes:
        raise IvaeError(
            f"{path}: the TIFF is truncated or damaged: its ImageJ header lists "
            f"{announced} images but only {planes} can be read"
        )
    offset = series.dataoffset
    if offset is not None:
        end = int(offset) + int(series.nbytes)
    else:
        end = 0
        for page in series.pages:
            if page is None:
                continue
            for off, count in zip(page.dataoffsets, page.databytecounts):
                end = max(end, int(off) + int(count))
    if end > size:
        raise IvaeError(
            f"{path}: the TIFF is truncated: its image data end at byte {end} "
            f"but the file has {size} bytes"
        )


def _labels(ij: dict, ome: str | None, axes: str, shape) -> tuple[list, list]:
    """Channel labels and value units from ImageJ ``Labels`` or OME ``Channel`` names."""
    if ij.get("Labels"):
        labels = list(ij["Labels"])
        nchan = shape[axes.index("C")] if "C" in axes else 1
        return labels[:nchan], []
    if ome:
        try:
            import tifffile

            d = tifffile.xml2dict(ome)
            image = d["OME"]["Image"]
            image = image[0] if isinstance(image, list) else image
            chans = image["Pixels"].get("Channel", [])
            chans = chans if isinstance(chans, list) else [chans]
            return [c.get("Name") for c in chans], []
        except Exception:  # malformed OME: names are optional
            return [], []
    return [], []


def _pixel_size(page, ij: dict, ome: str | None, meta: dict) -> tuple[float, float, str | None]:
    """Pixel size (x, y) and unit from OME, ImageJ or TIFF resolution tags."""
    if ome:
        try:
            import tifffile

            image = tifffile.xml2dict(ome)["OME"]["Image"]
            pixels = (image[0] if isinstance(image, list) else image)["Pixels"]
            if "PhysicalSizeX" in pixels:
                sx = float(pixels["PhysicalSizeX"])
                sy = float(pixels.get("PhysicalSizeY", sx))
                return sx, sy, pixels.get("PhysicalSizeXUnit", "µm")
        except Exception:  # fall back to the resolution tags
            pass
    xres = _resolution(page, "XResolution")
    yres = _resolution(page, "YResolution") or xres
    if not xres:
        return 1.0, 1.0, None
    res_unit = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 2
    if ij.get("unit"):
        return 1.0 / xres, 1.0 / yres, str(ij["unit"])
    if res_unit == 3:  # centimetre
        return 1e4 / xres, 1e4 / yres, "µm"
    if res_unit == 2:
        meta["dpi"] = xres
    return 1.0, 1.0, None


def _resolution(page, tag: str) -> float | None:
    if tag not in page.tags:
        return None
    value = page.tags[tag].value
    num, den = value if isinstance(value, tuple) else (value, 1)
    if not num or not den:
        return None
    return num / den


def _rgb(channels: list) -> tuple[list, list]:
    """Collapse identical RGB planes to one gray plane, drop alpha."""
    rgb = channels[:3]
    if all(np.array_equal(rgb[0], c) for c in rgb[1:]):
        return [rgb[0]], []
    return rgb, ["Red", "Green", "Blue"]
