"""The model and training options that ``ivae train`` and ``ivae ensemble`` share (one definition)."""

from __future__ import annotations

import click

from napari_ivae._limits import MAX_EPOCHS, MAX_LATENT_DIM, MAX_LR

DEVICES = ("auto", "cpu", "cuda", "mps")

_OPTIONS = (
    click.option(
        "--latent-dim",
        type=int,
        required=True,
        help=f"Number of continuous latents K (1 to {MAX_LATENT_DIM}, and ≤ the values of one image).",
    ),
    click.option("--epochs", type=int, default=20, show_default=True, help=f"1 to {MAX_EPOCHS}."),
    click.option(
        "--batch-size",
        type=int,
        default=None,
        help="Samples per step [default: 128, or N when the stack has fewer images].",
    ),
    click.option(
        "--lr",
        type=float,
        default=1e-3,
        show_default=True,
        help=f"Learning rate (0 < lr ≤ {MAX_LR:g}).",
    ),
    click.option(
        "--scale",
        type=click.Choice(("fixed", "free")),
        default="fixed",
        show_default=True,
        help="free: a per-object scale latent, for objects whose size varies (particles, "
        "glyphs); rotation models only.  fixed: lattices and walls.",
    ),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True),
    click.option("--quiet", "-q", is_flag=True, help="No progress or summary."),
)


def training_options(func):
    """Add ``--latent-dim --epochs --batch-size --lr --scale --seed --device --quiet`` to a command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func
