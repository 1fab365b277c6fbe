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
