"""Atomic writes: every writer in the core and the fronts goes through here.

Two guarantees:

- :func:`atomic_write` replaces one file at once: the content goes to a hidden
  temp file beside it (``.NAME.PID.XXXXXXXX.SUFFIX``), which is renamed onto
  the file only when complete.
- :class:`StagedFolder` replaces a whole folder at once (``ivae train``'s run
  folder): everything is written into a hidden temp folder beside it
  (``.NAME.PID.XXXXXXXX.tmp``), which is swapped in only on success.

Temp names carry the writer's process id.  A write killed outright (SIGKILL,
power loss) leaves its temp file or folder behind; the next write of the same
name removes leftovers whose process is gone (and untagged temp files of older
versions once they are an hour old).  This assumes a folder is not written by
processes on two machines at the same time.
"""

from __future__ import annotations

import os
import shutil

from napari_ivae._atomic._file import (
    LEGACY_STALE_S,
    WriteError,
    atomic_write,
    check_writable,
    clean_stale,
)
from napari_ivae._atomic._folder import StagedFolder
from napari_ivae._errors import IvaeError

__all__ = [
    "LEGACY_STALE_S",
    "StagedFolder",
    "WriteError",
    "atomic_write",
    "check_free_space",
    "check_writable",
    "clean_stale",
]


def check_free_space(folder: str | os.PathLike, need: int, *, what: str) -> None:
    """Raise :class:`IvaeError` when ``folder``'s disk has less than ``need`` bytes free.

    Parameters
    ----------
    folder : path-like
        An existing folder on the disk to be written.
    need : int
        Bytes about to be written.
    what : str
        What is written (for the message).
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # pragma: no cover - cannot tell; the write itself will say
        return
    if free < need:
        raise IvaeError(
            f"not enough free space for {what}: about {_mb(need)} needed, {_mb(free)} free "
            f"on the disk of {folder}"
        )


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.1f} GB"
