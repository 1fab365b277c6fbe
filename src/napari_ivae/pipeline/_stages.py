"""The demo's stages: detect → crop → train → encode → join → measure → figures."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from napari_ivae.pipeline import _figures, _metrics
from napari_ivae.pipeline._settings import DemoSettings, save_csv


def _train(stack, kind: str, *, latent_dim: int, n_classes: int | None, epochs: int,
           settings: DemoSettings, seed: int, say: Callable[[str], None], label: str,
           max_train: int | None = None):  # fmt: skip
    """Train ``kind`` on (a seeded subset of) the stack; one line per finished epoch.

    Returns the :class:`~napari_ivae.train.TrainResult` and the ``TrainConfig``.
    """
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
    return result, tc


def _trained(points: pd.DataFrame, stack, result, tc, csv: tuple[str, Path],
             model: tuple[str, Path], extra: dict | None = None
             ) -> tuple[pd.DataFrame, dict[str, Path]]:  # fmt: skip
    """Save the model (with its TrainConfig) and every point with its latents.

    ``csv`` and ``model``: (name, path) of the two files.  Points the crop dropped
    get NaN latents in the CSV (:func:`napari_ivae.latent.join_latent`);
    ``extra`` columns are given for every point.  Returns the cropped rows, in stack
    order (``class`` as an integer), and the written files.
    """
    from napari_ivae.analysis import encode
    from napari_ivae.latent import join_latent
    from napari_ivae.train import save_model

    joined = join_latent(points, encode(result.model, stack), stack.index)
    for name, values in (extra or {}).items():
        joined[name] = values
    files = {csv[0]: save_csv(joined, csv[1]), model[0]: model[1]}
    save_model(model[1], result.model, result.history, train_config=tc)
    table = joined.iloc[stack.index].reset_index(drop=True)
    if "class" in table:
        table["class"] = table["class"].astype(np.int64)
    return table, files


# ----------------------------------------------------------------------------- STEM
def stem_stage(out: Path, sample: dict, st: DemoSettings, *, seed: int,
               say: Callable[[str], None]) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Atoms → crops → jrVAE → class figures."""
    from napari_ivae.crop import crop
    from napari_ivae.detect import detect_atoms
    from napari_ivae.detect._metrics import match_points
    from napari_ivae.detect.spacing import estimate_spacing

    image, truth = sample["image"], sample["atoms"]
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
    res, tc = _train(stack, "jrvae", latent_dim=st.stem_latent_dim, n_classes=st.stem_classes,
                     epochs=st.stem_epochs, settings=st, seed=seed, say=say, label="jrVAE",
                     max_train=st.stem_max_train)  # fmt: skip
    t_train = time.perf_counter() - t0
    kind, grain = _metrics.truth_of_points(len(atoms), m["pairs"], truth)
    table, files = _trained(atoms, stack, res, tc, ("stem_atoms_csv", out / "stem_atoms.csv"),
                            ("stem_model", out / "stem_jrvae.ivae"),
                            {"true_kind": kind, "true_grain": grain})  # fmt: skip
    sc = _metrics.class_scores(table, st.stem_classes)
    sizes = np.bincount(table["class"], minlength=st.stem_classes).tolist()
    say(f"STEM: jrVAE trained in {t_train:.0f} s; dopant class {sc['dop_class']}: ARI "
        f"{sc['ari_dop']:.2f} vs host/dopant truth ({sc['n_dopants']} dopants; recall "
        f"{sc['dop_recall']:.2f}, precision {sc['dop_precision']:.2f}); all classes vs "
        f"host/dopant ARI {sc['ari']:.2f}, vs grain ARI {sc['ari_grain']:.2f}; class sizes "
        f"{sizes}")  # fmt: skip
    files.update(_figures.stem_figures(out, table, sample, res.model, n_classes=st.stem_classes,
                                       window=window))  # fmt: skip
    summary = {
        "atoms_detected": len(atoms), "atoms_true": len(truth), "detect_f1": m["f1"],
        "detect_rmse_px": m["rmse"], "detect_seconds": t_detect, "spacing_px": spacing,
        "window_px": window, "crops": len(stack), "train_seconds": t_train,
        "epochs": len(res.history), "class_sizes": sizes, "class_vs_truth_ari": sc["ari"],
        "dopant_class": sc["dop_class"], "dopant_class_ari": sc["ari_dop"],
        "dopant_recall": sc["dop_recall"], "dopant_precision": sc["dop_precision"],
        "normalize": st.stem_normalize, "class_vs_grain_ari": sc["ari_grain"],
        "class_vs_truth": {str(c): sc["confusion"][c].to_dict() for c in sc["confusion"].columns},
    }  # fmt: skip
    return files, summary


