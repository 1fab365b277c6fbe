"""Atomic file writes: every writer in the core and the fronts goes through here."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from napari_ivae._errors import IvaeError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], object], *, make_parents: bool = True
) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` on a temp file beside it, then rename.

    A failed or interrupted write leaves any previous file at ``path`` untouched
    and removes the temp file.  The written file gets the permissions a plain
    ``open`` would give it (temp files are created 0600).

    Parameters
    ----------
    path : str or os.PathLike
        Destination.  The temp file keeps its suffix, so writers that choose the
        format from the extension (imageio, tifffile, matplotlib) still work.
    write : callable
        Called once with the temp file's path; must write the whole content.
    make_parents : bool
        Create missing parent folders; when False a missing folder is an
        :class:`IvaeError` naming it.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    folder = path.parent
    if make_parents:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise IvaeError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path
