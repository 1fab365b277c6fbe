"""The headless demo pipeline (``ivae demo``): plain functions, no Qt.

:func:`run_demo` runs the whole napari-ivae path on the shipped samples and
writes figures, tables, models and a ``summary.json`` into one folder:

STEM (simulated graphene, 3 grains, dopants, vacancies)
    atoms by ``detect_atoms`` (LoG) → sub-images around each atom → jrVAE
    (rotation-invariant, discrete class latent) → latent scatter coloured by
    class, the image with its atoms coloured by class, and the decoded
    manifold of each class.
PFM (amplitude + wrapped phase with 180° domains)
    walls by the three methods (``gaussian``, ``canny``, ``dcnn``) side by side
    against the ground truth → sub-images around points along the walls →
    rVAE → latent scatter coloured by the learned angle, and the walls
    coloured by a content latent.
Switching series
    domain maps per frame (``gaussian`` walls method) → switched fraction
    per frame against the ground truth.

Wall sub-images have two channels, ``Amplitude`` and ``cos(φ − φ₀)``: the
phase enters as the cosine about the domain axis φ₀ (the axial circular
mean of the phase, i.e. half the angle of the mean of exp(2iφ)).  That is
the classic PFM "mixed signal" direction: ±1 in the two 180° domains, free of
the wrap, of the arbitrary phase offset, and continuous across the crop —
raw wrapped phase would put a 360° jump wherever the offset lands.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot
state, no GUI backend).  Every file is written atomically.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_ivae._atomic import atomic_write

__all__ = ["DemoSettings", "run_demo"]


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and epochs of the demo (``quick`` for tests, full for ``ivae demo``).

    The models are trained on at most ``max_train`` crops (a seeded random
    subset) and then encode every crop.
    """

    stem_epochs: int
    stem_classes: int
    stem_latent_dim: int
    pfm_epochs: int
    pfm_latent_dim: int
    wall_window: int
    wall_stride: int
    batch_size: int
    hidden: int
    max_train: int
    #: STEM crops: side 2·round(f·d)+1 (d = the detector's spacing): the column itself and
    #: the inner part of the gap to its neighbours, so the classes sort columns by what
    #: they are (dopant / host), not by their surroundings (vacancies, grain boundaries)
    stem_window_factor: float = 0.6
    #: STEM crops: normalisation (crop.crop ``normalize``); "local" removes the sample's
    #: slowly varying background so a dopant is brighter than its host everywhere
    stem_normalize: str = "local"
    #: STEM: crops the jrVAE trains on (a seeded subset when there are more)
    stem_max_train: int = 4000

    @classmethod
    def choose(cls, quick: bool) -> DemoSettings:
        """The quick (seconds) or full (a few minutes on 2 CPU cores) settings."""
        if quick:
            return cls(
                stem_epochs=3, stem_classes=2, stem_latent_dim=2, pfm_epochs=3,
                pfm_latent_dim=2, wall_window=32, wall_stride=6, batch_size=64, hidden=64,
                max_train=400,
            )  # fmt: skip
        return cls(
            stem_epochs=20, stem_classes=2, stem_latent_dim=2, pfm_epochs=40,
            pfm_latent_dim=2, wall_window=32, wall_stride=3, batch_size=64, hidden=128,
            max_train=1500,
        )  # fmt: skip


