"""PCA and NMF of the simulated nanoparticle EELS spectrum image, through the CLI.

Run from the repository root (under a minute)::

    OMP_NUM_THREADS=1 nice -n 10 python scripts/spectra_figure.py [--out docs/images]

Every step is the command a user runs:

    ivae info si.npz
    ivae decompose si.npz --method pca --components 5 -o pca
    ivae decompose si.npz --method nmf --components 4 -o nmf

on ``simulate_nanoparticle_si((128, 128), 256, seed=0)`` saved as ``si.npz``.
Writes ``spectra_decompose.png`` (HAADF, truth peak-energy map, NMF maps and
spectra against the generating endmembers, PCA maps) and prints ``ivae info``
and the NMF cosines.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tifffile  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from napari_ivae.cli import main as ivae  # noqa: E402
from napari_ivae.simulate import simulate_nanoparticle_si  # noqa: E402


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def main() -> None:
    """Command line entry (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args()
    sim = simulate_nanoparticle_si((128, 128), 256, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        np.savez(t / "si.npz", data=sim.si.data, energy=sim.si.energy, unit="eV")
        assert ivae(["info", str(t / "si.npz")]) == 0
        assert ivae(["decompose", str(t / "si.npz"), "--method", "pca", "--components", "5",
                     "-o", str(t / "pca")]) == 0  # fmt: skip
        assert ivae(["decompose", str(t / "si.npz"), "--method", "nmf", "--components", "4",
                     "-o", str(t / "nmf")]) == 0  # fmt: skip
        nmf_maps = tifffile.imread(t / "nmf" / "maps.tif")
        nmf = pd.read_csv(t / "nmf" / "components.csv")
        pca_maps = tifffile.imread(t / "pca" / "maps.tif")
    comps = nmf[[c for c in nmf.columns if c != "energy"]].to_numpy().T
    cos = _unit(sim.endmembers) @ _unit(comps).T
    rows, cols = linear_sum_assignment(-cos)
    names = sim.endmember_names
    print("NMF cosine to the generating endmembers:",
          ", ".join(f"{names[r]} {cos[r, c]:.3f}" for r, c in zip(rows, cols)))  # fmt: skip

    fig, ax = plt.subplots(3, 5, figsize=(13.75, 8.25), dpi=60)
    ax[0, 0].imshow(sim.image, cmap="gray")
    ax[0, 0].set_title("HAADF (simulated)")
    im = ax[0, 1].imshow(sim.peak_energy, cmap="viridis")
    ax[0, 1].set_title("truth: plasmon peak energy (eV)")
    fig.colorbar(im, ax=ax[0, 1], fraction=0.046)
    ax[0, 2].imshow(sim.si.band_map(1.55, 1.85), cmap="magma")
    ax[0, 2].set_title("band map 1.55–1.85 eV")
    ax[0, 3].imshow(sim.si.band_map(2.25, 2.55), cmap="magma")
    ax[0, 3].set_title("band map 2.25–2.55 eV")
    ax[0, 4].imshow(sim.si.band_map(3.35, 3.85), cmap="magma")
    ax[0, 4].set_title("band map 3.35–3.85 eV (bulk)")
    for k, (r, c) in enumerate(zip(rows, cols)):
        ax[1, k].imshow(nmf_maps[c], cmap="magma")
        ax[1, k].set_title(f"NMF map c{c} ≈ {names[r]}")
    e = sim.si.energy
    for r, c in zip(rows, cols):
        line = ax[1, 4].plot(e, comps[c] / comps[c].max(), lw=2)[0]
        true = sim.endmembers[r]
        ax[1, 4].plot(e, true / true.max(), "--", color=line.get_color(), lw=1)
    ax[1, 4].set_title("NMF spectra (—) vs truth (--)")
    ax[1, 4].set_xlabel("energy loss (eV)")
    for k in range(5):
        ax[2, k].imshow(pca_maps[k], cmap="RdBu_r")
        ax[2, k].set_title(f"PCA score {k}")
    for a in ax.flat:
        if a is not ax[1, 4]:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    out = Path(args.out) / "spectra_decompose.png"
    fig.savefig(out)
    from PIL import Image  # a 256-colour palette keeps the PNG small (< 300 KB)

    Image.open(out).convert("RGB").quantize(256).save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
