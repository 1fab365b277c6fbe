"""Domain walls on the real PFM files: small dot domains found, walls dropped, overlays.

Run from the repository root (about a minute on 2 CPU cores)::

    nice -n 5 python benchmarks/bench_walls_real.py [--data ../shared/data/real] \
        [--out docs/images] [--no-figures]

For every PFM file (a phase channel found by its role) the three wall
methods run twice: with the options of the release before the wall tests
("before": ``min_size=16, significance=0``) and with today's defaults
("after").  There is no ground truth for these scans, so the table counts:

- **dots**: reference dot domains, found independently of the detectors: the
  phase is split into its two 180° levels (sign of the projection of
  ``exp(iφ)`` on the doubled-phasor axis, 3×3 median filter); a connected
  region of one level with 4–200 px (radius ≤ 8 px) not touching the border
  is a dot when ≥ 70 % of its pixels and ≥ 70 % of the pixels 2–3 px outside
  it are of opposite levels, both carry a coherent phase (mean resultant
  length of ``exp(iφ)`` ≥ 0.5 inside and ≥ 0.7 in the ring: a dot in a
  domain, not a blob of speckle in a no-response region) and the circular
  mean phases inside and outside differ by more than 135° (a 180° dot, not
  a smaller a/c phase step).  Each
  reference dot was looked at in the figures (circles, numbered).  A dot is
  found when ≥ 50 % of its boundary lies within 2 px of a detected wall.
- **wall px** and the detector's own summary (noise, pieces dropped).

Figures (``--out``): ``walls_<file>.png``, the phase with the walls kept
(green) and dropped by the significance test (magenta), reference dots
circled (cyan: found by that method, red: missed), per method.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from napari_ivae.detect import detect_walls  # noqa: E402
from napari_ivae.io import read  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BEFORE = {"min_size": 16, "significance": 0.0}
AFTER: dict = {}
METHODS = ("gaussian", "canny", "dcnn")


def reference_dots(
    phase_deg: np.ndarray, *, min_area: int = 4, max_area: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Dot domains found without the detectors (see the module docstring).

    Returns
    -------
    dots : ndarray
        (N, 4) rows ``y, x, area, sign``.
    labels : ndarray
        (Y, X) int, ``i + 1`` on the pixels of dot ``i``, 0 elsewhere.
    """
    z = np.exp(1j * np.deg2rad(np.asarray(phase_deg, dtype=np.float64)))
    axis = np.angle(np.mean(z**2)) / 2
    v = np.real(z * np.exp(-1j * axis))
    up = ndimage.median_filter(v > 0, 3)
    cross = ndimage.generate_binary_structure(2, 1)
    rows = []
    labels = np.zeros(up.shape, dtype=np.int64)
    for sign, part in ((1, up), (-1, ~up)):
        lab, _ = ndimage.label(part, cross)
        sizes = np.bincount(lab.ravel())
        for k in np.nonzero((sizes >= min_area) & (sizes <= max_area))[0]:
            if k == 0:
                continue
            reg = lab == k
            if reg[0].any() or reg[-1].any() or reg[:, 0].any() or reg[:, -1].any():
                continue
            ring = ndimage.binary_dilation(reg, iterations=3) & ~ndimage.binary_dilation(reg)
            if (np.sign(v[reg]) == sign).mean() < 0.7 or (np.sign(v[ring]) == -sign).mean() < 0.7:
                continue
            m_in, m_out = z[reg].mean(), z[ring].mean()
            if abs(m_in) < 0.5 or abs(m_out) < 0.7:  # speckle, not a domain in a domain
                continue
            if abs(np.angle(m_in * np.conj(m_out))) < np.deg2rad(135):
                continue
            cy, cx = ndimage.center_of_mass(reg)
            rows.append((cy, cx, float(reg.sum()), float(sign)))
            labels[reg] = len(rows)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4), labels


