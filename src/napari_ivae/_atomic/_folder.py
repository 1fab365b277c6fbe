"""Atomic replacement of a whole folder (:class:`StagedFolder`); see :mod:`napari_ivae._atomic`."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import tempfile
from pathlib import Path
from typing import ClassVar

from napari_ivae._atomic._file import _UMASK, _temp_prefix, _write_error, clean_stale


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
