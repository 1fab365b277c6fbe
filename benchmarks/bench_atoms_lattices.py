"""Atoms (LoG or DCNN, defaults) on every simulated lattice, spacing 5-40 px, sublattice ratio 0.1-1, noise 1x/4x.

Run from the repository root (about 2 minutes on 2 CPU cores)::

    nice -n 5 python benchmarks/bench_atoms_lattices.py [--grains 1] [--noise 1,4] [--method dcnn]

One image per row (seed 2000, never used to tune), side ``clip(28 * spacing, 256, 768)``;
F1 with a one-to-one match within ``max(2, 0.25 * spacing)`` px; ``sub`` is the
fraction of matched atoms whose ``sublattice`` label is right (1 = dim),
meaningful for ratios < 1 only.
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
from napari_ivae.detect._metrics import match_points  # noqa: E402
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
    print("| lattice | spacing | ratio | noise | est. spacing | F1 | precision | recall | sub |")
    print("|---|---|---|---|---|---|---|---|---|")
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
            f"| {m['f1']:.4f} | {m['precision']:.3f} | {m['recall']:.3f} | {sub} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
