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

__all__ = ["get_reader", "read_layer_data"]


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

    if not isinstance(path, (str, Path)):
        return None
    if Path(path).suffix.lower() == ".ivaesession":  # a saved session: napari_ivae.session
        from napari_ivae.session import read_session

        return read_session
    if Path(path).suffix.lower() not in SUFFIXES:
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

    if isinstance(path, (list, tuple)):  # napari may pass a one-item list
        return [ld for p in path for ld in read_layer_data(p)]
    return layer_data(read(path))
