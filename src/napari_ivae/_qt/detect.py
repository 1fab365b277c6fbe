"""Detect dock widget: atoms (STEM) or domain walls (PFM) → a Points layer.

A thin adapter over :func:`napari_ivae.detect.detect_atoms` and
:func:`napari_ivae.detect.detect_walls`; the detection runs in a napari
``thread_worker`` so the viewer stays responsive.  The task and the channels
are preselected from the channel roles the reader assigned
(:func:`napari_ivae.io.default_channels`): a PFM file opens in wall mode with
its phase and amplitude, anything else in atom mode.
"""

from __future__ import annotations

from typing import Any

import napari.viewer
from napari.layers import Image
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QHBoxLayout, QLayout, QProgressBar, QPushButton, QWidget

from napari_ivae._qt._common import (
    StatusLabel,
    guarded,
    image_array,
    notify_errors,
    report,
    scroll_layout,
    show_warning,
    stop_worker_on_destroy,
)
from napari_ivae._qt._detect_options import DetectOptionsMixin
from napari_ivae._qt._detect_results import DetectResultsMixin
from napari_ivae._qt._layers import connect_viewer
from napari_ivae._qt._rings import RingsBox
from napari_ivae._qt._workers import JobWorkerMixin
from napari_ivae.record import get_record

__all__ = ["DetectWidget"]


