"""``ivae train``, ``ivae encode`` and ``ivae manifold``: thin fronts over the core.

A stable contract (other tools call it)::

    ivae train STACK.npz --model vae|rvae|jvae|jrvae --latent-dim K [--classes C]
               [--epochs E] [--batch-size B] [--lr LR] [--seed S]
               [--device auto|cpu|cuda|mps] [--quiet] -o RUN_DIR
        -> RUN_DIR/model.ivae   checkpoint (weights + config + history)
           RUN_DIR/latent.csv   z1..zk, z1_std..zk_std, angle, dy, dx [, class, p0..]
                                (+ y, x, frame, index when the stack has them)
           RUN_DIR/history.csv  one row per epoch
    ivae encode MODEL STACK.npz -o latent.csv
    ivae manifold MODEL [--dims 1,2] [--n 8] [--span 2] [--class K] -o grid.png

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
import os
import sys
import time
import zipfile
from pathlib import Path

import click
import numpy as np

from napari_ivae._atomic import (
    StagedFolder,
    WriteError,
    atomic_write,
    check_free_space,
    check_writable,
)
from napari_ivae._errors import IvaeError, check_range
from napari_ivae._limits import MAX_CLASSES, MAX_EPOCHS, MAX_LATENT_DIM, MAX_LR, check_training
from napari_ivae.models import registry

MODEL_KINDS = registry.names()  # the model registry (torch-free)
JOINT_KINDS = tuple(k for k in MODEL_KINDS if registry.get(k).joint)
DEVICES = ("auto", "cpu", "cuda", "mps")


# ----------------------------------------------------------------------------- inputs
def load_stack_npz(path: str | os.PathLike):
    """Load a stack npz: a full :class:`~napari_ivae.crop.Stack` or ``images`` only.

    Parameters
    ----------
    path : path-like
        ``.npz`` written by ``ivae crop`` / :meth:`Stack.save`, or any npz
        holding an ``images`` array of shape (N,H,W) or (N,C,H,W).

    Returns
    -------
    Stack or numpy.ndarray
        The stack when the file has source coordinates (``yx``), else the
        images as a float32 array (N,C,H,W) (the latent table then has no
        ``y, x, frame, index`` columns).

    Raises
    ------
    IvaeError
        The file is missing or not an npz, has no ``images``, has the wrong
        shape, or holds NaN/inf values.
    """
    from napari_ivae.crop import Stack

    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        raise IvaeError(f"{path}: not an .npz file (not a zip archive)")
    stack = Stack.load(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            has_coords = "yx" in npz.files
    except (OSError, ValueError) as err:  # pragma: no cover - Stack.load read it already
        raise IvaeError(f"{path}: cannot read as a .npz stack ({err})") from None
    _check_images(path, stack.images)
    return stack if has_coords else stack.images


def _check_images(path: Path, images: np.ndarray) -> None:
    from napari_ivae._limits import check_values

    n = images.shape[0]
    if n == 0:
        raise IvaeError(f"{path}: the stack is empty (0 images)")
    if images.shape[-1] < 4 or images.shape[-2] < 4:
        raise IvaeError(
            f"{path}: images of {images.shape[-2]}×{images.shape[-1]} px are too small (need ≥ 4×4)"
        )
    check_values(images, what=str(path))


def _images_of(data) -> np.ndarray:
    return data if isinstance(data, np.ndarray) else data.images


# ----------------------------------------------------------------------------- outputs
def _atomic_csv(df, path: Path) -> None:
    """Write a DataFrame as CSV atomically (temp file in the same folder + rename)."""
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def grid_to_uint8(grid: np.ndarray) -> np.ndarray:
    """Turn a (C, H, W) manifold grid into an 8-bit image for a PNG.

    One channel gives a grey image; two or more are tiled left to right,
    each scaled to its own 0.5–99.5 percentile range (separated by a 4 px
    black gap), so amplitude and phase channels both stay readable.

    Parameters
    ----------
    grid : numpy.ndarray
        (C, H, W) or (H, W).

    Returns
    -------
    numpy.ndarray
        uint8 (H, W') image.
    """
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim == 2:
        grid = grid[None]
    tiles = []
    for c, chan in enumerate(grid):
        lo, hi = np.percentile(chan, [0.5, 99.5])
        scaled = np.clip((chan - lo) / (hi - lo) if hi > lo else chan * 0, 0, 1)
        if c:
            tiles.append(np.zeros((chan.shape[0], 4), np.float32))
        tiles.append(scaled)
    return (np.concatenate(tiles, axis=1) * 255 + 0.5).astype(np.uint8)


def _atomic_png(image_u8: np.ndarray, path: Path) -> None:
    import imageio.v3 as iio

    atomic_write(path, lambda tmp: iio.imwrite(tmp, image_u8, extension=".png"))


def _latent_table(model, data):
    """Encode ``data``; a Stack's ``index`` (row in the points table) follows ``frame``."""
    from napari_ivae.analysis import encode

    df = encode(model, data)
    if not isinstance(data, np.ndarray) and "index" not in df.columns:
        at = df.columns.get_loc("frame") + 1 if "frame" in df.columns else 0
        df.insert(at, "index", data.index)
    return df


def _history_table(history):
    import pandas as pd

    if isinstance(history, pd.DataFrame):
        return history
    return pd.DataFrame(history)


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
            f"about {where}; class prior {tc.class_prior}")  # fmt: skip


