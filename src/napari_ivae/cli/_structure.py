"""``ivae structure train|predict``: im2spec, spec2im and the dual VAE from the command line.

``ivae structure train IMAGE SI --model im2spec|spec2im|dual --points P.csv --window W -o RUN``
pairs the ``W × W`` patch of IMAGE around every point with the spectrum of SI
there (mean over the 3 × 3 pixels around it by default) and trains; RUN gets
``model.ivae``, ``history.csv`` and ``latent.csv`` (y, x and the latent means),
all at once and only when training succeeded.

``ivae structure predict RUN --image IMAGE --points P.csv -o spectra.npy`` writes
(N, E) spectra (im2spec, dual); ``--spectra SI ... -o patches.npy`` writes
(N, W, W) patches (spec2im, dual).  ``--uncertainty`` also writes
``*_std.npy``: the spread over ``--samples`` draws from the encoder posterior.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import click
import numpy as np

from napari_ivae._atomic import StagedFolder
from napari_ivae._errors import IvaeError, check_range
from napari_ivae._limits import MAX_EPOCHS, MAX_LATENT_DIM, MAX_LR
from napari_ivae.cli._crop import read_points
from napari_ivae.cli._files import _atomic_csv, _history_table
from napari_ivae.cli._progress import _Reporter
from napari_ivae.cli._train_options import DEVICES
from napari_ivae.cli._write import _check_distinct, _check_output, _image_writer, _write_all

__all__ = ["structure"]

_KINDS = ("im2spec", "spec2im", "dual")


@click.group("structure")
def structure() -> None:
    """Structure–property models: image patch ↔ spectrum (im2spec, spec2im, dual VAE)."""


def _read_image(path: str) -> np.ndarray:
    from napari_ivae.cli._info import read_layers

    layers = read_layers(path)
    if not layers:
        raise IvaeError(f"{path}: no image found in the file")
    data = np.asarray(layers[0].data)
    if data.ndim != 2:
        raise IvaeError(f"{path}: the image must be 2-D (one scan); got shape {data.shape}")
    return data


def _read_si(path: str):
    from napari_ivae.spectra import read_spectrum_image

    return read_spectrum_image(path)


def _points(path: str):
    table = read_points(path)
    return table[["y", "x"]].to_numpy(dtype=float)


def _check_train_options(window, epochs, latent_dim, batch_size, lr, integrate) -> None:
    check_range("--window", window, low=8)
    check_range("--epochs", epochs, low=1, high=MAX_EPOCHS)
    check_range("--latent-dim", latent_dim, low=1, high=MAX_LATENT_DIM)
    check_range("--batch-size", batch_size, low=1)
    check_range("--integrate", integrate, low=0, high=10)
    if not math.isfinite(lr):
        raise IvaeError(f"--lr={lr!r} must be a finite number, 0 < --lr ≤ {MAX_LR:g}")
    check_range("--lr", lr, low=0, low_inclusive=False, high=MAX_LR)


@structure.command("train")
@click.argument("image", type=click.Path(dir_okay=False, path_type=str))
@click.argument("si", type=click.Path(dir_okay=False, path_type=str))
@click.option("--model", "kind", type=click.Choice(_KINDS), required=True,
              help="im2spec: patch → spectrum; spec2im: spectrum → patch; dual: both, tied latents.")  # fmt: skip
@click.option("--points", "points_path", required=True, type=click.Path(dir_okay=False),
              help="CSV with columns y, x (pixels of the scan).")  # fmt: skip
@click.option("--window", type=int, required=True, help="Patch side in px (8 … image size).")
@click.option("--latent-dim", type=int, default=10, show_default=True, help="Latent size.")
@click.option("--integrate", type=int, default=1, show_default=True,
              help="Spectrum = mean over (2·integrate + 1)² pixels around the point.")  # fmt: skip
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress or summary.")
@click.option("-o", "--out", required=True, type=click.Path(path_type=str),
              help="Run folder: model.ivae, history.csv, latent.csv.")  # fmt: skip
def train(image, si, kind, points_path, window, latent_dim, integrate, epochs, batch_size, lr,
          seed, device, quiet, out) -> None:  # fmt: skip
    """Train a structure–property model on IMAGE and the spectrum image SI (one scan)."""
    _check_train_options(window, epochs, latent_dim, batch_size, lr, integrate)
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise IvaeError(f"-o {run_dir}: exists and is not a folder")
    from napari_ivae.structure import StructureConfig, as_points, check_window
    from napari_ivae.structure.data import as_si

    img = _read_image(image)
    spectrum_image = _read_si(si)
    try:
        as_si(spectrum_image, img.shape)
    except IvaeError as err:
        raise IvaeError(f"{si}: {err}") from None
    check_window(window, img.shape)
    pts = as_points(_points(points_path), img.shape)

    from napari_ivae.structure import fit_structure, patches_at, spectra_at
    from napari_ivae.train import TrainConfig, run_fit

    patches = patches_at(img, pts, window)
    spectra = spectra_at(spectrum_image, pts, integrate)
    energy = np.asarray(getattr(spectrum_image, "energy", ()), dtype=float).ravel()
    config = StructureConfig(kind=kind, window=window, n_energy=spectra.shape[1],
                             latent_dim=latent_dim, integrate=integrate,
                             energy=tuple(energy) if len(energy) == spectra.shape[1] else ())  # fmt: skip
    tc = TrainConfig(epochs=epochs, batch_size=min(batch_size, len(pts)), lr=lr, seed=seed,
                     device=device)  # fmt: skip
    report = _Reporter(kind, quiet)
    t0 = time.perf_counter()
    with StagedFolder(run_dir) as staged:
        report.say(f"training {kind} on {len(pts)} points ({window}×{window} patches, "
                   f"{spectra.shape[1]} energy channels): {epochs} epochs -> {run_dir}")  # fmt: skip
        try:
            result = run_fit(fit_structure(patches, spectra, config, tc), report)
        finally:
            report.close()
        if result.stopped:
            state = "is unchanged" if staged.existed else "was not created"
            raise IvaeError(f"training failed: {result.stopped}; {run_dir} {state}")
        _write_run(staged, result, tc, pts, patches, spectra)
    if not quiet:
        last = result.history[-1]["loss"] if result.history else float("nan")
        click.echo(f"trained {kind} on {len(pts)} points for {epochs} epochs in "
                   f"{time.perf_counter() - t0:.1f} s, final loss {last:.4g} -> {run_dir}",
                   err=True)  # fmt: skip


def _write_run(staged, result, tc, pts, patches, spectra) -> None:
    import pandas as pd

    from napari_ivae.structure import save_structure, structure_latents

    latent = pd.DataFrame({"y": pts[:, 0], "x": pts[:, 1]})
    for name, values in structure_latents(result.model, patches, spectra).items():
        latent[name] = values
    save_structure(staged.tmp / "model.ivae", result.model, result.history, train_config=tc)
    _atomic_csv(_history_table(result.history), staged.tmp / "history.csv")
    _atomic_csv(latent, staged.tmp / "latent.csv")
    staged.commit()


def _load(run: str):
    from napari_ivae.structure import load_structure

    path = Path(run)
    if path.is_dir():
        path = path / "model.ivae"
    return load_structure(path)


@structure.command("predict")
@click.argument("run", type=click.Path(path_type=str))
@click.option("--image", default=None, type=click.Path(dir_okay=False),
              help="Image to predict spectra from (im2spec, dual).")  # fmt: skip
@click.option("--spectra", "si", default=None, type=click.Path(dir_okay=False),
              help="Spectrum image to predict patches from (spec2im, dual).")  # fmt: skip
@click.option("--points", "points_path", required=True, type=click.Path(dir_okay=False),
              help="CSV with columns y, x.")  # fmt: skip
@click.option("--uncertainty", is_flag=True, help="Also write OUT_std.npy.")
@click.option("--samples", type=int, default=32, show_default=True,
              help="Posterior draws for --uncertainty.")  # fmt: skip
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Output .npy: (N, E) spectra or (N, W, W) patches.")  # fmt: skip
def predict(run, image, si, points_path, uncertainty, samples, out) -> None:
    """Predict spectra from an image (--image) or patches from a spectrum image (--spectra)."""
    if (image is None) == (si is None):
        raise IvaeError(
            "give exactly one of --image (predict spectra) or --spectra (predict patches)"
        )
    check_range("--samples", samples, low=1, high=10000)
    _check_output(out, "-o", (".npy",))
    std_path = str(Path(out).with_name(Path(out).stem + "_std.npy")) if uncertainty else None
    _check_distinct(**{"-o": out, "uncertainty": std_path})
    model, _ = _load(run)
    pts = _points(points_path)
    n_samples = samples if uncertainty else 0
    from napari_ivae.structure import predict_patches, predict_spectra

    if image is not None:
        mean, std = predict_spectra(model, _read_image(image), pts, n_samples=n_samples)
    else:
        mean, std = predict_patches(model, _read_si(si), pts, n_samples=n_samples)
        if mean.shape[1] == 1:
            mean, std = mean[:, 0], (None if std is None else std[:, 0])
    writes = [(Path(out), _image_writer(Path(out), mean.astype(np.float32)))]
    if std is not None:
        writes.append((Path(std_path), _image_writer(Path(std_path), std.astype(np.float32))))
    _write_all(writes)
    click.echo(f"wrote {mean.shape} predictions -> {out}" + (f" (+ {std_path})" if std_path else ""),
               err=True)  # fmt: skip
