"""The demo's figures: matplotlib's object API on the Agg canvas (no pyplot state, no GUI)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae.pipeline._settings import save_fig


def _figure(ncols: int, nrows: int = 1, *, size: float = 4.0, aspect: float = 1.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size * ncols, size * aspect * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _imshow(ax, image: np.ndarray, *, cmap: str = "gray", title: str = "", **kw) -> Any:
    lo, hi = (
        np.percentile(image, [0.5, 99.5]) if "vmin" not in kw else (kw.pop("vmin"), kw.pop("vmax"))
    )
    im = ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", **kw)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _scalebar(ax, shape: tuple[int, int], pixel_size: float, unit: str) -> None:
    """A white scale bar of a round length in the lower left corner."""
    width = shape[1] * pixel_size
    target = width / 5
    nice = 10 ** math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * nice <= target:
            nice *= m
            break
    px = nice / pixel_size
    y = shape[0] * 0.94
    x0 = shape[1] * 0.04
    ax.plot([x0, x0 + px], [y, y], color="white", lw=3, solid_capstyle="butt")
    ax.text(x0 + px / 2, y - shape[0] * 0.025, f"{nice:g} {unit}", color="white", ha="center",
            va="bottom", fontsize=9)  # fmt: skip


def _overlay(ax, mask: np.ndarray, color: str) -> None:
    from matplotlib.colors import ListedColormap

    rgba = np.ma.masked_where(~np.asarray(mask, bool), np.ones(mask.shape))
    ax.imshow(rgba, cmap=ListedColormap([color]), vmin=0, vmax=1, interpolation="nearest",
              alpha=0.9)  # fmt: skip


def _class_colors(k: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(k)]


# ----------------------------------------------------------------------------- samples
def sample_figures(out: Path, samples: dict[str, dict]) -> dict[str, Path]:
    """One figure of the raw data of each sample (what the microscope gives)."""
    figs: dict[str, Path] = {}
    s = samples["stem"]
    fig, ax = _figure(1, size=6)
    _imshow(ax[0, 0], s["image"], title="STEM sample: simulated graphene HAADF (raw)")
    _scalebar(ax[0, 0], s["image"].shape, s["pixel_size"], s["unit"])
    figs["sample_stem"] = save_fig(fig, out / "sample_stem.png")

    p = samples["pfm"]
    fig, ax = _figure(2, size=4.5)
    _imshow(ax[0, 0], p["amplitude"], title="PFM sample: amplitude")
    _scalebar(ax[0, 0], p["amplitude"].shape, p["pixel_size"], p["unit"])
    im = _imshow(ax[0, 1], p["phase"], cmap="twilight", title="PFM sample: phase (wrapped)",
                 vmin=-180, vmax=180)  # fmt: skip
    fig.colorbar(im, ax=ax[0, 1], shrink=0.8, label="phase (°)")
    figs["sample_pfm"] = save_fig(fig, out / "sample_pfm.png")

    w = samples["switching"]
    t = w["phase"].shape[0]
    fig, ax = _figure(t, 2, size=2.4)
    for i in range(t):
        _imshow(ax[0, i], w["amplitude"][i], title=f"frame {i}: amplitude")
        _imshow(ax[1, i], w["phase"][i], cmap="twilight", title=f"frame {i}: phase",
                vmin=-180, vmax=180)  # fmt: skip
    fig.suptitle("PFM switching series sample (raw)")
    figs["sample_switching"] = save_fig(fig, out / "sample_switching.png")
    return figs


# ----------------------------------------------------------------------------- STEM
def stem_figures(out: Path, table: pd.DataFrame, sample: dict, model, *, n_classes: int,
                 window: int) -> dict[str, Path]:  # fmt: skip
    """Latent scatter by class, the image with its atoms by class, each class's manifold.

    ``table``: the cropped atoms with their latents and ``true_kind``.
    """
    files: dict[str, Path] = {}
    colors = _class_colors(n_classes)
    cls = table["class"].to_numpy()
    fig, ax = _figure(2, size=4.5)
    for k in range(n_classes):
        sel = cls == k
        ax[0, 0].scatter(table.loc[sel, "z1"], table.loc[sel, "z2"], s=6, color=colors[k],
                         label=f"class {k} ({sel.sum()})", alpha=0.7, lw=0)  # fmt: skip
    dop = table["true_kind"].to_numpy() == "dopant"
    ax[0, 0].scatter(table.loc[dop, "z1"], table.loc[dop, "z2"], s=30, facecolors="none",
                     edgecolors="black", lw=0.8, label=f"true dopant ({dop.sum()})")  # fmt: skip
    ax[0, 0].set_xlabel("z1")
    ax[0, 0].set_ylabel("z2")
    ax[0, 0].legend(markerscale=1.5, fontsize=8)
    ax[0, 0].set_title("jrVAE latent space, coloured by class", fontsize=10)
    a = table["angle"].to_numpy()
    for k in range(n_classes):
        sel = cls == k
        ax[0, 1].scatter(np.degrees(a[sel]), table.loc[sel, "intensity"], s=6, color=colors[k],
                         alpha=0.7, lw=0)  # fmt: skip
    ax[0, 1].set_xlabel("learned angle (°)")
    ax[0, 1].set_ylabel("integrated intensity")
    ax[0, 1].set_title("angle vs atom intensity, by class", fontsize=10)
    files["stem_latent"] = save_fig(fig, out / "stem_latent.png")
    files["stem_classes"] = _stem_class_map(out, table, sample, colors)
    files["stem_manifold"] = _stem_manifold(out, model, n_classes, window)
    return files


def _stem_class_map(out: Path, table: pd.DataFrame, sample: dict, colors: list) -> Path:
    cls = table["class"].to_numpy()
    fig, ax = _figure(1, size=7)
    _imshow(ax[0, 0], sample["image"], title=f"STEM: {len(table)} atoms coloured by jrVAE class")
    for k in range(len(colors)):
        sel = cls == k
        ax[0, 0].scatter(table.loc[sel, "x"], table.loc[sel, "y"], s=7, color=colors[k],
                         label=f"class {k}", lw=0)  # fmt: skip
    tv = sample["vacancies"]
    ax[0, 0].scatter(tv["x"], tv["y"], s=40, facecolors="none", edgecolors="red", lw=0.8,
                     label="true vacancy")  # fmt: skip
    truth = sample["atoms"]
    td = truth[truth["kind"] == "dopant"]
    ax[0, 0].scatter(td["x"], td["y"], s=40, marker="s", facecolors="none", edgecolors="yellow",
                     lw=0.8, label="true dopant")  # fmt: skip
    ax[0, 0].legend(loc="upper right", fontsize=8, markerscale=2, framealpha=0.8)
    return save_fig(fig, out / "stem_classes.png")


def _stem_manifold(out: Path, model, n_classes: int, window: int) -> Path:
    from napari_ivae.analysis import manifold

    fig, ax = _figure(n_classes, size=4)
    for k in range(n_classes):
        grid = manifold(model, dims=(0, 1), n=8, span=2.0, cls=k)[0]
        _imshow(ax[0, k], grid, title=f"class {k}: decoded z1 (→) × z2 (↑), ±2")
        for edge in np.arange(1, 8) * window - 0.5:  # thin separators between the tiles
            ax[0, k].axhline(edge, color="tab:orange", lw=0.5)
            ax[0, k].axvline(edge, color="tab:orange", lw=0.5)
    return save_fig(fig, out / "stem_manifold.png")


# ----------------------------------------------------------------------------- PFM
def walls_figure(out: Path, amp: np.ndarray, true_walls: np.ndarray, results: dict,
                 scores: dict) -> Path:  # fmt: skip
    """The true walls and each method's walls on the amplitude, side by side."""
    fig, ax = _figure(1 + len(results), size=3.6)
    _imshow(ax[0, 0], amp, title="ground truth walls on amplitude")
    _overlay(ax[0, 0], true_walls, "lime")
    for i, method in enumerate(results, start=1):
        _imshow(ax[0, i], amp, title=f"{method}: F1 {scores[method]['f1']:.3f}")
        _overlay(ax[0, i], results[method].mask, "red")
    return save_fig(fig, out / "pfm_walls.png")


