"""Training progress of ``ivae train``: a bar on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time

import click


def _use_bar(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Reporter:
    """Training progress: a tqdm bar on a terminal, plain lines on stderr otherwise.

    Plain lines (output to a file or a pipe): one per finished epoch, e.g.
    ``epoch 3/20  loss 123.4  12.1 s  eta 1 min``, plus one every
    ``every`` seconds inside a long epoch.
    """

    def __init__(self, kind: str, quiet: bool, *, every: float = 30.0) -> None:
        self.kind, self.quiet, self.every = kind, quiet, every
        self.bar_wanted = _use_bar(quiet)
        self.bar = None
        self.last_line = time.perf_counter()
        self.first_epoch: int | None = None

    def say(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)

    def __call__(self, p) -> None:
        if self.quiet or p.stopped:
            return
        if p.phase == "start":  # model built, no loss yet (the start line said what runs)
            return
        if self.bar_wanted:
            self._bar(p)
            return
        now = time.perf_counter()
        if self.first_epoch is None:
            self.first_epoch = p.epoch
        if p.epoch_time is None and now - self.last_line < self.every:
            return
        self.last_line = now
        done = p.epoch - self.first_epoch + (1 if p.epoch_time is not None else p.step / p.n_steps)
        line = f"epoch {p.epoch}/{p.n_epochs}"
        if p.epoch_time is None:
            line += f"  step {p.step}/{p.n_steps}"
        line += f"  loss {p.loss:.4g}  {p.elapsed:.1f} s"
        left = p.n_epochs - p.epoch + (0 if p.epoch_time is not None else 1 - p.step / p.n_steps)
        eta = p.elapsed / done * left if done > 0 else 0.0
        if eta >= 1:
            line += f"  eta {_duration(eta)}"
        click.echo(line, err=True)

    def _bar(self, p) -> None:
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.n_epochs * p.n_steps, unit="step", desc=self.kind,
                            leave=True, dynamic_ncols=True)  # fmt: skip
        done = max(0, (p.epoch - 1)) * p.n_steps + p.step
        self.bar.update(max(0, done - self.bar.n))
        self.bar.set_postfix(epoch=f"{p.epoch}/{p.n_epochs}", loss=f"{p.loss:.4g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
