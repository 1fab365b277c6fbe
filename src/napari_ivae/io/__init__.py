"""Readers: every supported file becomes a list of :class:`ImageLayer`.

``read(path)`` dispatches on the file suffix.  Each channel of a multichannel
file becomes its own layer (named from the file's channel labels), with the
pixel size in ``scale`` and ``unit``.  Format modules are imported only when a
file of that format is read (``igor2``/``rosettasciio`` are slow to import).

Adding a reader: write ``read_xxx(path) -> list[ImageLayer]`` in ``io/_xxx.py``
and register its suffixes in :data:`READERS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_ivae._errors import IvaeError
from napari_ivae.io._physical import (
    AUXILIARY_ROLES,
    PRIMARY_ROLES,
    add_physical_columns,
    default_channels,
    display_order,
    is_auxiliary,
    napari_units,
    pixel_size_nm,
    role_of,
)

__all__ = [
    "AUXILIARY_ROLES",
    "PRIMARY_ROLES",
    "READERS",
    "SUFFIXES",
    "ImageLayer",
    "add_physical_columns",
    "default_channels",
    "display_order",
    "is_auxiliary",
    "layer_data",
    "napari_units",
    "pixel_size_nm",
    "read",
    "read_series",
    "role_of",
]

#: longest library detail quoted in a "cannot read" message (some embed raw bytes)
_MAX_DETAIL = 160


@dataclass
class ImageLayer:
    """One image channel as the loader sees it.

    Attributes
    ----------
    data : array-like
        ``(Y, X)`` or ``(T, Y, X)``; a NumPy array or a lazy array (memmap, dask).
    name : str
        Readable channel name, e.g. ``"Phase 1 Retrace"``, ``"HAADF"``.
    scale : tuple of float
        Size of a pixel per axis, in ``unit`` (1.0 when uncalibrated; 1.0 for T).
    unit : str or None
        Length unit of ``scale`` (``"nm"``, ``"µm"``), ``None`` when uncalibrated.
    axes : str
        ``"yx"`` or ``"tyx"``.
    role : str
        ``"phase"``, ``"amplitude"``, ``"height"``, ``"deflection"``,
        ``"frequency"`` or ``"image"``.
    colormap : str
        napari colormap name: ``"twilight"`` (cyclic) for phase, else ``"gray"``.
    source : str
        Path of the file it was read from.
    metadata : dict
        Everything else: ``label`` (raw channel label), ``value_unit`` (unit of
        the values, e.g. ``"deg"`` for phase), ``format``, ``n_nonfinite``,
        ``contrast_limits`` (phase: one full period) ...
    """

    data: Any
    name: str
    scale: tuple[float, ...]
    unit: str | None
    axes: str
    role: str = "image"
    colormap: str = "gray"
    source: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :attr:`data`."""
        return tuple(int(n) for n in self.data.shape)

    @property
    def dtype(self):
        """dtype of :attr:`data`."""
        return self.data.dtype

    def to_layer_data(self, *, visible: bool = True) -> tuple[Any, dict, str]:
        """Return a napari ``LayerData`` tuple ``(data, kwargs, "image")``.

        Parameters
        ----------
        visible : bool
            Whether the layer opens visible (auxiliary PFM channels open hidden,
            see :func:`layer_data`).

        Returns
        -------
        tuple
            ``kwargs`` holds ``name``, ``scale``, ``colormap``, ``visible``,
            ``metadata`` (with ``unit``, ``calibrated``, ``pixel_size`` (y, x in
            ``unit``), ``pixel_size_nm``, ``source``, ``role``, ``axes`` and the
            reader's metadata), for calibrated layers napari's per-axis
            ``units`` (so the scale bar reads nm or µm) and, for phase channels
            that fit one period, ``contrast_limits``.
        """
        from napari_ivae.io._physical import napari_units, pixel_size_nm

        meta = dict(self.metadata)
        limits = meta.pop("contrast_limits", None)
        units = napari_units(self.unit, len(self.shape))
        size_nm = pixel_size_nm(self)
        meta.update(
            unit=self.unit,
            calibrated=units is not None,
            pixel_size=tuple(float(s) for s in self.scale[-2:]) if units else None,
            pixel_size_nm=size_nm,
            source=self.source,
            role=self.role,
            axes=self.axes,
        )
        kwargs: dict[str, Any] = {
            "name": self.name,
            "scale": tuple(float(s) for s in self.scale),
            "colormap": self.colormap,
            "visible": bool(visible),
            "metadata": meta,
        }
        if units is not None:
            kwargs["units"] = units
        if limits is not None:
            kwargs["contrast_limits"] = tuple(float(v) for v in limits)
        return (self.data, kwargs, "image")


