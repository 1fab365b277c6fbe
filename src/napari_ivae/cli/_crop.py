"""``ivae crop IMAGE --points POINTS.csv --window W -o stack.npz``."""

from __future__ import annotations

from pathlib import Path

import click

from napari_ivae._errors import IvaeError

_BORDERS = ("drop", "reflect", "constant", "edge")
_NORMALIZE = ("auto", "local", "background", "zscore", "minmax", "none")


def select_channels(layers: list, queries: tuple[str, ...], source: str) -> tuple[list, list[str]]:
    """:func:`napari_ivae.io._select.select_channels` with ``--channels`` in its messages."""
    from napari_ivae.io._select import select_channels as select

    return select(layers, queries, source, "--channels")


def default_channels(layers: list) -> tuple[list, str]:
    """The channels ``ivae crop`` stacks without ``--channels``, and a note saying which.

    By role when the file has them: the first amplitude and the first phase
    channel (a PFM file's height, deflection and frequency are left out).
    Otherwise all channels when they share one shape, else the first.

    Returns
    -------
    layers : list
        The chosen layers.
    note : str
        One line for the user, ``""`` when all channels are taken.
    """
    from napari_ivae.io import default_channels as by_role

    chosen = by_role(layers, "crop")
    if chosen and len({la.shape for la in chosen}) == 1:
        names = ", ".join(repr(la.name) for la in chosen)
        if len(chosen) == len(layers):
            return chosen, ""
        return chosen, f"channels {names} chosen by role (choose others with --channels)"
    if all(la.shape == layers[0].shape for la in layers):
        return list(layers), ""
    return list(layers[:1]), (
        f"channels differ in shape; using the first ({layers[0].name!r}); pick others with --channels"
    )


