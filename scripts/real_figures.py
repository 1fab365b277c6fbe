"""Run the detectors on the real images and save one figure per image in docs/images/.

Usage (from the repository root)::

    python scripts/real_figures.py [--data ../shared/data/real] [--out docs/images]

STEM (.dm3): atom columns found by ``detect_atoms`` (LoG, and the DCNN when
its weights exist) drawn on the image.  PFM (TIFF, .ibw): the phase and the
amplitude channels, found by name, with the walls of ``detect_walls``
(gaussian, canny, and the DCNN when available) drawn on them, and the
gaussian up/down domain map.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from napari_ivae.detect import detect_atoms, detect_walls
from napari_ivae.io import read

ROOT = Path(__file__).resolve().parents[1]

#: files whose figures another script draws (name -> where)
ELSEWHERE = {
    "example_Se_implanted_MoS2.dm3": "both sublattices are drawn by benchmarks/bench_atoms_real.py",
}


def _dcnn_available(task: str) -> bool:
    try:
        from napari_ivae.detect import dcnn
    except Exception:
        return False
    return (dcnn.WEIGHTS_DIR / f"{task}.pt").exists()


def _save(fig, path: Path) -> None:
    from napari_ivae._atomic import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
    plt.close(fig)
    print(f"wrote {path}")


def _show(ax, img, cmap="gray", title=""):
    lo, hi = np.nanpercentile(img, [0.5, 99.5])
    ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def stem_figure(path: Path, out: Path) -> None:
    layer = next(ly for ly in read(path) if np.asarray(ly.data).ndim == 2)
    img = np.asarray(layer.data, dtype=np.float32)
    methods = ["log"] + (["dcnn"] if _dcnn_available("atoms") else [])
    fig, axes = plt.subplots(2, len(methods), figsize=(6 * len(methods), 12), squeeze=False)
    for j, method in enumerate(methods):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = detect_atoms(img, method=method)
        print(f"{path.name}: {method}: {len(table)} atoms")
        ax = axes[0, j]
        _show(ax, img, title=f"{path.name}: {method}, {len(table)} atoms")
        sc = ax.scatter(
            table["x"], table["y"], s=6, c=table["intensity"], cmap="autumn", linewidths=0
        )
        fig.colorbar(sc, ax=ax, fraction=0.046, label="integrated intensity")
        # zoom on a corner to judge the positions
        z = axes[1, j]
        n = min(128, img.shape[0] // 2)
        _show(z, img[:n, :n], title="zoom (top-left corner)")
        sub = table[(table["y"] < n - 0.5) & (table["x"] < n - 0.5)]
        z.plot(sub["x"], sub["y"], "r+", ms=8, mew=1.2)
    _save(fig, out / f"detect_{path.stem}.png")


def _pfm_channels(path: Path):
    layers = read(path)
    phase = next((ly for ly in layers if ly.role == "phase"), None)
    amp = next((ly for ly in layers if ly.role == "amplitude"), None)
    return phase, amp


def pfm_figure(path: Path, out: Path) -> None:
    phase, amp = _pfm_channels(path)
    ph = np.asarray(phase.data, dtype=np.float32)
    am = None if amp is None else np.asarray(amp.data, dtype=np.float32)
    methods = ["gaussian", "canny"] + (["dcnn"] if _dcnn_available("walls") else [])
    results = {}
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[method] = detect_walls(ph, am, method=method)
        print(f"{path.name}: {method}: {int(results[method].mask.sum())} wall px")
    ncol = 2 + (am is not None) + len(methods)
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 4.6))
    axes = list(axes)
    _show(axes.pop(0), ph, cmap="twilight", title=f"{path.name}\n{phase.name}")
    if am is not None:
        _show(axes.pop(0), am, title=amp.name)
    ax = axes.pop(0)
    ax.imshow(
        results["gaussian"].domains, cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest"
    )
    ax.set_title("gaussian: up/down domains", fontsize=9)
    ax.set_axis_off()
    base, cmap = (am, "gray") if am is not None else (ph, "twilight")
    for method, ax in zip(methods, axes):
        _show(ax, base, cmap=cmap, title=f"{method} walls")
        m = results[method].mask
        overlay = np.zeros((*m.shape, 4))
        overlay[m] = (1.0, 0.1, 0.1, 1.0)
        ax.imshow(overlay, interpolation="nearest")
    _save(fig, out / f"detect_{path.stem}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"real data folder {args.data} not found")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted(args.data.iterdir()):
        if path.name in ELSEWHERE:
            print(f"skipped {path.name}: {ELSEWHERE[path.name]}")
            continue
        suffix = path.suffix.lower()
        if suffix in (".dm3", ".dm4"):
            stem_figure(path, args.out)
        elif suffix in (".tif", ".tiff", ".ibw"):
            pfm_figure(path, args.out)


if __name__ == "__main__":
    main()
