"""Speed of the latent explorer with 200,000 points (real napari viewer, real Qt).

Targets (issue 5): first scatter draw ≤ 1 s; lasso → highlight in napari ≤ 100 ms;
napari selection → scatter highlight ≤ 100 ms; recolour by another column ≤ 0.5 s.
Every timing includes a forced repaint of the scatter (``QWidget.grab()``) and,
for napari, the update of the highlight layer (its data, vispy node and pending
Qt events).  The napari OpenGL canvas is only rendered with ``--show-viewer``:
under Xvfb that is llvmpipe software rendering of *all* points of *all* layers
(seconds for 200,000 points), which measures the CPU rasteriser, not the
explorer (GPU canvas times were not measured).  Peak memory is the process's
peak RSS.

    xvfb-run -a nice -n 5 python benchmarks/bench_explorer.py [--n 200000] [--repeat 3] [--json out.json] [--show-viewer]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import pandas as pd


def _rss_mb() -> float:
    """Peak RSS of this process so far, MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def _table(n: int, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 3, n)
    centres = np.array([[-2.0, 0.0], [2.0, 0.5], [0.0, -2.5]])
    z = centres[k] + rng.normal(0, 0.6, (n, 2))
    yx = rng.uniform(0, 4000, (n, 2))
    feats = pd.DataFrame(
        {
            "y": yx[:, 0],
            "x": yx[:, 1],
            "frame": np.zeros(n, dtype=np.int64),
            "score": rng.uniform(0, 1, n),
            "intensity": rng.normal(0, 1, n),
            "z1": z[:, 0],
            "z2": z[:, 1],
            "angle": rng.uniform(-np.pi, np.pi, n),
            "class": k,
        }
    )
    return yx, feats


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--show-viewer",
        action="store_true",
        help="show the napari window and include its canvas redraws (OpenGL; under Xvfb this "
        "is llvmpipe software rendering of every point of every layer)",
    )
    args = ap.parse_args(argv)

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_ivae._qt.explorer import ExplorerWidget

    viewer = napari.Viewer(show=args.show_viewer)
    app = QApplication.instance()
    canvas = viewer.window._qt_viewer.canvas

    def napari_draw():
        app.processEvents()
        if args.show_viewer:
            canvas._scene_canvas.native.grab()  # render the canvas now

    rss0 = _rss_mb()
    yx, feats = _table(args.n)
    layer = viewer.add_points(yx, features=feats, size=6, name="points")
    napari_draw()
    rss_layer = _rss_mb()

    res: dict = {"n_points": args.n, "load_avg_1min_at_start": os.getloadavg()[0]}

    t0 = time.perf_counter()
    w = ExplorerWidget(viewer)
    w.resize(520, 760)
    w.show()
    app.processEvents()
    w.scatter.grab()
    res["first_draw_s"] = time.perf_counter() - t0
    if args.show_viewer:
        t0 = time.perf_counter()
        viewer.window.add_dock_widget(w, name="Explorer", area="right")
        napari_draw()
        res["dock_and_canvas_redraw_s"] = time.perf_counter() - t0

    def timed(func, repeat=args.repeat, setup=None, parts=None):
        out, part_times = [], {k: [] for k in (parts or {})}
        for _ in range(repeat):
            if setup is not None:
                setup()
            t = time.perf_counter()
            func()
            out.append(time.perf_counter() - t)
            for k, f in (parts or {}).items():
                part_times[k].append(f())
        res_ = {"median_ms": 1e3 * statistics.median(out), "max_ms": 1e3 * max(out)}
        for k, v in part_times.items():
            res_[f"{k}_median_ms"] = 1e3 * statistics.median(v)
        return res_

    # split end-to-end times into the explorer's own work and the redraws
    clock = {"explorer": 0.0, "draw": 0.0}

    def explorer_part(func):
        def run(*a, **k):
            t = time.perf_counter()
            try:
                return func(*a, **k)
            finally:
                clock["explorer"] = time.perf_counter() - t

        return run

    w._apply_selection = explorer_part(w._apply_selection)

    def draw_napari():
        t = time.perf_counter()
        napari_draw()
        clock["draw"] = time.perf_counter() - t

    def draw_scatter():
        t = time.perf_counter()
        w.scatter.grab()
        clock["draw"] = time.perf_counter() - t

    # lasso → highlight layer updated and the napari canvas redrawn
    res["lasso_to_highlight"] = {}
    z1, z2 = feats["z1"].to_numpy(), feats["z2"].to_numpy()
    lo1, lo2, hi2 = z1.min() - 1, z2.min() - 1, z2.max() + 1
    cases = {}
    for target in (1_000, 10_000, 25_000, 50_000, 100_000):
        edge = float(np.quantile(z1, target / args.n))  # a lasso around the `target` lowest z1
        cases[f"{target // 1000}k"] = np.array(
            [[lo1, lo2], [edge, lo2], [edge, 0.5 * (lo2 + hi2)], [edge, hi2], [lo1, hi2]]
        )
    for frac_name, poly in cases.items():
        n_in = int(w.lasso(poly).size)
        entry = timed(
            lambda poly=poly: (w.lasso(poly), draw_napari()),
            setup=lambda: (w.select_indices([]), napari_draw()),
            parts={
                "lasso_and_highlight_layer": lambda: clock["explorer"],
                "napari_redraw": lambda: clock["draw"],
            },
        )
        entry["n_selected"] = n_in
        res["lasso_to_highlight"][frac_name] = entry
        assert len(w.highlight_layer.data) == n_in
    w.select_indices([])
    napari_draw()

    # napari selection → scatter ring (scatter repainted)
    rng = np.random.default_rng(1)
    res["napari_selection_to_scatter"] = {}
    for k in (100, 1000, 10_000):
        idx = set(rng.choice(args.n, k, replace=False).tolist())
        entry = timed(
            lambda idx=idx: (setattr(layer, "selected_data", idx), draw_scatter()),
            setup=lambda: (setattr(layer, "selected_data", set()), w.scatter.grab()),
            parts={
                "explorer_slot": lambda: clock["explorer"],
                "scatter_repaint": lambda: clock["draw"],
            },
        )
        assert w.selected.size == k
        entry["n_selected"] = k
        res["napari_selection_to_scatter"][str(k)] = entry
    layer.selected_data = set()

    # recolour (scatter repainted)
    res["recolour"] = {}
    for col in ("angle", "intensity", "class", "z1"):
        res["recolour"][col] = timed(
            lambda col=col: (w.set_color_by(col), draw_scatter()),
            parts={"scatter_repaint": lambda: clock["draw"]},
        )

    # hover: nearest point + sub-image preview
    res["hover"] = timed(lambda: w.hover_at(0.0, 0.0), repeat=10)

    res["rss_mib"] = {
        "after_viewer": round(rss0, 1),
        "after_points_layer": round(rss_layer, 1),
        "peak": round(_rss_mb(), 1),
    }
    res["load_avg_1min_at_end"] = os.getloadavg()[0]
    targets = {
        "first_draw_s": res["first_draw_s"] <= 1.0,
        "lasso_ms": max(v["max_ms"] for v in res["lasso_to_highlight"].values()) <= 100,
        "napari_selection_ms": max(v["max_ms"] for v in res["napari_selection_to_scatter"].values())
        <= 100,
        "recolour_ms": max(v["max_ms"] for v in res["recolour"].values()) <= 500,
    }
    res["targets_met"] = targets
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text)
    viewer.close()
    return res


if __name__ == "__main__":
    main()
