"""``ivae train``, ``ivae encode`` and ``ivae manifold``: thin fronts over the core.

A stable contract (other tools call it)::

    ivae train STACK.npz --model vae|rvae|jvae|jrvae|cvae|crvae|ssvae|ssrvae --latent-dim K
               [--classes C]
               [--labels LABELS.csv [--label-column label] [--condition COL ...]]
               [--epochs E] [--batch-size B] [--lr LR] [--seed S]
               [--device auto|cpu|cuda|mps] [--quiet] -o RUN_DIR
        -> RUN_DIR/model.ivae   checkpoint (weights + config + history)
           RUN_DIR/latent.csv   z1..zk, z1_std..zk_std, angle, dy, dx [, class, p0..]
                                (ssvae/ssrvae: class in the label names, p_<label>)
                                (+ y, x, frame, index when the stack has them;
                                index joins it back into the points CSV with
                                napari_ivae.latent.join_latent)
           RUN_DIR/history.csv  one row per epoch
    ivae encode MODEL STACK.npz [--labels LABELS.csv] -o latent.csv
    ivae manifold MODEL [--dims 1,2] [--n 8] [--span 2] [--class K|LABEL] -o grid.png

The conditional kinds (cvae, crvae) need ``--labels`` to train and to encode
(:mod:`napari_ivae.cli._cond`); their latent.csv has the ``label`` column, and
``manifold --class LABEL`` draws that class's own latent space.  The
semi-supervised kinds (ssvae, ssrvae) need ``--labels`` to train, where an empty
label (or a stack row the ``index`` column does not name) means unlabelled;
they encode without labels, and ``--classes``, if given, must be the number of
classes the labels name.

``STACK.npz`` is what ``ivae crop`` writes (``images`` (N,C,w,w), ``yx``,
``frame``, ``index``, ``channels``) or any npz holding only ``images`` of shape
(N,H,W) or (N,C,H,W).

Nothing is lost, nothing is half-written.  ``train`` checks every option
against the data (upper bounds in :mod:`napari_ivae._limits`) and that it can
write beside ``RUN_DIR`` before any work.  It writes the whole new run into a
hidden temp folder beside ``RUN_DIR`` and swaps it in only when training
succeeded (files of an old ``RUN_DIR`` that the run does not write are carried
over): ``RUN_DIR`` changes all at once and only on success.  A run that fails
(non-finite loss) leaves ``RUN_DIR`` as it was and keeps its last good weights
in ``RUN_DIR.failed-YYYYmmdd-HHMMSS/`` when at least one epoch finished; the
error line says where.  Single files (``encode``, ``manifold``) are written to
a temp file in the same folder and then renamed.  Progress: a bar on a
terminal, one plain line per epoch on stderr otherwise.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import click
import numpy as np

from napari_ivae._atomic import (
    StagedFolder,
    WriteError,
    check_free_space,
    check_writable,
)
from napari_ivae._errors import IvaeError, check_range
from napari_ivae._limits import MAX_CLASSES, MAX_EPOCHS, MAX_LATENT_DIM, MAX_LR, check_training
from napari_ivae.cli._cond import (
    check_label_options,
    label_options,
    manifold_class,
    model_labels,
    read_labels,
    ss_kinds,
)
from napari_ivae.cli._files import (
    _atomic_csv,
    _atomic_png,
    _history_table,
    _images_of,
    _latent_table,
    grid_to_uint8,
    load_stack_npz,
)
from napari_ivae.cli._progress import _Reporter
from napari_ivae.cli._train_options import DEVICES, training_options  # noqa: F401 (DEVICES: API)
from napari_ivae.models import registry

MODEL_KINDS = registry.names()  # the model registry (torch-free)
JOINT_KINDS = tuple(k for k in MODEL_KINDS if registry.get(k).joint)


# ----------------------------------------------------------------------------- train
def _parse_run_dir(out: str) -> Path:
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise IvaeError(f"-o {run_dir}: exists and is not a folder")
    return run_dir


def _seed_note(tc, data) -> str:
    """One line saying how the classes are seeded and why (the "auto" choices)."""
    norm = getattr(data, "normalize", None)
    why = (f"the stack was cropped with --normalize {norm}" if norm else
           "the stack does not say how it was normalised")  # fmt: skip
    where = ("the crop centre (crops cut about points)" if tc.seed_centre == "crop" else
             "each crop's centre of contrast")  # fmt: skip
    return (f"class seeds: {tc.class_init} clustering of {tc.seed_features} features ({why}) "
            f"about {where}; class prior {tc.class_prior}; content capacity "
            f"{tc.capacity_cont[1]:g} nats")  # fmt: skip


def _cli_name(name: str) -> str:
    return {"n_classes": "--classes"}.get(name, "--" + name.replace("_", "-"))


def _failed_dir(run_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = run_dir.with_name(f"{run_dir.name}.failed-{stamp}")
    k = 2
    while dest.exists():
        dest = run_dir.with_name(f"{run_dir.name}.failed-{stamp}-{k}")
        k += 1
    return dest


def _estimate_bytes(model_config, n: int) -> int:
    """About the size of a run folder: weights (float32) + latent table + history."""
    from napari_ivae.models import build_model

    n_params = sum(p.numel() for p in build_model(model_config).parameters())
    cols = 3 * model_config.latent_dim + 8 + (model_config.n_classes or 0)
    return int(n_params * 4 * 1.1 + n * cols * 14 + (1 << 16))


@click.command("train")
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "kind",
    type=click.Choice(MODEL_KINDS),
    required=True,
    help="Model family: "
    + "; ".join(f"{k} ({registry.get(k).summary.rstrip('.')})" for k in MODEL_KINDS)
    + ".",
)
@click.option(
    "--classes",
    type=int,
    default=None,
    help=f"Number of classes (jvae/jrvae only; 2 to {MAX_CLASSES}, ≥ 2 images per class).",
)
@training_options
@label_options
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(file_okay=True, path_type=str),
    help="Run folder: model.ivae, latent.csv, history.csv.",
)
def train(
    stack: Path,
    kind: str,
    latent_dim: int,
    classes: int | None,
    epochs: int,
    batch_size: int | None,
    lr: float,
    scale: str,
    seed: int,
    device: str,
    quiet: bool,
    labels_path: Path | None,
    label_column: str,
    condition: tuple[str, ...],
    out: str,
) -> None:
    """Train a model on STACK.npz and write RUN_DIR (model, latent table, history).

    RUN_DIR changes all at once and only when training succeeded.
    """
    # --- validate everything before touching the disk or importing torch
    _check_options(kind, latent_dim, classes, epochs, batch_size, lr, scale)
    check_label_options(kind, labels_path, condition)
    run_dir = _parse_run_dir(out)
    data, batch_size = _load_for_training(stack, latent_dim, classes, batch_size)
    n, c, h, w = _images_of(data).shape
    labels = (
        None
        if labels_path is None
        else read_labels(labels_path, data, label_column, condition, partial=kind in ss_kinds())
    )

    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, resolve_seed_options, run_fit
    from napari_ivae.train.conditions import prepare_conditions

    model_kw = {"kind": kind, "in_channels": c, "size": h, "latent_dim": latent_dim,
                "scale": scale}  # fmt: skip
    if classes is not None:
        model_kw["n_classes"] = classes
    model_config, _ = prepare_conditions(ModelConfig(**model_kw), n, labels)
    if classes is not None and model_config.n_classes != classes:
        names = ", ".join(model_config.classes)
        raise IvaeError(
            f"--classes {classes}: the labels name {model_config.n_classes} classes ({names}); "
            "every class needs labelled rows"
        )
    train_config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device
    )
    train_config = resolve_seed_options(train_config, data)  # stored as decided
    gen = fit(data, model_config, train_config, labels=labels)  # validates eagerly

    # --- a temp folder beside RUN_DIR now: an unwritable place fails before any work
    t0 = time.perf_counter()
    report = _Reporter(kind, quiet)
    with StagedFolder(run_dir) as staged:
        check_free_space(staged.tmp, _estimate_bytes(model_config, n), what=f"-o {run_dir}")
        steps = math.ceil(n / batch_size)
        report.say(f"training {kind} on {n} images {c}×{h}×{w}: {epochs} epochs of {steps} "
                   f"step(s) -> {run_dir}")  # fmt: skip
        if kind in JOINT_KINDS:
            report.say(_seed_note(train_config, data))
        try:
            result = run_fit(gen, report)
        finally:
            report.close()
        hist = _write_run(staged, run_dir, result, data, train_config, labels)
    if not quiet:
        last = hist.iloc[-1] if len(hist) else None
        loss = f", final loss {last['loss']:.4g}" if last is not None and "loss" in hist else ""
        click.echo(
            f"trained {kind} on {n} images {c}×{h}×{w} for {epochs} epochs in "
            f"{time.perf_counter() - t0:.1f} s{loss} -> {run_dir}",
            err=True,
        )


def _check_options(kind: str, latent_dim: int, classes: int | None, epochs: int,
                   batch_size: int | None, lr: float, scale: str = "fixed") -> None:  # fmt: skip
    """The options of ``ivae train`` on their own (before the data are read)."""
    if scale == "free" and not registry.get(kind).rotation:
        rotation = " or ".join(k for k in MODEL_KINDS if registry.get(k).rotation)
        raise IvaeError(
            f"--scale free needs a rotation model (--model {rotation}), got --model {kind}"
        )
    if classes is not None and kind not in JOINT_KINDS:
        raise IvaeError(
            f"--classes={classes} needs a joint model (--model {' or '.join(JOINT_KINDS)}), "
            f"got --model {kind}"
        )
    check_range("--latent-dim", latent_dim, low=1, high=MAX_LATENT_DIM)
    if classes is not None:
        check_range("--classes", classes, low=2, high=MAX_CLASSES)
    check_range("--epochs", epochs, low=1, high=MAX_EPOCHS)
    if batch_size is not None:
        check_range("--batch-size", batch_size, low=1)
    if not math.isfinite(lr):
        raise IvaeError(f"--lr={lr!r} must be a finite number, 0 < --lr ≤ {MAX_LR:g}")
    check_range("--lr", lr, low=0, low_inclusive=False, high=MAX_LR)


def _load_for_training(stack: Path, latent_dim: int, classes: int | None,
                       batch_size: int | None) -> tuple[object, int]:  # fmt: skip
    """The stack (checked against the options) and the batch size (default: min(128, N))."""
    data = load_stack_npz(stack)  # also refuses NaN/inf and un-normalised values
    n, c, h, w = _images_of(data).shape
    if h != w:
        raise IvaeError(f"{stack}: images must be square, got {h}×{w}")
    check_training(n_images=n, image_shape=(c, h, w), latent_dim=latent_dim, n_classes=classes,
                   name=_cli_name)  # fmt: skip
    if batch_size is None:
        batch_size = min(128, n)
    if n < batch_size:
        raise IvaeError(
            f"{stack}: {n} images are fewer than one batch (--batch-size={batch_size}); "
            f"lower --batch-size to ≤ {n}"
        )
    return data, batch_size


def _write_run(staged: StagedFolder, run_dir: Path, result, data, train_config, labels=None):
    """Write model, latent table and history into the staged folder and swap it in.

    A stopped run raises instead, after keeping its last good weights in
    ``RUN_DIR.failed-*`` when at least one epoch finished.  Returns the history table.
    """
    from napari_ivae.train import save_model

    model, history = result.model, result.history
    hist = _history_table(history)
    state = "is unchanged" if staged.existed else "was not created"

    def write(name: str, writer) -> None:
        try:
            writer(staged.tmp / name)
        except WriteError as err:
            raise IvaeError(f"cannot write {run_dir / name}: {err.strerror}; "
                            f"{run_dir} {state}") from err  # fmt: skip

    if result.stopped:
        where = "no weights were kept (no epoch finished)"
        if history:
            try:
                save_model(staged.tmp / "model.ivae", model, history, train_config=train_config)
                _atomic_csv(hist, staged.tmp / "history.csv")
                kept = staged.move_to(_failed_dir(run_dir))
                where = f"the last good weights ({len(hist)} epoch(s)) are in {kept}"
            except WriteError as err:
                where = f"the last good weights could not be kept ({err})"
        raise IvaeError(f"training failed: {result.stopped}; {run_dir} {state}, {where}")
    latent = _latent_table(model, data, labels)
    write("model.ivae", lambda p: save_model(p, model, history, train_config=train_config))
    write("latent.csv", lambda p: _atomic_csv(latent, p))
    write("history.csv", lambda p: _atomic_csv(hist, p))
    staged.commit()
    return hist


# ----------------------------------------------------------------------------- encode
@click.command("encode")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@label_options
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def encode(model_path: Path, stack: Path, labels_path: Path | None, label_column: str,
           condition: tuple[str, ...], out: str) -> None:  # fmt: skip
    """Encode STACK.npz with MODEL and write the latent table as CSV.

    A conditional model (cvae, crvae) needs --labels for the stack (its
    conditions are the model's own columns; --condition is not used).
    """
    from napari_ivae.train import load_model

    check_writable(out)
    data = load_stack_npz(stack)
    model, _ = load_model(model_path)
    _check_compatible(model, _images_of(data), stack)
    labels = model_labels(model, labels_path, data, label_column)
    _atomic_csv(_latent_table(model, data, labels), out)


def _model_config(model):
    return getattr(model, "config", None)


def _check_compatible(model, images: np.ndarray, stack: Path) -> None:
    cfg = _model_config(model)
    if cfg is None:
        return
    want = (
        getattr(cfg, "in_channels", None),
        getattr(cfg, "size", None),
        getattr(cfg, "size", None),
    )
    got = tuple(images.shape[1:])
    if None not in want and want != got:
        raise IvaeError(
            f"{stack}: images are {got[0]}×{got[1]}×{got[2]} (C×H×W) but the model expects "
            f"{want[0]}×{want[1]}×{want[2]}"
        )


# ----------------------------------------------------------------------------- manifold
def _parse_dims(text: str) -> tuple[int, int]:
    try:
        dims = tuple(int(t) for t in text.replace(" ", "").split(","))
    except ValueError:
        raise IvaeError(f"--dims={text!r} must be two latent numbers like 1,2") from None
    if len(dims) != 2 or dims[0] == dims[1]:
        raise IvaeError(f"--dims={text!r} must be two different latent numbers like 1,2")
    return dims


@click.command("manifold")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dims", default="1,2", show_default=True, help="Two latents (1-based): z1,z2.")
@click.option("--n", "n", type=int, default=8, show_default=True, help="Grid size n×n.")
@click.option("--span", type=float, default=2.0, show_default=True, help="Latent range ±span.")
@click.option(
    "--class",
    "cls",
    default=None,
    help="Class: joint models 0-based number; conditional models the label (its own latent space).",
)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def manifold(model_path: Path, dims: str, n: int, span: float, cls: str | None, out: Path) -> None:
    """Render the decoder over an n×n grid of two latents and write a PNG."""
    d1, d2 = _parse_dims(dims)
    check_range("--n", n, low=1, high=64)
    check_range("--span", span, low=0, low_inclusive=False)
    check_writable(out)
    from napari_ivae.analysis import manifold as _manifold
    from napari_ivae.train import load_model

    model, _ = load_model(model_path)
    cfg = _model_config(model)
    if cfg is not None:
        k = cfg.latent_dim
        for d in (d1, d2):
            check_range("--dims", d, low=1, high=k)
        if k < 2:
            raise IvaeError(f"--dims needs two latents but the model has latent_dim={k}")
        cls = manifold_class(cfg, cls)
        if isinstance(cls, int):
            check_range("--class", cls, low=0, high=cfg.n_classes - 1)
    grid = _manifold(model, dims=(d1 - 1, d2 - 1), n=n, span=span, cls=cls)
    _atomic_png(grid_to_uint8(grid), out)
