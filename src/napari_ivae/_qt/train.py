"""Train dock widget: fit an (invariant) VAE on a cropped stack, live, in a worker thread.

A thin adapter over :func:`napari_ivae.train.fit` (a generator of ``Progress``
returning ``TrainResult``) and :func:`napari_ivae.analysis.encode`.  When training
finishes or is stopped, the latent table (``z1.., angle, dy, dx, class, p*``) is
written into the Points layer's ``features`` by ``Stack.index`` (points dropped by
the crop get NaN; other columns such as ``label`` are kept), and the model, its
history and its training settings are kept in the layer's record
(:func:`napari_ivae.record.get_record`) for the explorer and sessions.

While it runs, the status line says what is happening: "Preparing data …"
until ``fit`` reports ``phase="start"``, then "First batch …", then epoch,
step, loss and an estimate of the time left (from the steps since the first).
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import napari.viewer
from napari.layers import Points
from napari.qt.threading import thread_worker
from qtpy.QtCore import QEvent, QTimer, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_ivae._limits import cpu_budget
from napari_ivae._qt._common import (
    LayerCombo,
    StatusLabel,
    bus,
    guarded,
    guarded_gen,
    is_data_points,
    join_latent,
    notify_errors,
    report,
    scroll_layout,
    set_features,
    show_info,
    show_warning,
    stop_worker_on_destroy,
)
from napari_ivae.models import registry
from napari_ivae.record import get_record

__all__ = ["TrainWidget", "format_duration"]


def format_duration(seconds: float) -> str:
    """A rough, readable duration: "40 s", "3 min", "1 h 5 min"."""
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{max(1, round(s / 5) * 5) if s >= 10 else max(1, round(s))} s"
    m = round(s / 60)
    if m < 60:
        return f"{m} min"
    return f"{m // 60} h {m % 60} min" if m % 60 else f"{m // 60} h"


def _preload_torch() -> None:
    """Import torch (and its lazily loaded optimizer machinery) in a daemon thread.

    The first ``optimizer.step()`` imports ``torch._dynamo`` and sympy; done inside
    the training worker, that import holds the GIL for ~0.5 s and stalls the GUI on
    the first Start of a session.  Doing it once while the widget opens moves that
    cost out of training.
    """
    import threading

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
    import threading

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 5))
    except (AttributeError, OSError):  # not Linux, or not permitted
        pass


def _train_job(stack: Any, model_config: Any, train_settings: dict):
    """Worker body: train, then encode the whole stack with the trained model.

    Runs entirely in the worker thread, the torch import included, so the GUI
    thread never waits for it.  ``train_settings`` are the ``TrainConfig``
    arguments; ``num_threads`` (cores − 1) makes ``fit`` call
    ``torch.set_num_threads`` before training, so a core stays free for the GUI.
    """
    _background_thread()
    from napari_ivae.analysis import encode
    from napari_ivae.train import TrainConfig, fit

    train_config = TrainConfig(**train_settings)
    result = yield from fit(stack, model_config, train_config)
    latent = encode(result.model, stack)
    return result, latent


def _encode_job(model: Any, stack: Any) -> Any:
    _background_thread()
    from napari_ivae.analysis import encode

    return encode(model, stack)


def _stack_of(points: Points | None) -> Any:
    if points is None:
        raise ValueError("no points layer chosen; run Detect and Crop first")
    record = get_record(points, create=False)
    stack = None if record is None else record.stack
    if stack is None:
        raise ValueError(
            f"points layer {points.name!r} has no sub-images yet; run Crop on it first"
        )
    return stack


class TrainWidget(QWidget):
    """Train VAE / rVAE / jVAE / jrVAE on the sub-images of a points layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer this dock widget belongs to.

    Notes
    -----
    ``start()`` creates the training worker (``self.worker``) and starts it
    unless ``start_thread`` is False; ``stop()`` asks it to quit at its next
    progress report.  ``features_written`` is emitted with the points layer once
    the latent columns are in its features (after training, Stop or "Encode").
    """

    features_written = Signal(object)

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.encode_worker = None
        self.start_thread = True
        self.model = None
        self.history: list[dict] = []
        #: The TrainConfig arguments of the current model (None: unknown, e.g. loaded).
        self.train_config: dict | None = None
        self._pending_config: dict | None = None
        self._points: Points | None = None
        self._stack = None
        self._last = None
        self._curve_x: list[float] = []
        self._curve_y: list[float] = []
        self._epochs: list[dict] = []  # the run's finished epochs (kept when Stop is pressed)
        self._training = False
        self._encoding = False
        self._build()
        stop_worker_on_destroy(self, "worker")
        bus().stack_changed.connect(self._on_stack_changed)
        self._update_stack_info()
        _preload_torch()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        import pyqtgraph as pg

        viewer = self.viewer
        self.points_combo = LayerCombo(viewer, Points, accept=is_data_points)
        self.points_combo.setToolTip("Points layer whose sub-images (from Crop) are used.")
        self.points_combo.layer_changed.connect(self._update_stack_info)
        self.stack_info = StatusLabel()

        self.kind = QComboBox()
        tips = {k: registry.get(k).summary for k in registry.names()}  # the model registry
        self.kind.addItems(list(tips))
        self.kind.setCurrentText("rvae")
        for i, tip in enumerate(tips.values()):
            self.kind.setItemData(i, tip, 3)  # 3 = Qt.ToolTipRole
        self.kind.setToolTip("\n".join(f"{k}: {t}" for k, t in tips.items()))
        self.latent_dim = _spin(1, 64, 2, "Number of continuous content latents z.")
        self.classes = _spin(2, 64, 2, "Number of discrete classes (joint models jvae / jrvae).")
        self.epochs = _spin(1, 100000, 20, "Passes over all sub-images.")
        self.batch_size = _spin(1, 65536, 128, "Sub-images per optimisation step.")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 1.0)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(0.001)
        self.lr.setToolTip("Adam learning rate.")
        self.seed = _spin(0, 2**31 - 1, 0, "Random seed: same seed, same data → same model (CPU).")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setToolTip("auto: CUDA GPU if present, then Apple MPS, else CPU.")
        self.kind.currentTextChanged.connect(self._on_kind)
        self._on_kind(self.kind.currentText())

        box = QGroupBox("Model and training")
        form = QFormLayout(box)
        form.addRow("Model", self.kind)
        form.addRow("Latent dims", self.latent_dim)
        form.addRow("Classes", self.classes)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Seed", self.seed)
        form.addRow("Device", self.device)

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train in the background; the viewer stays usable.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; the latents are still written.")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        run_row = QHBoxLayout()
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.stop_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.status = StatusLabel()
        self._phase = ""  # "prepare", "first batch", "train" while training
        self._ref: tuple[float, int] | None = None  # (time, steps done) of the first step
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)

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

        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("Write the trained model (weights + settings + history).")
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("Read a model saved by napari-ivae (or `ivae train`).")
        self.encode_button = QPushButton("Encode with loaded model")
        self.encode_button.setToolTip(
            "Write the latents of the chosen points (after Crop) with the current model, "
            "without training — e.g. a new image analysed with an earlier model."
        )
        self.save_button.clicked.connect(lambda: self.save_model())
        self.load_button.clicked.connect(lambda: self.load_model())
        self.encode_button.clicked.connect(lambda: self.encode())
        io_row = QHBoxLayout()
        io_row.addWidget(self.save_button)
        io_row.addWidget(self.load_button)

        top = QFormLayout()
        top.addRow("Points", self.points_combo)
        layout = scroll_layout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack_info)
        layout.addWidget(box)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        layout.addLayout(io_row)
        layout.addWidget(self.encode_button)
        self._update_buttons()

    def _on_kind(self, kind: str) -> None:
        self.classes.setEnabled(registry.get(kind).joint)

    def _update_stack_info(self, *_args: Any) -> None:
        points = self.points_combo.value
        record = None if points is None else get_record(points, create=False)
        stack = None if record is None else record.stack
        if points is None:
            self.stack_info.setText("No points layer: run Detect, then Crop.")
        elif stack is None:
            self.stack_info.setText(f"{points.name!r} has no sub-images yet: run Crop.")
        else:
            n, c, h, w = stack.images.shape
            self.stack_info.setText(f"{n:,} sub-images, {c} channel(s), {h}×{w} px.")

    def _on_stack_changed(self, points: Points) -> None:
        """A crop was made: follow that points layer (unless training) and show its stack."""
        if not self.is_running and points in self.viewer.layers:
            self.points_combo.value = points
        self._update_stack_info()

    def changeEvent(self, event: Any) -> None:
        """The panel was closed (napari unparents the widget): stop training like Stop."""
        if event.type() == QEvent.Type.ParentChange and self.parent() is None:
            self.stop()
        super().changeEvent(event)

    def showEvent(self, event: Any) -> None:
        self._update_stack_info()
        super().showEvent(event)

    def _update_buttons(self) -> None:
        running = self.is_running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for b in (self.save_button,):
            b.setEnabled(self.model is not None and not running)
        self.encode_button.setEnabled(self.model is not None and not running)
        self.load_button.setEnabled(not running)

    @property
    def is_running(self) -> bool:
        """Whether a training or encoding worker is running."""
        return self._training or self._encoding

    # ------------------------------------------------------------------ training
    def configs(self) -> tuple[Any, Any]:
        """The ``ModelConfig`` and ``TrainConfig`` of the current settings."""
        from napari_ivae.train import TrainConfig

        mc, settings = self._settings()
        return mc, TrainConfig(**settings)

    def _settings(self) -> tuple[Any, dict]:
        """``ModelConfig`` and the ``TrainConfig`` arguments (no torch import needed)."""
        from napari_ivae.models import ModelConfig

        kind = self.kind.currentText()
        mc = ModelConfig(
            kind=kind,
            latent_dim=int(self.latent_dim.value()),
            n_classes=int(self.classes.value()) if registry.get(kind).joint else None,
        )
        settings = dict(
            epochs=int(self.epochs.value()),
            batch_size=int(self.batch_size.value()),
            lr=float(self.lr.value()),
            seed=int(self.seed.value()),
            device=self.device.currentText(),
            num_threads=max(1, cpu_budget() - 1),  # a core stays free for the GUI
        )
        return mc, settings

    def start(self) -> Any:
        """Start training on the chosen points' stack; returns the worker (or None)."""
        if self.is_running:
            show_warning("Train: training is already running; press Stop before starting again.")
            return None
        self.status.clear_error()
        with notify_errors("Train", self.status):
            points = self.points_combo.value
            stack = _stack_of(points)
            mc, settings = self._settings()
            if len(stack.index) < 2:
                raise ValueError(
                    f"the stack has {len(stack.index)} sub-image(s); training needs at least 2"
                )
            return self._start(points, stack, mc, settings)
        return None

    def _start(self, points: Points, stack: Any, mc: Any, settings: dict) -> Any:
        self._points, self._stack, self._last = points, stack, None
        self._pending_config = dict(settings)
        self._curve_x, self._curve_y = [], []
        self._epochs = []
        self.curve.setData([], [])
        self.progress.setRange(0, 0)  # busy until the first step: "0 %" would look stuck
        self._what = f"{mc.kind} on {len(stack.index):,} sub-images"
        self._phase, self._ref = "prepare", None
        worker = thread_worker(guarded_gen, start_thread=False)(_train_job(stack, mc, settings))
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_trained)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_train_finished)
        self.worker = worker
        self._training = True
        self._t0 = time.perf_counter()
        self._show_phase()
        self._tick.start()
        # Long-lived napari/torch objects out of the cyclic GC while training: a full
        # collection triggered in the training thread would hold the GIL (and so the
        # GUI) for up to a second.  Undone when training ends.
        gc.freeze()
        if self.start_thread:
            worker.start()
        self._update_buttons()
        return worker

    def _is_current(self, worker: Any) -> bool:
        """Whether the signal being handled comes from ``worker`` (not an older one)."""
        sender = self.sender()
        return sender is None or worker is None or sender is getattr(worker, "signals", sender)

    def _on_train_finished(self) -> None:
        if not self._is_current(self.worker):
            return
        gc.unfreeze()
        self._training = False
        self._tick.stop()
        if self.progress.maximum() == 0:  # ended before the first step: not "busy" any more
            self.progress.setRange(0, 1)
        self._update_buttons()

    def _on_encode_finished(self) -> None:
        if not self._is_current(self.encode_worker):
            return
        self._encoding = False
        self._update_buttons()

    def stop(self) -> None:
        """Ask the training worker to stop at its next progress report."""
        if self.worker is not None and self._training:
            self._phase = "stopping"
            self.status.setText("Stopping …")
            self.worker.quit()

    def _show_phase(self) -> None:
        """Status while no step is done yet: what is happening and for how long."""
        took = time.perf_counter() - self._t0
        if self._phase == "prepare":
            text = f"Preparing data, building the model ({self._what}) … {took:.0f} s"
        elif self._phase == "first batch":
            text = f"Model ready; first batch ({self._what}) … {took:.0f} s"
        else:
            return
        self.status.set_message(text)

    def _on_tick(self) -> None:
        if not self._training:
            self._tick.stop()
            return
        self._show_phase()

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

    def _on_progress(self, p: Any) -> None:
        if getattr(p, "phase", "train") == "start":
            self._phase = "first batch"
            self._show_phase()
            return
        self._last = p
        self._phase = "train"
        if p.epoch_time is not None:  # the report that ends an epoch: fit's history record
            self._epochs.append({"epoch": p.epoch, "loss": p.loss, **p.terms, "time": p.epoch_time})
        total = max(1, p.n_epochs * p.n_steps)
        done = (p.epoch - 1) * p.n_steps + p.step
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        self._curve_x.append(p.epoch - 1 + p.step / max(1, p.n_steps))
        self._curve_y.append(float(p.loss))
        self.curve.setData(self._curve_x, self._curve_y)
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

    def _on_trained(self, out: Any) -> None:
        self._training = False  # the worker is done; its `finished` may come later
        self._tick.stop()
        if report(out, "Train", self.status):
            return
        result, latent = out
        self.model, self.history = result.model, list(result.history)
        self.train_config = self._pending_config
        if result.stopped:
            show_warning(f"Train: training stopped early: {result.stopped}")
        took = time.perf_counter() - self._t0
        self._write(self._points, self._stack, latent, f"Trained in {took:.0f} s")

    def _on_aborted(self) -> None:
        self._tick.stop()
        model = getattr(self._last, "model", None)
        if model is None:
            self.status.setText("Stopped before the first step; nothing written.")
            return
        self.model = model.cpu().eval()  # off the training device, as fit returns it
        self.history = list(self._epochs)  # the finished epochs, saved with the model
        self.train_config = self._pending_config
        self.status.setText(
            f"Stopped at epoch {self._last.epoch}; encoding with the last weights …"
        )
        self._start_encode(self._points, self._stack, note=f"Stopped at epoch {self._last.epoch}")

    # ------------------------------------------------------------------ encoding and output
    def encode(self, points: Points | None = None) -> Any:
        """Encode the chosen points' stack with the current (e.g. loaded) model, no training."""
        if self.is_running:
            show_warning("Train: wait for the running job to finish (or Stop it) first.")
            return None
        self.status.clear_error()
        with notify_errors("Encode", self.status):
            if self.model is None:
                raise ValueError("no model yet: train one or load a saved model first")
            points = points if points is not None else self.points_combo.value
            stack = _stack_of(points)
            return self._start_encode(points, stack, note="Encoded with the loaded model")
        return None

    def _start_encode(self, points: Points, stack: Any, *, note: str) -> Any:
        self._points, self._stack, self._note = points, stack, note
        worker = thread_worker(guarded, start_thread=False)(_encode_job, self.model, stack)
        worker.returned.connect(self._on_encoded)
        worker.finished.connect(self._on_encode_finished)
        self.encode_worker = worker
        self._encoding = True
        if self.start_thread:
            worker.start()
        self._update_buttons()
        return worker

    def _on_encoded(self, outcome: Any) -> None:
        self._encoding = False  # the worker is done; its `finished` may come later
        if report(outcome, "Encode", self.status):
            return
        self._write(self._points, self._stack, outcome.value, self._note)

    def _write(self, points: Points, stack: Any, latent: Any, note: str) -> None:
        with notify_errors("Train", self.status):
            if points not in self.viewer.layers:
                raise ValueError(f"points layer {points.name!r} was removed; nothing written")
            table = join_latent(points.features, latent, stack.index)
            set_features(points, table)
            record = get_record(points)
            record.model, record.history = self.model, list(self.history)
            record.train_config = self.train_config
            cols = [c for c in latent.columns if c not in ("y", "x", "frame")]
            shown = ", ".join(cols[:6]) + (" …" if len(cols) > 6 else "")
            self.status.setText(f"{note}; wrote {shown} to {points.name!r}.")
            self._update_buttons()
            self.features_written.emit(points)

    # ------------------------------------------------------------------ save / load
    def save_model(self, path: str | None = None) -> str | None:
        """Save the current model (asks for a file when ``path`` is None)."""
        if self.model is None:
            show_warning("Train: no model to save yet; train or load one first.")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save model", "model.ivae", "napari-ivae model (*.ivae);;All files (*)"
            )
            if not path:
                return None
        from napari_ivae.train import TrainConfig, save_model

        self.status.clear_error()
        with notify_errors("Save model", self.status):
            trained = TrainConfig(**self.train_config) if self.train_config else None
            try:
                save_model(path, self.model, self.history, train_config=trained)
            except OSError as err:
                raise ValueError(f"cannot write {path!r}: {err.strerror or err}") from err
            show_info(f"Model saved to {path}")
            self.status.setText(f"Model saved to {path}.")
            return str(path)
        return None

    def load_model(self, path: str | None = None) -> Any:
        """Load a saved model (asks for a file when ``path`` is None); returns it or None."""
        if self.is_running:
            show_warning("Train: wait for training to finish (or Stop it) before loading a model.")
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Load model", "", "napari-ivae model (*.ivae *.pt);;All files (*)"
            )
            if not path:
                return None
        from napari_ivae.train import load_model

        self.status.clear_error()
        with notify_errors("Load model", self.status):
            model, history = load_model(path)
            self.model, self.history = model, list(history)
            self.train_config = None
            c = model.config
            self.kind.setCurrentText(c.kind)
            self.latent_dim.setValue(c.latent_dim)
            if c.n_classes:
                self.classes.setValue(c.n_classes)
            self.status.setText(
                f"Loaded {c.kind} ({c.latent_dim} latents, {c.in_channels}×{c.size}×{c.size} input) "
                f"from {os.path.basename(str(path))}; press “Encode with loaded model”."
            )
            self._update_buttons()
            return model
        return None


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box
