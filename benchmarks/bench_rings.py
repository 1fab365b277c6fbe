"""Graphene ring labels against the simulator's exact truth, from true and from detected atoms.

Run from the repository root (about a minute on 1 busy CPU core)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_rings.py [--seeds 2000,2001,2002,2003]
        [--noise-scale 1.0] [--jitter 0.0] [--tolerance T]

Test set: ``simulate_stem(512×512, lattice="graphene", n_grains=3,
stone_wales=12, reconstructed_vacancies=6)`` with the default dopants (2 %),
unreconstructed vacancies (1 %) and noise, seeds ≥ 2000 (new).  Truth: the
ring sizes of every atom from the simulator's exact bond graph
(``STEMSample.rings``).  Scored atoms: truth known (not within 3 spacings of
another grain) and at least 3 spacings from the image edge ("away from the
border").  "true positions": :func:`ring_statistics` of the truth ``y, x``.
"detected": ``detect_atoms(image)`` with the user defaults, then
:func:`ring_statistics`; each scored truth atom takes the label of the
detection matched to it (one-to-one, 2 px); an unmatched truth atom counts as
wrong.  An atom agrees when its ``ring_label`` equals the truth's; the
defect rows are the scored atoms whose truth label is not 4 ([6,6,6]).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from napari_ivae.detect import detect_atoms  # noqa: E402
from napari_ivae.detect._metrics import match_points  # noqa: E402
from napari_ivae.rings import ring_statistics  # noqa: E402
from napari_ivae.simulate import simulate_stem  # noqa: E402

SHAPE = (512, 512)
OPTIONS = {"lattice": "graphene", "n_grains": 3, "stone_wales": 12, "reconstructed_vacancies": 6}


def _scored(sample) -> np.ndarray:
    spacing = sample.params["spacing"]
    y, x = sample.atoms.y.to_numpy(), sample.atoms.x.to_numpy()
    h, w = SHAPE
    m = 3 * spacing
    inside = (y >= m) & (y <= h - 1 - m) & (x >= m) & (x <= w - 1 - m)
    return inside & sample.rings.ring_known.to_numpy()


def one_seed(seed: int, harder: dict, tol: dict) -> dict:
    s = simulate_stem(SHAPE, **OPTIONS, **harder, seed=seed)
    truth = s.rings.ring_label.to_numpy()
    scored = _scored(s)
    t0 = time.perf_counter()
    from_true = ring_statistics(s.atoms[["y", "x"]], shape=SHAPE, **tol)
    t_rings = time.perf_counter() - t0
    det = detect_atoms(s.image)
    from_det = ring_statistics(det[["y", "x"]], shape=SHAPE, **tol)
    m = match_points(det[["y", "x"]].to_numpy(), s.atoms[["y", "x"]].to_numpy(), radius=2.0)
    det_label = np.full(len(s.atoms), -1)
    det_label[m["pairs"][:, 1]] = from_det.ring_label.to_numpy()[m["pairs"][:, 0]]
    defect = scored & (truth != 4)
    return {
        "seed": seed,
        "atoms": len(s.atoms),
        "scored": int(scored.sum()),
        "defect_rows": int(defect.sum()),
        "true_ok": int((from_true.ring_label.to_numpy() == truth)[scored].sum()),
        "true_defect_ok": int((from_true.ring_label.to_numpy() == truth)[defect].sum()),
        "true_border": int(from_true.border.to_numpy()[scored].sum()),
        "det_ok": int((det_label == truth)[scored].sum()),
        "det_defect_ok": int((det_label == truth)[defect].sum()),
        "det_f1": m["f1"],
        "t_rings": t_rings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="2000,2001,2002,2003")
    parser.add_argument("--noise-scale", type=float, default=1.0, help="simulate_stem noise_scale")
    parser.add_argument("--jitter", type=float, default=0.0, help="simulate_stem position_jitter")
    parser.add_argument("--tolerance", type=float, default=None, help="ring_statistics tolerance")
    args = parser.parse_args()
    seeds = [int(v) for v in args.seeds.split(",")]
    harder = {"noise_scale": args.noise_scale, "position_jitter": args.jitter}
    print(f"simulate_stem{SHAPE} {OPTIONS} {harder}")
    tol = {} if args.tolerance is None else {"tolerance": args.tolerance}
    print(f"ring_statistics options {tol or 'defaults'}")
    rows = [one_seed(seed, harder, tol) for seed in seeds]
    print(
        "seed  atoms scored defects | true: agree  defects  border | detected: F1    agree  defects | rings s"
    )
    for r in rows:
        print(
            f"{r['seed']:5d} {r['atoms']:6d} {r['scored']:6d} {r['defect_rows']:7d} |"
            f" {r['true_ok'] / r['scored']:12.4f} {r['true_defect_ok'] / r['defect_rows']:8.4f}"
            f" {r['true_border']:7d} | {r['det_f1']:12.4f} {r['det_ok'] / r['scored']:6.4f}"
            f" {r['det_defect_ok'] / r['defect_rows']:8.4f} | {r['t_rings']:.3f}"
        )
    tot = {k: sum(r[k] for r in rows) for k in ("scored", "defect_rows", "true_ok", "true_defect_ok",
                                                 "det_ok", "det_defect_ok")}  # fmt: skip
    print(
        f"pooled: from true positions {tot['true_ok'] / tot['scored']:.4f} "
        f"(defect rows {tot['true_defect_ok'] / tot['defect_rows']:.4f}), "
        f"from detected atoms {tot['det_ok'] / tot['scored']:.4f} "
        f"(defect rows {tot['det_defect_ok'] / tot['defect_rows']:.4f}); "
        f"{tot['scored']} scored atoms, {tot['defect_rows']} defect rows"
    )
    print(f"ring_statistics: {np.mean([r['t_rings'] for r in rows]):.3f} s per image "
          f"({np.mean([r['atoms'] for r in rows]):.0f} atoms), 1 thread, busy machine")  # fmt: skip


if __name__ == "__main__":
    main()
