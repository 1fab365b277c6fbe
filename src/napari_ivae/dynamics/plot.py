"""PNG of the wall metrics against the frame (matplotlib object API on Agg, no pyplot state)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError

#: (column, title, unit) of each panel; the nm twin replaces the px column when present
PANELS = (
    ("switched_fraction", "switched fraction", ""),
    ("wall_length_px", "wall length", "px"),
    ("wall_count", "wall segments (≥ 10 px)", ""),
    ("domain_count", "domains (≥ 20 px)", ""),
    ("domain_convexity", "domain convexity", "area / hull"),
    ("mean_curvature", "mean |curvature|", "1/px"),
    ("wall_displacement_px", "wall displacement to t+1", "px"),
    ("pinned_fraction", "pinned fraction (≤ 1.5 px)", ""),
)
_NM = {
    "wall_length_px": ("wall_length_nm", "nm"),
    "mean_curvature": ("mean_curvature_per_nm", "1/nm"),
    "wall_displacement_px": ("wall_displacement_nm", "nm"),
}


def metrics_figure(table: pd.DataFrame, *, title: str | None = None):
    """A 2 × 4 matplotlib Figure: every metric of :func:`~napari_ivae.dynamics.metrics.wall_metrics` against the frame."""
    from matplotlib.figure import Figure

    missing = [c for c, _, _ in PANELS if c not in table.columns] + (
        [] if "frame" in table.columns else ["frame"]
    )
    if missing:
        raise IvaeError(f"table lacks the wall-metrics columns {missing}")
    fig = Figure(figsize=(14, 6.5), layout="constrained")
    axes = fig.subplots(2, 4, squeeze=False).ravel()
    frame = table["frame"].to_numpy()
    for ax, (col, name, unit) in zip(axes, PANELS):
        if col in _NM and _NM[col][0] in table.columns:
            col, unit = _NM[col]
        values = table[col].to_numpy(dtype=np.float64)
        ax.plot(frame, values, "o-", color="tab:blue", lw=1.5, ms=5)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("frame")
        if unit:
            ax.set_ylabel(unit)
        ax.set_xticks(frame if len(frame) <= 12 else ax.get_xticks())
        ax.grid(alpha=0.3)
        if not np.isfinite(values).any():
            ax.text(0.5, 0.5, "no value", ha="center", va="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_metrics(table: pd.DataFrame, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write the metrics-against-frame figure as a PNG, atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`~napari_ivae.dynamics.metrics.wall_metrics` (or
        ``SeriesResult.table``); lengths are drawn in nm when the twins exist.
    path : path-like
        ``.png`` file; written through a temporary file, then renamed.
    title : str, optional
        Figure title.

    Returns
    -------
    Path
    """
    fig = metrics_figure(table, title=title)
    p = Path(path)
    atomic_write(p, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return p
