"""``ivae detect atoms|walls``: the detection front of the command line (a stable contract).

``ivae detect atoms IMAGE [--method log|dcnn] [--channel NAME] -o atoms.csv``
    writes a CSV with header ``y,x,score,intensity`` (plus ``frame`` for stacks).

``ivae detect walls IMAGE [--amplitude AMP_IMAGE] [--method canny|gaussian|dcnn] -o walls.tif
[--points walls.csv --stride N]``
    IMAGE is the phase, or a multichannel file whose phase/amplitude channels
    are found by name; writes a uint8 mask (1 = wall) of the input's shape and,
    optionally, the wall points CSV ``y,x,frame,orientation``.

Every output is written atomically (temporary file in the same folder, then
renamed).  User mistakes exit with code 2 and one ``ivae: error: ...`` line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from napari_ivae._atomic import atomic_write
from napari_ivae._errors import IvaeError

__all__ = ["detect"]


# --------------------------------------------------------------------------- helpers


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it."""
    atomic_write(path, write, make_parents=False)


#: decimals written per CSV column (positions to 1e-4 px)
_DECIMALS = {"y": 4, "x": 4, "score": 5, "intensity": 4, "orientation": 5}


def _write_csv(path: Path, table) -> None:
    rounded = table.round({k: v for k, v in _DECIMALS.items() if k in table.columns})
    _atomic_write(path, lambda p: rounded.to_csv(p, index=False))


def _write_image(path: Path, data: np.ndarray) -> None:
    suffix = Path(path).suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        def write(p: Path) -> None:
            tifffile.imwrite(p, data, photometric="minisblack")

    elif suffix == ".npy":

        def write(p: Path) -> None:
            with open(p, "wb") as fh:
                np.save(fh, data)

    else:
        raise IvaeError(
            f"output {path} must end in .tif, .tiff or .npy; got {suffix or 'no suffix'!r}"
        )
    _atomic_write(path, write)


def _read(path: str):
    from napari_ivae.io import read

    return read(path)


def _pick(layers, name: str | None, role: str | None, what: str):
    """The layer called ``name`` (exact, then substring, case-insensitive), else by role."""
    if name:
        key = name.lower()
        exact = [ly for ly in layers if ly.name.lower() == key]
        if exact:
            return exact[0]
        partial = [ly for ly in layers if key in ly.name.lower()]
        if partial:
            return partial[0]
        names = ", ".join(repr(ly.name) for ly in layers)
        raise IvaeError(f"--{what}={name!r} matches no channel of the file; channels: {names}")
    if role is not None:
        hits = [ly for ly in layers if ly.role == role]
        if hits:
            return hits[0]
    return None


def _echo_warnings(caught) -> None:
    for w in caught:
        click.echo(f"ivae: warning: {w.message}", err=True)


def _units_of(layer) -> str:
    unit = str(layer.metadata.get("value_unit") or "").lower()
    if unit in ("deg", "degree", "degrees", "°"):
        return "deg"
    if unit in ("rad", "radian", "radians"):
        return "rad"
    return "auto"


# --------------------------------------------------------------------------- commands


@click.group("detect")
def detect() -> None:
    """Detect atoms (STEM) or ferroelectric domain walls (PFM)."""


