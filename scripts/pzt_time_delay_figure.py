"""Time-delay rVAE on the real PZT series (three scans of one area): docs/images/pzt_time_delay.png.

Run from the repository root (busy 2-core machine: a few minutes)::

    OMP_NUM_THREADS=1 nice -n 10 python scripts/pzt_time_delay_figure.py \
        [--data ../shared/data/real] [--out docs/images/pzt_time_delay.png]

1. amplitude and phase of PZT_final0001/2/3; the frames are registered on the
   amplitude of the rows all three scans show cleanly (``TRUSTED_ROWS``: below
   them 0002/0003 have tip-change bands) with ``register_series``, moved with
   ``apply_shifts`` and cut to the trusted rows and the columns every frame covers;
2. walls by the default detector; ``displacement_px`` / ``pinned`` per wall
   point from ``wall_motion`` / ``point_motion`` (frame t against t+1);
3. the stack ``ivae crop --window 32 --time-delay 1`` makes (amplitude +
   phase as its domain field, zscore), a 2-latent rVAE with the user defaults;
4. figure: the latent coloured by pinned and by displacement; frames 0 and 1
   with their walls coloured by z1 (the walls of the next frame in white).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FILES = ("PZT_final0001.tif", "PZT_final0002.tif", "PZT_final0003.tif")
#: rows shown cleanly by all three scans (0002/0003: tip-change bands below)
TRUSTED_ROWS = 176


def load_series(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registered amplitude and phase (T, Y, X) of the trusted region, and the shifts."""
    from napari_ivae.dynamics.register import apply_shifts, register_series
    from napari_ivae.io import read

    amp, phase = [], []
    for name in FILES:
        layers = read(folder / name)
        amp.append(next(la.data for la in layers if la.role == "amplitude"))
        phase.append(next(la.data for la in layers if la.role == "phase"))
    amp, phase = np.stack(amp)[:, :TRUSTED_ROWS], np.stack(phase)[:, :TRUSTED_ROWS]
    reg = register_series(amp)
    amp = apply_shifts(amp, reg.shifts)
    phase = apply_shifts(phase, reg.shifts, order=0)  # a wrapped phase: no interpolation
    ok = np.isfinite(amp).all(0) & np.isfinite(phase).all(0)
    # pure translations: the valid pixels form a box
    rows, cols = np.flatnonzero(ok[:, ok.shape[1] // 2]), np.flatnonzero(ok[ok.shape[0] // 2])
    box = np.s_[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return amp[box], phase[box], reg.shifts


def analyse(amp: np.ndarray, phase: np.ndarray):
    """Wall points with motion, the time-delay stack and its latent."""
    from napari_ivae.analysis import encode
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_walls
    from napari_ivae.dynamics.motion import point_motion, wall_motion
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, run_fit

    res = detect_walls(phase, amp)
    pts = point_motion(res.points, wall_motion(res.mask))
    stack = crop(
        [amp, phase],
        pts,
        window=32,
        normalize="zscore",
        channels=("amplitude", "phase"),
        time_delay=1,
        phase="domain",
        phase_channels=[1],
    )
    cfg = TrainConfig(seed=0, num_threads=1, device="cpu")
    result = run_fit(fit(stack, ModelConfig(kind="rvae", latent_dim=2), cfg))
    z = encode(result.model, stack)[["z1", "z2"]].to_numpy()
    return res, pts.iloc[stack.index].reset_index(drop=True), stack, z


def figure(out: Path, amp, phase, res, pts, z, score: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from napari_ivae.crop import domain_series

    field = domain_series(phase, amp)
    pinned = pts["pinned"].to_numpy(bool)
    disp = np.clip(pts["displacement_px"].to_numpy(float), 0, 10)
    fig, ax = plt.subplots(3, 2, figsize=(13, 15))
    a = ax[0, 0]
    a.scatter(*z[~pinned].T, s=7, c="tab:red", label=f"moved ({(~pinned).sum()})")
    a.scatter(*z[pinned].T, s=7, c="tab:blue", label=f"pinned ({pinned.sum()})")
    a.set(xlabel="z1", ylabel="z2", title=f"latent by pinned (kNN bal. acc. {score:.2f})")
    a.legend(markerscale=3)
    sc = ax[0, 1].scatter(*z.T, s=7, c=disp, cmap="viridis", vmin=0, vmax=10)
    fig.colorbar(sc, ax=ax[0, 1], label="displacement to frame t+1 (px, clipped at 10)")
    ax[0, 1].set(xlabel="z1", ylabel="z2", title="latent by displacement")
    lo, hi = np.percentile(z[:, 0], [2, 98])
    for t in (0, 1):
        sel = pts["frame"].to_numpy() == t
        ny, nx = np.nonzero(res.mask[t + 1])
        for a, (values, cmap, vmin, vmax, what) in zip(
            ax[t + 1],
            [(disp, "viridis", 0, 10, "displacement (px)"), (z[:, 0], "coolwarm", lo, hi, "z1")],
        ):
            a.imshow(field[t], cmap="gray", vmin=-2.5, vmax=2.5)
            a.plot(nx, ny, ".", ms=1.5, color="lime", alpha=0.7)
            sc = a.scatter(
                pts["x"][sel], pts["y"][sel], c=values[sel], s=14, cmap=cmap, vmin=vmin, vmax=vmax
            )
            a.set_title(f"frame {t}: walls by {what}; green: walls of frame {t + 1}")
            a.axis("off")
            fig.colorbar(sc, ax=a, shrink=0.7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


def main() -> int:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_time_delay import knn_balanced_accuracy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "pzt_time_delay.png")
    args = parser.parse_args()
    t0 = time.perf_counter()
    amp, phase, shifts = load_series(args.data)
    print(f"shifts (dy, dx) px: {np.round(shifts, 1).tolist()}; region {amp.shape}")
    res, pts, stack, z = analyse(amp, phase)
    pinned = pts["pinned"].to_numpy(bool)
    score = knn_balanced_accuracy(z, pinned)
    print(
        f"{len(stack)} crops (pinned {pinned.sum()}, moved {(~pinned).sum()}, unpaired "
        f"{stack.unpaired}); kNN balanced accuracy {score:.3f}; {time.perf_counter() - t0:.0f} s"
    )
    figure(args.out, amp, phase, res, pts, z, score)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