def read_points(path: str):
    """Read a points CSV: columns ``y``, ``x`` [, ``frame``] (or napari's ``axis-0``, ``axis-1`` [, ``axis-2``])."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise IvaeError(f"{p}: points file not found")
    try:
        table = pd.read_csv(p)
    except Exception as err:
        raise IvaeError(f"{p}: cannot read as a CSV table ({err})") from err
    cols = {str(c).strip().lower(): c for c in table.columns}
    if "y" not in cols and "axis-0" in cols:  # napari "Save layer" points CSV
        axis = [cols[k] for k in ("axis-0", "axis-1", "axis-2") if k in cols]
        names = ["y", "x"] if len(axis) == 2 else ["frame", "y", "x"]
        table = table.rename(columns=dict(zip(axis, names)))
    elif "y" in cols and "x" in cols:
        table = table.rename(columns={cols[k]: k for k in ("y", "x", "frame") if k in cols})
    else:
        found = ", ".join(map(str, table.columns)) or "none"
        raise IvaeError(f"{p}: points table needs columns 'y' and 'x' (found: {found})")
    if len(table) == 0:
        raise IvaeError(f"{p}: the points table has no rows")
    for key in ("y", "x", "frame"):
        if key in table and not pd.api.types.is_numeric_dtype(table[key]):
            raise IvaeError(f"{p}: column {key!r} is not numeric")
    return table


@click.command("crop")
@click.argument("image", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--points",
    "points_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV with columns y, x [, frame] (pixels).",
)
@click.option("--window", required=True, type=int, help="Crop size in pixels (2 … image size).")
@click.option(
    "--channels",
    multiple=True,
    help="Channel(s) to stack, by name (case-insensitive substring, e.g. 'amplitude'); repeat or comma-separate. Default: in a PFM file, its first amplitude and first phase channel (height, frequency ... left out; the choice is printed); otherwise all channels of the file if they have the same shape, else the first.",
)
@click.option(
    "--border",
    type=click.Choice(_BORDERS),
    default="drop",
    show_default=True,
    help="Windows crossing the border: drop the point, or pad.",
)
@click.option(
    "--normalize",
    type=click.Choice(_NORMALIZE),
    default="auto",
    show_default=True,
    help="local: minus the local background, divided by the local robust spread (atom images: "
    "contamination and thickness gradients removed, a dopant stays brighter than its host); "
    "background: minus the local background, then z-score over the stack; zscore: per channel "
    "over the stack; minmax: per crop; none: raw. auto: local for intensity images (STEM), "
    "zscore for PFM channels (the choice is printed).",
)
@click.option(
    "--neighborhood",
    type=int,
    default=None,
    help="local/background: side in px of the tiles the background and spread are taken from "
    "(default 3 × window; several lattice spacings, smaller than the contamination to remove).",
)
@click.option(
    "--time-delay",
    type=int,
    default=None,
    help="K: a time-delay stack of a series: each point of frame t gets [frame t, frame t+K] of "
    "every channel (K < 0: the reverse direction); points without frame t+K are dropped and "
    "counted. 1 ≤ |K| ≤ frames − 1.",
)
@click.option(
    "--phase",
    "phase_mode",
    type=click.Choice(("auto", "raw", "domain")),
    default="auto",
    show_default=True,
    help="domain: crop the phase channel as a phase, its domain field (offset, drift, scan-line "
    "offsets and wrapping removed; +1/-1 in the two domains, the same polarity in every frame); "
    "raw: its values. auto: domain for --time-delay stacks, raw otherwise.",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output stack .npz."
)
def crop(
    image: str,
    points_path: str,
    window: int,
    channels: tuple[str, ...],
    border: str,
    normalize: str,
    neighborhood: int | None,
    time_delay: int | None,
    phase_mode: str,
    output: str,
) -> None:
    """Crop a (N, C, W, W) float32 stack around POINTS in IMAGE; write an npz.

    The npz holds images (N,C,W,W) float32, yx (N,2), frame (N,), index (N,)
    (row of each kept point in the points table) and channels (names); with
    --time-delay also time_delay and unpaired (points without a partner frame).
    """
    from napari_ivae.cli._info import clean_warnings, read_layers
    from napari_ivae.cli._write import _check_output, write_errors
    from napari_ivae.crop import crop as crop_stack

    _check_crop_options(window, neighborhood, normalize, output)
    if time_delay == 0:
        raise IvaeError("--time-delay=0 is out of range; expected a non-zero number of frames")
    _check_output(output, "-o")
    layers = read_layers(image)
    chosen, notes = _crop_channels(layers, channels, image)
    ny, nx = chosen[0].shape[-2:]
    if window > min(ny, nx):  # before reading the points or cropping
        raise IvaeError(f"--window={window} is larger than the image ({ny}×{nx})")
    if normalize == "auto":
        from napari_ivae.crop import default_normalize

        normalize = default_normalize([la.role for la in chosen])
        notes.append(f"--normalize {normalize} chosen for {', '.join(la.role for la in chosen)} "
                     "channels (choose another with --normalize)")  # fmt: skip
    if neighborhood is not None and normalize not in ("local", "background"):
        raise IvaeError(
            f"--neighborhood is only used by --normalize local or background (chosen: {normalize})"
        )
    phase_channels = _phase_option(phase_mode, time_delay, chosen, notes)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    table = read_points(points_path)
    try:
        with clean_warnings():
            stack = crop_stack(
                [la.data for la in chosen],
                table,
                window=window,
                border=border,
                normalize=normalize,
                channels=[la.name for la in chosen],
                neighborhood=neighborhood,
                time_delay=time_delay,
                phase="domain" if phase_channels else "raw",
                phase_channels=phase_channels or None,
            )
    except IvaeError as err:
        msg = str(err)
        if msg.startswith(("window=", "neighborhood=", "time_delay=")):
            msg = msg.replace("time_delay", "time-delay")
            msg = "--" + msg
        raise IvaeError(msg) from err
    with write_errors(output):
        stack.save(output)
    _echo_counts(stack, len(table), border)
    click.echo(f"wrote {output}: images {stack.images.shape} float32, yx, frame, index, channels")


def _check_crop_options(window: int, neighborhood: int | None, normalize: str, output: str) -> None:
    """The ``ivae crop`` option checks that need no file (before reading anything)."""
    if window < 2:
        raise IvaeError(f"--window={window} is too small; expected at least 2")
    if neighborhood is not None:
        if normalize not in ("auto", "local", "background"):
            raise IvaeError(
                f"--neighborhood is only used by --normalize local or background "
                f"(--normalize {normalize})"
            )
        if neighborhood < 3:
            raise IvaeError(f"--neighborhood={neighborhood} is too small; expected at least 3")
    if not output.lower().endswith(".npz"):
        raise IvaeError(f"-o {output}: the output must be a .npz file")


def _crop_channels(layers: list, channels: tuple[str, ...], source: str) -> tuple[list, list[str]]:
    """The layers ``--channels`` names (comma-separated or repeated), else the default ones."""
    queries = tuple(q.strip() for item in channels for q in item.split(",") if q.strip())
    if queries:
        return select_channels(layers, queries, source)
    chosen, note = default_channels(layers)
    return chosen, [note] if note else []


def _phase_option(mode: str, time_delay: int | None, chosen: list, notes: list[str]) -> list[int]:
    """Indices of the channels to crop as a domain field (``--phase``); a note for ``auto``."""
    phases = [i for i, la in enumerate(chosen) if la.role == "phase"]
    if mode == "raw" or (mode == "auto" and (time_delay is None or not phases)):
        return []
    if not phases:
        names = ", ".join(repr(la.name) for la in chosen)
        raise IvaeError(f"--phase domain needs a phase channel; none of {names} is a phase")
    if mode == "auto":
        names = ", ".join(repr(chosen[i].name) for i in phases)
        notes.append(f"--phase domain chosen for the time-delay stack: {names} cropped as its "
                     "domain field (choose --phase raw for the raw values)")  # fmt: skip
    return phases


def _echo_counts(stack, n_points: int, border: str) -> None:
    """Print how many points were kept and why the others were dropped."""
    unpaired = stack.unpaired
    border_dropped = n_points - len(stack) - unpaired
    why = "window crosses the image border" if border == "drop" else "centre outside the image"
    parts = [f"{border_dropped} ({why})"] if border_dropped else []
    if stack.time_delay is not None:
        parts.append(f"{unpaired} without frame t{stack.time_delay:+d}")
    dropped = ", ".join(parts) if parts else "0"
    click.echo(
        f"kept {len(stack)} of {n_points} points, dropped {dropped}; "
        f"channels: {', '.join(stack.channels)}"
    )