def dots_found(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Whether ≥ 50 % of each reference dot's boundary lies within 2 px of a wall."""
    n = int(labels.max())
    if n == 0:
        return np.zeros(0, dtype=bool)
    cross = ndimage.generate_binary_structure(2, 1)
    dist = ndimage.distance_transform_edt(~mask) if mask.any() else np.full(mask.shape, np.inf)
    found = []
    for k in range(1, n + 1):
        reg = labels == k
        edge = reg & ~ndimage.binary_erosion(reg, cross)
        found.append(bool((dist[edge] <= 2).mean() >= 0.5))
    return np.asarray(found)


def pfm_files(data: Path) -> list[Path]:
    return sorted(p for p in data.iterdir() if p.suffix.lower() in (".tif", ".tiff", ".ibw"))


def channels(path: Path):
    layers = read(path)
    phase = next((ly for ly in layers if ly.role == "phase"), None)
    amp = next((ly for ly in layers if ly.role == "amplitude"), None)
    return phase, amp


def _dcnn_ok() -> bool:
    try:
        from napari_ivae.detect import dcnn
    except Exception:
        return False
    return (dcnn.WEIGHTS_DIR / "walls.pt").exists()


def run_file(path: Path, methods) -> dict:
    phase, amp = channels(path)
    ph = np.asarray(phase.data, dtype=np.float64)
    am = None if amp is None else np.asarray(amp.data, dtype=np.float64)
    dots, labels = reference_dots(ph)
    out = {"path": path, "phase": ph, "amp": am, "dots": dots, "res": {}}
    for method in methods:
        for tag, kw in (("before", BEFORE), ("after", AFTER)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                res = detect_walls(ph, am, method=method, **kw)
                dt = time.perf_counter() - t0
            found = dots_found(labels, res.mask)
            out["res"][method, tag] = (res, found, dt)
            print(
                f"| {path.name:20s} | {method:8s} | {tag:6s} | {int(found.sum()):2d}/{len(dots):2d} | "
                f"{int(res.mask.sum()):5d} | {dt:5.2f} | {res.summary} |",
                flush=True,
            )
    return out


def figure(run: dict, methods, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ph, dots = run["phase"], run["dots"]
    n = len(methods)
    fig, axes = plt.subplots(1, n + 1, figsize=(4.4 * (n + 1), 4.9))
    am = run["amp"]
    ax = axes[0]
    if am is not None:
        lo, hi = np.percentile(am, [1, 99])
        ax.imshow(am, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(f"{run['path'].name}: amplitude", fontsize=9)
    else:
        ax.imshow(ph, cmap="twilight", interpolation="nearest")
        ax.set_title(f"{run['path'].name}: phase", fontsize=9)
    for i, (cy, cx, _a, _s) in enumerate(dots):
        ax.text(cx, cy, str(i + 1), color="yellow", fontsize=6, ha="center", va="center")
    for ax, method in zip(axes[1:], methods):
        res, found, _ = run["res"][method, "after"]
        before = run["res"][method, "before"][0]
        ax.imshow(ph, cmap="twilight", interpolation="nearest")
        ov = np.zeros((*ph.shape, 4))
        ov[before.mask & ~res.mask] = (1.0, 0.0, 1.0, 0.9)
        ov[res.mask] = (0.1, 1.0, 0.1, 1.0)
        ax.imshow(ov, interpolation="nearest")
        for (cy, cx, area, _s), ok in zip(dots, found):
            r = np.sqrt(area / np.pi) + 3
            ax.add_patch(plt.Circle((cx, cy), r, fill=False, lw=0.9, color="cyan" if ok else "red"))
        info = res.info
        ax.set_title(
            f"{method}: green kept, magenta dropped ({info.get('walls_dropped', 0)} of "
            f"{info.get('walls_tested', 0)} pieces)\nnoise {info.get('noise_deg') or float('nan'):.1f}°;"
            f" dots found {int(found.sum())}/{len(dots)} (cyan; red missed)",
            fontsize=8,
        )
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    path = out_dir / f"walls_{run['path'].stem}.png"
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out_dir)
    os.close(fd)
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)", flush=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--no-figures", action="store_true")
    ap.add_argument("--methods", default=None, help="comma-separated subset of gaussian,canny,dcnn")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"real data folder {args.data} not found")
    methods = [m for m in METHODS if m != "dcnn" or _dcnn_ok()]
    if args.methods:
        methods = [m for m in methods if m in args.methods.split(",")]
    print("| file | method | options | dots found | wall px | time (s) | summary |")
    print("|---|---|---|---|---|---|---|")
    runs = [run_file(p, methods) for p in pfm_files(args.data) if channels(p)[0] is not None]
    total = {(m, t): [0, 0] for m in methods for t in ("before", "after")}
    for run in runs:
        for (m, t), (_res, found, _dt) in run["res"].items():
            total[m, t][0] += int(found.sum())
            total[m, t][1] += len(found)
    print()
    for (m, t), (f, n) in total.items():
        print(f"all files: {m:8s} {t:6s} dots found {f}/{n}")
    if not args.no_figures:
        args.out.mkdir(parents=True, exist_ok=True)
        for run in runs:
            figure(run, methods, args.out)


if __name__ == "__main__":
    main()
