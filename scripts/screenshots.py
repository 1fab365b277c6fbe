"""Render screenshots of the napari-ivae widgets in use into ``docs/images/``.

A full session per dataset, driven through the dock widgets' own controls:
Detect (walls, gaussian) → Crop → Train (rVAE, live loss curve) → Explore
(lasso selection and its highlight in the image; the latent manifold and a
decoded point of latent space) → Label (two classes, points
coloured by class, the labeled wall mask).

Datasets: the shipped simulated PFM sample (``napari_ivae.sample_data``) and a
real PFM file from ``../shared/data/real`` (skipped when absent).

    xvfb-run -a -s "-screen 0 1920x1200x24" nice -n 5 python scripts/screenshots.py [--epochs 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
REAL = ROOT.parent / "shared" / "data" / "real"


def _wait(worker, timeout: float = 600.0) -> None:
    """Process Qt events until ``worker`` finishes."""
    from qtpy.QtCore import QEventLoop, QTimer

    if worker is None:
        raise RuntimeError("the widget did not start a worker (see the notification above)")
    loop = QEventLoop()
    done = {"v": False}

    def _quit():
        done["v"] = True
        loop.quit()

    worker.finished.connect(_quit)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    if not done["v"]:
        loop.exec()


def _settle(viewer, seconds: float = 0.3) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def _shot(viewer, name: str) -> Path:
    _settle(viewer)
    path = OUT / f"{name}.png"
    viewer.screenshot(path=str(path), canvas_only=False, flash=False)
    print(f"wrote {path.relative_to(ROOT)}", flush=True)
    return path


def _only(docks: dict, keep: str) -> None:
    for name, dock in docks.items():
        dock.setVisible(name == keep)


def session(viewer, tag: str, phase, amplitude, *, epochs: int, window: int, stride: int) -> None:
    """Run detect → crop → train → explore → label on the open PFM layers and screenshot each."""
    from scipy.spatial import ConvexHull

    from napari_ivae._qt.crop import CropWidget
    from napari_ivae._qt.detect import DetectWidget
    from napari_ivae._qt.explorer import ExplorerWidget
    from napari_ivae._qt.train import TrainWidget

    docks = {}
    # 1 detect --------------------------------------------------------------
    det = DetectWidget(viewer)
    docks["detect"] = viewer.window.add_dock_widget(det, name="1 Detect", area="right")
    _only(docks, "detect")
    det.task = "walls"
    det.phase_combo.value = phase
    det.amplitude_combo.value = amplitude
    det.wall_method.setCurrentText("gaussian")
    det.stride.setValue(stride)
    _wait(det.run())
    _settle(viewer)
    points = next(
        lay for lay in viewer.layers if lay.name.endswith("walls") and hasattr(lay, "selected_data")
    )
    viewer.layers.selection.active = points
    _shot(viewer, f"{tag}_1_detect")

    # 2 crop ----------------------------------------------------------------
    crop = CropWidget(viewer)
    docks["crop"] = viewer.window.add_dock_widget(crop, name="2 Crop", area="right")
    _only(docks, "crop")
    crop.points_combo.value = points
    crop.images_list.value = [amplitude, phase]
    crop.window.setValue(window)
    stack = crop.run()
    if stack is None:
        raise RuntimeError("crop failed")
    gallery = [lay for lay in viewer.layers if "gallery" in lay.name.lower()]
    for lay in gallery:  # show the gallery (below the image) with a readable contrast
        sample = np.asarray(lay.data[: min(len(lay.data), 200)])
        lo, hi = np.percentile(sample, [1, 99])
        lay.contrast_limits = (float(lo), float(hi))
    viewer.reset_view()
    _shot(viewer, f"{tag}_2_crop")
    for lay in gallery:  # the gallery (a 3-D stack) is not needed any more
        viewer.layers.remove(lay)
    viewer.reset_view()

    # 3 train ---------------------------------------------------------------
    train = TrainWidget(viewer)
    docks["train"] = viewer.window.add_dock_widget(train, name="3 Train", area="right")
    _only(docks, "train")
    train.points_combo.value = points
    train.kind.setCurrentText("rvae")
    train.latent_dim.setValue(2)
    train.epochs.setValue(epochs)
    train.batch_size.setValue(64)
    t0 = time.perf_counter()
    _wait(train.start())
    _settle(viewer, 1.0)
    print(
        f"  trained {epochs} epochs on {len(stack.images)} crops in {time.perf_counter() - t0:.0f} s"
    )
    viewer.layers.selection.active = points
    _shot(viewer, f"{tag}_3_train")

    # 4 explore -------------------------------------------------------------
    ex = ExplorerWidget(viewer)
    docks["explore"] = viewer.window.add_dock_widget(ex, name="4 Explore and label", area="right")
    _only(docks, "explore")
    ex.set_layer(points)
    ex.set_axes("z1", "z2")
    ex.set_color_by("angle")
    z = points.features[["z1", "z2"]].to_numpy(float)
    ok = np.isfinite(z).all(axis=1)
    zf = z[ok]
    # a lasso around the points with the largest z1 (the convex hull of the top quarter)
    top = zf[zf[:, 0] >= np.percentile(zf[:, 0], 75)]
    hull = top[ConvexHull(top).vertices]
    centre = hull.mean(axis=0)
    lasso = centre + (hull - centre) * 1.04
    ex.lasso(lasso)
    closed = np.vstack([lasso, lasso[:1]])
    ex.scatter._vb._outline.setData(closed[:, 0], closed[:, 1])  # leave the lasso drawn
    row = int(ex.selected[len(ex.selected) // 2])
    ex.hover_at(*points.features.loc[row, ["z1", "z2"]].to_numpy(float))
    viewer.layers.selection.active = points
    _shot(viewer, f"{tag}_4_explore")

    # 4b the model's latent manifold beside the image, and a decoded point of latent space
    manifold = ex.show_manifold(n=10)
    ex.decode_at(*np.percentile(zf, [90, 90], axis=0).diagonal())
    viewer.reset_view()
    viewer.layers.selection.active = points
    _shot(viewer, f"{tag}_4b_manifold")
    for lay in manifold if isinstance(manifold, list) else [manifold]:
        if lay is not None:
            lay.visible = False
    viewer.reset_view()

    # 5 label ---------------------------------------------------------------
    ex.rename_class("class 1", "type A")
    ex.rename_class("class 2", "type B")
    ex.assign_label("type A")
    low = np.flatnonzero(ok)[zf[:, 0] <= np.percentile(zf[:, 0], 30)]
    ex.select_indices(low)
    ex.assign_label("type B")
    ex.scatter._vb._outline.setData([], [])
    ex.select_indices([])
    ex.set_color_by("label")
    ex.color_points_by_label()
    mask_layer = next(lay for lay in viewer.layers if lay.name.endswith("wall mask"))
    lab = ex.show_label_mask(mask_layer)
    mask_layer.visible = False
    for lay in viewer.layers:
        if lay.name.endswith("domains"):
            lay.visible = False
    points.size = points.size * 1.5
    viewer.layers.selection.active = lab
    _shot(viewer, f"{tag}_5_labels")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--only", choices=["sample", "real"], default=None)
    args = ap.parse_args(argv)

    import napari

    from napari_ivae.io import read
    from napari_ivae.sample_data import pfm_sample

    OUT.mkdir(parents=True, exist_ok=True)

    if args.only in (None, "sample"):
        viewer = napari.Viewer(title="napari-ivae — simulated PFM sample")
        viewer.window.resize(1600, 1000)
        layers = {}
        for data, kwargs, _kind in pfm_sample():
            layers[kwargs["name"]] = viewer.add_image(data, **kwargs)
        session(
            viewer,
            "pfm_sample",
            layers["Phase"],
            layers["Amplitude"],
            epochs=args.epochs,
            window=24,
            stride=4,
        )
        viewer.close()

    if args.only in (None, "real"):
        path = REAL / "PTO_Funakubo0005.tif"
        if not path.exists():
            print(f"skipped the real file: {path} is absent")
            return
        viewer = napari.Viewer(title=f"napari-ivae — {path.name} (real PFM, PbTiO3)")
        viewer.window.resize(1600, 1000)
        layers = {}
        for img in read(path):
            data, kwargs, _kind = img.to_layer_data()
            layers[img.role] = viewer.add_image(data, **kwargs)
            if img.role not in ("phase", "amplitude"):
                layers[img.role].visible = False
        session(
            viewer,
            "pfm_real",
            layers["phase"],
            layers["amplitude"],
            epochs=args.epochs,
            window=24,
            stride=4,
        )
        viewer.close()


if __name__ == "__main__":
    main()
