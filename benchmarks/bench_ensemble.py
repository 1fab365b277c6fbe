"""Ensemble benchmark (issue 14): consensus ARI and class uncertainty on the subtle cards set.

The set (``napari_ivae.simulate.make_subtle_cards``): glyph A, A with a small
notch (4 % of its area), glyph B; rotation 0–360°, scale 0.75–1.25, contrast
0.5–1.5, shift.  An ensemble of M jrVAEs (seeds S…S+M−1) with K = 3 classes;
reported: the consensus ARI against the truth, every member's ARI, the mean
``class_uncertainty`` on the ambiguous pair (true A and A_notch) and on the
distinct class (true B) and their ratio (target ≥ 2), seconds per member and
for the whole ensemble (≈ M × one model: members share nothing but the data).
``--ks 2:6`` instead gives the mean uncertainty / agreement for each K (the curve the
method uses to choose K) and writes it as PNG with ``--plot``.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ensemble.py \\
        --n-per-class 300 --members 5 --epochs 25 --seed 11
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ensemble.py \\
        --n-per-class 200 --members 3 --epochs 15 --ks 2:6 --plot /tmp/unc_k.png

``--gain fixed`` measures the likelihood before ``ModelConfig.gain`` (the
classes then follow the contrast); figures: docs/experiments.md, item 24:

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ensemble.py \\
        --n-per-class 200 --members 3 --epochs 10 --batch-size 32 --seed 11 --gain auto

``--scale-normalise`` (a diagnostic standing in for a scale latent the models
lack) resamples every crop to the median radius of gyration first.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)

    def comb2(x):
        return (x * (x - 1) / 2).sum()

    n = len(a)
    index, rows, cols = comb2(table), comb2(table.sum(1)), comb2(table.sum(0))
    expected = rows * cols / (n * (n - 1) / 2)
    top = (rows + cols) / 2
    return float((index - expected) / (top - expected)) if top != expected else 1.0


def _subtle_set(n_per_class: int, size: int, seed: int):
    try:
        from napari_ivae.simulate import make_subtle_cards
    except ImportError as err:  # until branch ringsgui (make_subtle_cards) is merged
        raise SystemExit(
            "bench_ensemble needs napari_ivae.simulate.make_subtle_cards (branch ringsgui)"
        ) from err
    return make_subtle_cards(n_per_class, size=size, seed=seed)


def scale_normalised(x: np.ndarray) -> np.ndarray:
    """Every crop resampled about its centre of contrast to the median radius of gyration.

    A diagnostic (``--scale-normalise``), not a library option: it stands in
    for a scale latent the models do not have (docs/experiments.md, item 24).
    Weights as ``models.bins.centroid``: ``|x − median|`` above 3 robust σ.
    """
    from scipy import ndimage as ndi

    n, _, h, w = x.shape
    yy, xx = (g.ravel() for g in np.mgrid[0:h, 0:w].astype(float))
    v = x[:, 0].reshape(n, -1)
    dev = np.abs(v - np.median(v, 1, keepdims=True))
    wt = np.clip(dev - 3 * 1.4826 * np.median(dev, 1, keepdims=True), 0, None)
    wt /= wt.sum(1, keepdims=True)
    cy, cx = wt @ yy, wt @ xx
    rg = np.sqrt((wt * ((yy - cy[:, None]) ** 2 + (xx - cx[:, None]) ** 2)).sum(1))
    s, c0 = rg / np.median(rg), np.array([(h - 1) / 2, (w - 1) / 2])
    out = np.empty_like(x)
    for i in range(n):
        m = np.eye(2) * s[i]
        off = np.array([cy[i], cx[i]]) - m @ c0
        for ch in range(x.shape[1]):
            out[i, ch] = ndi.affine_transform(x[i, ch], m, offset=off, order=1, mode="nearest")
    return out


def run_ensemble(x, k: int, args) -> dict:
    """Train one ensemble; the consensus table, member tables and timings."""
    from napari_ivae.analysis import encode
    from napari_ivae.ensemble import align_members, consensus, fit_ensemble
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig

    mc = ModelConfig(kind=args.model, latent_dim=args.latent_dim, n_classes=k, gain=args.gain,
                     scale=args.scale)  # fmt: skip
    tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, num_threads=args.threads)
    gen = fit_ensemble(x, mc, tc, members=args.members, seed=args.seed)
    t_member, t_last, current = [], time.perf_counter(), 0
    try:
        while True:
            p = next(gen)
            if p.member != current:
                now = time.perf_counter()
                t_member.append(now - t_last)
                t_last, current = now, p.member
    except StopIteration as stop:
        result = stop.value
    t_member.append(time.perf_counter() - t_last)
    if result.stopped:
        raise SystemExit(f"training stopped: {result.stopped}")
    probs = [encode(m, x)[[f"p{j}" for j in range(k)]].to_numpy() for m in result.models]
    perms = align_members(probs)
    return {"table": consensus(probs, perms), "probs": probs, "t_member": t_member}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-per-class", type=int, default=300)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--model", default="jrvae", choices=["jvae", "jrvae"])
    ap.add_argument("--latent-dim", type=int, default=2)
    ap.add_argument(
        "--gain",
        default="auto",
        choices=["auto", "fixed", "free"],
        help="ModelConfig.gain (auto: free here; fixed: the likelihood before it)",
    )
    ap.add_argument(
        "--scale",
        default="fixed",
        choices=["fixed", "free"],
        help="ModelConfig.scale (free: the per-crop scale latent; ivae ... --scale free)",
    )
    ap.add_argument(
        "--scale-normalise",
        action="store_true",
        help="diagnostic: crops resampled to one radius of gyration first",
    )
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=11, help="seed of member 0 (data: seed + 1000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ks", default=None, help="only a K sweep instead, e.g. 2:6")
    ap.add_argument("--plot", default=None, help="PNG of the K sweep")
    args = ap.parse_args()

    cards = _subtle_set(args.n_per_class, args.size, args.seed + 1000)
    x, truth = cards.images, cards.labels  # 0 A, 1 A_notch, 2 B
    if args.scale_normalise:
        x = scale_normalised(x)
    if args.ks:
        _sweep(x, args)
        return
    t0 = time.perf_counter()
    out = run_ensemble(x, 3, args)
    t_all = time.perf_counter() - t0
    t = out["table"]
    unc = t["class_uncertainty"].to_numpy()
    pair, distinct = unc[truth < 2].mean(), unc[truth == 2].mean()
    report = {
        "set": f"subtle cards {args.n_per_class}×3, {args.size}px, seed {args.seed + 1000}",
        "model": f"{args.model} K=3 latent {args.latent_dim} gain {args.gain} "
        f"scale {args.scale}, "
        f"{'crops scale-normalised, ' if args.scale_normalise else ''}"
        f"{args.epochs} epochs, batch {args.batch_size}, "
        f"{args.members} members (seeds {args.seed}..{args.seed + args.members - 1})",
        "consensus_ari": round(ari(truth, t["class"].to_numpy()), 4),
        "member_ari": [round(ari(truth, p.argmax(1)), 4) for p in out["probs"]],
        "pair_merged_ari": round(ari(truth.clip(max=1), t["class"].to_numpy()), 4),
        "uncertainty_A_Anotch": round(float(pair), 4),
        "uncertainty_B": round(float(distinct), 4),
        "ratio": round(float(pair / max(distinct, 1e-12)), 2),
        "agreement_A_Anotch": round(float(t["class_agreement"][truth < 2].mean()), 4),
        "agreement_B": round(float(t["class_agreement"][truth == 2].mean()), 4),
        "s_per_member": [round(s, 1) for s in out["t_member"]],
        "s_ensemble": round(t_all, 1),
        "ensemble_over_mean_member": round(t_all / np.mean(out["t_member"]), 2),
    }
    print(json.dumps(report, indent=1))


def _sweep(x, args) -> None:
    import pandas as pd

    lo, hi = (int(v) for v in args.ks.split(":"))
    rows = []
    for k in range(lo, hi + 1):
        t0 = time.perf_counter()
        t = run_ensemble(x, k, args)["table"]
        rows.append({"n_classes": k, "mean_class_uncertainty": t["class_uncertainty"].mean(),
                     "mean_class_agreement": t["class_agreement"].mean(),
                     "s": time.perf_counter() - t0})  # fmt: skip
        print(
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()})
        )
    summary = pd.DataFrame(rows)
    print(summary.to_string(index=False, float_format="%.4f"))
    if args.plot:
        from napari_ivae._ensemble_files import uncertainty_curve

        uncertainty_curve(summary).savefig(args.plot, dpi=110, bbox_inches="tight")
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
