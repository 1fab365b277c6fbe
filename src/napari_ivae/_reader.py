"""npe2 reader contribution: napari opens supported files through :func:`napari_ivae.io.read`.

No napari import: napari only needs ``get_reader(path) -> callable | None`` and
``LayerData`` tuples.  A problem with the file raises
:class:`~napari_ivae.IvaeError` with a one-sentence message naming the file,
which napari shows as a notification; partial NaN/inf values emit a warning
(also shown as a notification) and the layer is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["get_reader", "read_layer_data", "spectrum_layer_data"]


def get_reader(path: str | list[str]) -> Callable[[str], list[tuple[Any, dict, str]]] | None:
    """Return a reader for ``path``, or ``None`` when it is not ours.

    Parameters
    ----------
    path : str or list of str
        What napari asks about.  Lists (several files dropped as one stack) and
        unsupported suffixes get ``None`` so that napari tries other readers.

    Returns
    -------
    callable or None
        :func:`read_layer_data`, or :func:`napari_ivae.session.read_session` for
        a saved session (``.ivaesession``).
    """
    from napari_ivae.io import SUFFIXES
    from napari_ivae.spectra import SI_SUFFIXES

    if not isinstance(path, (str, Path)):
        return None
    if Path(path).suffix.lower() == ".ivaesession":  # a saved session: napari_ivae.session
        from napari_ivae.session import read_session

        return read_session
    if Path(path).suffix.lower() not in (*SUFFIXES, *SI_SUFFIXES):
        return None
    return read_layer_data


def read_layer_data(path: str | list[str]) -> list[tuple[Any, dict, str]]:
    """Read ``path`` into napari ``LayerData`` tuples, one per channel.

    Parameters
    ----------
    path : str
        File path.

    Returns
    -------
    list of (data, kwargs, "image")
        See :meth:`napari_ivae.io.ImageLayer.to_layer_data`; in display order
        (phase, then amplitude, on top) with auxiliary PFM channels (height,
        frequency ...) hidden, see :func:`napari_ivae.io.layer_data`.
    """
    from napari_ivae.io import layer_data, read
    from napari_ivae.spectra import is_spectrum_image_file, read_spectrum_image

    if isinstance(path, (list, tuple)):  # napari may pass a one-item list
        return [ld for p in path for ld in read_layer_data(p)]
    suffix = Path(path).suffix.lower()
    if suffix in (".hspy", ".emd") or is_spectrum_image_file(path):
        si = read_spectrum_image(path)
        layers = [spectrum_layer_data(si)]
        if suffix in (".dm3", ".dm4"):  # the file's other images (survey, HAADF ...)
            layers += _dm_images(path)
        return layers
    return layer_data(read(path))


def _dm_images(path: str) -> list[tuple[Any, dict, str]]:
    """The 2-D images of a DM file beside its spectrum image (none when it has only the SI)."""
    from napari_ivae._errors import IvaeError
    from napari_ivae.io import layer_data, read

    try:
        layers = [layer for layer in read(path) if layer.data.ndim == 2]
    except IvaeError:
        return []
    return layer_data(layers) if layers else []


def spectrum_layer_data(si) -> tuple[Any, dict, str]:
    """A napari image ``LayerData`` tuple of a spectrum image: its total-counts map.

    Parameters
    ----------
    si : napari_ivae.spectra.SpectrumImage
        The spectrum image.

    Returns
    -------
    (data, kwargs, "image")
        ``data`` is ``si.total_map()`` (counts summed over the whole energy
        range), ``(H, W)`` float32.  ``kwargs["metadata"]`` holds
        ``"spectrum_image"``: ``si`` itself (not a copy: a memmap stays on
        disk), ``"energy_band"``: the band summed, ``"role"``:
        ``"spectrum image"``, ``"source"`` and, when the file has a pixel
        size, ``"pixel_size"``/``"unit"`` and napari's ``scale``/``units``.
    """
    from napari_ivae.io import napari_units
    from napari_ivae.io._names import nice_length

    meta = si.metadata
    kwargs: dict[str, Any] = {
        "name": f"{si.name} [{si.energy[0]:g}–{si.energy[-1]:g} {si.unit}]",
        "colormap": "gray",
        "metadata": {
            "spectrum_image": si,
            "energy_band": (float(si.energy[0]), float(si.energy[-1])),
            "role": "spectrum image",
            "source": meta.get("source", ""),
            "unit": None,
        },
    }
    unit = meta.get("pixel_unit")
    if unit:
        py, px = meta.get("pixel_size", (1.0, 1.0))
        px_n, factor, unit_n = nice_length(float(px), unit)
        if unit_n:
            scale = (float(py) * factor, px_n)
            kwargs["scale"] = scale
            kwargs["units"] = napari_units(unit_n, 2)
            kwargs["metadata"].update(unit=unit_n, pixel_size=scale)
    return (si.total_map(), kwargs, "image")
