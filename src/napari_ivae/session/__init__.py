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

Layout: the format's names and kept attributes in ``_format``, the writer in
``_write``, the reader in ``_read``; this module holds the public functions.

Example
-------
>>> save_session("work.ivaesession", viewer.layers)  # doctest: +SKIP
>>> for data, attrs, kind in load_session("work.ivaesession"):  # doctest: +SKIP
...     viewer.add_layer(napari.layers.Layer.create(data, attrs, kind))
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError
from napari_ivae.session._format import (
    FORMAT,
    LAYER_TYPES,
    READ_VERSIONS,
    SUFFIX,
    VERSION,
    _as_tuple,
    is_view_layer,
)
from napari_ivae.session._format import VIEW_KEYS as VIEW_KEYS
from napari_ivae.session._read import read_layers
from napari_ivae.session._write import write_archive

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

    try:
        return atomic_write(path, lambda tmp: write_archive(tmp, path, items))
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
        return read_layers(zf, path)


def read_session(path: str | list[str]) -> list[tuple[Any, dict, str]]:
    """npe2 reader adapter: :func:`load_session` (napari may pass a one-item list)."""
    if isinstance(path, (list, tuple)):
        return [ld for p in path for ld in load_session(p)]
    return load_session(path)
