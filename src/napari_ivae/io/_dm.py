"""Gatan DigitalMicrograph ``.dm3``/``.dm4`` through rosettasciio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_ivae.io import ImageLayer
from napari_ivae.io._names import nice_length

__all__ = ["read_dm"]

#: files larger than this stay lazy (dask); smaller ones are read into memory
_LAZY_BYTES = 256 * 2**20


def read_dm(path: Path) -> list[ImageLayer]:
    """Read the images of a Gatan ``.dm3``/``.dm4`` file.

    Each image signal (two signal axes) becomes a layer, navigation axes become
    frames (``(T, Y, X)``).  Pixel size and unit come from the calibration of
    the signal axes; uncalibrated images (empty unit) get scale 1 and unit
    ``None``.  Spectra (one signal axis) are skipped.  Large files stay lazy
    (dask arrays).
    """
    from rsciio.digitalmicrograph import file_reader

    signals = file_reader(str(path), lazy=True)
    layers = []
    for k, sig in enumerate(signals):
        axes = sorted(sig["axes"], key=lambda a: a.get("index_in_array", 0))
        sig_axes = [a for a in axes if not a.get("navigate", False)]
        if len(sig_axes) != 2:
            continue
        data = sig["data"]
        if data.dtype.fields is not None:  # RGB(A) structured dtype: not an analysable image
            continue
        if data.ndim > 3:
            data = data.reshape((-1, *data.shape[-2:]))
        nbytes = int(np.prod(data.shape)) * data.dtype.itemsize
        lazy = nbytes > _LAZY_BYTES
        if not lazy:
            data = np.asarray(data)
        ay, ax = sig_axes
        unit = (ax.get("units") or "").strip() or None
        if unit in ("<undefined>", "<auto>"):
            unit = None
        px, factor, unit = nice_length(float(ax.get("scale", 1.0)), unit)
        py = float(ay.get("scale", 1.0)) * factor if unit else 1.0
        scale = (py, px) if data.ndim == 2 else (1.0, py, px)
        title = (sig.get("metadata", {}).get("General", {}) or {}).get("title") or Path(path).stem
        signal_type = (sig.get("metadata", {}).get("Signal", {}) or {}).get("signal_type", "")
        meta = {
            "label": title,
            "signal": k,
            "signal_type": signal_type,
            "raw_axes": [
                {key: a.get(key) for key in ("name", "scale", "offset", "units")} for a in axes
            ],
            "lazy": "dask" if lazy else False,
        }
        name = title if len(signals) == 1 else f"{title} [{k}]"
        layers.append(
            ImageLayer(
                data,
                name,
                scale,
                unit,
                "yx" if data.ndim == 2 else "tyx",
                "image",
                "gray",
                str(path),
                meta,
            )
        )
    return layers
