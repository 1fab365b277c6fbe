"""Semi-supervised benchmark (issue 14): ssrVAE with 3 % of the rows labelled on the
subtle cards set, beside the unsupervised jrVAE on the same set.

The set (``napari_ivae.simulate.make_subtle_cards``): glyph A, A with a small
notch (4 % of its area), glyph B; rotation 0–360°, scale 0.75–1.25, contrast
0.5–1.5, shift ±2 px, noise.  ``--labelled`` of every class is labelled (at
least one row per class, drawn with ``--seed``); every other label is empty.

Reported: the ssrVAE's accuracy on the unlabelled rows (target ≥ 0.95) and its
confusion matrix; the jrVAE (K = 3, no labels) on the same set: accuracy after
the best one-to-one matching of its classes to the truth (Hungarian) and ARI;
seconds per epoch of both (target: ssrVAE ≤ 2× jrVAE).  Both with the
defaults a user gets (``SSConfig(kind="ssrvae")`` / ``ModelConfig(kind="jrvae",
n_classes=3)``, ``TrainConfig(epochs=E)``).

    OMP_NUM_THREADS=2 python benchmarks/bench_semisupervised.py \\
        --n-per-class 1000 --epochs 20 --seed 5
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def labelled_rows(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask: ``fraction`` of every class (≥ 1 row), drawn at random."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), bool)
    for k in np.unique(labels):
        rows = np.flatnonzero(labels == k)
        mask[rng.choice(rows, max(1, round(fraction * len(rows))), replace=False)] = True
    return mask


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    comb = lambda v: (v * (v - 1) / 2).sum()  # noqa: E731
    n = len(a)
    index, rows, cols = comb(table), comb(table.sum(1)), comb(table.sum(0))
    expected = rows * cols / (n * (n - 1) / 2)
    top = (rows + cols) / 2
    return float((index - expected) / (top - expected)) if top != expected else 1.0


def train(x, mc, epochs: int, seed: int, threads: int | None, labels=None):
    """(model, seconds per epoch) with the default TrainConfig but ``epochs``."""
    from napari_ivae.train import TrainConfig, fit, run_fit

    tc = TrainConfig(epochs=epochs, seed=seed, num_threads=threads)
    t0 = time.perf_counter()
    result = run_fit(fit(x, mc, tc, labels=labels))
    if result.stopped:
        raise SystemExit(f"training stopped: {result.stopped}")
    return result.model, (time.perf_counter() - t0) / epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-per-class", type=int, default=1000)
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--labelled", type=float, default=0.03)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-jrvae", action="store_true")
    ap.add_argument("--confusion", default=None, help="write the ssrVAE's confusion matrix PNG")
    a = ap.parse_args()

    from scipy.optimize import linear_sum_assignment

    from napari_ivae.analysis import encode
    from napari_ivae.models import ModelConfig
    from napari_ivae.models.ss_config import SSConfig
    from napari_ivae.simulate import SUBTLE_CLASSES, make_subtle_cards

    cards = make_subtle_cards(a.n_per_class, size=a.size, seed=a.seed + 2000)
    names = np.asarray(SUBTLE_CLASSES, dtype=object)
    truth = names[cards.labels]
    known = labelled_rows(cards.labels, a.labelled, a.seed)
    given = np.where(known, truth, None)
    model, spe = train(cards.images, SSConfig(kind="ssrvae"), a.epochs, a.seed, a.threads, given)
    pred = encode(model, cards.images)["class"].to_numpy()
    acc = float((pred[~known] == truth[~known]).mean())
    cm = {t: {p: int(((truth == t) & (pred == p) & ~known).sum()) for p in names} for t in names}
    out = {
        "set": f"subtle cards {a.n_per_class}×3, {a.size}px, seed {a.seed + 2000}",
        "labelled": int(known.sum()), "ssrvae_accuracy_unlabelled": round(acc, 4),
        "ssrvae_confusion_unlabelled (truth -> predicted)": cm,
        "ssrvae_s_per_epoch": round(spe, 2),
    }  # fmt: skip
    if a.confusion:
        try:
            from napari_ivae.confusion import confusion_matrix, plot_confusion
        except ImportError:  # the explorer's confusion module not merged yet
            pass
        else:
            plot_confusion(confusion_matrix(truth[~known], pred[~known]), a.confusion)
    if not a.skip_jrvae:
        jr, spe_j = train(cards.images, ModelConfig(kind="jrvae", n_classes=3), a.epochs, a.seed,
                          a.threads)  # fmt: skip
        pj = encode(jr, cards.images)["class"].to_numpy()
        table = np.zeros((3, 3))
        np.add.at(table, (cards.labels, pj), 1)
        r, c = linear_sum_assignment(-table)
        out.update({
            "jrvae_matched_accuracy": round(
                float(table[r, c].sum() / len(pj)), 4),
            "jrvae_ari": round(ari(cards.labels, pj), 4),
            "jrvae_s_per_epoch": round(spe_j, 2),
            "ssrvae_over_jrvae_time": round(spe / spe_j, 2),
        })  # fmt: skip
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