def _use_bar(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _cli_name(name: str) -> str:
    return {"n_classes": "--classes"}.get(name, "--" + name.replace("_", "-"))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Reporter:
    """Training progress: a tqdm bar on a terminal, plain lines on stderr otherwise.

    Plain lines (output to a file or a pipe): one per finished epoch, e.g.
    ``epoch 3/20  loss 123.4  12.1 s  eta 1 min``, plus one every
    ``every`` seconds inside a long epoch.
    """

    def __init__(self, kind: str, quiet: bool, *, every: float = 30.0) -> None:
        self.kind, self.quiet, self.every = kind, quiet, every
        self.bar_wanted = _use_bar(quiet)
        self.bar = None
        self.last_line = time.perf_counter()
        self.first_epoch: int | None = None

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)

    def __call__(self, p) -> None:
        if self.quiet or p.stopped:
            return
        if p.phase == "start":  # model built, no loss yet (the start line said what runs)
            return
        if self.bar_wanted:
            self._bar(p)
            return
        now = time.perf_counter()
        if self.first_epoch is None:
            self.first_epoch = p.epoch
        if p.epoch_time is None and now - self.last_line < self.every:
            return
        self.last_line = now
        done = p.epoch - self.first_epoch + (1 if p.epoch_time is not None else p.step / p.n_steps)
        line = f"epoch {p.epoch}/{p.n_epochs}"
        if p.epoch_time is None:
            line += f"  step {p.step}/{p.n_steps}"
        line += f"  loss {p.loss:.4g}  {p.elapsed:.1f} s"
        left = p.n_epochs - p.epoch + (0 if p.epoch_time is not None else 1 - p.step / p.n_steps)
        eta = p.elapsed / done * left if done > 0 else 0.0
        if eta >= 1:
            line += f"  eta {_duration(eta)}"
        click.echo(line, err=True)

    def _bar(self, p) -> None:
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.n_epochs * p.n_steps, unit="step", desc=self.kind,
                            leave=True, dynamic_ncols=True)  # fmt: skip
        done = max(0, (p.epoch - 1)) * p.n_steps + p.step
        self.bar.update(max(0, done - self.bar.n))
        self.bar.set_postfix(epoch=f"{p.epoch}/{p.n_epochs}", loss=f"{p.loss:.4g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


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
    "--latent-dim",
    type=int,
    required=True,
    help=f"Number of continuous latents K (1 to {MAX_LATENT_DIM}, and ≤ the values of one image).",
)
@click.option(
    "--classes",
    type=int,
    default=None,
    help=f"Number of classes (jvae/jrvae only; 2 to {MAX_CLASSES}, ≥ 2 images per class).",
)
@click.option("--epochs", type=int, default=20, show_default=True, help=f"1 to {MAX_EPOCHS}.")
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help="Samples per step [default: 128, or N when the stack has fewer images].",
)
@click.option(
    "--lr",
    type=float,
    default=1e-3,
    show_default=True,
    help=f"Learning rate (0 < lr ≤ {MAX_LR:g}).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
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
    seed: int,
    device: str,
    quiet: bool,
    out: str,
) -> None:
    """Train a model on STACK.npz and write RUN_DIR (model, latent table, history).

    RUN_DIR changes all at once and only when training succeeded.
    """
    # --- validate everything before touching the disk or importing torch
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
    run_dir = _parse_run_dir(out)
    data = load_stack_npz(stack)  # also refuses NaN/inf and un-normalised values
    images = _images_of(data)
    n, c, h, w = images.shape
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

    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, resolve_seed_options, run_fit, save_model

    model_kw = {"kind": kind, "in_channels": c, "size": h, "latent_dim": latent_dim}
    if classes is not None:
        model_kw["n_classes"] = classes
    model_config = ModelConfig(**model_kw)
    train_config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device
    )
    train_config = resolve_seed_options(train_config, data)  # stored as decided
    gen = fit(data, model_config, train_config)  # validates eagerly, trains lazily

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
        latent = _latent_table(model, data)
        write("model.ivae", lambda p: save_model(p, model, history, train_config=train_config))
        write("latent.csv", lambda p: _atomic_csv(latent, p))
        write("history.csv", lambda p: _atomic_csv(hist, p))
        staged.commit()
    if not quiet:
        last = hist.iloc[-1] if len(hist) else None
        loss = f", final loss {last['loss']:.4g}" if last is not None and "loss" in hist else ""
        click.echo(
            f"trained {kind} on {n} images {c}×{h}×{w} for {epochs} epochs in "
            f"{time.perf_counter() - t0:.1f} s{loss} -> {run_dir}",
            err=True,
        )


# ----------------------------------------------------------------------------- encode
@click.command("encode")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def encode(model_path: Path, stack: Path, out: Path) -> None:
    """Encode STACK.npz with MODEL and write the latent table as CSV."""
    from napari_ivae.train import load_model

    check_writable(out)
    data = load_stack_npz(stack)
    model, _ = load_model(model_path)
    _check_compatible(model, _images_of(data), stack)
    _atomic_csv(_latent_table(model, data), out)


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
@click.option("--class", "cls", type=int, default=None, help="Class (joint models, 0-based).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def manifold(model_path: Path, dims: str, n: int, span: float, cls: int | None, out: Path) -> None:
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
        if cls is not None:
            n_classes = getattr(cfg, "n_classes", 0) if cfg.kind in JOINT_KINDS else 0
            if not n_classes:
                raise IvaeError(f"--class={cls} needs a joint model, this one is {cfg.kind}")
            check_range("--class", cls, low=0, high=n_classes - 1)
    grid = _manifold(model, dims=(d1 - 1, d2 - 1), n=n, span=span, cls=cls)
    _atomic_png(grid_to_uint8(grid), out)
