"""``ivae detect atoms|walls``: the detection front of the command line (a stable contract).

``ivae detect atoms IMAGE [--method log|dcnn] [--channel NAME] -o atoms.csv``
    writes a CSV with header ``y,x,score,intensity`` (plus ``frame`` for stacks;
    plus ``y_nm,x_nm`` after ``y,x`` when the file gives its pixel size).

``ivae detect walls IMAGE [--amplitude AMP_IMAGE] [--method canny|gaussian|dcnn]
[--kind 180|all|non180] -o walls.tif [--points walls.csv --stride N] [--maps maps.tif]``
    IMAGE is the phase, or a multichannel file whose phase/amplitude channels
    are found by name; writes a uint8 mask (1 = wall) of the input's shape and,
    optionally, the wall points CSV ``y,x,frame,orientation`` (``y,x,y_nm,x_nm,...``
    when the pixel size is known; ``kind`` last with ``--kind all|non180``) and
    the wall maps of every kind as the channels of one ImageJ TIFF (``--maps``,
    for a multilayer crop).

Options are checked (ranges, against the image, output names and folders)
before any work.  Every output is written atomically (temporary file in the
same folder, then renamed), all outputs of a run together.  User mistakes
exit with code 2 and one ``ivae: error: ...`` line; warnings are one
``ivae: warning: ...`` line each.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.cli._wall_maps import _check_kind_layers, _check_maps_options, _maps_write
from napari_ivae.cli._write import (
    _IMAGE_SUFFIXES,
    _check_distinct,
    _check_output,
    _csv_writer,
    _image_writer,
    _write_all,
)

__all__ = ["detect"]


# --------------------------------------------------------------------------- helpers


def _check_against_image(layer, stride: int, sigma: float) -> None:
    """Bound ``--stride`` and ``--sigma`` by the image, before loading its pixels."""
    side = min(layer.shape[-2:])
    if stride > side:
        raise IvaeError(
            f"--stride={stride} is out of range; expected 1 ≤ stride ≤ {side} (the image's smaller side)"
        )
    if sigma > side / 4:
        raise IvaeError(
            f"--sigma={sigma!r} is out of range; expected 0 ≤ sigma ≤ {side / 4:g} "
            "(a quarter of the image's smaller side)"
        )


def _option_error(err: IvaeError) -> IvaeError:
    """Name the command-line option in a core message (``stride=...`` -> ``--stride=...``)."""
    msg = str(err)
    if msg.split("=", 1)[0] in ("stride", "sigma", "spacing", "threshold", "window"):
        return IvaeError("--" + msg)
    return err


def _read(path: str):
    from napari_ivae.cli._info import read_layers

    return read_layers(path)


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
    help="log: minimum score = LoG peak height in standard deviations of the filtered "
    "noise (default 3; same meaning on every image); dcnn: minimum heatmap value (0.5).",
)
@click.option("--device", default="auto", show_default=True, help="dcnn: auto, cpu, cuda or mps.")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output CSV file."
)
def atoms(image, method, channel, spacing, threshold, device, output) -> None:
    """Find atom columns in IMAGE; write y,x[,y_nm,x_nm],score,intensity,sublattice[,frame] to a CSV.

    Prints one line with what was decided: the estimated spacing (px, and nm
    when the file is calibrated), the threshold used, the atoms per
    sublattice (0 = brightest) and the duplicates merged.

    ``y_nm, x_nm`` (positions in nanometres) follow ``y, x`` when the file
    gives its pixel size.
    """
    from napari_ivae.cli._info import clean_warnings
    from napari_ivae.detect import atoms_summary, detect_atoms
    from napari_ivae.io import add_physical_columns, pixel_size_nm

    _check_output(output, "-o")
    if spacing is not None and not spacing >= 2:
        raise IvaeError(f"--spacing={spacing!r} is out of range; expected spacing ≥ 2 pixels")
    if threshold is not None:
        if method == "dcnn" and not 0 < threshold < 1:
            raise IvaeError(
                f"--threshold={threshold!r} is out of range; expected 0 < threshold < 1 for --method dcnn"
            )
        if not threshold >= 0:
            raise IvaeError(f"--threshold={threshold!r} is out of range; expected threshold ≥ 0")
    with clean_warnings():
        layers = _read(image)
        layer = _pick(layers, channel, None, "channel")
        if layer is None:
            layer = _pick(layers, None, "image", "channel") or layers[0]
            if len(layers) > 1:
                click.echo(f"ivae: using channel {layer.name!r} (choose with --channel)", err=True)
        data = np.asarray(layer.data)
        try:
            table = detect_atoms(
                data, method=method, spacing=spacing, threshold=threshold, device=device
            )
        except IvaeError as err:
            raise _option_error(err) from err
        cols = ["y", "x", "score", "intensity", "sublattice"] + (
            ["frame"] if data.ndim == 3 else []
        )
        out = add_physical_columns(table[cols], pixel_size_nm(layer))
        _write_all([(Path(output), _csv_writer(out))])
    click.echo(f"ivae: {atoms_summary(table.attrs, pixel_size_nm(layer))}", err=True)
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
@click.option(
    "--kind",
    type=click.Choice(["180", "all", "non180"]),
    default="180",
    show_default=True,
    help="180: walls where the phase reverses; all: every amplitude valley (ferroelastic "
    "a/c walls too); non180: all minus 180. all needs an amplitude, non180 both images.",
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
    "--significance",
    type=float,
    default=4.0,
    show_default=True,
    help="Wall test with a phase: z-score each side of a wall piece must reach "
    "(0 = keep every wall).",
)
@click.option(
    "--domains",
    "domains_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the int8 up/down domain map (gaussian method) to this .tif/.npy.",
)
@click.option(
    "--maps",
    "maps_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --kind all|non180: also write wall maps (smoothed lines, one channel per "
    "entry of --map-channels) to this ImageJ .tif, to crop as one multichannel stack.",
)
@click.option(
    "--map-channels",
    default="180,all",
    show_default=True,
    help="Channels of --maps, comma-separated: wall kinds 180, all, non180, and the "
    "inputs amplitude, phase.",
)
def walls(
    image,
    amplitude_path,
    method,
    kind,
    phase_channel,
    amplitude_channel,
    phase_units,
    sigma,
    device,
    output,
    points_path,
    stride,
    significance,
    domains_path,
    maps_path,
    map_channels,
) -> None:
    """Find domain walls in the PFM phase IMAGE; write a uint8 mask (1 = wall).

    In a multichannel file the phase and amplitude channels are found by their
    role (the first of each; choose others with --phase-channel and
    --amplitude-channel).  Every option is checked before any work, and all
    outputs appear together: a failure leaves existing files untouched.
    """
    from napari_ivae.cli._info import clean_warnings
    from napari_ivae.detect import detect_walls

    _check_walls_options(method, stride, sigma, significance, domains_path)
    channels = _check_maps_options(kind, maps_path, map_channels)
    _check_output(output, "-o", _IMAGE_SUFFIXES)
    _check_output(points_path, "--points")
    _check_output(domains_path, "--domains", _IMAGE_SUFFIXES)
    _check_output(maps_path, "--maps", (".tif", ".tiff"))
    _check_distinct(
        **{"-o": output, "--points": points_path, "--domains": domains_path, "--maps": maps_path}
    )
    with clean_warnings():
        phase, amp = _wall_layers(image, amplitude_path, phase_channel, amplitude_channel)
        if domains_path is not None and phase is None:
            raise IvaeError(
                "--domains needs a domain map, which an amplitude image alone does not give; "
                "give the phase too"
            )
        _check_against_image(phase if phase is not None else amp, stride, sigma)
        _check_kind_layers(kind, phase, amp)
        if phase is not None:
            click.echo(f"ivae: phase channel {phase.name!r}", err=True)
        if amp is not None:
            click.echo(f"ivae: amplitude channel {amp.name!r}", err=True)
        units = phase_units or (_units_of(phase) if phase is not None else "auto")
        pdata = None if phase is None else np.asarray(phase.data)
        adata = None if amp is None else np.asarray(amp.data)
        try:
            res = detect_walls(
                pdata,
                adata,
                method=method,
                kind=kind,
                stride=stride,
                sigma=sigma,
                significance=significance,
                phase_units=units,
                device=device,
            )
        except IvaeError as err:
            raise _option_error(err) from err
        layer = phase if phase is not None else amp
        writes = _wall_writes(res, layer, output, points_path, domains_path, kind)
        if maps_path is not None:
            inputs = {"phase": pdata, "amplitude": adata}
            writes.append(_maps_write(res, channels, inputs, layer, maps_path))
        _write_all(writes)
    click.echo(f"ivae: {res.summary}", err=True)
    click.echo(
        f"ivae: {int(res.mask.sum())} wall pixels, {len(res.points)} points -> {output}", err=True
    )


def _check_walls_options(
    method: str, stride: int, sigma: float, significance: float, domains_path: str | None
) -> None:
    """The ``detect walls`` option checks that need no file."""
    if stride < 1:
        raise IvaeError(f"--stride={stride} is out of range; expected stride ≥ 1")
    if not 0 <= sigma <= 50:
        raise IvaeError(f"--sigma={sigma!r} is out of range; expected 0 ≤ sigma ≤ 50")
    if not 0 <= significance <= 100:
        raise IvaeError(
            f"--significance={significance!r} is out of range; expected 0 ≤ significance ≤ 100"
        )
    if domains_path is not None and method != "gaussian":
        raise IvaeError(
            f"--domains needs a domain map, which --method {method} does not give; "
            "use --method gaussian with a phase image"
        )


def _wall_layers(image: str, amplitude_path: str | None, phase_channel, amplitude_channel):
    """The phase and amplitude layers (either may be None, not both) of ``detect walls``."""
    layers = _read(image)
    phase = _pick(layers, phase_channel, "phase", "phase-channel")
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
    return phase, amp


def _wall_writes(
    res, layer, output: str, points_path: str | None, domains_path: str | None, kind: str
):
    """The outputs of ``detect walls``: mask, optional points CSV (nm from ``layer``), domains."""
    from napari_ivae.io import add_physical_columns, pixel_size_nm

    writes = [(Path(output), _image_writer(Path(output), res.mask.astype(np.uint8)))]
    if points_path is not None:
        cols = ["y", "x", "frame", "orientation"] + (["kind"] if kind != "180" else [])
        pts = res.points[cols]
        pts = add_physical_columns(pts, pixel_size_nm(layer))
        writes.append((Path(points_path), _csv_writer(pts)))
    if domains_path is not None:
        domains = res.domains.astype(np.int8)
        writes.append((Path(domains_path), _image_writer(Path(domains_path), domains)))
    return writes
