"""Shared fixtures and hooks: the real-data folder, a quiet environment, CI strictness.

* Real data: the folder is ``$IVAE_REAL_DATA`` when set, else ``../shared/data/real``
  beside the repository. Tests that need it use the ``real_data`` fixture (or read
  ``os.environ["IVAE_REAL_DATA"]``, set here) and skip when it is absent; the session
  ends with one line saying how many of them ran.
* Under CI (the ``CI`` environment variable set, as ``.ci/run`` does), the GUI stack
  (napari, pytest-qt, pytest-xvfb, Xvfb) must be present, and a test skipped because
  a module could not be imported is a failure: widget tests never vanish silently.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: The real PFM/STEM files: $IVAE_REAL_DATA, else ../shared/data/real beside the repository.
REAL_DATA = Path(
    os.environ.get("IVAE_REAL_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
).resolve()
os.environ["IVAE_REAL_DATA"] = str(REAL_DATA)  # the one place test modules read it from

#: What the widget tests need; under CI a missing one fails the session at once.
GUI_MODULES = ("napari", "pytestqt", "pytest_xvfb", "pyqtgraph", "magicgui", "qtpy")


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder of the real PFM/STEM files; skips the test when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data folder {REAL_DATA} is absent (set IVAE_REAL_DATA)")
    return REAL_DATA


def pytest_sessionstart(session):
    if not under_ci():
        return
    missing = [m for m in GUI_MODULES if importlib.util.find_spec(m) is None]
    if shutil.which("Xvfb") is None and not os.environ.get("DISPLAY"):
        missing.append("Xvfb (no X display either)")
    if missing:
        raise pytest.UsageError(
            f"CI is set but the widget tests cannot run: missing {', '.join(missing)} "
            "(pip install -e '.[all]'; Debian packages in .ci/run)"
        )


#: Node ids of the collected real-data tests, and how many of them ran / were skipped.
_REAL = {"ids": set(), "ran": 0, "skipped": 0}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "real_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real)
    _REAL["ids"] = {item.nodeid for item in items if item.get_closest_marker("real")}


def _import_skip(report) -> bool:
    """A skip caused by a missing module (pytest.importorskip)."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return False
    return "could not import" in str(report.longrepr[2]).lower()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if under_ci() and _import_skip(report):
        report.outcome = "failed"
        report.longrepr = f"under CI a missing module is a failure: {report.longrepr[2]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if under_ci() and _import_skip(report):
        report.outcome = "failed"
        report.longrepr = f"under CI a missing module is a failure: {report.longrepr[2]}"


def pytest_runtest_logreport(report):
    if report.nodeid not in _REAL["ids"]:
        return
    if report.skipped and report.when in {"setup", "call"}:
        _REAL["skipped"] += 1
    elif report.when == "call":
        _REAL["ran"] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _REAL["ids"]:
        return
    where = REAL_DATA if REAL_DATA.is_dir() else f"{REAL_DATA} (absent; set IVAE_REAL_DATA)"
    terminalreporter.write_line(
        f"real-data tests: {_REAL['ran']} ran, {_REAL['skipped']} skipped (folder: {where})"
    )
