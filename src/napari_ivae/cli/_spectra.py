"""``ivae decompose SI --method pca|nmf --components K -o DIR`` and ``ivae info`` of a spectrum image."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from napari_ivae._errors import IvaeError

__all__ = ["decompose", "echo_spectrum_info"]


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def echo_spectrum_info(path: str) -> None:
    """Print what ``read_spectrum_image`` sees in ``path``: shape, energy axis, storage, values."""
    from napari_ivae.cli._info import _RANGE_BYTES, clean_warnings
    from napari_ivae.spectra import read_spectrum_image

    with clean_warnings():
        si = read_spectrum_image(path)
    h, w, e = si.shape
    meta = si.metadata
    steps = np.diff(si.energy)
    uniform = steps.size == 0 or np.allclose(steps, steps.mean(), rtol=1e-4, atol=0)
    step = f"{_fmt(si.dispersion)} {si.unit}/channel" + ("" if uniform else " (mean; non-uniform)")
    click.echo(f"{path}: spectrum image ({meta.get('format', '')})")
    click.echo(f"  {si.name}")
    start, end = _fmt(si.energy[0]), _fmt(si.energy[-1])
    axis = f"start {start} {si.unit}, step {step}, end {end} {si.unit}, {e} channels"
    rows = [("shape", f"{h}×{w}×{e} (y, x, energy), {si.data.dtype}"), ("energy", axis)]
    if meta.get("pixel_unit"):
        py, px = meta["pixel_size"]
        rows.append(("pixel size", f"{_fmt(px)} {meta['pixel_unit']}" if np.isclose(px, py)
                     else f"{_fmt(py)}×{_fmt(px)} {meta['pixel_unit']}"))  # fmt: skip
    else:
        rows.append(("pixel size", "uncalibrated (pixels)"))
    if meta.get("signal_type"):
        rows.append(("signal", str(meta["signal_type"])))
    nbytes = int(np.prod(si.shape)) * si.data.dtype.itemsize
    storage = meta.get("storage") or ("memmap" if meta.get("memmap") else "memory")
    how = {"memmap": "memory-mapped", "chunked": "on disk, chunked (read in blocks)"}
    rows.append(("storage", f"{how.get(storage, 'in memory')}, {nbytes / 2**20:.1f} MiB"))
    if nbytes <= _RANGE_BYTES:
        arr = np.asarray(si.data)
        finite = np.isfinite(arr)
        vals = arr[finite]
        text = f"{_fmt(vals.min())} … {_fmt(vals.max())}" if vals.size else "all NaN/inf"
        if vals.size < arr.size:
            text += f"; {arr.size - vals.size} NaN/inf"
        rows.append(("values", text))
    else:
        rows.append(("values", f"(not computed: {nbytes / 2**30:.1f} GiB)"))
    for key, value in rows:
        click.echo(f"      {key + ':':<11} {value}")


@click.command("decompose")
@click.argument("si_path", metavar="SI", type=click.Path(dir_okay=False, path_type=str))
@click.option("--method", type=click.Choice(["pca", "nmf"]), default="nmf", show_default=True,
              help="PCA (scores and loadings) or NMF (non-negative maps and spectra).")  # fmt: skip
@click.option("--components", "n_components", type=int, default=3, show_default=True,
              help="Number of components K.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Output folder: maps.tif (K,H,W), components.csv (energy, c0..), "
                   "decomposition.json; written all at once.")  # fmt: skip
def decompose(si_path: str, method: str, n_components: int, seed: int, output: str) -> None:
    """Decompose the spectrum image SI into K maps and component spectra (scikit-learn)."""
    from napari_ivae.cli._info import clean_warnings
    from napari_ivae.spectra import decompose as run
    from napari_ivae.spectra import read_spectrum_image, write_decomposition

    out = Path(output)
    if out.exists() and not out.is_dir():
        raise IvaeError(f"-o {output} is a file; expected a folder name")
    if n_components < 1:
        raise IvaeError(f"--components={n_components} is out of range; expected --components ≥ 1")
    with clean_warnings():
        si = read_spectrum_image(si_path)
    dec = run(si, method, n_components, seed)  # type: ignore[arg-type]
    write_decomposition(dec, out, source=str(si_path))
    if method == "pca":
        ratio = dec.scores["explained_variance_ratio"]
        note = "explained variance " + ", ".join(f"{r:.3g}" for r in ratio)
    else:
        note = f"reconstruction error {dec.scores['reconstruction_err']:.4g}"
    h, w, e = si.shape
    click.echo(
        f"ivae decompose: {method.upper()} of {h}×{w}×{e} into {dec.n_components} components "
        f"({note}); wrote {out / 'maps.tif'}, {out / 'components.csv'}",
        err=True,
    )
