"""Screenshots of the widget fixes of issue 10 (→ ``docs/images/fix_*.png``).

The user's path on a real Asylum PFM file: the viewer opens, the four widgets
are docked from the Plugins menu, then the file is opened (Detect and Crop
pick walls / amplitude + phase by role), detect → crop (montage gallery) →
train (progress text) → explore (categorical legend, selection montage,
labels).  Plus an error in the Crop widget, the dock at 1280×800 and the option
forms with their "Advanced" sections open (``forms_*.png``).

    xvfb-run -a -s "-screen 0 1920x1200x24" python scripts/fix_screenshots.py [--epochs 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
REAL = ROOT.parent / "shared" / "data" / "real"
MAX_BYTES = 500_000


def _settle(seconds: float = 0.4) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def _until(test, timeout: float = 900.0) -> None:
    """Process Qt events until ``test()`` is true."""
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + timeout
    while not test():
        if time.perf_counter() > end:
            raise TimeoutError("the GUI did not get there in time")
        QApplication.processEvents()
        time.sleep(0.02)


def _save(image, name: str, width: int | None = None) -> Path:
    """Save a QImage/QPixmap as PNG under 500 kB (scaled down / fewer colours if needed)."""
    from PIL import Image
    from qtpy.QtCore import QBuffer, QIODevice, Qt

    if hasattr(image, "toImage"):
        image = image.toImage()
    if width is not None and image.width() > width:
        image = image.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    import io

    pil = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    path = OUT / f"{name}.png"
    pil.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        pil.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1000} kB)", flush=True)
    return path


def _window(viewer, name: str, width: int = 1600) -> Path:
    _settle()
    return _save(viewer.window._qt_window.grab(), name, width)


def _widget(widget, name: str) -> Path:
    """The whole content of a dock widget (also the part scrolled out of view)."""
    _settle()
    inner = widget.scroll_area.widget() if hasattr(widget, "scroll_area") else widget
    return _save(inner.grab(), name)


def main(argv=None) -> None:
    import napari

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--file", default=str(REAL / "scan_0001.ibw"))
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)

    viewer = napari.Viewer(show=True)
    qt = viewer.window._qt_window
    qt.resize(1920, 1160)
    docks = {}
    for name in ("1 Detect", "2 Crop", "3 Train", "4 Explore and label"):
        dock, widget = viewer.window.add_plugin_dock_widget("napari-ivae", name)
        docks[name] = (dock, widget)
    det, crop, train, expl = (w for _d, w in docks.values())
    viewer.open(args.file, plugin="napari-ivae")  # after docking, as a user does
    _settle(1.0)
    print("detect task:", det.task, det.phase_combo.value, det.amplitude_combo.value)
    print("crop channels:", [ly.name for ly in crop.images_list.value])

    # detect walls with the defaults
    det.stride.setValue(4)
    det.run()
    _until(lambda: not det._running)
    _settle(1.0)
    _window(viewer, "fix_1_detect_pfm")
    _widget(det, "fix_1b_detect_widget")

    # crop: amplitude + phase ticked by role; an error first (window too big)
    crop.window.setValue(400)
    crop.run()
    _widget(crop, "fix_2a_crop_error")
    crop.window.setValue(24)
    crop.run()
    _settle(1.0)
    viewer.reset_view()
    _window(viewer, "fix_2_crop_montage")

    # train: the progress line says what happens
    train.kind.setCurrentText("jrvae")
    train.classes.setValue(3)
    train.epochs.setValue(args.epochs)
    train.start()
    _widget(train, "fix_3a_train_preparing")
    _until(lambda: train.view.phase == "train" and train.progress.value() > 0)
    _until(lambda: " left" in train.status.text() or not train.is_running)
    _widget(train, "fix_3b_train_progress")
    _until(lambda: not train.is_running and "z1" in crop.points_combo.value.features)
    _settle(1.0)

    # explore: colour by class (categorical legend), select a cluster (montage follows);
    # the user is done with the first three panels and closes them
    for name in ("1 Detect", "2 Crop", "3 Train"):
        docks[name][0].hide()
    expl.set_color_by("class")
    points = expl.layer
    z = points.features[["z1", "z2"]].to_numpy(float)
    ok = np.isfinite(z).all(1)
    centre = np.nanmedian(z[ok], 0)
    near = np.flatnonzero(ok & (np.abs(z[:, 0] - centre[0]) < np.nanstd(z[:, 0]) * 0.5))
    expl.select_indices(near)
    _settle(1.0)
    expl.assign_label("domain wall A")
    expl.set_color_by("class")
    _settle(1.0)
    _window(viewer, "fix_4_explore")
    _widget(expl, "fix_4b_explorer_widget")

    # the same session in a small window, all four panels open: they scroll, nothing overlaps
    for name in ("1 Detect", "2 Crop", "3 Train"):
        docks[name][0].show()
    qt.resize(1280, 800)
    _settle(1.5)
    _window(viewer, "fix_5_dock_1280x800", width=1280)
    qt.resize(1920, 1160)
    _forms(det, train)
    viewer.close()


def _forms(det, train) -> None:
    """The option forms built from the configs: Advanced open, a refused value."""
    from napari_ivae._qt._forms import Collapsible

    for section in det.findChildren(Collapsible):
        section.set_open(True)
    _widget(det, "forms_1_detect_advanced")
    train.options.advanced_model.set_open(True)
    train.options.advanced_train.set_open(True)
    train.train_form["init_fraction"].value = 2.0  # out of range: the config's message
    _widget(train, "forms_2_train_advanced")


if __name__ == "__main__":
    main()