#: suffix -> (module, function, format description)
READERS: dict[str, tuple[str, str, str]] = {
    ".tif": ("napari_ivae.io._tiff", "read_tiff", "TIFF"),
    ".tiff": ("napari_ivae.io._tiff", "read_tiff", "TIFF"),
    ".npy": ("napari_ivae.io._numpy", "read_npy", "NumPy .npy"),
    ".npz": ("napari_ivae.io._numpy", "read_npz", "NumPy .npz"),
    ".png": ("napari_ivae.io._imageio", "read_picture", "PNG"),
    ".jpg": ("napari_ivae.io._imageio", "read_picture", "JPEG"),
    ".jpeg": ("napari_ivae.io._imageio", "read_picture", "JPEG"),
    ".bmp": ("napari_ivae.io._imageio", "read_picture", "BMP"),
    ".ibw": ("napari_ivae.io._ibw", "read_ibw", "Asylum Research / Igor .ibw"),
    ".dm3": ("napari_ivae.io._dm", "read_dm", "Gatan DigitalMicrograph"),
    ".dm4": ("napari_ivae.io._dm", "read_dm", "Gatan DigitalMicrograph"),
}

#: supported suffixes (lower case, with the dot)
SUFFIXES: tuple[str, ...] = tuple(READERS)


def read(path: str | Path) -> list[ImageLayer]:
    """Read an image file into one :class:`ImageLayer` per channel.

    Parameters
    ----------
    path : str or Path
        A ``.tif/.tiff``, ``.npy/.npz``, ``.png/.jpg/.jpeg/.bmp``, ``.ibw`` or
        ``.dm3/.dm4`` file.

    Returns
    -------
    list of ImageLayer
        At least one layer; each ``(Y, X)`` or ``(T, Y, X)``.

    Raises
    ------
    IvaeError
        Naming the file and the problem: missing file, unsupported suffix,
        corrupt file, no image data, 1-D data, all values NaN/inf.

    Warns
    -----
    UserWarning
        When some (not all) values of a layer are NaN/inf; the count is kept in
        ``metadata["n_nonfinite"]``.
    """
    from napari_ivae.io._validate import check_layers, check_path

    p = check_path(path)
    module, func, fmt = READERS[p.suffix.lower()]
    reader = getattr(importlib.import_module(module), func)
    try:
        layers = reader(p)
    except IvaeError:
        raise
    except MemoryError as err:
        raise IvaeError(f"{p}: not enough memory to read this {fmt} file") from err
    except Exception as err:  # corrupt or unexpected content from the format library
        detail = _short(str(err)) or type(err).__name__
        raise IvaeError(
            f"{p}: cannot read this {fmt} file (corrupt or truncated?): {detail}"
        ) from err
    for layer in layers:
        layer.source = str(p)
        layer.metadata.setdefault("format", fmt)
    return check_layers(layers, p)


def _short(text: str) -> str:
    """First line of a library message, cut to :data:`_MAX_DETAIL` characters."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1].rstrip() + "…"


def layer_data(layers: list[ImageLayer]) -> list[tuple[Any, dict, str]]:
    """napari ``LayerData`` tuples for one file's channels, in display order.

    The order puts phase (then amplitude) on top (napari draws the last layer
    on top, :func:`display_order`); in a file with phase or amplitude, the
    other channels (height, deflection, frequency ...) open hidden
    (:func:`is_auxiliary`).

    Parameters
    ----------
    layers : list of ImageLayer
        What :func:`read` returned for one file.

    Returns
    -------
    list of (data, kwargs, "image")
    """
    roles = [layer.role for layer in layers]
    return [
        layer.to_layer_data(visible=not is_auxiliary(layer, roles))
        for layer in display_order(layers)
    ]


from napari_ivae.io._series import read_series  # noqa: E402  (needs read and ImageLayer above)