# ----------------------------------------------------------------------------- writing
def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it onto ``path``."""
    return atomic_write(path, write)


def _save_fig(fig, path: Path) -> Path:
    return _atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))


def _save_csv(df: pd.DataFrame, path: Path) -> Path:
    return _atomic(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def _save_json(obj: dict, path: Path) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")

    return _atomic(path, write)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _figure(ncols: int, nrows: int = 1, *, size: float = 4.0, aspect: float = 1.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size * ncols, size * aspect * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _imshow(ax, image: np.ndarray, *, cmap: str = "gray", title: str = "", **kw) -> Any:
    lo, hi = (
        np.percentile(image, [0.5, 99.5]) if "vmin" not in kw else (kw.pop("vmin"), kw.pop("vmax"))
    )
    im = ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", **kw)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _scalebar(ax, shape: tuple[int, int], pixel_size: float, unit: str) -> None:
    """A white scale bar of a round length in the lower left corner."""
    width = shape[1] * pixel_size
    target = width / 5
    nice = 10 ** math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * nice <= target:
            nice *= m
            break
    px = nice / pixel_size
    y = shape[0] * 0.94
    x0 = shape[1] * 0.04
    ax.plot([x0, x0 + px], [y, y], color="white", lw=3, solid_capstyle="butt")
    ax.text(x0 + px / 2, y - shape[0] * 0.025, f"{nice:g} {unit}", color="white", ha="center",
            va="bottom", fontsize=9)  # fmt: skip


# ----------------------------------------------------------------------------- helpers
def _axial_mean(phase_rad: np.ndarray) -> float:
    """Domain axis φ₀ of a 180°-domain phase image: half the angle of mean exp(2iφ)."""
    return float(np.angle(np.mean(np.exp(2j * phase_rad))) / 2)


def _phase_rad(phase: np.ndarray) -> np.ndarray:
    from napari_ivae.detect.walls import phase_to_radians

    return phase_to_radians(phase, "auto")[0]


def _ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie)."""
    from scipy.special import comb

    table = pd.crosstab(pd.Series(a), pd.Series(b)).to_numpy()
    n = table.sum()
    sum_ij = comb(table, 2).sum()
    sum_a = comb(table.sum(1), 2).sum()
    sum_b = comb(table.sum(0), 2).sum()
    expected = sum_a * sum_b / comb(n, 2)
    top = (sum_a + sum_b) / 2
    return float((sum_ij - expected) / (top - expected)) if top != expected else 1.0


def _train(stack, kind: str, *, latent_dim: int, n_classes: int | None, epochs: int,
           settings: DemoSettings, seed: int, say: Callable[[str], None], label: str,
           max_train: int | None = None):  # fmt: skip
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, resolve_seed_options, run_fit

    mc = ModelConfig(kind=kind, latent_dim=latent_dim, n_classes=n_classes, hidden=settings.hidden)
    images = stack.images
    max_train = settings.max_train if max_train is None else max_train
    if len(images) > max_train:
        pick = np.random.default_rng(seed).choice(len(images), max_train, replace=False)
        images = images[np.sort(pick)]
    tc = TrainConfig(epochs=epochs, batch_size=min(settings.batch_size, len(images)), seed=seed,
                     device="cpu", progress_interval=2.0)  # fmt: skip
    tc = resolve_seed_options(tc, stack)  # decided by the whole stack, not the subset

    def report(p) -> None:  # one line per finished epoch
        if p.epoch_time is not None:
            say(f"  {label}: epoch {p.epoch}/{p.n_epochs}, loss {p.loss:.4g} ({p.elapsed:.0f} s)")

    result = run_fit(fit(images, mc, tc), report)
    if result.stopped:
        say(f"  {label}: training stopped early: {result.stopped}")
    return result


# ----------------------------------------------------------------------------- samples
def sample_figures(out: Path, samples: dict[str, dict]) -> dict[str, Path]:
    """One figure of the raw data of each sample (what the microscope gives)."""
    figs: dict[str, Path] = {}
    s = samples["stem"]
    fig, ax = _figure(1, size=6)
    _imshow(ax[0, 0], s["image"], title="STEM sample: simulated graphene HAADF (raw)")
    _scalebar(ax[0, 0], s["image"].shape, s["pixel_size"], s["unit"])
    figs["sample_stem"] = _save_fig(fig, out / "sample_stem.png")

    p = samples["pfm"]
    fig, ax = _figure(2, size=4.5)
    _imshow(ax[0, 0], p["amplitude"], title="PFM sample: amplitude")
    _scalebar(ax[0, 0], p["amplitude"].shape, p["pixel_size"], p["unit"])
    im = _imshow(ax[0, 1], p["phase"], cmap="twilight", title="PFM sample: phase (wrapped)",
                 vmin=-180, vmax=180)  # fmt: skip
    fig.colorbar(im, ax=ax[0, 1], shrink=0.8, label="phase (°)")
    figs["sample_pfm"] = _save_fig(fig, out / "sample_pfm.png")

    w = samples["switching"]
    t = w["phase"].shape[0]
    fig, ax = _figure(t, 2, size=2.4)
    for i in range(t):
        _imshow(ax[0, i], w["amplitude"][i], title=f"frame {i}: amplitude")
        _imshow(ax[1, i], w["phase"][i], cmap="twilight", title=f"frame {i}: phase",
                vmin=-180, vmax=180)  # fmt: skip
    fig.suptitle("PFM switching series sample (raw)")
    figs["sample_switching"] = _save_fig(fig, out / "sample_switching.png")
    return figs


