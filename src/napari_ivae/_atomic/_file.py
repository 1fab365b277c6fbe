"""Atomic replacement of one file (:func:`atomic_write`) and the clean-up of killed writes.

See :mod:`napari_ivae._atomic`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from napari_ivae._errors import IvaeError

_UMASK = os.umask(0)
os.umask(_UMASK)

#: untagged temp files (written before temp names carried the pid) older than this are stale
LEGACY_STALE_S = 3600.0
_RAND = r"[a-z0-9_]{8}"  # tempfile's random part


class WriteError(OSError):
    """Writing a file failed (disk full, read-only folder, ...).

    ``str(err)`` is one sentence, ``cannot write PATH: REASON``; ``filename``
    is the destination the user asked for, not the temp file.
    """

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def _write_error(err: OSError, path: Path) -> OSError:
    if isinstance(err, WriteError) or err.errno is None:
        return err
    return WriteError(err.errno, err.strerror or os.strerror(err.errno), str(path))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's, or not a pid
        return pid > 0
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def clean_stale(folder: str | os.PathLike, name: str) -> list[Path]:
    """Remove what killed writers of ``folder/name`` left behind.

    A run folder's backup (``.NAME.PID.XXXXXXXX.old``) whose writer died while
    swapping is moved back to ``NAME`` when ``NAME`` is missing (nothing is
    lost), removed otherwise.

    Parameters
    ----------
    folder : path-like
        Folder holding ``name``.
    name : str
        File or folder name whose temp siblings are looked for.

    Returns
    -------
    list of Path
        What was removed or restored.
    """
    folder = Path(folder)
    tagged = re.compile(rf"^\.{re.escape(name)}\.(\d+)\.{_RAND}(.*)$")
    legacy = re.compile(rf"^\.{re.escape(name)}\.{_RAND}(\.[^.]*)?$")
    done: list[Path] = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(f".{name}.")]
    except OSError:
        return done
    now = time.time()
    for entry in entries:
        path = Path(entry.path)
        m = tagged.match(entry.name)
        try:
            if m:
                if _pid_alive(int(m.group(1))):
                    continue
                target = folder / name
                if m.group(2) == ".old" and path.is_dir() and not target.exists():
                    os.rename(path, target)  # the swap was cut between its two renames
                    done.append(target)
                    continue
            elif not (legacy.match(entry.name) and now - entry.stat().st_mtime > LEGACY_STALE_S):
                continue
        except OSError:
            continue
        _remove(path)
        done.append(path)
    return done


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], object], *, make_parents: bool = True
) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` on a temp file beside it, then rename.

    A failed or interrupted write leaves any previous file at ``path`` untouched
    and removes the temp file.  The written file gets the permissions a plain
    ``open`` would give it (temp files are created 0600).  Stale temp files of
    earlier, killed writes of ``path`` are removed first (:func:`clean_stale`).

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

    Raises
    ------
    WriteError
        An ``OSError`` while writing (disk full, read-only folder, ...),
        naming ``path``.
    """
    path = Path(path)
    folder = path.parent
    if not make_parents and not folder.is_dir():
        raise IvaeError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    try:
        if make_parents:
            folder.mkdir(parents=True, exist_ok=True)
        clean_stale(folder, path.name)
        fd, tmp = tempfile.mkstemp(
            prefix=_temp_prefix(path), suffix=path.suffix or ".tmp", dir=folder
        )
        os.close(fd)
    except OSError as err:
        raise _write_error(err, path) from err
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    except OSError as err:
        tmp_path.unlink(missing_ok=True)
        raise _write_error(err, path) from err
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, before any work, when ``path`` could not be written.

    Creates the missing parent folders and a temp file beside ``path`` (removed
    at once).

    Parameters
    ----------
    path : path-like
        The file to be written later.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    WriteError
        The folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise _write_error(err, path) from err
    return path
