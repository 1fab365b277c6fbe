"""Structure–property dock: im2spec / spec2im / dual VAE on an image, its SI and a points layer.

A thin adapter over :mod:`napari_ivae.structure`: Train runs
:func:`~napari_ivae.structure.fit_structure` in a worker
(:mod:`._structure_jobs`, the Train dock's :class:`FitWorker`, progress and
Stop: a stopped run keeps its last weights).  Afterwards the per-point table
(:func:`~napari_ivae.structure.structure_table`: ``z1 …`` or, for the dual
VAE, ``zs1 …`` structure and ``zp1 …`` property latents, and ``spectrum_mse``)
is written into the points layer's features, the points are coloured by
``spectrum_mse`` (the prediction-error map), and clicking a point (or
selecting one) plots its measured and predicted spectrum.
"""

from __future__ import annotations

import gc
from typing import Any

import napari.viewer
import numpy as np
from napari.layers import Image, Points
from napari.qt.threading import thread_worker
from qtpy.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QPushButton, QSpinBox, QWidget

from napari_ivae._limits import cpu_budget
from napari_ivae._qt._common import (
    LayerCombo,
    StatusLabel,
    guarded,
    is_data_points,
    is_source_image,
    notify_errors,
    report,
    scroll_layout,
    set_features,
    stop_worker_on_destroy,
)
from napari_ivae._qt._structure_files import StructureFilesMixin
from napari_ivae._qt._structure_jobs import merge_table, scan_inputs, structure_job, table_job
from napari_ivae._qt._structure_plot import PredictionPlot
from napari_ivae._qt._train_jobs import FitWorker, preload_torch
from napari_ivae._qt._train_progress import TrainProgress

__all__ = ["StructureWidget"]