@detect.command("atoms")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option(
    "--method",
    type=click.Choice(["log", "dcnn"]),
    default="log",
    show_default=True,
    help="Laplacian of Gaussian + Gaussian fit, or the shipped U-Net.",
)
@click.option("--channel", default=None, help="Channel name of a multichannel file.")
@click.option(
    "--spacing", type=float, default=None, help="Atom spacing in pixels (default: estimated)."
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="log: minimum relative peak height (default automatic); dcnn: minimum heatmap value (0.5).",
)
@click.option("--device", default="auto", show_default=True, help="dcnn: auto, cpu, cuda or mps.")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output CSV file."
)
def atoms(image, method, channel, spacing, threshold, device, output) -> None:
    """Find atom columns in IMAGE; write y,x,score,intensity[,frame] to a CSV."""
    from napari_ivae.detect import detect_atoms

    layers = _read(image)
    layer = _pick(layers, channel, None, "channel")
    if layer is None:
        layer = _pick(layers, None, "image", "channel") or layers[0]
        if len(layers) > 1:
            click.echo(f"ivae: using channel {layer.name!r} (choose with --channel)", err=True)
    data = np.asarray(layer.data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = detect_atoms(
            data, method=method, spacing=spacing, threshold=threshold, device=device
        )
    _echo_warnings(caught)
    cols = ["y", "x", "score", "intensity"] + (["frame"] if data.ndim == 3 else [])
    _write_csv(Path(output), table[cols])
    click.echo(f"ivae: {len(table)} atoms -> {output}", err=True)


@detect.command("walls")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option(
    "--amplitude",
    "amplitude_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Amplitude image file (default: the amplitude channel of IMAGE, if any).",
)
@click.option(
    "--method",
    type=click.Choice(["gaussian", "canny", "dcnn"]),
    default="gaussian",
    show_default=True,
    help="Phase-domain segmentation, Canny edges, or the shipped U-Net.",
)
@click.option("--phase-channel", default=None, help="Name of the phase channel in IMAGE.")
@click.option("--amplitude-channel", default=None, help="Name of the amplitude channel.")
@click.option(
    "--phase-units",
    type=click.Choice(["auto", "deg", "rad"]),
    default=None,
    help="Units of the phase (default: from the file, else detected).",
)
@click.option("--sigma", type=float, default=1.5, show_default=True, help="Smoothing in pixels.")
@click.option("--device", default="auto", show_default=True, help="dcnn: auto, cpu, cuda or mps.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output mask (.tif/.npy).",
)
@click.option(
    "--points",
    "points_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write wall points y,x,frame,orientation to this CSV.",
)
@click.option("--stride", type=int, default=4, show_default=True, help="Points spacing in pixels.")
@click.option(
    "--domains",
    "domains_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the int8 up/down domain map (gaussian method) to this .tif/.npy.",
)
def walls(
    image,
    amplitude_path,
    method,
    phase_channel,
    amplitude_channel,
    phase_units,
    sigma,
    device,
    output,
    points_path,
    stride,
    domains_path,
) -> None:
    """Find domain walls in the PFM phase IMAGE; write a uint8 mask (1 = wall)."""
    from napari_ivae.detect import detect_walls

    if stride < 1:
        raise IvaeError(f"--stride={stride} is out of range; expected stride ≥ 1")
    layers = _read(image)
    phase = _pick(layers, phase_channel, "phase", "phase-channel")
    amp = None
    if amplitude_path is not None:
        alayers = _read(amplitude_path)
        amp = _pick(alayers, amplitude_channel, "amplitude", "amplitude-channel")
        if amp is None:
            amp = alayers[0]
    else:
        amp = _pick(layers, amplitude_channel, "amplitude", "amplitude-channel")
    if phase is None:
        if len(layers) == 1 and layers[0] is not amp:
            phase = layers[0]  # a single-channel file is the phase
        elif amp is None:
            names = ", ".join(repr(ly.name) for ly in layers)
            raise IvaeError(
                f"{image}: no phase or amplitude channel found (channels: {names}); "
                "choose one with --phase-channel"
            )
    if phase is not None:
        click.echo(f"ivae: phase channel {phase.name!r}", err=True)
    if amp is not None:
        click.echo(f"ivae: amplitude channel {amp.name!r}", err=True)
    units = phase_units or (_units_of(phase) if phase is not None else "auto")
    pdata = None if phase is None else np.asarray(phase.data)
    adata = None if amp is None else np.asarray(amp.data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = detect_walls(
            pdata,
            adata,
            method=method,
            stride=stride,
            sigma=sigma,
            phase_units=units,
            device=device,
        )
    _echo_warnings(caught)
    _write_image(Path(output), res.mask.astype(np.uint8))
    if points_path is not None:
        _write_csv(Path(points_path), res.points[["y", "x", "frame", "orientation"]])
    if domains_path is not None:
        if res.domains is None:
            raise IvaeError(
                f"--domains needs a domain map, which method={method!r} "
                + ("with amplitude only " if phase is None else "")
                + "does not give; use --method gaussian with a phase image"
            )
        _write_image(Path(domains_path), res.domains.astype(np.int8))
    click.echo(
        f"ivae: {int(res.mask.sum())} wall pixels, {len(res.points)} points -> {output}", err=True
    )
