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
(N,H,W) or (N,C,H,W).  Nothing is half-written: ``train`` writes into a
temporary folder beside ``RUN_DIR`` and renames it when training succeeded
(into an existing ``RUN_DIR`` each file is replaced atomically, only after
training succeeded); single files are written to a temporary file in the same
folder and then renamed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import click
import numpy as np

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError, check_range

MODEL_KINDS = ("vae", "rvae", "jvae", "jrvae")
JOINT_KINDS = ("jvae", "jrvae")
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
    n = images.shape[0]
    if n == 0:
        raise IvaeError(f"{path}: the stack is empty (0 images)")
    if images.shape[-1] < 4 or images.shape[-2] < 4:
        raise IvaeError(
            f"{path}: images of {images.shape[-2]}×{images.shape[-1]} px are too small (need ≥ 4×4)"
        )
    # chunked so a large stack is not copied
    step = max(1, (1 << 24) // max(1, int(np.prod(images.shape[1:]))))
    for i in range(0, n, step):
        chunk = images[i : i + step]
        if not np.isfinite(chunk).all():
            bad = i + int(np.flatnonzero(~np.isfinite(chunk).reshape(len(chunk), -1).all(1))[0])
            raise IvaeError(f"{path}: the stack holds NaN or inf values (first in image {bad})")


def _images_of(data) -> np.ndarray:
    return data if isinstance(data, np.ndarray) else data.images


# ----------------------------------------------------------------------------- outputs
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _chmod_default(path: Path, *, folder: bool = False) -> None:
    """Give a temp-created file/folder the permissions a plain ``open`` would."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


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


def _use_bar(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@click.command("train")
@click.argument("stack", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "kind",
    type=click.Choice(MODEL_KINDS),
    required=True,
    help="vae, rvae (rotation+shift invariant), jvae or jrvae (with a discrete class latent).",
)
@click.option("--latent-dim", type=int, required=True, help="Number of continuous latents K (≥ 1).")
@click.option("--classes", type=int, default=None, help="Number of classes (jvae/jrvae only).")
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help="Samples per step [default: 128, or N when the stack has fewer images].",
)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
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
    """Train a model on STACK.npz and write RUN_DIR (model, latent table, history)."""
    # --- validate everything before touching the disk or importing torch
    if classes is not None and kind not in JOINT_KINDS:
        raise IvaeError(
            f"--classes={classes} needs a joint model (--model jvae or jrvae), got --model {kind}"
        )
    check_range("--latent-dim", latent_dim, low=1)
    if classes is not None:
        check_range("--classes", classes, low=2)
    check_range("--epochs", epochs, low=1)
    if batch_size is not None:
        check_range("--batch-size", batch_size, low=1)
    check_range("--lr", lr, low=0, low_inclusive=False)
    run_dir = _parse_run_dir(out)
    data = load_stack_npz(stack)
    images = _images_of(data)
    n, c, h, w = images.shape
    if batch_size is None:
        batch_size = min(128, n)
    if n < batch_size:
        raise IvaeError(
            f"{stack}: {n} images are fewer than one batch (--batch-size={batch_size}); "
            f"lower --batch-size to ≤ {n}"
        )

    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit, save_model

    model_kw = {"kind": kind, "in_channels": c, "size": h, "latent_dim": latent_dim}
    if h != w:
        raise IvaeError(f"{stack}: images must be square, got {h}×{w}")
    if classes is not None:
        model_kw["n_classes"] = classes
    model_config = ModelConfig(**model_kw)
    train_config = TrainConfig(
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device
    )

    # --- train (nothing written yet)
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    gen = fit(data, model_config, train_config)
    bar = None
    result = None
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            if bar is None and _use_bar(quiet):
                bar = tqdm(
                    total=p.n_epochs * p.n_steps,
                    unit="step",
                    desc=f"{kind}",
                    leave=True,
                    dynamic_ncols=True,
                )
            if bar is not None:
                done = max(0, (p.epoch - 1)) * p.n_steps + p.step
                bar.update(max(0, done - bar.n))
                bar.set_postfix(
                    epoch=f"{p.epoch}/{p.n_epochs}", loss=f"{p.loss:.4g}", refresh=False
                )
    finally:
        if bar is not None:
            bar.close()
        gen.close()
    if result is None:  # pragma: no cover - fit contract
        raise IvaeError("training stopped without a result")

    model, history = result.model, result.history
    latent = _latent_table(model, data)
    hist = _history_table(history)

    # --- write atomically
    if run_dir.exists():
        save_model(run_dir / "model.ivae", model, history)
        _chmod_default(run_dir / "model.ivae")
        _atomic_csv(latent, run_dir / "latent.csv")
        _atomic_csv(hist, run_dir / "history.csv")
    else:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", suffix=".tmp", dir=run_dir.parent))
        try:
            save_model(tmp / "model.ivae", model, history)
            _atomic_csv(latent, tmp / "latent.csv")
            _atomic_csv(hist, tmp / "history.csv")
            _chmod_default(tmp / "model.ivae")
            _chmod_default(tmp, folder=True)
            os.rename(tmp, run_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if getattr(result, "stopped", None):
        raise IvaeError(
            f"training stopped early ({result.stopped}); the last good weights "
            f"and {len(hist)} epoch(s) of history were written to {run_dir}"
        )
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
