"""Train dock widget: fit an (invariant) VAE on a cropped stack, live, in a worker thread.

A thin adapter over :func:`napari_ivae.train.fit`, driven by
:func:`napari_ivae.train.run_fit` in a worker (:mod:`._train_jobs`), and
:func:`napari_ivae.analysis.encode`.  The options are forms built from
``ModelConfig`` and ``TrainConfig`` (:mod:`._forms`): the usual ones on top,
every other field of the configs under "Advanced"; a value the config refuses
is shown with the config's own message (the CLI's).  When training finishes or
is stopped, the latent table (``z1.., angle, dy, dx, class, p*``) is written
into the Points layer's ``features`` by ``Stack.index`` (points dropped by the
crop get NaN; other columns such as ``label`` are kept), and the model, its
history and its training settings are kept in the layer's record
(:func:`napari_ivae.record.get_record`) for the explorer and sessions.
"""

from __future__ import annotations

import gc
from dataclasses import fields
from typing import Any

import napari.viewer
from napari.layers import Points
from napari.qt.threading import thread_worker
from qtpy.QtCore import QEvent, Signal
from qtpy.QtWidgets import QFormLayout, QHBoxLayout, QPushButton, QWidget

from napari_ivae._qt._common import (
    LayerCombo,
    StatusLabel,
    bus,
    guarded,
    is_data_points,
    join_latent,
    notify_errors,
    report,
    scroll_layout,
    set_features,
    show_warning,
    stop_worker_on_destroy,
)
from napari_ivae._qt._train_files import ModelFilesMixin
from napari_ivae._qt._train_jobs import (
    FitWorker,
    encode_job,
    format_duration,
    preload_torch,
    stack_of,
    train_job,
)
from napari_ivae._qt._train_labels import (
    LabelColumn,
    is_conditional,
    is_semi_supervised,
    labels_for,
)
from napari_ivae._qt._train_options import MODEL_FIELDS, TRAIN_FIELDS, TrainOptions
from napari_ivae._qt._train_progress import TrainProgress
from napari_ivae.record import get_record

__all__ = ["TrainWidget", "format_duration"]


