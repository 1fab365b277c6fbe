"""``ivae wall-metrics``: wall metrics of a PFM switching series (issue 13).

``ivae wall-metrics PHASE_STACK [--amplitude AMP_STACK] [--method gaussian|canny|dcnn]
[--register/--no-register] -o metrics.csv [--plot metrics.png] [--points walls.csv]``

The series is a multi-page TIFF / npy stack, or several files given in order
(``ivae wall-metrics a.tif b.tif c.tif``); in multichannel files the phase,
amplitude and registration channels are found by name or role, as in
``ivae detect walls``.  All outputs appear together or not at all.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from napari_ivae._errors import IvaeError
from napari_ivae.cli._detect import _pick, _units_of
from napari_ivae.cli._write import _check_distinct, _check_output, _write_all
from napari_ivae.dynamics.register import reference_channels

__all__ = ["wall_metrics"]


def _channels(paths, amp_paths, phase_channel, amplitude_channel, reference_channel):
    """Phase, amplitude and reference series ((T, Y, X) layers; amplitude/reference may be None).

    The files are read by :func:`napari_ivae.io.read_series` (several files in
    order, or one stack; shapes and channels checked there).
    """
    from napari_ivae.io import read_series

    series = read_series(paths)
    phase = _pick(series, phase_channel, "phase", "phase-channel")
    if phase is None:
        if len(series) > 1:
            names = ", ".join(repr(ly.name) for ly in series)
            raise IvaeError(
                f"{paths[0]}: no phase channel found (channels: {names}); "
                "choose one with --phase-channel"
            )
        phase = series[0]
    if amp_paths:
        if len(amp_paths) not in (1, len(paths)):
            raise IvaeError(
                f"--amplitude was given {len(amp_paths)} times; give it once (a stack) "
                f"or once per phase file ({len(paths)})"
            )
        amp_series = read_series(list(amp_paths))
        amp = _pick(amp_series, amplitude_channel, "amplitude", "amplitude-channel")
        amp = amp or amp_series[0]
    else:
        amp = _pick(series, amplitude_channel, "amplitude", "amplitude-channel")
    if reference_channel:
        names = list(reference_channel)
    else:  # deflection + amplitude, else height (register.REFERENCE_ROLES); else the amplitude
        try:
            names = [ly.name for ly in reference_channels(series)]
        except IvaeError:  # none of those roles (a phase-only file): series_metrics decides
            names = []
    ref = [_pick(series, n, None, "reference-channel") for n in names] or None
    return phase, amp, ref


def _data(layer, what: str, n_frames: int | None = None) -> np.ndarray:
    """The (T, Y, X) float32 frames of a series layer (frame count checked against the phase)."""
    data = np.asarray(layer.data, dtype=np.float32)
    if n_frames is not None and data.shape[0] != n_frames:
        raise IvaeError(
            f"the {what} has {data.shape[0]} frames and the phase {n_frames}; "
            "give one frame of each per scan"
        )
    return data


@click.command("wall-metrics")
@click.argument("phase_stacks", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--amplitude", "amp_paths", multiple=True, type=click.Path(dir_okay=False),
              help="Amplitude stack (once), or one file per phase file (default: the amplitude channel of the phase files).")  # fmt: skip
@click.option("--method", type=click.Choice(["gaussian", "canny", "dcnn"]), default="gaussian",
              show_default=True, help="Wall detector (the domain map is always the gaussian one).")  # fmt: skip
@click.option("--register/--no-register", default=True, show_default=True,
              help="Correct the drift between frames by phase correlation.")  # fmt: skip
@click.option("--reference-channel", multiple=True,
              help="Channel to register on, e.g. Height; repeat to register on several together (default: deflection + amplitude, else height, else the amplitude).")  # fmt: skip
@click.option("--artefacts/--keep-artefacts", default=True, show_default=True,
              help="Leave out the scan lines of tip changes (jumps of the phase axis or of the amplitude contrast).")  # fmt: skip
@click.option("--phase-channel", default=None, help="Name of the phase channel.")
@click.option("--amplitude-channel", default=None, help="Name of the amplitude channel.")
@click.option("--phase-units", type=click.Choice(["auto", "deg", "rad"]), default=None,
              help="Units of the phase (default: from the file, else detected).")  # fmt: skip
@click.option("--align", type=click.Choice(["overlap", "phase"]), default="overlap", show_default=True,
              help="Keep the polarity labels by the overlap with the previous frame (robust to phase-offset jumps) or by the phase (robust to switching more than half of the area at once).")  # fmt: skip
@click.option("--sigma", type=float, default=1.5, show_default=True, help="Smoothing in pixels.")
@click.option("--device", default="auto", show_default=True, help="dcnn: auto, cpu, cuda or mps.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output CSV, one row per frame.")  # fmt: skip
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a PNG of every metric against the frame.")  # fmt: skip
@click.option("--points", "points_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the wall points y,x,frame,orientation,displacement_px,pinned.")  # fmt: skip
def wall_metrics(phase_stacks, amp_paths, method, register, reference_channel, artefacts,
                         phase_channel, amplitude_channel, phase_units, align, sigma, device,
                         output, plot_path, points_path) -> None:  # fmt: skip
    """Measure the domain walls of every frame of a PFM switching series; write one CSV row per frame.

    Columns: frame, switched_fraction, wall_length_px, wall_count,
    domain_count, domain_convexity, mean_curvature, wall_displacement_px,
    pinned_fraction (+ wall_length_nm, mean_curvature_per_nm,
    wall_displacement_nm when the file gives its pixel size); definitions in
    docs/dynamics.md.  Prints the registration shifts.
    """
    from napari_ivae.cli._info import clean_warnings
    from napari_ivae.dynamics.series import series_metrics
    from napari_ivae.io import add_physical_columns, pixel_size_nm

    if not 0 <= sigma <= 50:
        raise IvaeError(f"--sigma={sigma!r} is out of range; expected 0 ≤ sigma ≤ 50")
    _check_output(output, "-o", (".csv",))
    _check_output(plot_path, "--plot", (".png",))
    _check_output(points_path, "--points", (".csv",))
    _check_distinct(**{"-o": output, "--plot": plot_path, "--points": points_path})
    paths = list(phase_stacks)
    with clean_warnings():
        phase, amp, ref = _channels(paths, amp_paths, phase_channel, amplitude_channel,
                                    reference_channel)  # fmt: skip
        ph = _data(phase, "phase")
        am = None if amp is None else _data(amp, "amplitude", len(ph))
        rf = None if ref is None else [_data(r, "reference", len(ph)) for r in ref]
        click.echo(f"ivae: {ph.shape[0]} frames of {ph.shape[1]}×{ph.shape[2]} px; phase "
                   f"{phase.name!r}" + (f", amplitude {amp.name!r}" if amp else ""), err=True)  # fmt: skip
        if register:
            rname = [r.name for r in ref] if ref is not None else [amp.name] if amp else []
            click.echo(f"ivae: registering on {', '.join(map(repr, rname))}", err=True)
        units = phase_units or _units_of(phase)
        size = pixel_size_nm(phase)
        res = series_metrics(ph, am, method=method, register=register, reference=rf,
                             artefacts=artefacts, pixel_size_nm=size, phase_units=units, align=align, sigma=sigma,
                             device=device)  # fmt: skip
        writes = [(Path(output), _table_writer(res.table))]
        if plot_path is not None:
            writes.append((Path(plot_path), _plot_writer(res.table, Path(paths[0]).name)))
        if points_path is not None:
            cols = ["y", "x", "frame", "orientation", "displacement_px", "pinned"]
            writes.append(
                (Path(points_path), _table_writer(add_physical_columns(res.points[cols], size)))
            )
        _write_all(writes)
    click.echo(f"ivae: {res.info['summary']}", err=True)
    for t, runs in enumerate(res.info["artefact_rows"]):
        if runs:
            rows = ", ".join(f"{a}-{b}" for a, b in runs)
            click.echo(f"ivae: frame {t}: scan lines {rows} left out (tip change)", err=True)
    click.echo(
        f"ivae: {len(res.table)} frames, {len(res.points)} wall points -> {output}", err=True
    )


def _table_writer(table):
    return lambda p: table.to_csv(p, index=False, float_format="%.6g")


def _plot_writer(table, title: str):
    from napari_ivae.dynamics.plot import metrics_figure

    fig = metrics_figure(table, title=f"wall metrics: {title}")
    return lambda p: fig.savefig(p, format="png", dpi=110)
