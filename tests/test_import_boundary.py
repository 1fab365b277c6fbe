"""The core never imports Qt, napari, magicgui or pyqtgraph; `import napari_ivae` is cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "napari_ivae"
FORBIDDEN = (
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "napari",
    "magicgui",
    "pyqtgraph",
    "superqt",
    "vispy",
)
WIDGET_LAYER = PKG / "_qt"


def _core_files() -> list[Path]:
    return [p for p in PKG.rglob("*.py") if WIDGET_LAYER not in p.parents]


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_core_files_exist():
    files = {p.relative_to(PKG).as_posix() for p in _core_files()}
    assert "__init__.py" in files and "cli/__init__.py" in files


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.relative_to(PKG).as_posix())
def test_core_module_does_not_import_gui(path: Path):
    bad = _imported_roots(path) & set(FORBIDDEN)
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}; only napari_ivae/_qt may"


def test_checker_catches_a_violation(tmp_path: Path):
    """The AST check itself must fail on a forbidden import (guards against a silent checker)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom qtpy.QtWidgets import QWidget\ndef f():\n    import napari\n")
    assert _imported_roots(bad) & set(FORBIDDEN) == {"qtpy", "napari"}


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m.split(".")[0] for m in out.split()}


def test_import_package_is_cheap():
    loaded = _modules_after("import napari_ivae")
    assert "torch" not in loaded
    assert not loaded & set(FORBIDDEN)


def test_cli_entry_point_is_cheap():
    loaded = _modules_after("import napari_ivae.cli")
    assert "torch" not in loaded
    assert not loaded & set(FORBIDDEN)


def test_train_configs_do_not_import_torch():
    """The Train dock builds its forms from TrainConfig in the GUI thread: no torch there."""
    loaded = _modules_after(
        "from napari_ivae.train import TrainConfig, Progress, TrainResult, run_fit, fit"
    )
    assert "torch" not in loaded
    loaded = _modules_after("from napari_ivae.train import load_model")
    assert "torch" in loaded  # the lazy names still resolve (and do import it)


@pytest.mark.parametrize(
    "module",
    [
        "napari_ivae.io",
        "napari_ivae.detect",
        "napari_ivae.crop",
        "napari_ivae.simulate",
        "napari_ivae.sample_data",
        "napari_ivae._reader",
        "napari_ivae.models",
        "napari_ivae.train",
        "napari_ivae.analysis",
        "napari_ivae.pipeline",
        "napari_ivae.labels",
        "napari_ivae.latent",
    ],
)
def test_core_module_runtime_imports_no_gui(module: str):
    loaded = _modules_after(f"import {module}")
    assert not loaded & set(FORBIDDEN), f"{module} pulled in {sorted(loaded & set(FORBIDDEN))}"