class DetectWidget(JobWorkerMixin, DetectOptionsMixin, DetectResultsMixin, QWidget):
    """Find atoms or domain walls in an image layer and add them as points.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer this dock widget belongs to.

    Notes
    -----
    ``run()`` starts the detection in a worker thread (``self.worker``); set
    ``start_thread = False`` to create the worker without starting it (tests
    start it themselves).  ``detection_finished`` is emitted with the new Points
    layer, or ``None`` when nothing was added.
    """

    detection_finished = Signal(object)

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.start_thread = True
        self._running = False
        self._job: dict = {}
        self._task_chosen = False  # the user picked atoms/walls: roles no longer decide
        self._auto_walls: tuple = (None, None)  # (phase, amplitude) chosen by role

        layout = scroll_layout(self)
        for row in self._build_options():
            if isinstance(row, QLayout):
                layout.addLayout(row)
            else:
                layout.addWidget(row)
        layout.addLayout(self._run_row())
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        self.rings_box = RingsBox(self.viewer)  # atoms → rings, ring labels
        layout.addWidget(self.rings_box)
        layout.addStretch(1)
        self.detection_finished.connect(self._offer_rings)

        self.atoms_radio.toggled.connect(self._on_task)
        self.atoms_radio.toggled.connect(self._on_method)
        self._apply_role_defaults()
        self._on_task()
        self._on_method()
        connect_viewer(self.viewer, self)  # layers added later (a file opened): defaults again
        stop_worker_on_destroy(self)

    def _run_row(self) -> QHBoxLayout:
        """Detect / Preview / Cancel, the busy bar and the status line."""
        self.run_button = QPushButton("Detect")
        self.run_button.setToolTip("Run the detection; the result appears as a new points layer.")
        self.run_button.clicked.connect(lambda: self.run())
        self.preview_button = QPushButton("Preview in view")
        self.preview_button.setToolTip(
            "Detect only in the part of the image shown in the canvas (current frame): a quick\n"
            "check of the settings on a big image.  The result goes to a '… preview' layer."
        )
        self.preview_button.clicked.connect(lambda: self.run(preview=True))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop the running detection (a stack stops before its next frame);\n"
            "nothing is added and the widget is free at once."
        )
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.cancel_button.setVisible(False)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 2)
        run_row.addWidget(self.preview_button, 1)
        run_row.addWidget(self.cancel_button, 1)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setVisible(False)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.status = StatusLabel()
        return run_row

    def _offer_rings(self, layer: Any) -> None:
        """New atoms: the rings box works on them."""
        if layer is not None and get_record(layer).task == "atoms":
            self.rings_box.points_combo.value = layer

    # ------------------------------------------------------------------ run
    def run(self, preview: bool = False) -> Any:
        """Start the detection with the current settings; returns the worker (or None).

        With ``preview``, only the part of the image visible in the canvas (current
        frame) is searched and the result goes to a ``"… preview"`` points layer.
        """
        if self._running:
            show_warning("Detect: a detection is already running; wait for it to finish.")
            return None
        self.status.clear_error()
        with notify_errors("Detect", self.status):
            job = self._make_job(preview)
            return self._start(job)
        return None

    def _view_box(self, layer: Image) -> tuple[int, int, int, int, int | None]:
        """Visible region (y0, y1, x0, x1) of ``layer`` in data pixels and its frame."""
        import numpy as np

        corners = np.asarray(layer.corner_pixels)[:, -2:]
        shape = layer.data[0].shape if layer.multiscale else layer.data.shape
        (y0, x0), (y1, x1) = corners.min(0), corners.max(0) + 1
        y0, x0 = max(0, int(y0)), max(0, int(x0))
        y1, x1 = min(shape[-2], int(y1)), min(shape[-1], int(x1))
        frame = None
        if len(shape) == 3:
            pos = layer.world_to_data(self.viewer.dims.point)
            frame = int(np.clip(round(float(pos[0])), 0, shape[0] - 1))
        return y0, y1, x0, x1, frame

    def _make_job(self, preview: bool = False) -> dict:
        job = self._make_plain_job()
        if not preview:
            return job
        y0, y1, x0, x1, frame = self._view_box(job["ref"])
        lead = () if frame is None else (frame,)
        for key in ("image", "phase", "amplitude"):
            if job["kwargs"].get(key) is not None:
                job["kwargs"][key] = job["kwargs"][key][(*lead, slice(y0, y1), slice(x0, x1))]
        job.update(preview=(y0, x0, frame), name=f"{job['name']} preview")
        return job

    def _make_plain_job(self) -> dict:
        if self.task == "atoms":
            layer = self.image_combo.value
            image = image_array(layer, "image")
            return dict(
                task="atoms",
                ref=layer,
                name=f"{layer.name} atoms",
                kwargs=dict(
                    image=image,
                    **self.atoms_form.values(),
                    device=self.device.currentText(),
                ),
            )
        phase_layer = self.phase_combo.value
        amp_layer = self.amplitude_combo.value
        if phase_layer is None and amp_layer is None:
            raise ValueError("choose a phase layer, an amplitude layer or both")
        phase = image_array(phase_layer, "phase") if phase_layer is not None else None
        amplitude = image_array(amp_layer, "amplitude") if amp_layer is not None else None
        ref = phase_layer if phase_layer is not None else amp_layer
        return dict(
            task="walls",
            ref=ref,
            name=f"{ref.name} walls",
            kwargs=dict(
                phase=phase,
                amplitude=amplitude,
                **self.walls_form.values(),
                device=self.device.currentText(),
            ),
        )

    def _start(self, job: dict) -> Any:
        from napari_ivae import detect

        func = detect.detect_atoms if job["task"] == "atoms" else detect.detect_walls
        kwargs = dict(job["kwargs"])
        args = (kwargs.pop("image"),) if job["task"] == "atoms" else ()
        return self._launch(
            job,
            lambda stop: guarded(func, *args, cancel=stop, **kwargs),
            f"Detecting {job['task']} in {job['ref'].name!r} …",
        )

    def _on_cancelled(self) -> None:
        self.detection_finished.emit(None)

    def _on_failed(self) -> None:
        self.detection_finished.emit(None)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.setEnabled(not running)
        self.preview_button.setEnabled(not running)
        self.busy.setVisible(running)
        self.cancel_button.setVisible(running)

    def _on_result(self, job: dict, outcome: Any, elapsed: float) -> None:
        if report(outcome, "Detect", self.status):
            self.detection_finished.emit(None)
            return
        with notify_errors("Detect", self.status):
            layer = self._show(job, outcome.value, elapsed, warned=bool(outcome.warnings))
            self.detection_finished.emit(layer)
            return
        self.detection_finished.emit(None)
