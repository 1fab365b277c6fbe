"""Time-delay rVAE: does the latent separate pinned from moving walls?

Run from the repository root (busy 2-core machine: a few minutes)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_time_delay.py [--seeds 200 201 202 203]

For every held-out seed: a simulated switching series with pinning defects
(:func:`~napari_ivae.simulate.simulate_switching`), walls found by the
default detector (``detect_walls``, gaussian, phase + amplitude), the label
of every wall point from :func:`~napari_ivae.dynamics.point_motion` on the
*detected* walls (pinned: a wall of frame t+1 within 1.5 px).  The stacks
are cropped as a user gets them from ``ivae crop --time-delay K`` (32-px
windows, amplitude + phase, ``--phase auto`` = the phase as its domain
field, ``--normalize auto`` = zscore) for K = +1 and K = −1, and a 2-latent
rVAE is trained with the user defaults (``TrainConfig()``, only the seed
and ``num_threads=1`` set).  Baseline: a plain VAE (2 latents) on single
frames, cropped the same way without the delay.

Score: kNN balanced accuracy (k = 15, 5-fold stratified, z columns only,
standardised) of pinned vs moved.  For K = −1 a point of frame t is paired
with frame t−1 and labelled by the motion t−1 → t of the walls there
(the wall of frame t was already there at t−1: pinned).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

SHAPE = (256, 256)
SERIES = dict(n_frames=6, n_pins=40, pin_radius=5.0)


def knn_balanced_accuracy(z: np.ndarray, label: np.ndarray, *, k: int = 15, seed: int = 0) -> float:
    """5-fold stratified kNN balanced accuracy of ``label`` (bool) from ``z`` (standardised)."""
    z = (z - z.mean(0)) / np.maximum(z.std(0), 1e-12)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(z), dtype=int)
    for value in (False, True):
        idx = rng.permutation(np.flatnonzero(label == value))
        fold[idx] = np.arange(idx.size) % 5
    pred = np.empty(len(z), dtype=bool)
    for f in range(5):
        test, train = fold == f, fold != f
        _, nb = cKDTree(z[train]).query(z[test], k=k)
        pred[test] = label[train][nb].mean(axis=1) > 0.5
    recalls = [np.mean(pred[label == v] == v) for v in (False, True)]
    return float(np.mean(recalls))


def labelled_points(seed: int):
    """The series, the detected wall points with ``pinned`` (motion t → t+1) and ``pinned_prev`` (t−1 → t)."""
    from napari_ivae.detect import detect_walls
    from napari_ivae.dynamics.motion import point_motion, wall_motion
    from napari_ivae.simulate import simulate_switching

    s = simulate_switching(SHAPE, seed=seed, **SERIES)
    res = detect_walls(s.phase, s.amplitude)
    pts = point_motion(res.points, wall_motion(res.mask))
    # reverse direction: frame t against t−1, the distance to the walls of t−1
    back = wall_motion(res.mask[::-1])[::-1]
    rev = point_motion(res.points, back)
    pts["pinned_prev"] = rev["pinned"]
    pts["displacement_prev_px"] = rev["displacement_px"]
    return s, res, pts


def user_stack(s, pts, delay: int | None):
    """The stack ``ivae crop --window 32 [--time-delay K]`` writes (amplitude + phase as domains)."""
    from napari_ivae.crop import crop

    return crop(
        [s.amplitude, s.phase],
        pts,
        window=32,
        normalize="zscore",
        channels=("amplitude", "phase"),
        time_delay=delay,
        phase="domain" if delay is not None else "raw",
        phase_channels=[1] if delay is not None else None,
    )


def train_latent(stack, kind: str, seed: int = 0) -> np.ndarray:
    """z of every crop after training ``kind`` (2 latents) with the user defaults."""
    from napari_ivae.analysis import encode
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, run_fit

    cfg = TrainConfig(seed=seed, num_threads=1, device="cpu")
    result = run_fit(fit(stack, ModelConfig(kind=kind, latent_dim=2), cfg))
    lat = encode(result.model, stack)
    return lat[["z1", "z2"]].to_numpy()


def run_seed(seed: int, delays=(1, -1)) -> list[dict]:
    t0 = time.perf_counter()
    s, _res, pts = labelled_points(seed)
    rows = []
    for delay in delays:
        stack = user_stack(s, pts, delay)
        col = "pinned" if delay > 0 else "pinned_prev"
        label = pts[col].to_numpy()[stack.index].astype(bool)
        t1 = time.perf_counter()
        z = train_latent(stack, "rvae")
        rows.append(_row(seed, f"rvae K={delay:+d}", stack, label, z, time.perf_counter() - t1))
    single = user_stack(s, pts, None)
    has_next = pts["displacement_px"].notna().to_numpy()[single.index]
    label = pts["pinned"].to_numpy()[single.index].astype(bool)
    t1 = time.perf_counter()
    z = train_latent(single, "vae")
    rows.append(
        _row(seed, "vae single", single, label[has_next], z[has_next], time.perf_counter() - t1)
    )
    print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def _row(seed, name, stack, label, z, seconds) -> dict:
    acc = knn_balanced_accuracy(z, label)
    row = dict(
        seed=seed,
        model=name,
        crops=len(stack),
        pinned=int(label.sum()),
        moved=int((~label).sum()),
        unpaired=stack.unpaired,
        bacc=acc,
        train_s=seconds,
    )
    print(
        f"  {name:12s} crops {row['crops']:5d} (pinned {row['pinned']:4d}, moved {row['moved']:4d},"
        f" unpaired {row['unpaired']:4d})  kNN bal. acc {acc:.3f}  train {seconds:.0f} s",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[200, 201, 202, 203])
    args = parser.parse_args()
    rows = [r for seed in args.seeds for r in run_seed(seed)]
    print("\nmedian over seeds:")
    for name in dict.fromkeys(r["model"] for r in rows):
        acc = [r["bacc"] for r in rows if r["model"] == name]
        print(f"  {name:12s} {np.median(acc):.3f}  ({', '.join(f'{a:.3f}' for a in acc)})")


if __name__ == "__main__":
    main()
