"""Outputs of the command line: checked before any work, written atomically, together.

Every output goes through :func:`napari_ivae._atomic.atomic_write` (temporary
file in the same folder, then renamed); a failed write is one
:class:`~napari_ivae.IvaeError` line that says nothing was written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError


@contextmanager
def write_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn an ``OSError`` while writing ``path`` into one :class:`IvaeError` line.

    The writers are atomic, so a failed write leaves any previous ``path``
    untouched; the message says so.
    """
    try:
        yield
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise IvaeError(f"cannot write {path}: {reason}; nothing was written there") from err


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it.

    A failed write (full disk, no permission) leaves any previous ``path``
    untouched, no temporary file, and raises one :class:`IvaeError` line.
    """
    with write_errors(path):
        atomic_write(path, write, make_parents=False)


def _write_all(writes: list[tuple[Path, Callable[[Path], None]]]) -> None:
    """Write several outputs so that they appear together, or none of them does.

    Every temporary file is written before any is renamed (the writes are
    nested), so a full disk while writing the last output leaves all the
    previous files untouched.
    """
    if not writes:
        return
    (path, write), rest = writes[0], writes[1:]

    def outer(tmp: Path) -> None:
        write(tmp)
        _write_all(rest)

    _atomic_write(path, outer)


#: decimals written per CSV column (positions to 1e-4 px)
_DECIMALS = {"y": 4, "x": 4, "y_nm": 4, "x_nm": 4, "score": 5, "intensity": 4, "orientation": 5}
_IMAGE_SUFFIXES = (".tif", ".tiff", ".npy")


def _csv_writer(table) -> Callable[[Path], None]:
    rounded = table.round({k: v for k, v in _DECIMALS.items() if k in table.columns})
    return lambda p: rounded.to_csv(p, index=False)


def _image_writer(path: Path, data: np.ndarray) -> Callable[[Path], None]:
    if Path(path).suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return lambda p: tifffile.imwrite(p, data, photometric="minisblack")

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            np.save(fh, data)

    return write


def _check_output(path: str | None, option: str, suffixes: tuple[str, ...] | None = None) -> None:
    """Refuse an output path before any work: wrong suffix, missing or read-only folder."""
    if path is None:
        return
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        listed = ", ".join(suffixes)
        raise IvaeError(f"{option} {path} must end in {listed}; got {p.suffix or 'no suffix'!r}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise IvaeError(f"{option} {path}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise IvaeError(f"{option} {path}: folder {str(folder)!r} is not writable")
    if p.is_dir():
        raise IvaeError(f"{option} {path} is a folder; expected a file name")


def _check_distinct(**paths: str | None) -> None:
    """Refuse two outputs that name the same file."""
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise IvaeError(f"{seen[key]} and {option} name the same file {path}; give two names")
        seen[key] = option