#: Posterior draws for the uncertainty band of a clicked point's prediction.
N_SAMPLES = 16


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class StructureWidget(StructureFilesMixin, QWidget):
    """Train a structure–property model and look at its predictions point by point.

    ``start()`` returns the training worker (started unless ``start_thread`` is
    False); ``stop()`` asks it to quit at its next progress report.
    ``show_point(i)`` plots point ``i``'s measured and predicted spectrum.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = self.table_worker = None
        self.start_thread = True
        self.model = None
        self.history: list[dict] = []
        self.inputs = None  # the ScanInputs the current table was computed on
        self._points: Points | None = None
        self._pending = None
        self._busy = False
        self._answered = True  # the training worker's outcome was handled
        self._build()
        stop_worker_on_destroy(self, "worker")
        callbacks, on_click = self.viewer.mouse_drag_callbacks, self._on_click
        callbacks.append(on_click)
        self.destroyed.connect(lambda *_: on_click in callbacks and callbacks.remove(on_click))
        preload_torch()

    def _build(self) -> None:
        self.image_combo = LayerCombo(
            self.viewer, Image, accept=lambda ly: is_source_image(ly) and not _is_si(ly)
        )
        self.si_combo = LayerCombo(self.viewer, Image, accept=_is_si)
        self.points_combo = LayerCombo(self.viewer, Points, accept=is_data_points)
        self.kind = QComboBox()
        self.kind.addItems(["im2spec", "spec2im", "dual"])
        self.kind.setToolTip(
            "im2spec: image patch → spectrum; spec2im: spectrum → patch; "
            "dual: both, with tied latents."
        )
        self.encoder = QComboBox()
        self.encoder.addItems(["conv", "mlp"])
        self.encoder.setToolTip("Patch encoder: convolutions, or an MLP (fast, small windows).")
        self.window = _spin(8, 512, 16, "Side of the image patch around each point (px).")
        self.latent_dim = _spin(1, 64, 2, "Latent size (the method compares 2 and 10).")
        self.epochs = _spin(1, 100000, 100, "Passes over the points.")
        form = QFormLayout()
        for label, w in (("Image", self.image_combo), ("Spectrum image", self.si_combo),
                         ("Points", self.points_combo), ("Model", self.kind),
                         ("Patch encoder", self.encoder), ("Window (px)", self.window),
                         ("Latent dims", self.latent_dim), ("Epochs", self.epochs)):  # fmt: skip
            form.addRow(label, w)
        self.view = TrainProgress(self)
        self.progress, self.status = self.view.bar, self.view.status
        self.prediction = PredictionPlot()
        self.info = StatusLabel()
        layout = scroll_layout(self)
        layout.addLayout(form)
        layout.addLayout(self._row(("Train", self.start), ("Stop", self.stop)))
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(
            self._row(
                ("Save model…", lambda: self.save_model()),
                ("Load model…", lambda: self.load_model()),
                ("Predict", lambda: self.predict()),
            )
        )
        layout.addWidget(self.prediction, 3)
        self.view.plot.setMinimumHeight(90)
        self.view.plot.setMaximumHeight(140)  # the loss: a glance; the spectra get the room
        layout.addWidget(self.view.plot, 1)
        self._update_buttons()

    def _row(self, *buttons: tuple[str, Any]) -> QHBoxLayout:
        row = QHBoxLayout()
        for text, slot in buttons:
            b = QPushButton(text)
            b.clicked.connect(lambda _c=False, s=slot: s())
            setattr(self, text.split()[0].lower() + "_button", b)
            row.addWidget(b)
        return row

    def _update_buttons(self) -> None:
        self.train_button.setEnabled(not self._busy)
        self.stop_button.setEnabled(self._busy and self.worker is not None)
        self.save_button.setEnabled(self.model is not None and not self._busy)
        self.load_button.setEnabled(not self._busy)
        self.predict_button.setEnabled(self.model is not None and not self._busy)

    # ------------------------------------------------------------------ training
    def _config(self, inputs: Any) -> Any:
        from napari_ivae.structure import StructureConfig, check_window

        si = inputs.si
        return StructureConfig(
            kind=self.kind.currentText(), encoder=self.encoder.currentText(),
            window=check_window(self.window.value(), inputs.image.shape[-2:]),
            latent_dim=self.latent_dim.value(), n_energy=int(si.data.shape[-1]),
            energy=tuple(np.asarray(si.energy, dtype=float)),
        )  # fmt: skip

    def start(self) -> Any:
        """Train on the chosen layers; returns the worker (or None)."""
        if self._busy:
            return None
        self.status.clear_error()
        with notify_errors("Structure–property", self.status):
            inputs = self._inputs()
            config = self._config(inputs)
            settings = {"epochs": self.epochs.value(), "batch_size": min(64, len(inputs.points)),
                        "num_threads": max(1, cpu_budget() - 1), "device": "cpu"}  # fmt: skip
            self._pending, self._points = inputs, self.points_combo.value
            worker = FitWorker(structure_job, inputs, config, settings)
            worker.yielded.connect(self.view.report)
            worker.returned.connect(self._on_trained)
            worker.aborted.connect(self._on_aborted)
            worker.finished.connect(self._on_finished)
            self.worker, self._busy, self._answered = worker, True, False
            self.view.begin(f"{config.kind} on {len(inputs.points):,} points")
            gc.freeze()  # as the Train dock: no full collection in the worker holding the GUI
            if self.start_thread:
                worker.start()
            self._update_buttons()
            return worker
        return None

    def stop(self) -> None:
        """Ask training to stop at its next progress report (the last weights are kept)."""
        if self.worker is not None and self._busy:
            self.view.phase = "stopping"
            self.status.setText("Stopping …")
            self.worker.quit()

    def _on_finished(self) -> None:
        gc.unfreeze()
        self.view.end()
        if not self._answered and self.worker.abort_requested:  # Stop after the last report:
            self._on_aborted()  # superqt emits neither returned nor aborted; keep the weights
        if self.table_worker is None:
            self._busy = False
        self._update_buttons()

    def _on_trained(self, out: Any) -> None:
        self._answered = True
        self.view.end()
        if report(out, "Structure–property", self.status):
            return
        result, table = out
        self.model, self.history = result.model, list(result.history)
        self._write(self._pending, self._points, table, f"Trained in {self.view.elapsed:.0f} s")

    def _on_aborted(self) -> None:
        self._answered = True
        model = getattr(self.view.last, "model", None)
        if model is None:
            self.status.setText("Stopped before the first step; nothing written.")
            return
        self.model, self.history = model.cpu().eval(), list(self.view.epochs)
        self._run_table(self._pending, self._points, f"Stopped at epoch {self.view.last.epoch}")

    # ------------------------------------------------------------------ tables and output
    def _inputs(self) -> Any:
        return scan_inputs(self.image_combo.value, self.si_combo.value, self.points_combo.value)

    def predict(self) -> Any:
        """Write the current (e.g. loaded) model's table for the chosen layers, no training."""
        if self.model is None or self._busy:
            return None
        self.status.clear_error()
        with notify_errors("Predict", self.status):
            return self._run_table(self._inputs(), self.points_combo.value, "Predicted")
        return None

    def _run_table(self, inputs: Any, points: Points, note: str) -> Any:
        worker = thread_worker(guarded, start_thread=False)(table_job, self.model, inputs)
        worker.returned.connect(lambda out: self._on_table(out, inputs, points, note))
        worker.finished.connect(self._on_table_finished)
        self.table_worker, self._busy = worker, True
        if self.start_thread:
            worker.start()
        self._update_buttons()
        return worker

    def _on_table_finished(self) -> None:
        self.table_worker, self._busy = None, False
        self._update_buttons()

    def _on_table(self, out: Any, inputs: Any, points: Points, note: str) -> None:
        if not report(out, "Structure–property", self.status):
            self._write(inputs, points, out.value, note)

    def _write(self, inputs: Any, points: Points, table: Any, note: str) -> None:
        with notify_errors("Structure–property", self.status):
            if points not in self.viewer.layers:
                raise ValueError(f"points layer {points.name!r} was removed; nothing written")
            set_features(points, merge_table(points.features, table))
            self.inputs, self._points = inputs, points
            if "spectrum_mse" in table:
                points.face_colormap = "viridis"
                points.face_color = "spectrum_mse"  # the prediction-error map
                self.show_point(int(np.argmax(table["spectrum_mse"].to_numpy())))
            else:
                self.prediction.clear(f"A {self.model.config.kind} model predicts patches.")
            cols = ", ".join(table.columns)
            coloured = (
                " (coloured by it: viridis, yellow = worst)" if "spectrum_mse" in table else ""
            )
            self.status.setText(f"{note}; wrote {cols} to {points.name!r}{coloured}.")
            points.events.highlight.connect(self._on_selection)
        self._update_buttons()

    # ------------------------------------------------------------------ one point's spectra
    def show_point(self, i: int) -> None:
        """Plot point ``i``'s measured and predicted spectrum (± 1 σ band)."""
        from napari_ivae.structure import predict_spectra, spectra_at

        if self.model is None or self.inputs is None or not self.model.config.predicts_spectra:
            return
        inputs, c = self.inputs, self.model.config
        pt = inputs.points[i : i + 1]
        pred, std = predict_spectra(self.model, inputs.image, pt, n_samples=N_SAMPLES)
        measured = spectra_at(inputs.si, pt, c.integrate)[0]
        mse = float(((pred[0] - measured) ** 2).mean())
        self.prediction.set_energy_unit(getattr(inputs.si, "unit", ""))
        self.prediction.show_point(
            np.asarray(inputs.si.energy), measured, pred[0], std[0],
            f"point {i} at (y, x) = ({pt[0, 0]:.0f}, {pt[0, 1]:.0f}) · MSE {mse:.3g}",
        )  # fmt: skip
        self.shown = i

    def _on_selection(self, *_args: Any) -> None:
        points = self._points
        if points is not None and len(points.selected_data) == 1:
            self.show_point(next(iter(points.selected_data)))

    def _on_click(self, _viewer: Any, event: Any) -> None:
        """A click near one of the points (any mode): show that point."""
        points = self._points
        if points is None or self.inputs is None or points not in self.viewer.layers:
            return
        world = np.asarray(event.position)[-2:]
        xy = np.asarray(points.data)[:, -2:] * points.scale[-2:] + points.translate[-2:]
        d = np.hypot(*(xy - world).T) / float(np.min(points.scale[-2:]))
        if len(d) and d.min() <= max(2.0, float(np.max(points.size)) / 2):
            self.show_point(int(np.argmin(d)))


def _is_si(layer: Any) -> bool:
    return "spectrum_image" in layer.metadata
