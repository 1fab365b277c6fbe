"""The ``ivae`` command line: a thin front over the core.

Sub-commands live in their own modules and are imported only when used, so
``ivae --help`` stays fast (no torch import).  A user mistake
(:class:`~napari_ivae.IvaeError`, a missing file, ...) prints one line
``ivae: error: ...`` and exits with code 2; no traceback.  A failed write
(full disk, read-only folder) is one line ``ivae: error: cannot write PATH:
REASON``.  SIGTERM is turned into an exception in the main thread, so the same
clean-up as for Ctrl-C runs (temp files removed, nothing half-written); it
prints ``ivae: terminated`` and exits with 143 (Ctrl-C: 130).
"""

from __future__ import annotations

import errno
import importlib
import signal
import sys
import threading

import click

from napari_ivae import __version__
from napari_ivae._atomic import WriteError
from napari_ivae._errors import IvaeError

#: sub-command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": (
        "napari_ivae.cli._info",
        "info",
        "Show what the loader sees in an image or spectrum-image file.",
    ),
    "detect": ("napari_ivae.cli._detect", "detect", "Detect atoms or domain walls."),
    "crop": ("napari_ivae.cli._crop", "crop", "Crop a sub-image stack around points."),
    "train": ("napari_ivae.cli._vae", "train", "Train a VAE / rVAE / jVAE / jrVAE on a stack."),
    "encode": ("napari_ivae.cli._vae", "encode", "Encode a stack with a trained model."),
    "manifold": ("napari_ivae.cli._vae", "manifold", "Render a model's latent manifold."),
    "ensemble": (
        "napari_ivae.cli._ensemble",
        "ensemble",
        "Train an ensemble of joint VAEs: consensus class and uncertainty.",
    ),
    "confusion": (
        "napari_ivae.cli._confusion",
        "confusion",
        "Confusion matrix of predicted classes against truth labels.",
    ),
    "wall-metrics": ("napari_ivae.cli._dynamics", "wall_metrics", "Wall metrics per frame."),
    "rings": ("napari_ivae.cli._rings", "rings", "Ring sizes and ring labels of an atom graph."),
    "decompose": (
        "napari_ivae.cli._spectra",
        "decompose",
        "PCA / NMF maps and component spectra of a spectrum image.",
    ),
    "structure": (
        "napari_ivae.cli._structure",
        "structure",
        "Structure–property models: im2spec, spec2im, dual VAE (train, predict).",
    ),
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


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives (exit code 143)."""

    def __init__(self) -> None:
        super().__init__(128 + 15)


def _on_sigterm(signum, frame) -> None:
    # once: a second SIGTERM while cleaning up is ignored (SIGKILL still works)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _install_sigterm():
    """Install the SIGTERM handler; returns the previous one (None: not installed)."""
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - embedded interpreters
        return None


#: errors that only a write can give
_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _os_error_line(err: OSError) -> str:
    reason = err.strerror or str(err) or type(err).__name__
    if err.filename is None:
        return reason
    if err.errno in _WRITE_ERRNOS:
        return f"cannot write {err.filename}: {reason}"
    return f"{err.filename}: {reason}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and return exit code 2.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit code: 0, 2 (user error, failed write), 130 (Ctrl-C),
        143 (SIGTERM).
    """
    previous = _install_sigterm()
    try:
        cli.main(args=argv, prog_name="ivae", standalone_mode=False)
    except Terminated:
        click.echo("ivae: terminated", err=True)
        return 143
    except click.exceptions.Abort:
        click.echo("ivae: aborted", err=True)
        return 130
    except click.exceptions.ClickException as err:
        # usage errors (unknown option, missing argument, bad choice, missing file)
        click.echo(f"ivae: error: {err.format_message()}", err=True)
        return 2
    except (IvaeError, WriteError, FileNotFoundError, IsADirectoryError, PermissionError) as err:
        click.echo(f"ivae: error: {err}", err=True)
        return 2
    except OSError as err:  # disk full, I/O error ...: one line, no traceback
        click.echo(f"ivae: error: {_os_error_line(err)}", err=True)
        return 2
    except MemoryError:
        click.echo("ivae: error: out of memory; use a smaller stack or model", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("ivae: interrupted", err=True)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