def pfm_figures(out: Path, table: pd.DataFrame, amp: np.ndarray, r_angle: float
                ) -> dict[str, Path]:  # fmt: skip
    """rVAE latent space by angle, angle vs orientation, wall points by z1 and by angle.

    ``table``: the cropped wall points with their latents and ``orientation``.
    """
    ang = table["angle"].to_numpy()
    ori = table["orientation"].to_numpy()
    fig, ax = _figure(2, size=4.5)
    sc = ax[0, 0].scatter(table["z1"], table["z2"], c=np.degrees(ang), cmap="twilight",
                          vmin=-180, vmax=180, s=8, lw=0)  # fmt: skip
    cb = fig.colorbar(sc, ax=ax[0, 0])
    cb.ax.set_title("angle (°)", fontsize=8)
    ax[0, 0].set_xlabel("z1")
    ax[0, 0].set_ylabel("z2")
    ax[0, 0].set_title("rVAE latent space of wall crops", fontsize=10)
    ax[0, 1].scatter(np.degrees(ori), np.degrees(ang), s=5, lw=0, alpha=0.6)
    ax[0, 1].set_xlabel("wall orientation from the detector (°)")
    ax[0, 1].set_ylabel("learned angle (°)")
    ax[0, 1].set_title(f"angle vs orientation (R = {r_angle:.2f})", fontsize=10)
    files = {"pfm_latent": save_fig(fig, out / "pfm_latent.png")}

    fig, ax = _figure(2, size=4.8)
    _imshow(ax[0, 0], amp, title="wall points coloured by z1")
    sc = ax[0, 0].scatter(table["x"], table["y"], c=table["z1"], cmap="viridis", s=9, lw=0)
    fig.colorbar(sc, ax=ax[0, 0], shrink=0.8, label="z1")
    _imshow(ax[0, 1], amp, title="wall points coloured by learned angle")
    sc = ax[0, 1].scatter(table["x"], table["y"], c=np.degrees(ang), cmap="twilight",
                          vmin=-180, vmax=180, s=9, lw=0)  # fmt: skip
    fig.colorbar(sc, ax=ax[0, 1], shrink=0.8, label="angle (°)")
    files["pfm_walls_latent"] = save_fig(fig, out / "pfm_walls_latent.png")
    return files


