"""Held-out cards-like sets trained exactly as a user would: ``ivae train`` with its defaults.

Every run is the command line::

    ivae train SET.npz --model {rvae|jrvae} --latent-dim 2 [--classes 4] --seed S -o RUN

on a set written by :func:`napari_ivae.simulate.make_cards` (6000 × 48², four
glyphs of equal area, rotation 0–360°, shear ±0.15, gain 0.7–1.3, noise 0.08).
Sets: ``letters`` and ``poly0`` were used while the defaults were chosen
(tuning); ``shapes``, ``tools``, ``poly1``, ``poly2`` were not (held out).
Reported per run: class ARI and classes used (jrVAE), angle consistency per
glyph (mean resultant length of learned ∓ true angle, best sign), kNN (k=5,
5-fold) glyph accuracy on z, fraction of crops with the shift at its bound,
wall time and CPU time of the whole command (the machine's load is printed).

    nice -n 5 python benchmarks/bench_cards_heldout.py --sets shapes,tools,poly1,poly2 \
        --models jrvae,rvae --seeds 0,1,2,3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETS = {
    "letters": {"glyphs": "letters"},  # tuning
    "poly0": {"glyphs": "polygons", "glyph_seed": 0},  # tuning
    "shapes": {"glyphs": "shapes"},  # held out
    "tools": {"glyphs": "tools"},  # held out
    "poly1": {"glyphs": "polygons", "glyph_seed": 1},  # held out
    "poly2": {"glyphs": "polygons", "glyph_seed": 2},  # held out
}
COMMON = {"equal_area": True, "shear": 0.15, "gain": 0.3, "noise": 0.08, "seed": 5}


def make_set(name: str, folder: Path, n_per_class: int):
    from napari_ivae.simulate import make_cards

    s = make_cards(n_per_class, **SETS[name], **COMMON)
    path = folder / f"{name}.npz"
    np.savez(path, images=s.images)
    return path, s


def ari(a, b) -> float:
    from scipy.special import comb

    a = np.unique(a, return_inverse=True)[1]
    b = np.unique(b, return_inverse=True)[1]
    ct = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(ct, (a, b), 1)
    sij, sa, sb = comb(ct, 2).sum(), comb(ct.sum(1), 2).sum(), comb(ct.sum(0), 2).sum()
    e, mx = sa * sb / comb(len(a), 2), 0.5 * (sa + sb)
    return float((sij - e) / (mx - e)) if mx != e else 1.0


def knn_acc(z, labels, k=5, folds=5, seed=0) -> float:
    """k-nearest-neighbour accuracy, ``folds``-fold (numpy; no scikit-learn)."""
    order = np.random.default_rng(seed).permutation(len(z))
    hits = 0
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        d = ((z[test, None, :] - z[None, train, :]) ** 2).sum(-1)
        nn = labels[train][np.argsort(d, axis=1)[:, :k]]
        votes = np.array([np.bincount(r, minlength=labels.max() + 1).argmax() for r in nn])
        hits += (votes == labels[test]).sum()
    return hits / len(z)


def angle_mrl(learned, true, labels):
    return [
        round(max(abs(np.mean(np.exp(1j * (learned[m] - s * true[m])))) for s in (1, -1)), 3)
        for m in (labels == k for k in np.unique(labels))
    ]


def score(run: Path, s) -> dict:
    import pandas as pd

    df = pd.read_csv(run / "latent.csv")
    out = {}
    if "class" in df:
        c = df["class"].to_numpy().astype(int)
        out["ari"] = round(ari(s.labels, c), 3)
        out["classes_used"] = int((np.bincount(c, minlength=4) > 0).sum())
        out["class_sizes"] = np.bincount(c, minlength=4).tolist()
    out["angle_mrl"] = angle_mrl(df["angle"].to_numpy(), s.angles, s.labels)
    zc = [c for c in df.columns if c.startswith("z") and not c.endswith("_std")]
    out["knn_z"] = round(knn_acc(df[zc].to_numpy(), s.labels), 3)
    hist = pd.read_csv(run / "history.csv")
    out["s_per_epoch_median"] = round(float(hist["time"].median()), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="shapes,tools,poly1,poly2")
    ap.add_argument("--models", default="jrvae,rvae")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--n-per-class", type=int, default=1500)
    ap.add_argument("--extra", default="", help="more ivae train options (not the defaults!)")
    args = ap.parse_args()
    ivae = str(Path(sys.executable).with_name("ivae"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.sets.split(","):
            path, s = make_set(name, tmp, args.n_per_class)
            for kind in args.models.split(","):
                for seed in args.seeds.split(","):
                    run = tmp / f"{name}_{kind}_{seed}"
                    cmd = [ivae, "train", str(path), "--model", kind, "--latent-dim", "2"]
                    cmd += ["--classes", "4"] if kind == "jrvae" else []
                    cmd += ["--seed", seed, "-q", "-o", str(run), *args.extra.split()]
                    load0 = os.getloadavg()[0]
                    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    t0 = time.perf_counter()
                    subprocess.run(cmd, check=True)
                    wall = time.perf_counter() - t0
                    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                    row = {"set": name, "model": kind, "seed": int(seed), **score(run, s)}
                    row.update(wall_s=round(wall, 1), cpu_s=round(cpu, 1),
                               load=[round(load0, 2), round(os.getloadavg()[0], 2)])  # fmt: skip
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
