"""Class discovery on atom crops: do the jrVAE classes find the chemistry?

Run from the repository root (2 CPU cores; each part a few minutes)::

    nice -n 5 python benchmarks/bench_stem_classes.py --part sim      # simulated STEM sample
    nice -n 5 python benchmarks/bench_stem_classes.py --part real     # real Se-implanted MoS2
    # compare crop normalisations / windows / training length:
    nice -n 5 python benchmarks/bench_stem_classes.py --part sim --normalize zscore
    nice -n 5 python benchmarks/bench_stem_classes.py --part real --normalize zscore --crop-sublattice all

**Simulated** (``load_sample("stem")``: graphene, 3 grains, 2 % dopants 1.8×
brighter, ±50 % slow background): atoms by ``detect_atoms`` (defaults),
crops ``normalize`` around every atom, a jrVAE with ``--classes`` classes, and
the adjusted Rand index of its ``class`` against the host/dopant truth of the
matched detections (nearest true atom within 2 px).  Target: ARI ≥ 0.8 in
≤ 5 minutes on 2 cores (the time is detection + crop + training + encoding).

**Real** (``../shared/data/real/example_Se_implanted_MoS2.dm3``, GPL-3.0,
read in place, skipped when absent): atoms by ``detect_atoms`` (sublattice 0
= Mo, 1 = S2), bright chalcogen candidates by
:func:`napari_ivae.chemistry.site_contrast` (a sublattice-1 site brighter than
its sublattice-1 neighbours by k = 3 robust σ; the criterion is written in
that module), crops, a jrVAE, and: the share of the candidates in the class
holding most of them, and that class's share of all sites.  Target: ≥ 70 % of
the candidates in one class that holds ≤ 20 % of all sites.  Writes the class
map ``docs/images/classes_mos2.png`` (and ``classes_stem_sample.png`` for the
simulation).

The model and training use the library defaults of the day
(``ModelConfig(kind="jrvae", latent_dim=2, n_classes=K)``,
``TrainConfig(epochs=E, seed=S)``, its "auto" class-seed options decided from
the stack by ``train.resolve_seed_options`` as ``ivae train``, the Train widget
and the demo do); only the crop-level choices (normalisation, window, which
sublattice) are the benchmark's.  ``--train-opts`` switches single choices off
for comparison (e.g. ``'{"class_prior": "uniform"}'``).  One thread per process
(``OMP_NUM_THREADS=1``) unless ``--threads`` says otherwise.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MOS2 = "example_Se_implanted_MoS2.dm3"
RESTART_EPOCHS = 3


def ari(a, b) -> float:
    """Adjusted Rand index of two labelings."""
    from napari_ivae.pipeline._metrics import ari as _ari

    return _ari(np.asarray(a), np.asarray(b))


def train_classes(
    stack,
    *,
    classes: int,
    epochs: int,
    seed: int,
    max_train: int,
    threads: int,
    restarts: int = 1,
    model_opts: dict | None = None,
    train_opts: dict | None = None,
):
    """Train a jrVAE with the library defaults on (a subset of) the stack; encode every crop."""
    import torch

    from napari_ivae.analysis import encode
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, resolve_seed_options, run_fit

    torch.set_num_threads(threads)
    images = stack.images
    if len(images) > max_train:
        pick = np.random.default_rng(seed).choice(len(images), max_train, replace=False)
        images = images[np.sort(pick)]
    mc = ModelConfig(
        **{"kind": "jrvae", "latent_dim": 2, "n_classes": classes, **(model_opts or {})}
    )
    extra = {"restarts": restarts, "restart_epochs": RESTART_EPOCHS} if restarts > 1 else {}
    tc = TrainConfig(
        epochs=epochs, seed=seed, device="cpu", num_threads=threads, **extra, **(train_opts or {})
    )
    tc = resolve_seed_options(tc, stack)  # as the fronts do: from the whole stack
    print(f"  seeds: {tc.class_init}, {tc.seed_features} features about the {tc.seed_centre}; "
          f"class prior {tc.class_prior}")  # fmt: skip
    t0 = time.perf_counter()

    def report(p) -> None:
        if p.epoch_time is not None:
            print(
                f"  epoch {p.epoch}/{p.n_epochs} loss {p.loss:.4g} ({p.elapsed:.0f} s)", flush=True
            )

    result = run_fit(fit(images, mc, tc), report)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    lat = encode(result.model, stack)
    return lat, t_train, time.perf_counter() - t0


def window_for(spacing: float, factor: float) -> int:
    """Odd crop side ``2·round(factor·d) + 1``."""
    return int(2 * round(factor * spacing) + 1)


def class_map(path: Path, image, table, *, title: str, marks=None, mark_label="", zoom=None):
    """Atoms coloured by class over the image (+ open squares), full view and a zoom.

    The largest class is drawn small and faint, the others on top and larger,
    so a small class (dopants) stands out; saved as a 256-colour PNG.
    """
    import io

    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from PIL import Image

    k = int(table["class"].max()) + 1
    cmap = colormaps["tab10"]
    sizes = np.bincount(table["class"], minlength=k)
    order = np.argsort(-sizes)  # largest first (drawn underneath)
    panels = [None] if zoom is None else [None, zoom]
    fig = Figure(figsize=(5.6 * len(panels), 6.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    lo, hi = np.percentile(image, [0.5, 99.7])
    for ax, box in zip(axes, panels):
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        big = 1.0 if box is None else 4.0
        for rank, c in enumerate(order):
            sel = table["class"].to_numpy() == c
            ax.scatter(table.loc[sel, "x"], table.loc[sel, "y"], s=(3 if rank == 0 else 9) * big,
                       color=cmap(int(c) % 10), lw=0, alpha=0.6 if rank == 0 else 1.0,
                       label=f"class {c} ({sel.sum()})")  # fmt: skip
        if marks is not None and len(marks):
            ax.scatter(marks["x"], marks["y"], s=30 * big, marker="s", facecolors="none",
                       edgecolors="yellow", lw=0.8, label=mark_label)  # fmt: skip
        if box is not None:
            y0, x0, side = box
            ax.set_xlim(x0, x0 + side)
            ax.set_ylim(y0 + side, y0)
            ax.set_title(f"zoom: y {y0}–{y0 + side}, x {x0}–{x0 + side} px", fontsize=9)
        else:
            ax.set_title(title, fontsize=8)
            ax.legend(loc="lower right", fontsize=7, markerscale=2, framealpha=0.85)
        ax.set_xticks([])
        ax.set_yticks([])
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=85, format="png")
    Image.open(buf).convert("RGB").quantize(colors=256).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")
    return path


def run_sim(args) -> dict:
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_atoms
    from napari_ivae.detect._metrics import match_points
    from napari_ivae.sample_data import load_sample

    t_all = time.perf_counter()
    sample = load_sample("stem")
    image, truth = sample["image"], sample["atoms"]
    atoms = detect_atoms(image)
    d = float(atoms.attrs["spacing_px"])
    window = window_for(d, args.window_factor)
    stack = crop(image, atoms, window=window, normalize=args.normalize)
    print(f"sim: {len(atoms)} atoms, d {d:.2f} px, {len(stack)} crops {window}² ({args.normalize})")
    lat, t_train, t_enc = train_classes(stack, classes=args.classes, epochs=args.epochs,
                                        seed=args.seed, max_train=args.max_train,
                                        threads=args.threads, restarts=args.restarts,
                                        model_opts=json.loads(args.model_opts),
                                        train_opts=json.loads(args.train_opts))  # fmt: skip
    elapsed = time.perf_counter() - t_all
    table = atoms.iloc[stack.index].reset_index(drop=True)
    table["class"] = lat["class"].to_numpy()
    m = match_points(atoms[["y", "x"]].to_numpy(), truth[["y", "x"]].to_numpy(), radius=2.0)
    kind = np.full(len(atoms), "unmatched", dtype=object)
    kind[m["pairs"][:, 0]] = truth["kind"].to_numpy()[m["pairs"][:, 1]]
    table["true_kind"] = kind[stack.index]
    ok = table["true_kind"] != "unmatched"
    truth_dop = (table.loc[ok, "true_kind"] == "dopant").to_numpy()
    cls = table.loc[ok, "class"].to_numpy()
    score = ari(cls, truth_dop)
    dop_class = int(np.bincount(cls[truth_dop], minlength=args.classes).argmax())
    score_dc = ari(cls == dop_class, truth_dop)  # the dopant class vs all the others
    conf = pd.crosstab(table.loc[ok, "class"], table.loc[ok, "true_kind"])
    print(conf.to_string())
    hosts = table[table["true_kind"] == "host"]
    print("hosts' detected intensity by class (median):",
          hosts.groupby("class")["intensity"].median().round(1).to_dict())  # fmt: skip
    print(f"sim: ARI(class, host/dopant) {score:.3f}; dopant class {dop_class} vs rest ARI "
          f"{score_dc:.3f}; train {t_train:.0f} s, encode {t_enc:.0f} s, total {elapsed:.0f} s")  # fmt: skip
    if args.table:
        table.to_csv(args.table, index=False)
    if args.figures:
        dop = truth[truth["kind"] == "dopant"]
        class_map(ROOT / "docs/images/classes_stem_sample.png", image, table,
                  title=f"simulated STEM sample: jrVAE classes ({args.normalize} crops, {window}²)\n"
                        f"dopant class vs rest ARI {score_dc:.2f}", marks=dop, mark_label="true dopant",
                  zoom=(150, 150, 160))  # fmt: skip
    return {"ari": score, "dopant_class_ari": score_dc, "train_s": t_train, "total_s": elapsed, "window": window,
            "crops": len(stack), "confusion": conf.to_dict()}  # fmt: skip


def run_real(args) -> dict | None:
    from napari_ivae.chemistry import site_contrast
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_atoms
    from napari_ivae.io import read

    path = Path(args.data) / MOS2
    if not path.is_file():
        print(f"real: {path} not found; skipped")
        return None
    t_all = time.perf_counter()
    image = np.asarray(read(path)[0].data, dtype=np.float32)
    atoms = detect_atoms(image)
    d = float(atoms.attrs["spacing_px"])
    atoms = site_contrast(image, atoms, sublattice=1, k=args.k)
    cand = atoms["bright"].to_numpy()
    print(f"real: {len(atoms)} atoms ({atoms.attrs['summary']}); site_contrast: "
          f"{atoms.attrs['site_contrast']}")  # fmt: skip
    pts = (
        atoms
        if args.crop_sublattice == "all"
        else atoms[atoms["sublattice"] == int(args.crop_sublattice)]
    )
    window = window_for(d, args.window_factor)
    stack = crop(image, pts, window=window, normalize=args.normalize)
    print(
        f"real: {len(stack)} crops {window}² of sublattice {args.crop_sublattice} ({args.normalize})"
    )
    lat, t_train, _t_enc = train_classes(stack, classes=args.classes, epochs=args.epochs,
                                        seed=args.seed, max_train=args.max_train,
                                        threads=args.threads, restarts=args.restarts,
                                        model_opts=json.loads(args.model_opts),
                                        train_opts=json.loads(args.train_opts))  # fmt: skip
    elapsed = time.perf_counter() - t_all
    rows = pts.index.to_numpy()[stack.index]  # positions in `atoms`
    table = atoms.loc[rows].reset_index(drop=True)
    table["class"] = lat["class"].to_numpy()
    n_all = len(atoms)
    in_stack = table["bright"].to_numpy()
    counts = np.bincount(table.loc[in_stack, "class"], minlength=args.classes)
    best = int(np.argmax(counts))
    share = counts[best] / max(in_stack.sum(), 1)
    size_all = float((table["class"] == best).sum() / n_all)
    size_cropped = float((table["class"] == best).mean())
    sizes = np.bincount(table["class"], minlength=args.classes).tolist()
    print(pd.crosstab(table["class"], [table["sublattice"], table["bright"]]).to_string())
    print("site_z by class (median):", table.groupby("class")["site_z"].median().round(2).to_dict())
    print(f"real: {int(cand.sum())} bright candidates ({int(in_stack.sum())} cropped); class {best} "
          f"holds {share:.0%} of them and {size_all:.1%} of all {n_all} sites "
          f"({size_cropped:.1%} of the {len(table)} cropped); class sizes {sizes}; "
          f"train {t_train:.0f} s, total {elapsed:.0f} s")  # fmt: skip
    if args.table:
        table.to_csv(args.table, index=False)
    if args.figures:
        marks = atoms[atoms["bright"]]
        class_map(ROOT / "docs/images/classes_mos2.png", image, table,
                  title=f"Se-implanted MoS2: jrVAE classes of sublattice-{args.crop_sublattice} crops\n"
                        f"({args.normalize}, {window}²); squares: bright chalcogen (z ≥ {args.k:g})",
                  marks=marks, mark_label=f"bright chalcogen ({len(marks)})",
                  zoom=(300, 500, 250))  # fmt: skip
    return {"candidates": int(cand.sum()), "share_in_class": float(share),
            "class_share_all_sites": size_all, "class_share_cropped": size_cropped,
            "class_sizes": sizes, "train_s": t_train, "total_s": elapsed, "window": window}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("sim", "real", "both"), default="both")
    ap.add_argument("--normalize", default="local")
    ap.add_argument("--window-factor", type=float, default=0.6,
                    help="crop side = 2·round(f·d)+1 (d = spacing)")  # fmt: skip
    ap.add_argument("--classes", type=int, default=None, help="default 2 (dopant or not)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--restarts", type=int, default=1,
                    help=f"TrainConfig.restarts (each {RESTART_EPOCHS} epochs; 1 = none)")  # fmt: skip
    ap.add_argument("--max-train", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-opts", default="{}", help="JSON of extra ModelConfig fields")
    ap.add_argument("--train-opts", default="{}", help="JSON of extra TrainConfig fields")
    ap.add_argument("--k", type=float, default=3.0, help="bright-site threshold (robust σ)")
    ap.add_argument("--crop-sublattice", default="1", help="'all', 0 or 1 (real part)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/real"))
    ap.add_argument("--table", default=None, help="write the per-crop table (CSV) here")
    ap.add_argument("--figures", action="store_true", help="write the class maps to docs/images")
    args = ap.parse_args()
    out = {}
    for part in ("sim", "real"):
        if args.part in (part, "both"):
            cls = args.classes
            args.classes = cls or 2
            out[part] = (run_sim if part == "sim" else run_real)(args)
            args.classes = cls
    print(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
