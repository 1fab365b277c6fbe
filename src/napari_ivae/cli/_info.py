"""``ivae info FILE``: what the loader sees."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import click
import numpy as np

#: value ranges are computed only for layers up to this many bytes (lazy files stay lazy)
_RANGE_BYTES = 512 * 2**20


@contextmanager
def clean_warnings() -> Iterator[None]:
    """Show Python warnings raised inside as one ``ivae: warning: ...`` line each.

    No source path or line number (Python's default display), the first line
    of the message only, each distinct message once.
    """
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        text = text if len(text) <= 300 else text[:299] + "…"
        if text not in seen:
            seen.add(text)
            click.echo(f"ivae: warning: {text}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def read_layers(path: str) -> list:
    """``io.read`` with its warnings (partial NaN/inf) shown as one ``ivae: warning:`` line each."""
    from napari_ivae.io import read

    with clean_warnings():
        return read(path)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _value_range(layer) -> str:
    data = layer.data
    nbytes = int(np.prod(data.shape)) * np.dtype(data.dtype).itemsize
    if nbytes > _RANGE_BYTES:
        return f"(not computed: {nbytes / 2**30:.1f} GiB)"
    arr = np.asarray(data)
    finite = arr[np.isfinite(arr)] if np.issubdtype(arr.dtype, np.inexact) else arr
    if finite.size == 0:
        return "all NaN/inf"
    unit = layer.metadata.get("value_unit")
    text = f"{_fmt(float(finite.min()))} … {_fmt(float(finite.max()))}"
    return f"{text} {unit}" if unit else text


@click.command("info")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--raw",
    is_flag=True,
    help="Also show each channel's label as stored in the file (often garbled, e.g. 'Phase1Retracece').",
)
@click.option(
    "--spectrum",
    is_flag=True,
    help="Read FILE as a spectrum image (H, W, E); needed for a 3-D .npy (else a stack).",
)
def info(file: str, raw: bool, spectrum: bool) -> None:
    """Show the layers FILE opens as: names, shapes, dtypes, roles, pixel size, value range.

    A spectrum image (.npz with data and energy, .hspy, .emd, a DM spectrum
    image) shows its energy axis (start, step, unit) instead.
    """
    from pathlib import Path

    from napari_ivae.spectra import is_spectrum_image_file

    if spectrum or Path(file).suffix.lower() in (".hspy", ".emd") or is_spectrum_image_file(file):
        from napari_ivae.cli._spectra import echo_spectrum_info

        echo_spectrum_info(file)
        return
    layers = read_layers(file)
    fmt = layers[0].metadata.get("format", "")
    click.echo(f"{file}: {len(layers)} layer{'s' * (len(layers) != 1)} ({fmt})")
    for i, layer in enumerate(layers):
        shape = "×".join(str(n) for n in layer.shape)
        if layer.unit:
            py, px = layer.scale[-2:]
            size = (
                f"{px:.4g} {layer.unit}"
                if np.isclose(px, py)
                else f"{py:.4g}×{px:.4g} {layer.unit}"
            )
        else:
            size = "uncalibrated (pixels)"
        label = layer.metadata.get("label")
        click.echo(f"  [{i}] {layer.name}")
        lines = [
            ("shape", f"{shape} ({layer.axes}), {layer.dtype}"),
            ("role", f"{layer.role}, colormap {layer.colormap}"),
            ("pixel size", size),
            ("values", _value_range(layer)),
        ]
        if raw and label:
            lines.insert(0, ("raw label", repr(label)))
        if layer.metadata.get("n_nonfinite"):
            lines.append(("NaN/inf", str(layer.metadata["n_nonfinite"])))
        for key, value in lines:
            click.echo(f"      {key + ':':<11} {value}")