# ----------------------------------------------------------------------------- STEM
def stem_stage(out: Path, sample: dict, st: DemoSettings, *, seed: int,
               say: Callable[[str], None]) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Atoms → crops → jrVAE → class figures."""
    from napari_ivae.analysis import encode, manifold
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_atoms
    from napari_ivae.detect._metrics import match_points
    from napari_ivae.detect.spacing import estimate_spacing
    from napari_ivae.train import save_model

    image = sample["image"]
    truth = sample["atoms"]
    t0 = time.perf_counter()
    atoms = detect_atoms(image, method="log")
    t_detect = time.perf_counter() - t0
    m = match_points(atoms[["y", "x"]].to_numpy(), truth[["y", "x"]].to_numpy(), radius=2.0)
    say(f"STEM: {len(atoms)} atoms detected ({len(truth)} true), F1 {m['f1']:.3f}, "
        f"RMSE {m['rmse']:.2f} px, {t_detect:.1f} s")  # fmt: skip

    spacing = float(atoms.attrs.get("spacing_px") or estimate_spacing(image))
    window = int(2 * round(st.stem_window_factor * spacing) + 1)
    stack = crop(image, atoms, window=window, border="drop", normalize=st.stem_normalize)
    say(f"STEM: {len(stack)} crops of {window}×{window} px (spacing {spacing:.1f} px, "
        f"normalize={st.stem_normalize!r}); "
        f"training jrVAE ({st.stem_classes} classes, {st.stem_epochs} epochs)")  # fmt: skip
    t0 = time.perf_counter()
    res = _train(stack, "jrvae", latent_dim=st.stem_latent_dim, n_classes=st.stem_classes,
                 epochs=st.stem_epochs, settings=st, seed=seed, say=say, label="jrVAE",
                 max_train=st.stem_max_train)  # fmt: skip
    t_train = time.perf_counter() - t0
    model = res.model
    lat = encode(model, stack)
    table = atoms.iloc[stack.index].reset_index(drop=True)
    for col in lat.columns:
        if col not in ("y", "x", "frame"):
            table[col] = lat[col].to_numpy()

    # ground truth per kept atom: host / dopant (nearest true atom within 2 px)
    kind = np.full(len(atoms), "unmatched", dtype=object)
    pairs = m["pairs"]
    kind[pairs[:, 0]] = truth["kind"].to_numpy()[pairs[:, 1]]
    table["true_kind"] = kind[stack.index]
    grain = np.full(len(atoms), -1, dtype=np.int64)
    grain[pairs[:, 0]] = truth["grain"].to_numpy()[pairs[:, 1]]
    table["true_grain"] = grain[stack.index]
    matched = table["true_kind"] != "unmatched"
    ari = _ari(table.loc[matched, "class"], table.loc[matched, "true_kind"])
    ari_grain = _ari(table.loc[matched, "class"], table.loc[matched, "true_grain"])
    confusion = pd.crosstab(table.loc[matched, "class"], table.loc[matched, "true_kind"])
    # the dopant class (the one holding most true dopants) against all the others
    cls_m = table.loc[matched, "class"].to_numpy()
    is_dop = (table.loc[matched, "true_kind"] == "dopant").to_numpy()
    dop_class = (
        int(np.bincount(cls_m[is_dop], minlength=st.stem_classes).argmax()) if is_dop.any() else 0
    )
    ari_dop = _ari(cls_m == dop_class, is_dop)
    in_dop = cls_m == dop_class
    dop_recall = float(in_dop[is_dop].mean()) if is_dop.any() else float("nan")
    dop_precision = float(is_dop[in_dop].mean()) if in_dop.any() else float("nan")
    say(f"STEM: jrVAE trained in {t_train:.0f} s; dopant class {dop_class}: ARI {ari_dop:.2f} vs "
        f"host/dopant truth ({is_dop.sum()} dopants; recall {dop_recall:.2f}, precision "
        f"{dop_precision:.2f}); all classes vs host/dopant ARI {ari:.2f}, vs grain ARI "
        f"{ari_grain:.2f}; class sizes "
        f"{np.bincount(table['class'], minlength=st.stem_classes).tolist()}")  # fmt: skip

    files: dict[str, Path] = {}
    files["stem_atoms_csv"] = _save_csv(table, out / "stem_atoms.csv")
    files["stem_model"] = out / "stem_jrvae.ivae"
    save_model(files["stem_model"], model, res.history)

    colors = _class_colors(st.stem_classes)
    cls = table["class"].to_numpy()
    # latent scatter coloured by class
    fig, ax = _figure(2, size=4.5)
    for k in range(st.stem_classes):
        sel = cls == k
        ax[0, 0].scatter(table.loc[sel, "z1"], table.loc[sel, "z2"], s=6, color=colors[k],
                         label=f"class {k} ({sel.sum()})", alpha=0.7, lw=0)  # fmt: skip
    dop = table["true_kind"].to_numpy() == "dopant"
    ax[0, 0].scatter(table.loc[dop, "z1"], table.loc[dop, "z2"], s=30, facecolors="none",
                     edgecolors="black", lw=0.8, label=f"true dopant ({dop.sum()})")  # fmt: skip
    ax[0, 0].set_xlabel("z1")
    ax[0, 0].set_ylabel("z2")
    ax[0, 0].legend(markerscale=1.5, fontsize=8)
    ax[0, 0].set_title("jrVAE latent space, coloured by class", fontsize=10)
    a = table["angle"].to_numpy()
    for k in range(st.stem_classes):
        sel = cls == k
        ax[0, 1].scatter(np.degrees(a[sel]), table.loc[sel, "intensity"], s=6, color=colors[k],
                         alpha=0.7, lw=0)  # fmt: skip
    ax[0, 1].set_xlabel("learned angle (°)")
    ax[0, 1].set_ylabel("integrated intensity")
    ax[0, 1].set_title("angle vs atom intensity, by class", fontsize=10)
    files["stem_latent"] = _save_fig(fig, out / "stem_latent.png")

    # image with atoms coloured by class
    fig, ax = _figure(1, size=7)
    _imshow(ax[0, 0], image, title=f"STEM: {len(table)} atoms coloured by jrVAE class")
    for k in range(st.stem_classes):
        sel = cls == k
        ax[0, 0].scatter(table.loc[sel, "x"], table.loc[sel, "y"], s=7, color=colors[k],
                         label=f"class {k}", lw=0)  # fmt: skip
    tv = sample["vacancies"]
    ax[0, 0].scatter(tv["x"], tv["y"], s=40, facecolors="none", edgecolors="red", lw=0.8,
                     label="true vacancy")  # fmt: skip
    td = truth[truth["kind"] == "dopant"]
    ax[0, 0].scatter(td["x"], td["y"], s=40, marker="s", facecolors="none", edgecolors="yellow",
                     lw=0.8, label="true dopant")  # fmt: skip
    ax[0, 0].legend(loc="upper right", fontsize=8, markerscale=2, framealpha=0.8)
    files["stem_classes"] = _save_fig(fig, out / "stem_classes.png")

    # decoded manifold of each class
    fig, ax = _figure(st.stem_classes, size=4)
    for k in range(st.stem_classes):
        grid = manifold(model, dims=(0, 1), n=8, span=2.0, cls=k)[0]
        _imshow(ax[0, k], grid, title=f"class {k}: decoded z1 (→) × z2 (↑), ±2")
        for edge in np.arange(1, 8) * window - 0.5:  # thin separators between the tiles
            ax[0, k].axhline(edge, color="tab:orange", lw=0.5)
            ax[0, k].axvline(edge, color="tab:orange", lw=0.5)
    files["stem_manifold"] = _save_fig(fig, out / "stem_manifold.png")

    summary = {
        "atoms_detected": len(atoms),
        "atoms_true": len(truth),
        "detect_f1": m["f1"],
        "detect_rmse_px": m["rmse"],
        "detect_seconds": t_detect,
        "spacing_px": spacing,
        "window_px": window,
        "crops": len(stack),
        "train_seconds": t_train,
        "epochs": len(res.history),
        "class_sizes": np.bincount(cls, minlength=st.stem_classes).tolist(),
        "class_vs_truth_ari": ari,
        "dopant_class": dop_class,
        "dopant_class_ari": ari_dop,
        "dopant_recall": dop_recall,
        "dopant_precision": dop_precision,
        "normalize": st.stem_normalize,
        "class_vs_grain_ari": ari_grain,
        "class_vs_truth": {str(c): confusion[c].to_dict() for c in confusion.columns},
    }
    return files, summary


def _class_colors(k: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(k)]


# ----------------------------------------------------------------------------- PFM
def pfm_stage(out: Path, sample: dict, st: DemoSettings, *, seed: int,
              say: Callable[[str], None]) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Walls by three methods → wall crops → rVAE → angle / latent figures."""
    from napari_ivae.analysis import encode
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_walls
    from napari_ivae.detect._metrics import wall_f1
    from napari_ivae.train import save_model

    amp, phase, true_walls = sample["amplitude"], sample["phase"], sample["walls"]
    results, scores, seconds = {}, {}, {}
    methods = ("gaussian", "canny", "dcnn")
    for method in methods:
        t0 = time.perf_counter()
        results[method] = detect_walls(phase, amp, method=method, stride=st.wall_stride)
        seconds[method] = time.perf_counter() - t0
        scores[method] = wall_f1(results[method].mask, true_walls, tol=2.0)
        say(f"PFM: walls by {method}: F1 {scores[method]['f1']:.3f} vs truth, "
            f"{len(results[method].points)} points, {seconds[method]:.1f} s")  # fmt: skip

    files: dict[str, Path] = {}
    fig, ax = _figure(1 + len(methods), size=3.6)
    _imshow(ax[0, 0], amp, title="ground truth walls on amplitude")
    _overlay(ax[0, 0], true_walls, "lime")
    for i, method in enumerate(methods, start=1):
        _imshow(ax[0, i], amp, title=f"{method}: F1 {scores[method]['f1']:.3f}")
        _overlay(ax[0, i], results[method].mask, "red")
    files["pfm_walls"] = _save_fig(fig, out / "pfm_walls.png")

    # wall crops: amplitude + cos(φ − φ₀)
    rad = _phase_rad(phase)
    phi0 = _axial_mean(rad)
    mixed = np.cos(rad - phi0).astype(np.float32)
    points = results["gaussian"].points
    stack = crop([amp, mixed], points, window=st.wall_window, border="drop",
                 normalize="zscore", channels=("Amplitude", "cos(phase - phase0)"))  # fmt: skip
    say(f"PFM: {len(stack)} wall crops of {st.wall_window}×{st.wall_window} px × 2 channels; "
        f"training rVAE ({st.pfm_epochs} epochs)")  # fmt: skip
    t0 = time.perf_counter()
    res = _train(stack, "rvae", latent_dim=st.pfm_latent_dim, n_classes=None,
                 epochs=st.pfm_epochs, settings=st, seed=seed, say=say, label="rVAE")  # fmt: skip
    t_train = time.perf_counter() - t0
    model = res.model
    lat = encode(model, stack)
    table = points.iloc[stack.index].reset_index(drop=True)
    for col in lat.columns:
        if col not in ("y", "x", "frame"):
            table[col] = lat[col].to_numpy()
    files["pfm_walls_csv"] = _save_csv(table, out / "pfm_wall_points.csv")
    files["pfm_model"] = out / "pfm_rvae.ivae"
    save_model(files["pfm_model"], model, res.history)

    # learned angle vs wall orientation (orientation is axial: compare doubled angles,
    # up to a constant offset and the sign of the rotation)
    ang = table["angle"].to_numpy()
    ori = table["orientation"].to_numpy()
    r_same = float(np.abs(np.mean(np.exp(2j * (ang - ori)))))
    r_flip = float(np.abs(np.mean(np.exp(2j * (ang + ori)))))
    r_angle = max(r_same, r_flip)
    say(f"PFM: rVAE trained in {t_train:.0f} s; learned angle vs wall orientation: "
        f"mean resultant length {r_angle:.2f} (1 = perfectly related)")  # fmt: skip

    fig, ax = _figure(2, size=4.5)
    sc = ax[0, 0].scatter(table["z1"], table["z2"], c=np.degrees(ang), cmap="twilight",
                          vmin=-180, vmax=180, s=8, lw=0)  # fmt: skip
    cb = fig.colorbar(sc, ax=ax[0, 0])
    cb.ax.set_title("angle (°)", fontsize=8)
    ax[0, 0].set_xlabel("z1")
    ax[0, 0].set_ylabel("z2")
    ax[0, 0].set_title("rVAE latent space of wall crops", fontsize=10)
    ax[0, 1].scatter(np.degrees(ori), np.degrees(ang), s=5, lw=0, alpha=0.6)
    ax[0, 1].set_xlabel("wall orientation from the detector (°)")
    ax[0, 1].set_ylabel("learned angle (°)")
    ax[0, 1].set_title(f"angle vs orientation (R = {r_angle:.2f})", fontsize=10)
    files["pfm_latent"] = _save_fig(fig, out / "pfm_latent.png")

    fig, ax = _figure(2, size=4.8)
    _imshow(ax[0, 0], amp, title="wall points coloured by z1")
    sc = ax[0, 0].scatter(table["x"], table["y"], c=table["z1"], cmap="viridis", s=9, lw=0)
    fig.colorbar(sc, ax=ax[0, 0], shrink=0.8, label="z1")
    _imshow(ax[0, 1], amp, title="wall points coloured by learned angle")
    sc = ax[0, 1].scatter(table["x"], table["y"], c=np.degrees(ang), cmap="twilight",
                          vmin=-180, vmax=180, s=9, lw=0)  # fmt: skip
    fig.colorbar(sc, ax=ax[0, 1], shrink=0.8, label="angle (°)")
    files["pfm_walls_latent"] = _save_fig(fig, out / "pfm_walls_latent.png")

    summary = {
        "walls": {
            m: {
                **{k: float(v) for k, v in scores[m].items()},
                "seconds": seconds[m],
                "points": len(results[m].points),
            }
            for m in results
        },
        "phase_axis_deg": math.degrees(phi0),
        "crops": len(stack),
        "window_px": st.wall_window,
        "train_seconds": t_train,
        "epochs": len(res.history),
        "angle_vs_orientation_R": r_angle,
    }
    return files, summary


