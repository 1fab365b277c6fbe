"""The tooling that holds the layout: import-linter contracts, ruff, pre-commit pin.

`lint-imports` checks the contracts in pyproject.toml (`[tool.importlinter]`): the
core never imports `_qt`, `cli`, napari or Qt (directly or through another module),
`_qt` never imports `cli`. tests/test_import_boundary.py checks the same rule file
by file and at run time; this one also catches indirect chains.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "napari_ivae"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
WIDGETS_AND_FRONTS = {"_qt", "cli"}


def _tool(name: str) -> str:
    """Path of a console script installed beside this Python (or on PATH)."""
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.is_file() else shutil.which(name)
    if found is None:
        msg = f"{name} is not installed (pip install -e '.[testing]')"
        if os.environ.get("CI"):
            pytest.fail(msg + "; under CI the tooling checks must run")
        pytest.skip(msg)
    return found


def _contract(name_start: str) -> dict:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"].startswith(name_start))


def test_import_contracts_are_kept():
    exe = _tool("lint-imports")
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"lint-imports failed:\n{run.stdout}\n{run.stderr}"
    assert "0 broken" in run.stdout


def test_core_contract_lists_every_core_module():
    """A new top-level module of the core must be named in the contract's source_modules."""
    top = {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    top |= {p.parent.name for p in PKG.glob("*/__init__.py")}
    core = {f"napari_ivae.{m}" for m in top - WIDGETS_AND_FRONTS}
    listed = set(_contract("core ")["source_modules"])
    assert core - listed == set(), (
        f"add to [tool.importlinter] core contract: {sorted(core - listed)}"
    )
    assert listed - core == set(), f"no such core module: {sorted(listed - core)}"


def test_contracts_forbid_what_the_boundary_test_forbids():
    from test_import_boundary import FORBIDDEN

    for start in ("core ", "package root"):
        forbidden = set(_contract(start)["forbidden_modules"])
        assert set(FORBIDDEN) <= forbidden, start
        assert {"napari_ivae._qt", "napari_ivae.cli"} <= forbidden, start
    assert _contract("widgets ")["forbidden_modules"] == ["napari_ivae.cli"]


def test_ruff_check_and_format():
    exe = _tool("ruff")
    for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        run = subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"ruff {args[0]} failed:\n{run.stdout}\n{run.stderr}"


def test_pre_commit_ruff_rev_matches_the_pinned_ruff():
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    rev = re.search(r"ruff-pre-commit\s+rev:\s*v?(\S+)", config)
    assert rev, ".pre-commit-config.yaml has no ruff-pre-commit rev"
    pins = [d for d in PYPROJECT["project"]["optional-dependencies"]["testing"] if "ruff" in d]
    assert pins == [f"ruff=={rev.group(1)}"], (pins, rev.group(1))


def test_test_files_have_unique_names():
    """tests/ has no __init__.py: two test files of one name break collection of the suite."""
    names: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert not {n: p for n, p in names.items() if len(p) > 1}
