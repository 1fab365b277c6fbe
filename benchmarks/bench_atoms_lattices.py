"""Atoms (LoG or DCNN, defaults) on every simulated lattice, spacing 5-40 px, sublattice ratio 0.1-1, noise 1x/4x.

Run from the repository root (about 2 minutes on 2 CPU cores)::

    nice -n 5 python benchmarks/bench_atoms_lattices.py [--grains 1] [--noise 1,4] [--method dcnn]

One image per row (seed 2000, never used to tune), side ``clip(28 * spacing, 256, 768)``;
F1 with a one-to-one match within ``max(2, 0.25 * spacing)`` px; ``sub`` is the
fraction of matched atoms whose ``sublattice`` label is right (1 = dim),
meaningful for ratios < 1 only.

``SNR host / dim`` is what is physically there: the median, over the true
columns of each kind, of the noise-free matched-filter statistic (a column of
the simulation's width fitted at its true position on the expected image,
neighbours' tails modelled, divided by its standard error from the image's
pixel noise; :func:`napari_ivae.detect._fill.site_scores`): the signal-to-noise
ratio of the best per-column test, the full column profile averaged.
``oracle F1`` is what a detector that knows every true site (and each
vacancy's) could reach if it decides each site by that test at 2 σ (the
fill's threshold at the default 3): the expected recall is the mean of
Φ(SNR − 2) over the columns and each vacancy is a false positive with
probability Φ(−2).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import itertools  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from napari_ivae.detect import detect_atoms  # noqa: E402
from napari_ivae.detect._fill import column_model, site_scores  # noqa: E402
from napari_ivae.detect._metrics import match_points  # noqa: E402
from napari_ivae.detect.atoms import _noise_sigma  # noqa: E402
from napari_ivae.simulate import simulate_stem  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grains", type=int, default=1)
    ap.add_argument("--noise", default="1,4")
    ap.add_argument("--spacings", default="5,9,20,40")
    ap.add_argument("--ratios", default="1.0,0.3,0.1")
    ap.add_argument("--method", choices=["log", "dcnn"], default="log")
    args = ap.parse_args()
    noises = [float(v) for v in args.noise.split(",")]
    spacings = [float(v) for v in args.spacings.split(",")]
    ratios = [float(v) for v in args.ratios.split(",")]
    print(f"method: {args.method}")
    print(
        "| lattice | spacing | ratio | noise | est. spacing | F1 | precision | recall | sub "
        "| SNR host / dim | oracle F1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for lat, sp, r, nz in itertools.product(
        ("graphene", "hexagonal", "square"), spacings, ratios, noises
    ):
        if lat == "graphene" and r != ratios[0]:
            continue
        side = int(np.clip(sp * 28, 256, 768))
        kw = {
            "lattice": lat,
            "spacing": sp,
            "noise_scale": nz,
            "n_grains": args.grains,
            "seed": 2000,
        }
        if lat != "graphene":
            kw["sublattice_ratio"] = r
        s = simulate_stem((side, side), **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = detect_atoms(s.image, method=args.method)
        m = match_points(
            df[["y", "x"]].to_numpy(), s.atoms[["y", "x"]].to_numpy(), radius=max(2.0, 0.25 * sp)
        )
        tr = s.atoms["kind"].to_numpy()[m["pairs"][:, 1]] == "sublattice_b"
        pl = df["sublattice"].to_numpy()[m["pairs"][:, 0]] == 1
        sub = f"{np.mean(tr == pl):.3f}" if lat != "graphene" and r < 1 else "-"
        print(
            f"| {lat} | {sp:g} | {r if lat != 'graphene' else 1.0:g} | {nz:g} | {df.attrs['spacing_px']:.2f} "
            f"| {m['f1']:.4f} | {m['precision']:.3f} | {m['recall']:.3f} | {sub} | {_oracle(s)} |",
            flush=True,
        )


def _oracle(s) -> str:
    """Median noise-free matched-filter SNR per kind, and the F1 of a 2 σ per-site test."""
    from scipy.stats import norm

    yx = s.atoms[["y", "x"]].to_numpy()
    sig = float(s.params["blur"])
    radius = float(np.clip(2.5 * sig, 1.5, 0.5 * float(s.params["spacing"])))
    noise = _noise_sigma(s.image)
    h, _ = site_scores(s.clean, yx, s=sig, radius=radius, noise=noise)
    dim = (s.atoms["kind"] == "sublattice_b").to_numpy()
    out = np.zeros(len(yx))
    for kind in (dim, ~dim):  # each kind fitted with the other's columns modelled
        if kind.any():
            model = column_model(s.image.shape, yx[~kind], np.clip(h[~kind], 0, None), sig)
            _, out[kind] = site_scores(
                s.clean, yx[kind], s=sig, radius=radius, noise=noise, model=model
            )
    tp = norm.cdf(out - 2.0).sum()
    fp = norm.cdf(-2.0) * len(s.vacancies)
    f1 = 2 * tp / (2 * tp + fp + (len(yx) - tp))
    snr = f"{np.median(out[~dim]):.1f} / " + (f"{np.median(out[dim]):.1f}" if dim.any() else "-")
    return f"{snr} | {f1:.3f}"


if __name__ == "__main__":
    main()
