"""``ivae rings ATOMS.csv [--image IMAGE] -o rings.csv``: ring statistics of an atom graph.

Writes the atoms table with ``ring_sizes`` (e.g. "5;6;6"), ``ring_count``,
``ring_label`` (0–7, the method's table) and ``border`` (True where rings are
missing at the edge: the label is unreliable there).  A ``frame`` column is
handled frame by frame.  With ``--image``, atoms within one bond length of the
image edge are ``border`` too.  The output is written atomically; user
mistakes exit with code 2 and one ``ivae: error: ...`` line.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from napari_ivae._errors import IvaeError, check_range

__all__ = ["rings"]


def _image_shape(path: str) -> tuple[int, int]:
    from napari_ivae.cli._info import read_layers

    layers = read_layers(path)
    if not layers:
        raise IvaeError(f"--image {path}: no image found in the file")
    ny, nx = layers[0].shape[-2:]
    return int(ny), int(nx)


def _label_summary(table) -> str:
    inner = table[~table["border"]]
    counts = inner["ring_label"].value_counts().sort_index()
    parts = ", ".join(f"{int(k)}: {int(v)}" for k, v in counts.items())
    return f"ring_label of the {len(inner)} atoms away from the border: {parts or 'none'}"


def _per_frame(table, path: str, shape, options: dict):
    """``ring_statistics`` of every frame (or of the whole table without ``frame``)."""
    import pandas as pd

    from napari_ivae.rings import ring_statistics

    groups = [table] if "frame" not in table else [g for _, g in table.groupby("frame", sort=False)]
    out = []
    for group in groups:
        where = f"{path}" if len(groups) == 1 else f"{path} frame {group['frame'].iloc[0]}"
        try:
            res = ring_statistics(group, shape=shape, **options)
        except IvaeError as err:
            raise IvaeError(f"{where}: {str(err).removeprefix('points: ')}") from None
        res.index = group.index
        out.append(res)
    return pd.concat(out).loc[table.index].reset_index(drop=True)


@click.command("rings")
@click.argument("atoms", type=click.Path(dir_okay=False, path_type=str))
@click.option("--image", default=None, type=click.Path(dir_okay=False), help="Image of the atoms "
              "(its size marks the atoms at its edge as border).")  # fmt: skip
@click.option("--bond-length", type=float, default=None, help="Bond length in px "
              "(default: median nearest-neighbour distance).")  # fmt: skip
@click.option("--tolerance", type=float, default=0.4, show_default=True,
              help="Atoms closer than (1 + tolerance) bond lengths are bonded.")  # fmt: skip
@click.option("--max-ring", type=int, default=9, show_default=True,
              help="Largest ring; larger faces are holes.")  # fmt: skip
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output CSV.")
def rings(
    atoms: str,
    image: str | None,
    bond_length: float | None,
    tolerance: float,
    max_ring: int,
    output: str,
) -> None:
    """Ring sizes and ring labels of the atoms in ATOMS (a CSV with y, x columns).

    Labels: 0 fewer than 2 rings; 1 [6,6]; 2 [5,6]; 3 [6,6,7]; 4 [6,6,6];
    5 [5,6,7]; 6 [5,6,6]; 7 any other pattern.
    """
    from napari_ivae.cli._crop import read_points
    from napari_ivae.cli._write import _atomic_write, _check_distinct, _check_output, _csv_writer

    check_range("--tolerance", tolerance, low=0.05, high=0.7)
    check_range("--max-ring", max_ring, low=3, high=30)
    if bond_length is not None:
        check_range("--bond-length", bond_length, low=0.0, low_inclusive=False)
    _check_output(output, "-o", (".csv",))
    _check_distinct(ATOMS=atoms, **{"-o": output})
    table = read_points(atoms)
    yx = table[["y", "x"]].to_numpy(dtype=np.float64)
    if not np.isfinite(yx).all():
        raise IvaeError(f"{atoms}: columns 'y' and 'x' must be finite numbers; found NaN or inf")
    shape = _image_shape(image) if image is not None else None
    options = {"bond_length": bond_length, "tolerance": tolerance, "max_ring": max_ring}
    result = _per_frame(table, atoms, shape, options)
    _atomic_write(Path(output), _csv_writer(result))
    click.echo(
        f"ivae rings: {len(result)} atoms; {_label_summary(result)}; wrote {output}", err=True
    )
