"""``ivae demo``: the headless pipeline on the shipped sample data."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--out",
    "out",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the figures, tables, models and summary.json.",
)
@click.option("--quick", is_flag=True, help="Few epochs (seconds, for a smoke test).")
@click.option("--seed", type=int, default=0, show_default=True, help="Training seed.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the final line.")
def demo(out: Path, quick: bool, seed: int, quiet: bool) -> None:
    """Run the whole pipeline on the sample data and write figures to OUT.

    STEM: atoms → crops → jrVAE → classes; PFM: walls by gaussian, canny and
    dcnn → wall crops → rVAE → angles; switching series: switched fraction per
    frame.  Prints one line per stage and per training epoch on stderr, with
    the accuracy against the samples' ground truth, ending with ``done in ...``.
    """
    from napari_ivae.pipeline import run_demo

    if out.exists() and not out.is_dir():
        from napari_ivae._errors import IvaeError

        raise IvaeError(f"--out {out}: exists and is not a folder")
    lines: list[str] = []

    def say(msg: str) -> None:  # progress on stderr, each line once; --quiet: the last only
        lines.append(msg)
        if not quiet:
            click.echo(msg, err=True)

    run_demo(out, quick=quick, seed=seed, progress=say)
    if quiet and lines:
        click.echo(lines[-1], err=True)
