"""One cancellable job at a time in a napari ``thread_worker``: the docks' shared bookkeeping.

:class:`JobWorkerMixin` is what the Detect and Dynamics docks and the Rings box
share: start the job in a worker (``self.worker``; not started while
``start_thread`` is False, for tests), Cancel (the dock is free at once and
nothing is added, even when Cancel comes after the core's last check), and
``finished`` (the dock is free again, unless a cancelled run ends while a new
one runs).  The job is a dict: ``cancelled`` (a ``threading.Event``), ``done``
and ``t0`` are added here; the widget keeps the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from napari.qt.threading import thread_worker

from napari_ivae._errors import Cancelled

__all__ = ["JobWorkerMixin"]


class JobWorkerMixin:
    """Start / Cancel / finished of one job at a time, for a widget with a ``status`` line.

    The widget sets ``self.worker = None``, ``self.start_thread = True``,
    ``self._running = False`` and ``self._job = {}`` in its ``__init__`` and
    implements :meth:`_set_running` (buttons, busy bar), :meth:`_on_result`
    (an outcome of the current, not cancelled job) and, if it can be
    cancelled, :meth:`_on_cancelled` (say that nothing is coming); optionally
    :meth:`_on_failed` (a bug ended the job).
    """

    worker: Any
    start_thread: bool
    status: Any
    _running: bool
    _job: dict

    def _launch(self, job: dict, body: Callable[[Callable[[], bool]], Any], message: str) -> Any:
        """Run ``body(stop)`` for ``job`` in a worker; returns the worker.

        ``stop()`` is true once Cancel was pressed or the worker was asked to
        quit (the viewer closing); ``body`` may then raise ``Cancelled``.
        """
        cancelled = threading.Event()
        job["cancelled"] = cancelled

        @thread_worker(start_thread=False)
        def _work() -> Any:
            try:
                # Cancel, or the viewer closing (stop_worker_on_destroy quits the worker)
                stop = lambda: cancelled.is_set() or worker.abort_requested  # noqa: E731
                return job, body(stop)
            except Cancelled:
                return job, None
            finally:
                job["done"] = True

        worker = _work()
        self._job = job
        # bound methods: Qt disconnects them when the widget is destroyed
        worker.returned.connect(self._on_job_returned)
        worker.errored.connect(self._on_job_errored)
        worker.finished.connect(self._on_job_finished)
        self.worker = worker
        self._set_running(True)
        self.status.setText(message)
        job["t0"] = time.perf_counter()
        if self.start_thread:
            worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the running job: the widget is free at once, nothing is added."""
        if not self._running:
            return
        self._job["cancelled"].set()
        self._set_running(False)
        self.status.setText("Cancelled; nothing was added.")
        self._on_cancelled()

    def _job_cancelled(self) -> bool:
        """Whether the current job was cancelled."""
        cancelled = self._job.get("cancelled")
        return cancelled is not None and cancelled.is_set()

    def _on_job_finished(self) -> None:
        if self._job.get("done"):  # else: a cancelled run ending while a new one runs
            self._set_running(False)

    def _on_job_returned(self, value: Any) -> None:
        job, outcome = value
        if job is not self._job or job["cancelled"].is_set() or outcome is None:
            return  # cancelled: cancel() has reset the widget already
        self._on_result(job, outcome, time.perf_counter() - job["t0"])

    # ------------------------------------------------------------------ the widget's part
    def _set_running(self, running: bool) -> None:
        """Show the dock as running or free (buttons, status); every dock defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define _set_running")

    def _on_result(self, job: dict, outcome: Any, elapsed: float) -> None:
        """Show a finished job's ``outcome``; every dock defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define _on_result")

    def _on_cancelled(self) -> None:
        """Cancel was pressed (the widget is free again); e.g. emit "nothing added"."""

    def _on_failed(self) -> None:
        """A bug ended the job (the status says so already); e.g. emit "nothing added"."""

    def _on_job_errored(self, err: BaseException) -> None:
        """A bug in the job, not a user mistake: napari shows the traceback, the status
        line says so (it no longer reads "…ing"), ``finished`` frees the widget."""
        if self._job_cancelled():
            return
        self.status.set_error(
            f"The computation failed ({type(err).__name__}: {err}); nothing was added. "
            "This is a bug: please report it with the traceback."
        )
        self._on_failed()