# ----------------------------------------------------------------------------- PFM
def _walls(amp, phase, true_walls, st: DemoSettings, say) -> tuple[dict, dict, dict]:
    from napari_ivae.detect import detect_walls
    from napari_ivae.detect._metrics import wall_f1

    results, scores, seconds = {}, {}, {}
    for method in ("gaussian", "canny", "dcnn"):
        t0 = time.perf_counter()
        results[method] = detect_walls(phase, amp, method=method, stride=st.wall_stride)
        seconds[method] = time.perf_counter() - t0
        scores[method] = wall_f1(results[method].mask, true_walls, tol=2.0)
        say(f"PFM: walls by {method}: F1 {scores[method]['f1']:.3f} vs truth, "
            f"{len(results[method].points)} points, {seconds[method]:.1f} s")  # fmt: skip
    return results, scores, seconds


def pfm_stage(out: Path, sample: dict, st: DemoSettings, *, seed: int,
              say: Callable[[str], None]) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Walls by three methods → wall crops → rVAE → angle / latent figures.

    Wall crops have two channels: amplitude and cos(φ − φ₀) (see the package docstring).
    """
    from napari_ivae.crop import crop

    amp, phase, true_walls = sample["amplitude"], sample["phase"], sample["walls"]
    results, scores, seconds = _walls(amp, phase, true_walls, st, say)
    files = {"pfm_walls": _figures.walls_figure(out, amp, true_walls, results, scores)}

    rad = _metrics.phase_rad(phase)
    phi0 = _metrics.axial_mean(rad)
    mixed = np.cos(rad - phi0).astype(np.float32)
    points = results["gaussian"].points
    stack = crop([amp, mixed], points, window=st.wall_window, border="drop",
                 normalize="zscore", channels=("Amplitude", "cos(phase - phase0)"))  # fmt: skip
    say(f"PFM: {len(stack)} wall crops of {st.wall_window}×{st.wall_window} px × 2 channels; "
        f"training rVAE ({st.pfm_epochs} epochs)")  # fmt: skip
    t0 = time.perf_counter()
    res, tc = _train(stack, "rvae", latent_dim=st.pfm_latent_dim, n_classes=None,
                     epochs=st.pfm_epochs, settings=st, seed=seed, say=say, label="rVAE")  # fmt: skip
    t_train = time.perf_counter() - t0
    table, written = _trained(points, stack, res, tc,
                              ("pfm_walls_csv", out / "pfm_wall_points.csv"),
                              ("pfm_model", out / "pfm_rvae.ivae"))  # fmt: skip
    files.update(written)
    r_angle = _metrics.angle_vs_orientation(table["angle"].to_numpy(),
                                            table["orientation"].to_numpy())  # fmt: skip
    say(f"PFM: rVAE trained in {t_train:.0f} s; learned angle vs wall orientation: "
        f"mean resultant length {r_angle:.2f} (1 = perfectly related)")  # fmt: skip
    files.update(_figures.pfm_figures(out, table, amp, r_angle))
    walls = {
        m: {**{k: float(v) for k, v in scores[m].items()}, "seconds": seconds[m],
            "points": len(results[m].points)}
        for m in results
    }  # fmt: skip
    summary = {
        "walls": walls, "phase_axis_deg": math.degrees(phi0), "crops": len(stack),
        "window_px": st.wall_window, "train_seconds": t_train, "epochs": len(res.history),
        "angle_vs_orientation_R": r_angle,
    }  # fmt: skip
    return files, summary


# ----------------------------------------------------------------------------- switching
def switching_stage(out: Path, sample: dict, *, say: Callable[[str], None]
                    ) -> tuple[dict[str, Path], dict]:  # fmt: skip
    """Switched fraction per frame from Gaussian domain maps vs the ground truth."""
    from napari_ivae.detect import detect_walls

    amp, phase = sample["amplitude"], sample["phase"]
    truth = np.asarray(sample["switched_fraction"], dtype=float)
    t0 = time.perf_counter()
    maps = detect_walls(phase, amp, method="gaussian").domains
    switched, frac = _metrics.switched_fraction(maps)
    seconds = time.perf_counter() - t0
    mae = float(np.mean(np.abs(frac - truth)))
    say(f"switching: {len(frac)} frames, switched fraction detected "
        f"{np.round(frac, 3).tolist()} vs true {np.round(truth, 3).tolist()} "
        f"(mean abs. error {mae:.3f}), {seconds:.1f} s")  # fmt: skip
    files = {"switching": _figures.switching_figure(out, phase, switched, frac, truth)}
    summary = {
        "frames": len(frac),
        "switched_fraction": frac.tolist(),
        "switched_fraction_true": truth.tolist(),
        "mean_abs_error": mae,
        "seconds": seconds,
    }
    return files, summary
