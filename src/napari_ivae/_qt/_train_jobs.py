"""What the Train widget runs in worker threads, and the worker that runs it.

Training goes through :func:`napari_ivae.train.run_fit`, the loop the CLI and
the demo use: :class:`FitWorker` hands each ``Progress`` to the GUI thread
(``yielded``) and, once ``quit()`` is asked, raises at the next report, so
``run_fit`` closes the ``fit`` generator (checkpoint written, model kept) and
the worker emits ``aborted``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from napari.qt.threading import FunctionWorker, GeneratorWorkerSignals

from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import UserError
from napari_ivae.record import get_record

__all__ = ["FitWorker", "encode_job", "format_duration", "preload_torch", "stack_of", "train_job"]


def format_duration(seconds: float) -> str:
    """A rough, readable duration: "40 s", "3 min", "1 h 5 min"."""
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{max(1, round(s / 5) * 5) if s >= 10 else max(1, round(s))} s"
    m = round(s / 60)
    if m < 60:
        return f"{m} min"
    return f"{m // 60} h {m % 60} min" if m % 60 else f"{m // 60} h"


def preload_torch() -> None:
    """Import torch (and its lazily loaded optimizer machinery) in a daemon thread.

    The first ``optimizer.step()`` imports ``torch._dynamo`` and sympy; done inside
    the training worker, that import holds the GIL and stalls the GUI on the first
    Start of a session (docs/gui.md, "The event loop while training").  Doing it
    once while the widget opens moves that cost out of training.
    """

    def _run() -> None:
        try:
            import torch
            import torch._dynamo  # noqa: F401
        except ImportError:  # pragma: no cover - torch is a hard dependency
            return

    threading.Thread(target=_run, name="ivae-preload-torch", daemon=True).start()


def _background_thread() -> None:
    """Make the calling (worker) thread yield the CPU to the GUI thread.

    On Linux the nice value is per thread: raising it for the training thread
    (and the torch threads it spawns) keeps the event loop responsive on a busy
    machine.  Elsewhere this does nothing.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 5))
    except (AttributeError, OSError):  # not Linux, or not permitted
        pass


class _Stopped(Exception):
    """Raised in the progress callback once the worker was asked to quit."""


class FitWorker(FunctionWorker):
    """A napari function worker for ``job(*args, on_progress=...)`` that reports progress.

    Signals as napari's generator workers: ``yielded`` (each ``Progress``),
    ``aborted`` (stopped by :meth:`quit` at a report), ``returned``,
    ``finished``; bugs reach ``errored`` and napari's notifications.

    :meth:`quit` after the last report (while the job finishes its work)
    cannot stop the job, yet superqt then emits neither ``returned`` nor
    ``aborted``: the job's return value is kept in ``outcome`` (None until
    the job returns) for the ``finished`` handler.
    """

    def __init__(self, func: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(func, *args, **kwargs)
        self.outcome: Any = None
        self.signals = GeneratorWorkerSignals()
        self.errored.connect(self._relay_error)
        self.warned.connect(self._relay_warning)

    def _on_progress(self, progress: Any) -> None:
        if self.abort_requested:
            raise _Stopped
        self.yielded.emit(progress)

    def work(self) -> Any:
        try:
            self.outcome = self._func(*self._args, on_progress=self._on_progress, **self._kwargs)
            return self.outcome
        except _Stopped:
            self.aborted.emit()
            return None


def train_job(
    stack: Any, model_config: Any, train_settings: dict, labels: Any = None, *, on_progress: Any
) -> Any:
    """Worker body: train through ``run_fit``, then encode the whole stack.

    Runs entirely in the worker thread, the torch import included.
    ``train_settings`` are the ``TrainConfig`` arguments; ``num_threads``
    (cores − 1) keeps a core free for the GUI; ``labels`` the class of every
    sub-image (conditional models).  Returns ``(result, latent)``,
    or a :class:`UserError` for a user mistake (no traceback).
    """
    _background_thread()
    from napari_ivae.analysis import encode
    from napari_ivae.train import TrainConfig, fit, run_fit

    try:
        gen = fit(stack, model_config, TrainConfig(**train_settings), labels=labels)
        result = run_fit(gen, on_progress)
        return result, encode(result.model, stack, labels=labels)
    except (IvaeError, ValueError) as err:
        return UserError(str(err).strip() or type(err).__name__)


def encode_job(model: Any, stack: Any, labels: Any = None) -> Any:
    """Worker body: the latent table of ``stack`` under ``model`` (``labels``: conditional models)."""
    _background_thread()
    from napari_ivae.analysis import encode

    return encode(model, stack, labels=labels)


def stack_of(points: Any) -> Any:
    """The ``Stack`` cropped from a points layer, or a ValueError saying what to do."""
    if points is None:
        raise ValueError("no points layer chosen; run Detect and Crop first")
    record = get_record(points, create=False)
    stack = None if record is None else record.stack
    if stack is None:
        raise ValueError(
            f"points layer {points.name!r} has no sub-images yet; run Crop on it first"
        )
    return stack
