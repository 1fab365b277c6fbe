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

import contextlib
import errno
import os
import re
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

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


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class _SignalsHeld:
    """Hold SIGINT/SIGTERM for a few system calls (delivered right after)."""

    _SIGNALS: ClassVar[set] = {
        getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n)
    }

    def __enter__(self):
        self.old = None
        if hasattr(signal, "pthread_sigmask"):
            self.old = signal.pthread_sigmask(signal.SIG_BLOCK, self._SIGNALS)
        return self

    def __exit__(self, *exc) -> None:
        if self.old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.old)


class StagedFolder:
    """Replace a folder all at once, and only on success.

    Everything is written into :attr:`tmp`, a hidden folder beside ``path``
    (created at once, so an unwritable location fails before any work).  Then

    - :meth:`commit` swaps it in: entries of the old folder that were not
      written again are carried over (hard links, else copies), the old folder
      is renamed to a hidden backup, the new one renamed into place and the
      backup removed; if the second rename fails the backup is renamed back.
      SIGINT/SIGTERM are held during the two renames.
    - :meth:`move_to` renames it to another new folder (e.g. the weights of a
      failed run beside the untouched old one).
    - leaving the ``with`` block without either removes it; the old folder is
      untouched.

    Parameters
    ----------
    path : path-like
        The folder to create or replace.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.is_symlink():  # replace the folder it points to, not the link
            self.path = self.path.resolve()
        self.existed = self.path.is_dir()
        parent = self.path.parent
        # folders created here are removed again when nothing is committed
        self._made = [p for p in (parent, *parent.parents) if not p.exists()]
        try:
            parent.mkdir(parents=True, exist_ok=True)
            clean_stale(parent, self.path.name)
            self.existed = self.path.is_dir()
            self.tmp = Path(
                tempfile.mkdtemp(prefix=_temp_prefix(self.path), suffix=".tmp", dir=parent)
            )
        except OSError as err:
            raise _write_error(err, self.path) from err
        self._open = True

    def __enter__(self) -> StagedFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove the temp folder (nothing else changes)."""
        if self._open:
            self._open = False
            shutil.rmtree(self.tmp, ignore_errors=True)
            for folder in self._made:  # innermost first; stops at the first non-empty one
                try:
                    folder.rmdir()
                except OSError:
                    break

    def _finish_tmp(self, mode_from: Path | None) -> None:
        """Give the temp folder (created 0700) the old folder's or a plain mkdir's mode."""
        mode = 0o777 & ~_UMASK
        if mode_from is not None:
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(mode_from.stat().st_mode)
        os.chmod(self.tmp, mode)

    def move_to(self, dest: str | os.PathLike) -> Path:
        """Rename the temp folder to ``dest`` (which must not exist).

        Returns
        -------
        Path
            ``dest``.
        """
        dest = Path(dest)
        try:
            self._finish_tmp(None)
            if dest.exists():
                raise FileExistsError(errno.EEXIST, "exists", str(dest))
            os.rename(self.tmp, dest)
        except OSError as err:
            raise _write_error(err, dest) from err
        self._open = False
        return dest

    def commit(self) -> Path:
        """Swap the temp folder in for ``path`` (see the class docstring).

        Returns
        -------
        Path
            ``path``.
        """
        old = self.path if self.path.is_dir() else None
        try:
            if old is not None:
                for entry in os.scandir(old):
                    dst = self.tmp / entry.name
                    if dst.exists() or dst.is_symlink():
                        continue
                    if entry.is_symlink():
                        os.symlink(os.readlink(entry.path), dst)
                    elif entry.is_dir():
                        shutil.copytree(entry.path, dst, symlinks=True, copy_function=_link_or_copy)
                    else:
                        _link_or_copy(entry.path, dst)
            self._finish_tmp(old)
            if old is None:
                os.rename(self.tmp, self.path)
                self._open = False
                return self.path
            backup = Path(
                tempfile.mkdtemp(prefix=_temp_prefix(self.path), suffix=".old", dir=old.parent)
            )
            os.rmdir(backup)  # a unique name, free for the rename
            try:
                with _SignalsHeld():
                    os.rename(old, backup)
                    try:
                        os.rename(self.tmp, self.path)
                    except BaseException:
                        os.rename(backup, old)
                        raise
                    self._open = False
            finally:  # also when a held signal is raised right after the swap
                if not self._open:
                    shutil.rmtree(backup, ignore_errors=True)
        except OSError as err:
            raise _write_error(err, self.path) from err
        return self.path
