"""The three wall kinds and the multilayer rVAE on the real PZT scan (a/c stripes + 180° domains).

Run from the repository root (a few minutes on a busy 2-core machine)::

    OMP_NUM_THREADS=1 nice -n 10 python scripts/pzt_wall_kinds_figure.py \
        [--data ../shared/data/real] [--out docs/images]

Every step is the CLI a user runs, with its defaults:

    ivae detect walls PZT_final0001.tif --kind all -o mask.tif --points pts.csv --maps maps.tif
    ivae crop maps.tif --points pts.csv --window 16 --normalize none -o stack.npz
    ivae train stack.npz --model rvae --latent-dim 2 -o run

Writes ``pzt_wall_kinds.png`` (amplitude and phase; 180° walls over the
phase, all walls and non-180° walls over the amplitude) and
``pzt_multilayer.png`` (the rVAE's z1–z2 coloured by the detector's kind,
and the wall points back on the amplitude coloured by kind and by the latent
with the larger spread).  Prints the
counts and a 5-fold k-NN of kind from z1, z2.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FILE = "PZT_final0001.tif"
COLORS = {"180": "#ffd400", "non180": "#22c55e", "all": "#00e5ff"}


def run_cli(path: Path, tmp: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detect (kind all, maps), crop the maps, train the rVAE; points and latent tables."""
    import tifffile

    from napari_ivae.cli import main

    steps = [
        ["detect", "walls", str(path), "--kind", "all", "-o", str(tmp / "mask.tif"),
         "--points", str(tmp / "pts.csv"), "--maps", str(tmp / "maps.tif"),
         "--map-channels", "180,all,non180"],
        ["crop", str(tmp / "maps.tif"), "--points", str(tmp / "pts.csv"), "--window", "16",
         "--normalize", "none", "--channels", "180 walls,all walls", "-o", str(tmp / "st.npz")],
        ["train", str(tmp / "st.npz"), "--model", "rvae", "--latent-dim", "2", "-q",
         "-o", str(tmp / "run")],
    ]  # fmt: skip
    for argv in steps:
        assert main(argv) == 0, argv
    maps = tifffile.imread(tmp / "maps.tif")  # the blurred lines, for the check below
    assert maps.shape[0] == 3
    return pd.read_csv(tmp / "pts.csv"), pd.read_csv(tmp / "run" / "latent.csv")


def _overlay(ax, image, mask, color, title, cmap="gray"):
    ax.imshow(image, cmap=cmap, interpolation="nearest")
    rgba = np.zeros((*mask.shape, 4))
    rgba[mask] = matplotlib.colors.to_rgba(color)
    ax.imshow(rgba, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def kinds_figure(amp, phase, masks, out: Path, nm: float) -> None:
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.9))
    lo, hi = np.percentile(amp, [1, 99.5])
    a = np.clip((amp - lo) / (hi - lo), 0, 1)
    axes[0].imshow(a, cmap="gray")
    axes[0].set_title(f"{FILE}: amplitude ({256 * nm / 1000:.1f} µm)", fontsize=10)
    axes[0].axis("off")
    axes[1].imshow(phase, cmap="twilight")
    axes[1].set_title("phase", fontsize=10)
    axes[1].axis("off")
    _overlay(axes[2], phase, masks["180"], COLORS["180"], "180° walls (phase reverses)", "twilight")
    _overlay(axes[3], a, masks["all"], COLORS["all"], "all walls (180° + amplitude valleys)")
    _overlay(axes[4], a, masks["non180"], COLORS["non180"], "non-180° walls (all minus 180°)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def multilayer_figure(amp, pts, lat, out: Path) -> None:
    idx = lat["index"].to_numpy()
    kinds = pts["kind"].to_numpy()[idx]
    z = lat[["z1", "z2"]].to_numpy()
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.4))
    for k in ("180", "non180"):
        c = COLORS[k]
        m = kinds == k
        axes[0].scatter(z[m, 0], z[m, 1], s=6, c=c, label=f"{k} ({m.sum()})", alpha=0.7)
    axes[0].set_xlabel("z1")
    axes[0].set_ylabel("z2")
    axes[0].legend(title="detector's kind", fontsize=8)
    axes[0].set_title("multilayer rVAE latent ([180°, all] wall maps)", fontsize=10)
    lo, hi = np.percentile(amp, [1, 99.5])
    wide = int(np.argmax(z.std(0)))  # the latent the model spreads the walls along
    panels = ((axes[1], None, "wall points by kind"), (axes[2], wide, f"by z{wide + 1}"))
    for ax, col, title in panels:
        ax.imshow(np.clip((amp - lo) / (hi - lo), 0, 1), cmap="gray")
        y, x = pts["y"].to_numpy()[idx], pts["x"].to_numpy()[idx]
        if col is None:
            ax.scatter(x, y, s=5, c=[COLORS[k] for k in kinds])
        else:
            sc = ax.scatter(x, y, s=5, c=z[:, col], cmap="viridis")
            fig.colorbar(sc, ax=ax, fraction=0.046)
        ax.set_title(title + " (cropped points only)", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def knn(z: np.ndarray, labels: np.ndarray, k: int = 5, folds: int = 5) -> tuple[float, float]:
    order = np.random.default_rng(0).permutation(len(z))
    pred = np.empty_like(labels)
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        d = ((z[test, None] - z[None, train]) ** 2).sum(-1)
        nn = labels[train][np.argsort(d, axis=1)[:, :k]]
        pred[test] = [np.bincount(r, minlength=2).argmax() for r in nn]
    bal = np.mean([(pred[labels == c] == c).mean() for c in (0, 1)])
    return float((pred == labels).mean()), float(bal)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/real")
    ap.add_argument("--out", default="docs/images")
    args = ap.parse_args()
    from napari_ivae.io import pixel_size_nm, read

    path = Path(args.data) / FILE
    layers = {ly.name: ly for ly in read(str(path))}
    amp = np.asarray(layers["Amplitude Retrace"].data, dtype=np.float64)
    phase = np.asarray(layers["Phase Retrace"].data, dtype=np.float64)
    nm = float(pixel_size_nm(layers["Phase Retrace"])[0])
    from napari_ivae.detect import detect_walls

    masks = detect_walls(phase, amp, kind="all", phase_units="deg").kind_masks  # as the CLI
    with tempfile.TemporaryDirectory() as tmp:
        pts, lat = run_cli(path, Path(tmp))
    out = Path(args.out)
    kinds_figure(amp, phase, masks, out / "pzt_wall_kinds.png", nm)
    multilayer_figure(amp, pts, lat, out / "pzt_multilayer.png")
    idx = lat["index"].to_numpy()
    labels = (pts["kind"].to_numpy()[idx] != "180").astype(int)
    z = lat[["z1", "z2"]].to_numpy()
    acc, bal = knn((z - z.mean(0)) / z.std(0), labels)
    print(f"{FILE}: wall px 180 {masks['180'].sum()}, non180 {masks['non180'].sum()}; "
          f"points {len(pts)} ({(pts['kind'] == '180').sum()} 180°), cropped {len(lat)}; "
          f"kNN(5, 5-fold) detector kind from z1,z2: accuracy {acc:.3f}, balanced {bal:.3f} "
          f"(majority {max(labels.mean(), 1 - labels.mean()):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