def _overlay(ax, mask: np.ndarray, color: str) -> None:
    from matplotlib.colors import ListedColormap

    rgba = np.ma.masked_where(~np.asarray(mask, bool), np.ones(mask.shape))
    ax.imshow(rgba, cmap=ListedColormap([color]), vmin=0, vmax=1, interpolation="nearest",
              alpha=0.9)  # fmt: skip


# ----------------------------------------------------------------------------- switching
def switching_stage(out: Path, sample: dict, *, say: Callable[[str], None]
                    ) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Switched fraction per frame from Gaussian domain maps vs the ground truth.

    ``detect_walls`` keeps one polarity convention through the stack; the
    switched polarity is taken as the minority one in the first frame (the
    series starts from a poled state).
    """
    from napari_ivae.detect import detect_walls

    amp, phase = sample["amplitude"], sample["phase"]
    truth = np.asarray(sample["switched_fraction"], dtype=float)
    t0 = time.perf_counter()
    maps = detect_walls(phase, amp, method="gaussian").domains
    switched_value = 1 if np.mean(maps[0] == 1) < 0.5 else -1
    frac = (maps == switched_value).mean(axis=(1, 2))
    seconds = time.perf_counter() - t0
    mae = float(np.mean(np.abs(frac - truth)))
    say(f"switching: {len(frac)} frames, switched fraction detected "
        f"{np.round(frac, 3).tolist()} vs true {np.round(truth, 3).tolist()} "
        f"(mean abs. error {mae:.3f}), {seconds:.1f} s")  # fmt: skip

    t = len(frac)
    fig = _switching_figure(phase, maps == switched_value, frac, truth)
    files = {"switching": _save_fig(fig, out / "switching.png")}
    summary = {
        "frames": t,
        "switched_fraction": frac.tolist(),
        "switched_fraction_true": truth.tolist(),
        "mean_abs_error": mae,
        "seconds": seconds,
    }
    return files, summary


def _switching_figure(phase, switched, frac, truth):
    from matplotlib.figure import Figure

    t = len(frac)
    fig = Figure(figsize=(2.3 * t, 7.2), layout="constrained")
    gs = fig.add_gridspec(3, t, height_ratios=[1, 1, 1.3])
    for i in range(t):
        ax = fig.add_subplot(gs[0, i])
        _imshow(ax, phase[i], cmap="twilight", vmin=-180, vmax=180, title=f"frame {i}: phase")
        ax = fig.add_subplot(gs[1, i])
        _imshow(ax, switched[i].astype(float), vmin=0, vmax=1,
                title=f"switched {frac[i]:.0%}")  # fmt: skip
    ax = fig.add_subplot(gs[2, :])
    ax.plot(np.arange(t), truth, "o-", color="black", label="ground truth")
    ax.plot(np.arange(t), frac, "s--", color="tab:red", label="detected (gaussian domain map)")
    ax.set_xlabel("frame")
    ax.set_ylabel("switched fraction")
    ax.set_ylim(0, 1)
    ax.set_xticks(np.arange(t))
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


# ----------------------------------------------------------------------------- main
def run_demo(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline on the shipped samples and write the results.

    Parameters
    ----------
    out_dir : path-like
        Folder for the figures (PNG), tables (CSV), models (``.ivae``) and
        ``summary.json``; created if needed, existing files of the same name
        are replaced (atomically).
    quick : bool
        Few epochs and sparser wall points (seconds instead of minutes; for
        tests); the figures are the same kind.
    seed : int
        Seed of the model training (the samples are fixed).
    progress : callable, optional
        Called with one short line per stage (e.g. ``print``).

    Returns
    -------
    dict
        ``figures`` (name → PNG path), ``files`` (name → every written path,
        figures included) and ``summary`` (the content of ``summary.json``).
    """
    from napari_ivae.sample_data import load_sample

    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = DemoSettings.choose(quick)
    t_start = time.perf_counter()
    samples = {name: load_sample(name) for name in ("stem", "pfm", "switching")}
    say(f"samples loaded ({samples['stem']['source']}): STEM {samples['stem']['image'].shape}, "
        f"PFM {samples['pfm']['phase'].shape}, switching {samples['switching']['phase'].shape}")  # fmt: skip
    figures = sample_figures(out, samples)
    files: dict[str, Path] = dict(figures)
    summary: dict[str, Any] = {"quick": quick, "seed": seed, "settings": asdict(settings)}

    stem_files, summary["stem"] = stem_stage(out, samples["stem"], settings, seed=seed, say=say)
    pfm_files, summary["pfm"] = pfm_stage(out, samples["pfm"], settings, seed=seed, say=say)
    sw_files, summary["switching"] = switching_stage(out, samples["switching"], say=say)
    for part in (stem_files, pfm_files, sw_files):
        files.update(part)
    figures = {k: v for k, v in files.items() if v.suffix == ".png"}
    summary["elapsed_seconds"] = time.perf_counter() - t_start
    summary["files"] = {k: v.name for k, v in files.items()}
    files["summary"] = _save_json(summary, out / "summary.json")
    say(f"done in {summary['elapsed_seconds']:.0f} s: {len(figures)} figures in {out}")
    return {"figures": figures, "files": files, "summary": summary}
