"""Render screenshots of the napari-ivae widgets in use into ``docs/images/``.

A full session per dataset, the way a user takes it (File > Open / Open Sample,
every widget from the Plugins menu, the defaults it picks), driven through the
dock widgets' own controls:
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
import tempfile
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


def _dock(viewer, docks: dict, name: str):
    """Open ``name`` from the Plugins menu (as a user does) and show only that dock."""
    dock, widget = viewer.window.add_plugin_dock_widget("napari-ivae", name)
    docks[name] = dock
    _only(docks, name)
    return widget


def session(viewer, tag: str, *, epochs: int, window: int, stride: int) -> None:
    """Run detect → crop → train → explore → label → save on the open PFM layers, screenshot each.

    Every widget comes from the Plugins menu and keeps the defaults it picks
    from the channel roles (walls from phase + amplitude, crop amplitude + phase).
    """
    from scipy.spatial import ConvexHull

    from napari_ivae._qt._common import scale_bar

    docks = {}
    scale_bar(viewer).visible = True
    # 1 detect --------------------------------------------------------------
    det = _dock(viewer, docks, "1 Detect")
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
    crop = _dock(viewer, docks, "2 Crop")
    crop.points_combo.value = points
    crop.window.setValue(window)
    stack = crop.run()
    if stack is None:
        raise RuntimeError("crop failed")
    viewer.reset_view()
    _shot(viewer, f"{tag}_2_crop")
    for lay in [lay for lay in viewer.layers if "gallery" in lay.name.lower()]:
        viewer.layers.remove(lay)  # the gallery is not needed any more
    viewer.reset_view()

    # 3 train ---------------------------------------------------------------
    train = _dock(viewer, docks, "3 Train")
    train.points_combo.value = points
    train.kind.setCurrentText("rvae")
    train.latent_dim.setValue(2)
    train.epochs.setValue(epochs)
    t0 = time.perf_counter()
    _wait(train.start())
    _settle(viewer, 1.0)
    print(
        f"  trained {epochs} epochs on {len(stack.images)} crops in {time.perf_counter() - t0:.0f} s"
    )
    viewer.layers.selection.active = points
    _shot(viewer, f"{tag}_3_train")

    # 4 explore -------------------------------------------------------------
    ex = _dock(viewer, docks, "4 Explore and label")
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
        if lay is not None and lay in viewer.layers:
            viewer.layers.remove(lay)  # a hidden layer still counts in the view's extent
    viewer.reset_view()

    # 5 label ---------------------------------------------------------------
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

    # 6 save the session ----------------------------------------------------
    ses = _dock(viewer, docks, "5 Session")
    out = Path(tempfile.mkdtemp()) / f"{tag}.ivaesession"
    ses.save(out)
    _shot(viewer, f"{tag}_6_session")


def dynamics(viewer) -> None:
    """The Dynamics dock on the switching sample: metrics against the frame, wall motion."""
    docks = {}
    dyn = _dock(viewer, docks, "6 Dynamics")
    _wait(dyn.run())
    _settle(viewer)
    dyn.go_to_frame(2)  # as a click on frame 2 in the plot does
    for lay in viewer.layers:  # the wall-motion mask over the phase; points off for clarity
        if lay.name.endswith("(dynamics)"):
            lay.visible = False
        if lay.name.endswith("wall motion"):
            viewer.layers.selection.active = lay
    viewer.reset_view()
    _shot(viewer, "dynamics_dock")


def dynamics_real(viewer, paths) -> None:
    """The Dynamics dock on a real series: three scans of one area, drifting during the scans."""
    from napari.layers import Image

    for path in paths:
        viewer.open(str(path), plugin="napari-ivae")
    # what Layers > Stack > Merge to stack does with the same channel of the three files
    for channel in ("Amplitude Retrace", "Phase Retrace", "Deflection Retrace", "Height Retrace"):
        frames = [lay for lay in viewer.layers if lay.name.split(" [")[0] == channel]
        stack = np.stack([np.asarray(lay.data) for lay in frames])
        first = frames[0]
        kwargs = dict(scale=(1.0, *first.scale), units=("", *first.units))
        for lay in frames:
            viewer.layers.remove(lay)
        viewer.add_image(stack, name=channel, metadata=dict(first.metadata), **kwargs)
    for lay in [lay for lay in viewer.layers if isinstance(lay, Image) and lay.ndim == 2]:
        viewer.layers.remove(lay)
    for name in ("Height Retrace", "Deflection Retrace"):
        viewer.layers[name].visible = False
    viewer.layers["Phase Retrace"].visible = False
    docks = {}
    dyn = _dock(viewer, docks, "6 Dynamics")
    _wait(dyn.run())
    _settle(viewer)
    dyn.go_to_frame(0)
    for lay in viewer.layers:
        if lay.name.endswith("(dynamics)"):
            lay.visible = False
        if lay.name.endswith("wall motion"):
            viewer.layers.selection.active = lay
    viewer.reset_view()
    _shot(viewer, "dynamics_dock_real")


def rings(viewer) -> None:
    """The Detect dock's Rings box on the graphene sample: atoms → rings coloured by size."""
    docks = {}
    det = _dock(viewer, docks, "1 Detect")
    det.atom_method.setCurrentText("log")
    _wait(det.run())
    _settle(viewer)
    t0 = time.perf_counter()
    _wait(det.rings_box.run())
    _settle(viewer)
    print(f"rings: {time.perf_counter() - t0:.2f} s to the Shapes layer (busy machine)")
    atoms = det.rings_box.points_combo.value
    atoms.size = atoms.size * 0.5  # small atoms: the rings show between them
    viewer.layers.selection.active = atoms
    viewer.reset_view()
    viewer.camera.zoom *= 1.6  # the grain boundaries' 5/7 rings stay visible at this zoom
    _shot(viewer, "rings_dock")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--only", choices=["sample", "real", "dynamics", "rings"], default=None)
    args = ap.parse_args(argv)

    import napari

    OUT.mkdir(parents=True, exist_ok=True)

    if args.only in (None, "sample"):
        viewer = napari.Viewer(title="napari-ivae — simulated PFM sample")
        viewer.window.resize(1600, 1000)
        viewer.open_sample("napari-ivae", "pfm")  # File > Open Sample > napari-ivae
        session(viewer, "pfm_sample", epochs=args.epochs, window=24, stride=4)
        viewer.close()

    if args.only in (None, "rings"):
        viewer = napari.Viewer(title="napari-ivae — simulated graphene sample: rings")
        viewer.window.resize(1600, 1000)
        viewer.open_sample("napari-ivae", "stem")
        rings(viewer)
        viewer.close()

    if args.only in (None, "dynamics"):
        viewer = napari.Viewer(title="napari-ivae — simulated PFM switching series")
        viewer.window.resize(1600, 1000)
        viewer.open_sample("napari-ivae", "switching")
        dynamics(viewer)
        viewer.close()
        paths = [REAL / f"PZT_final000{k}.tif" for k in (1, 2, 3)]
        if all(p.exists() for p in paths):
            viewer = napari.Viewer(title="napari-ivae — PZT_final0001-0003 (real PFM series)")
            viewer.window.resize(1600, 1000)
            dynamics_real(viewer, paths)
            viewer.close()

    if args.only in (None, "real"):
        path = REAL / "PTO_Funakubo0005.tif"
        if not path.exists():
            print(f"skipped the real file: {path} is absent")
            return
        viewer = napari.Viewer(title=f"napari-ivae — {path.name} (real PFM, PbTiO3)")
        viewer.window.resize(1600, 1000)
        viewer.open(str(path), plugin="napari-ivae")  # File > Open
        session(viewer, "pfm_real", epochs=args.epochs, window=24, stride=4)
        viewer.close()


if __name__ == "__main__":
    main()
