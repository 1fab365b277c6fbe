"""``ivae ensemble``: M joint models with different seeds, their consensus class and its uncertainty.

::

    ivae ensemble STACK.npz --model jvae|jrvae --classes K|K1:K2 --members M
                  --latent-dim D [--seed S] [--epochs E] [--batch-size B] [--lr LR]
                  [--device ...] [--image IMAGE] [--quiet] -o RUN
        -> RUN/member_0.ivae …        the members (seeds S, S+1, …)
           RUN/ensemble.json          kind, K, members, permutations aligning classes
           RUN/latent.csv             member 0's latents; class (consensus),
                                      class_uncertainty, class_agreement, p0..
           RUN/history.csv            one row per member and epoch
           RUN/uncertainty_map.png    rows at (x, y) coloured by class_uncertainty
                                      (stacks with positions; over IMAGE when given)
    With --classes K1:K2 one such folder per K (RUN/k2, RUN/k3, …) plus
           RUN/uncertainty_by_k.csv and .png   mean uncertainty / agreement per K

RUN changes all at once and only when every member of every K finished
(see ``ivae train``); a failed or interrupted run leaves it as it was.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from napari_ivae._atomic import StagedFolder, check_free_space
from napari_ivae._errors import IvaeError, check_range
from napari_ivae._limits import MAX_CLASSES
from napari_ivae.cli._cond import ss_kinds
from napari_ivae.cli._progress import _Reporter
from napari_ivae.cli._train_options import training_options
from napari_ivae.cli._vae import (
    JOINT_KINDS,
    MODEL_KINDS,
    _check_options,
    _estimate_bytes,
    _images_of,
    _load_for_training,
    _parse_run_dir,
)
from napari_ivae.ensemble import MAX_MEMBERS


def _parse_classes(text: str) -> list[int]:
    """``"4"`` -> [4]; ``"2:6"`` -> [2, 3, 4, 5, 6]."""
    parts = text.strip().split(":")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None or lo < 2 or hi > MAX_CLASSES or lo > hi:
        raise IvaeError(
            f"--classes={text!r} must be a number of classes K or a range K1:K2 with "
            f"2 ≤ K1 ≤ K2 ≤ {MAX_CLASSES}"
        )
    return list(range(lo, hi + 1))


def _background(path: Path | None) -> np.ndarray | None:
    """The first channel (first frame) of IMAGE as a 2-D array, for the map."""
    if path is None:
        return None
    from napari_ivae.io import read

    layers = read(path)
    if not layers:
        raise IvaeError(f"--image {path}: no image found in the file")
    arr = np.asarray(layers[0].data)
    while arr.ndim > 2:
        arr = arr[0]
    return arr


@click.command("ensemble")
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "kind", type=click.Choice(MODEL_KINDS), required=True,
              help="A joint model: " + " or ".join(k for k in JOINT_KINDS if k not in ss_kinds())
              + ".")  # fmt: skip
@click.option("--classes", required=True,
              help=f"Number of classes K, or a range K1:K2 (e.g. 2:6; 2 ≤ K ≤ {MAX_CLASSES}).")  # fmt: skip
@click.option("--members", type=int, default=5, show_default=True,
              help=f"Members of the ensemble (2 to {MAX_MEMBERS}); seeds S, S+1, ….")  # fmt: skip
@training_options
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Image the stack was cropped from (background of the uncertainty map).")  # fmt: skip
@click.option("-o", "--out", required=True, type=click.Path(path_type=str),
              help="Run folder: member_*.ivae, ensemble.json, latent.csv, history.csv, "
              "uncertainty_map.png (one folder per K for K1:K2).")  # fmt: skip
def ensemble(stack: Path, kind: str, classes: str, members: int, latent_dim: int, epochs: int,
             batch_size: int | None, lr: float, scale: str, seed: int, device: str, quiet: bool,
             image: Path | None, out: str) -> None:  # fmt: skip
    """Train M joint models with different seeds on STACK.npz; consensus class and uncertainty.

    RUN changes all at once and only when every member finished.
    """
    unsupervised = [k for k in JOINT_KINDS if k not in ss_kinds()]
    if kind not in unsupervised:
        raise IvaeError(
            f"--model {kind}: an ensemble needs an unsupervised joint model "
            f"({' or '.join(unsupervised)})"
        )
    ks = _parse_classes(classes)
    check_range("--members", members, low=2, high=MAX_MEMBERS)
    _check_options(kind, latent_dim, ks[-1], epochs, batch_size, lr, scale)
    run_dir = _parse_run_dir(out)
    data, batch_size = _load_for_training(stack, latent_dim, ks[-1], batch_size)
    if image is not None and getattr(data, "yx", None) is None:
        raise IvaeError(f"--image {image}: the stack {stack} has no positions (yx) to map")
    background = _background(image)

    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, resolve_seed_options

    n, c, h, _ = _images_of(data).shape
    tc = resolve_seed_options(TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                                          seed=seed, device=device), data)  # fmt: skip
    configs = [ModelConfig(kind=kind, in_channels=c, size=h, latent_dim=latent_dim, n_classes=k,
                           scale=scale) for k in ks]  # fmt: skip
    say = _Reporter(kind, quiet).say
    t0 = time.perf_counter()
    with StagedFolder(run_dir) as staged:
        need = sum(_estimate_bytes(mc, n) for mc in configs) * members
        check_free_space(staged.tmp, need, what=f"-o {run_dir}")
        rows = []
        for mc in configs:
            sub = staged.tmp if len(ks) == 1 else staged.tmp / f"k{mc.n_classes}"
            sub.mkdir(exist_ok=True)
            info = _one_ensemble(sub, data, mc, tc, members, seed, quiet, background)
            rows.append(_summary_row(info, sub, staged.tmp))
            say(f"K={mc.n_classes}: mean class_uncertainty {info['mean_class_uncertainty']:.3f}, "
                f"mean class_agreement {info['mean_class_agreement']:.3f}")  # fmt: skip
        if len(ks) > 1:
            _write_summary(rows, staged.tmp)
        staged.commit()
    say(f"trained {len(ks)} ensemble(s) of {members} {kind} members on {n} images in "
        f"{time.perf_counter() - t0:.1f} s -> {run_dir}")  # fmt: skip


def _one_ensemble(folder: Path, data, mc, tc, members: int, seed: int, quiet: bool,
                  background) -> dict:  # fmt: skip
    """Train, align and write one ensemble into ``folder``; returns its ensemble.json content."""
    from napari_ivae._ensemble_files import write_ensemble
    from napari_ivae.ensemble import ensemble_table, fit_ensemble
    from napari_ivae.train import run_fit

    gen = fit_ensemble(data, mc, tc, members=members, seed=seed)
    state = {"member": -1, "report": None}

    def on_progress(p) -> None:
        if p.member != state["member"]:
            if state["report"] is not None:
                state["report"].close()
            state["member"], state["report"] = p.member, _Reporter(mc.kind, quiet)
            state["report"].say(f"K={mc.n_classes}: member {p.member + 1}/{p.n_members} "
                                f"(seed {p.seed}), {tc.epochs} epochs")  # fmt: skip
        state["report"](p.progress)

    try:
        result = run_fit(gen, on_progress)
    finally:
        if state["report"] is not None:
            state["report"].close()
    if result.stopped:
        raise IvaeError(f"training failed: {result.stopped}; nothing was written")
    table, perms = ensemble_table(result.models, data)
    return write_ensemble(folder, result, table, perms, tc, image=background)


def _summary_row(info: dict, folder: Path, root: Path) -> dict:
    return {
        "n_classes": info["n_classes"],
        "mean_class_uncertainty": info["mean_class_uncertainty"],
        "mean_class_agreement": info["mean_class_agreement"],
        "folder": folder.relative_to(root).as_posix() or ".",
    }


def _write_summary(rows: list[dict], folder: Path) -> None:
    import pandas as pd

    from napari_ivae._ensemble_files import _csv, _png, uncertainty_curve

    summary = pd.DataFrame(rows)
    _csv(summary, folder / "uncertainty_by_k.csv")
    _png(uncertainty_curve(summary), folder / "uncertainty_by_k.png")
