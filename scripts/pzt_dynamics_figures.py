"""Figures of docs/dynamics.md on the real PZT evolution series (PZT_final0001-0003).

Run from the repository root (about a minute)::

    PYTHONPATH=src python scripts/pzt_dynamics_figures.py [--data ../shared/data/real] [--out docs/images]

Writes ``pzt_metrics.png`` (every wall metric against the frame; lengths in
nm) and ``pzt_walls.png`` (the registered phase of each scan with its walls:
pinned wall pixels in cyan, moved ones in red, the last frame's in white),
and prints the metrics table.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from napari_ivae.dynamics.motion import PIN_TOLERANCE, wall_motion
from napari_ivae.dynamics.plot import plot_metrics
from napari_ivae.dynamics.series import series_metrics
from napari_ivae.io import pixel_size_nm, read
from napari_ivae.pipeline._settings import save_fig

FILES = ("PZT_final0001.tif", "PZT_final0002.tif", "PZT_final0003.tif")


def _channel(layers, name: str):
    return next(ly for ly in layers if ly.name == name)


def _walls_figure(res, phase_deg: np.ndarray, path: Path) -> None:
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    disp = wall_motion(res.walls, valid=res.valid)
    t_n = len(res.walls)
    fig = Figure(figsize=(4.2 * t_n, 4.6), layout="constrained")
    axes = fig.subplots(1, t_n, squeeze=False)[0]
    for t, ax in enumerate(axes):
        ax.imshow(
            np.where(res.valid[t], phase_deg[t], np.nan), cmap="twilight", interpolation="nearest"
        )
        layers = [(np.isnan(disp[t]) & res.walls[t], "white")]
        if t < t_n - 1:
            layers = [(disp[t] <= PIN_TOLERANCE, "cyan"), (disp[t] > PIN_TOLERANCE, "red")]
        for mask, color in layers:
            rgba = np.ma.masked_where(~mask, np.ones(mask.shape))
            ax.imshow(rgba, cmap=ListedColormap([color]), vmin=0, vmax=1, interpolation="nearest")
        row = res.table.iloc[t]
        ax.set_title(
            f"scan {t + 1}: switched {row.switched_fraction:.3f}"
            + ("" if t == t_n - 1 else f", pinned {row.pinned_fraction:.2f}"),
            fontsize=10,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "PZT: registered phase, walls pinned (cyan) / moved (red) to the next scan", fontsize=11
    )
    save_fig(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("IVAE_REAL_DATA", "../shared/data/real"))
    ap.add_argument("--out", default="docs/images")
    args = ap.parse_args()
    files = [read(Path(args.data) / f) for f in FILES]
    phase = np.stack([_channel(ly, "Phase Retrace").data for ly in files]).astype(np.float32)
    amp = np.stack([_channel(ly, "Amplitude Retrace").data for ly in files]).astype(np.float32)
    size = pixel_size_nm(_channel(files[0], "Phase Retrace"))
    # the registration channels the CLI takes by default: deflection + amplitude
    refs = [
        np.stack([_channel(ly, name).data for ly in files]).astype(np.float32)
        for name in ("Deflection Retrace", "Amplitude Retrace")
    ]
    res = series_metrics(phase, amp, reference=refs, pixel_size_nm=size, phase_units="deg")
    print(res.info["summary"])
    print(res.table.round(4).to_string(index=False))
    out = Path(args.out)
    plot_metrics(
        res.table, out / "pzt_metrics.png", title="PZT_final0001-0003: wall metrics per scan"
    )
    from napari_ivae.dynamics._inputs import shift_series

    ph_reg, _, _ = shift_series(np.deg2rad(phase), None, np.ones(phase.shape, bool), res.row_shifts)
    _walls_figure(res, np.rad2deg(ph_reg), out / "pzt_walls.png")
    print(f"wrote {out / 'pzt_metrics.png'} and {out / 'pzt_walls.png'}")


if __name__ == "__main__":
    main()
