"""The Train widget's progress display: busy/progress bar, status line, loss curve.

While training runs the status line says what is happening: "Preparing data …"
until ``fit`` reports ``phase="start"``, then "First batch …", then epoch,
step, loss and an estimate of the time left (from the steps since the first).
"""

from __future__ import annotations

import time
from typing import Any

from qtpy.QtCore import QObject, QTimer
from qtpy.QtWidgets import QProgressBar

from napari_ivae._qt._status import StatusLabel
from napari_ivae._qt._train_jobs import format_duration

__all__ = ["TrainProgress"]


class TrainProgress(QObject):
    """Progress bar, status line and loss curve of one training run at a time.

    Attributes
    ----------
    bar : QProgressBar
        Busy until the first step, then steps done of all steps.
    status : StatusLabel
        What is happening (also used by the widget for its other messages).
    plot, curve
        pyqtgraph plot of the running epoch loss.
    epochs : list of dict
        The run's finished epochs (``fit``'s history records), kept on Stop.
    """

    def __init__(self, parent: Any = None) -> None:
        import pyqtgraph as pg

        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("%p%")
        self.status = StatusLabel()
        self.phase = ""  # "prepare", "first batch", "train", "stopping" while training
        self.what = ""
        self.t0 = 0.0
        self._ref: tuple[float, int] | None = None  # (time, steps done) of the first step
        self._x: list[float] = []
        self._y: list[float] = []
        self.epochs: list[dict] = []
        self.last: Any = None
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.show_phase)

        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.curve = self.plot.plot([], [], pen=pg.mkPen("#f0a030", width=2))

    def begin(self, what: str) -> None:
        """A run starts: empty curve, busy bar, "Preparing data …"."""
        self.what, self.phase, self._ref, self.last = what, "prepare", None, None
        self._x, self._y, self.epochs = [], [], []
        self.curve.setData([], [])
        self.bar.setRange(0, 0)  # busy until the first step: "0 %" would look stuck
        self.t0 = time.perf_counter()
        self.show_phase()
        self._tick.start()

    def end(self) -> None:
        """The run is over (trained, stopped or failed)."""
        self._tick.stop()
        if self.bar.maximum() == 0:  # ended before the first step: not "busy" any more
            self.bar.setRange(0, 1)

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`begin`."""
        return time.perf_counter() - self.t0

    def show_phase(self) -> None:
        """Status while no step is done yet: what is happening and for how long."""
        if self.phase == "prepare":
            text = f"Preparing data, building the model ({self.what}) … {self.elapsed:.0f} s"
        elif self.phase == "first batch":
            text = f"Model ready; first batch ({self.what}) … {self.elapsed:.0f} s"
        else:
            return
        self.status.set_message(text)

    def eta(self, p: Any) -> float | None:
        """Seconds left, from the pace of the steps since the first one (None: too early)."""
        done = (p.epoch - 1) * p.n_steps + p.step
        now = time.perf_counter()
        if self._ref is None:
            self._ref = (now, done)
            return None
        t_ref, done_ref = self._ref
        if done <= done_ref or now - t_ref < 0.2:
            return None
        total = p.n_epochs * p.n_steps
        return (total - done) * (now - t_ref) / (done - done_ref)

    def report(self, p: Any) -> None:
        """Show one ``Progress`` of ``fit``."""
        if getattr(p, "phase", "train") == "start":
            self.phase = "first batch"
            self.show_phase()
            return
        self.last, self.phase = p, "train"
        if p.epoch_time is not None:  # the report that ends an epoch: fit's history record
            self.epochs.append({"epoch": p.epoch, "loss": p.loss, **p.terms, "time": p.epoch_time})
        total = max(1, p.n_epochs * p.n_steps)
        done = (p.epoch - 1) * p.n_steps + p.step
        if self.bar.maximum() != total:
            self.bar.setRange(0, total)
        self.bar.setValue(min(done, total))
        self._x.append(p.epoch - 1 + p.step / max(1, p.n_steps))
        self._y.append(float(p.loss))
        self.curve.setData(self._x, self._y)
        left = self.eta(p)
        when = "estimating the time left" if left is None else f"about {format_duration(left)} left"
        if done >= total:
            when = "encoding the sub-images …"
        self.status.set_message(
            f"Epoch {p.epoch}/{p.n_epochs} · step {p.step}/{p.n_steps} · loss {p.loss:.4g} · {when}"
        )
        self.status.setToolTip(
            f"{p.samples_per_s:,.0f} samples/s · {p.elapsed:.0f} s\n"
            + "\n".join(f"{k}: {v:.4g}" for k, v in p.terms.items())
        )