# ----------------------------------------------------------------------------- switching
def switching_figure(out: Path, phase, switched, frac, truth) -> Path:
    """Phase and switched pixels per frame, and the switched fraction against the truth."""
    from matplotlib.figure import Figure

    t = len(frac)
    fig = Figure(figsize=(2.3 * t, 7.2), layout="constrained")
    gs = fig.add_gridspec(3, t, height_ratios=[1, 1, 1.3])
    for i in range(t):
        ax = fig.add_subplot(gs[0, i])
        _imshow(ax, phase[i], cmap="twilight", vmin=-180, vmax=180, title=f"frame {i}: phase")
        ax = fig.add_subplot(gs[1, i])
        _imshow(ax, switched[i].astype(float), vmin=0, vmax=1,
                title=f"switched {frac[i]:.0%}")  # fmt: skip
    ax = fig.add_subplot(gs[2, :])
    ax.plot(np.arange(t), truth, "o-", color="black", label="ground truth")
    ax.plot(np.arange(t), frac, "s--", color="tab:red", label="detected (gaussian domain map)")
    ax.set_xlabel("frame")
    ax.set_ylabel("switched fraction")
    ax.set_ylim(0, 1)
    ax.set_xticks(np.arange(t))
    ax.legend()
    ax.grid(alpha=0.3)
    return save_fig(fig, out / "switching.png")
