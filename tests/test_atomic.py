"""Atomic writes: a failed write keeps the previous file and leaves no temp file."""

from pathlib import Path

import pytest

from napari_ivae import IvaeError
from napari_ivae._atomic import atomic_write


def test_write_replaces_and_keeps_suffix(tmp_path: Path):
    target = tmp_path / "out.csv"
    seen = []
    atomic_write(target, lambda tmp: (seen.append(tmp.suffix), tmp.write_text("a,b\n")))
    assert target.read_text() == "a,b\n"
    assert seen == [".csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_failed_write_keeps_previous_content(tmp_path: Path):
    target = tmp_path / "model.ivae"
    target.write_text("good")

    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ivae"]


def test_missing_folder_is_named(tmp_path: Path):
    with pytest.raises(IvaeError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "x.txt", lambda t: t.write_text("x"), make_parents=False)
    atomic_write(tmp_path / "made" / "x.txt", lambda t: t.write_text("x"))
    assert (tmp_path / "made" / "x.txt").read_text() == "x"


def test_os_error_while_writing_names_the_destination(tmp_path: Path):
    import errno

    from napari_ivae._atomic import WriteError

    target = tmp_path / "stack.npz"
    target.write_text("good")

    def full(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError) as info:
        atomic_write(target, full)
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.npz"]


def test_temp_names_carry_the_pid(tmp_path: Path):
    import os

    seen = []
    atomic_write(tmp_path / "a.csv", lambda tmp: (seen.append(tmp.name), tmp.write_text("x")))
    assert seen[0].startswith(f".a.csv.{os.getpid()}.") and seen[0].endswith(".csv")
