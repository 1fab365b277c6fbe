"""The ``ivae`` command line: a thin front over the core.

Sub-commands live in their own modules and are imported only when used, so
``ivae --help`` stays fast (no torch import).  A user mistake
(:class:`~napari_ivae.IvaeError`, a missing file, ...) prints one line
``ivae: error: ...`` and exits with code 2; no traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from napari_ivae import __version__
from napari_ivae._errors import IvaeError

#: sub-command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": ("napari_ivae.cli._info", "info", "Show what the loader sees in an image file."),
    "detect": ("napari_ivae.cli._detect", "detect", "Detect atoms or domain walls."),
    "crop": ("napari_ivae.cli._crop", "crop", "Crop a sub-image stack around points."),
    "train": ("napari_ivae.cli._vae", "train", "Train a VAE / rVAE / jVAE / jrVAE on a stack."),
    "encode": ("napari_ivae.cli._vae", "encode", "Encode a stack with a trained model."),
    "manifold": ("napari_ivae.cli._vae", "manifold", "Render a model's latent manifold."),
    "demo": ("napari_ivae.cli._demo", "demo", "Run the headless pipeline on the sample data."),
}


class _LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attr, _ = _COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in _COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ivae")
def cli() -> None:
    """napari-ivae: invariant VAEs for PFM and STEM images, headless."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and return exit code 2.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit code.
    """
    try:
        cli.main(args=argv, prog_name="ivae", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ivae: aborted", err=True)
        return 130
    except click.exceptions.ClickException as err:
        # usage errors (unknown option, missing argument, bad choice, missing file)
        click.echo(f"ivae: error: {err.format_message()}", err=True)
        return 2
    except (IvaeError, FileNotFoundError, IsADirectoryError, PermissionError) as err:
        click.echo(f"ivae: error: {err}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("ivae: interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