class TrainWidget(ModelFilesMixin, QWidget):
    """Train VAE / rVAE / jVAE / jrVAE on the sub-images of a points layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer this dock widget belongs to.

    Notes
    -----
    ``start()`` creates the training worker (``self.worker``) and starts it
    unless ``start_thread`` is False; ``stop()`` asks it to quit at its next
    progress report (pressed after the last report, while the stack is encoded,
    training ends normally: nothing is lost).  ``features_written`` is emitted with the points layer once
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
        self._labels_used: list[str] | None = None  # the classes of a conditional model
        self._stack = None
        self._training = False
        self._encoding = False
        self._answered = True  # the training worker's outcome was handled
        self._build()
        stop_worker_on_destroy(self, "worker")
        bus().stack_changed.connect(self._on_stack_changed)
        self._update_stack_info()
        preload_torch()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.points_combo = LayerCombo(self.viewer, Points, accept=is_data_points)
        self.points_combo.setToolTip("Points layer whose sub-images (from Crop) are used.")
        self.points_combo.layer_changed.connect(self._update_stack_info)
        self.stack_info = StatusLabel()
        self.options = TrainOptions()
        self.model_form, self.train_form = self.options.model_form, self.options.train_form
        # the Qt widgets of the usual options (tests and scripts set them directly)
        self.kind, self.latent_dim, self.classes = (self.model_form[n].native for n in MODEL_FIELDS)
        self.epochs, self.batch_size, self.lr, self.seed, self.device = (
            self.train_form[n].native for n in TRAIN_FIELDS
        )
        self.options.changed.connect(self._check_settings)
        self.label_column = LabelColumn()
        self.options.changed.connect(self._update_labels)
        self.points_combo.layer_changed.connect(self._update_labels)

        self.view = TrainProgress(self)
        self.progress, self.status = self.view.bar, self.view.status
        self.plot, self.curve = self.view.plot, self.view.curve

        layout = scroll_layout(self)
        top = QFormLayout()
        top.addRow("Points", self.points_combo)
        top.addRow("Labels", self.label_column)
        layout.addLayout(top)
        layout.addWidget(self.stack_info)
        layout.addWidget(self.options)
        layout.addLayout(self._buttons())
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        layout.addLayout(self._io_buttons())
        layout.addWidget(self.encode_button)
        self._update_buttons()

    def _buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train in the background; the viewer stays usable.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; the latents are still written.")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        return row

    def _check_settings(self) -> None:
        """An option changed: show the configs' complaint at once (or clear an old one)."""
        if self.is_running:
            return
        try:
            self.configs()
        except ValueError as err:
            self.status.set_error(str(err))
        else:
            self.status.clear_error()

    def _update_labels(self, *_args: Any) -> None:
        """Offer the chosen points' class columns; enabled for conditional models."""
        self.label_column.refresh(self.points_combo.value, self.kind.currentText())

    def _labels(self, points: Points, stack: Any, kind: str) -> tuple[Any, list[str] | None]:
        """``(stack, labels)``: a conditional model's labelled sub-images and their classes.

        Other models: the whole stack and None.  Unlabelled sub-images are
        left out of a conditional model (they get no z), with a warning.
        """
        if not is_conditional(kind):
            return stack, None
        column = self.label_column.currentText()
        if is_semi_supervised(kind):  # empty cells: the sub-images whose class is inferred
            return stack, labels_for(points, stack, column, partial=True)[0]
        labels, labelled = labels_for(points, stack, column)
        if not labelled.all():
            show_warning(
                f"Train: {int((~labelled).sum()):,} of the {len(labelled):,} sub-images have no "
                f"{column!r} and are left out of the {kind} (they get no z)."
            )
            stack = stack.take(labelled)
        return stack, labels

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
        """The ``ModelConfig`` and ``TrainConfig`` of the current settings.

        Raises the configs' own ``IvaeError`` (the CLI's message) for a value
        they refuse.
        """
        mc, settings = self._settings()
        return mc, self.train_form.cls(**settings)

    def _settings(self) -> tuple[Any, dict]:
        """``ModelConfig`` and the ``TrainConfig`` arguments (validated)."""
        return self.options.settings()

    def start(self) -> Any:
        """Start training on the chosen points' stack; returns the worker (or None)."""
        if self.is_running:
            show_warning("Train: training is already running; press Stop before starting again.")
            return None
        self.status.clear_error()
        with notify_errors("Train", self.status):
            mc, settings = self._settings()
            points = self.points_combo.value
            stack = stack_of(points)
            if len(stack.index) < 2:
                raise ValueError(
                    f"the stack has {len(stack.index)} sub-image(s); training needs at least 2"
                )
            stack, labels = self._labels(points, stack, mc.kind)
            return self._start(points, stack, mc, settings, labels)
        return None

    def _start(
        self, points: Points, stack: Any, mc: Any, settings: dict, labels: Any = None
    ) -> Any:
        self._points, self._stack = points, stack
        from napari_ivae.train import TrainConfig, resolve_seed_options

        # the options the data decide ("auto" seeds, content capacity) as fit will
        # decide them, so that a saved checkpoint says how it was really trained
        decided = resolve_seed_options(TrainConfig(**settings), stack)
        self._pending_config = {f.name: getattr(decided, f.name) for f in fields(decided)}
        self._labels_used = labels
        worker = FitWorker(train_job, stack, mc, settings, labels)
        worker.yielded.connect(self.view.report)
        worker.returned.connect(self._on_trained)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_train_finished)
        self.worker = worker
        self._training, self._answered = True, False
        self.view.begin(f"{mc.kind} on {len(stack.index):,} sub-images")
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
        self.view.end()
        if not self._answered and self.worker.abort_requested:
            # Stop after the last report: superqt emits neither returned nor aborted.
            outcome = getattr(self.worker, "outcome", None)
            if outcome is not None:  # the job ran to its end: its model and latents
                self._on_trained(outcome)
            else:
                self._on_aborted()
        self._update_buttons()

    def _on_encode_finished(self) -> None:
        if not self._is_current(self.encode_worker):
            return
        self._encoding = False
        self._update_buttons()

    def stop(self) -> None:
        """Ask the training worker to stop at its next progress report."""
        if self.worker is not None and self._training:
            self.view.phase = "stopping"
            self.status.setText("Stopping …")
            self.worker.quit()

    def _on_trained(self, out: Any) -> None:
        self._answered = True
        self._training = False  # the worker is done; its `finished` may come later
        self.view.end()
        if report(out, "Train", self.status):
            return
        result, latent = out
        self.model, self.history = result.model, list(result.history)
        self.train_config = self._pending_config
        if result.stopped:
            show_warning(f"Train: training stopped early: {result.stopped}")
        took = self.view.elapsed
        self._write(self._points, self._stack, latent, f"Trained in {took:.0f} s")

    def _on_aborted(self) -> None:
        self._answered = True
        self.view.end()
        last = self.view.last
        model = getattr(last, "model", None)
        if model is None:
            self.status.setText("Stopped before the first step; nothing written.")
            return
        self.model = model.cpu().eval()  # off the training device, as fit returns it
        self.history = list(self.view.epochs)  # the finished epochs, saved with the model
        self.train_config = self._pending_config
        self.status.setText(f"Stopped at epoch {last.epoch}; encoding with the last weights …")
        self._start_encode(
            self._points,
            self._stack,
            note=f"Stopped at epoch {last.epoch}",
            labels=self._labels_used,
        )

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
            stack = stack_of(points)
            stack, labels = self._labels(points, stack, self.model.config.kind)
            return self._start_encode(
                points, stack, note="Encoded with the loaded model", labels=labels
            )
        return None

    def _start_encode(self, points: Points, stack: Any, *, note: str, labels: Any = None) -> Any:
        self._points, self._stack, self._note = points, stack, note
        worker = thread_worker(guarded, start_thread=False)(encode_job, self.model, stack, labels)
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
            # the record first: whoever follows the features (the explorer) finds the new model
            record = get_record(points)
            record.model, record.history = self.model, list(self.history)
            record.train_config = self.train_config
            set_features(points, table)
            cols = [c for c in latent.columns if c not in ("y", "x", "frame")]
            shown = ", ".join(cols[:6]) + (" …" if len(cols) > 6 else "")
            self.status.setText(f"{note}; wrote {shown} to {points.name!r}.")
            self._update_buttons()
            self.features_written.emit(points)
