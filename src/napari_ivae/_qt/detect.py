"""Detect dock widget: atoms (STEM) or domain walls (PFM) → a Points layer.

A thin adapter over :func:`napari_ivae.detect.detect_atoms` and
:func:`napari_ivae.detect.detect_walls`; the detection runs in a napari
``thread_worker`` so the viewer stays responsive.  The task and the channels
are preselected from the channel roles the reader assigned
(:func:`napari_ivae.io.default_channels`): a PFM file opens in wall mode with
its phase and amplitude, anything else in atom mode.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import napari.viewer
from napari.layers import Image
from napari.qt.threading import thread_worker
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from napari_ivae._errors import Cancelled
from napari_ivae._qt._common import (
    LayerCombo,
    StatusLabel,
    _connect_viewer,
    add_points_table,
    guarded,
    image_array,
    is_source_image,
    notify_errors,
    report,
    scroll_layout,
    show_warning,
    stop_worker_on_destroy,
)
from napari_ivae.record import get_record

__all__ = ["DetectWidget"]

_AUTO = "auto"


def _decisions(task: str, table: Any, ref: Image) -> str:
    """The detector's decisions in one line (spacing, threshold, sublattices, merges)."""
    from napari_ivae.io import pixel_size_nm

    if task == "walls":
        from napari_ivae.detect import wall_summary

        info = table.attrs.get("walls")
        return wall_summary(info) if info else ""
    if "spacing_px" not in table.attrs:
        return ""
    from napari_ivae.detect import atoms_summary

    size = pixel_size_nm(ref)
    text = atoms_summary(table.attrs, float(size[-1]) if size is not None else None)
    return text.split("; ", 1)[-1]  # the count is said already


def _auto_spin(maximum: float, decimals: int, step: float, suffix: str, tip: str) -> QDoubleSpinBox:
    """A spin box whose minimum (0) reads "auto" and means ``None``."""
    box = QDoubleSpinBox()
    box.setRange(0.0, maximum)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setSpecialValueText(_AUTO)
    box.setSuffix(suffix)
    box.setValue(0.0)
    box.setToolTip(tip)
    return box


def _auto_value(box: QDoubleSpinBox) -> float | None:
    return None if box.value() <= box.minimum() else float(box.value())


class DetectWidget(QWidget):
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
        viewer = self.viewer = napari_viewer
        self.worker = None
        self.start_thread = True
        self._running = False
        self._job: dict = {}
        self._t0 = 0.0
        self._task_chosen = False  # the user picked atoms/walls: roles no longer decide
        self._auto_walls: tuple = (None, None)  # (phase, amplitude) chosen by role

        # --- task
        self.atoms_radio = QRadioButton("Atoms (STEM)")
        self.walls_radio = QRadioButton("Domain walls (PFM)")
        self.atoms_radio.setToolTip("Find atomic columns as bright peaks.")
        self.walls_radio.setToolTip("Find walls between ferroelectric domains in amplitude/phase.")
        self.atoms_radio.setChecked(True)
        for radio in (self.atoms_radio, self.walls_radio):
            radio.clicked.connect(self._on_task_clicked)
        group = QButtonGroup(self)
        group.addButton(self.atoms_radio)
        group.addButton(self.walls_radio)
        task_row = QHBoxLayout()
        task_row.addWidget(self.atoms_radio)
        task_row.addWidget(self.walls_radio)

        # --- atoms
        self.image_combo = LayerCombo(viewer, Image, accept=is_source_image)
        self.image_combo.setToolTip("Image in which to find atoms (a 2-D image or a T×Y×X stack).")
        self.atom_method = QComboBox()
        self.atom_method.addItems(["log", "dcnn"])
        self.atom_method.setToolTip(
            "log: Laplacian-of-Gaussian peaks refined to sub-pixel (fast, classical).\n"
            "dcnn: the shipped U-Net atom finder (robust to noise and contrast changes)."
        )
        self.spacing = _auto_spin(
            500.0, 1, 0.5, " px", "Atom spacing in pixels; auto estimates it from the image."
        )
        self.threshold = _auto_spin(
            1000.0,
            2,
            0.5,
            "",
            "Smallest accepted score; auto uses the method's default.\n"
            "log: peak signal-to-noise, in σ of the filtered image noise (auto 3;\n"
            "the same threshold means the same on every image).\n"
            "dcnn: heatmap value in 0–1 (auto 0.5).",
        )
        atoms_box = QGroupBox("Atoms")
        form = QFormLayout(atoms_box)
        form.addRow("Image", self.image_combo)
        form.addRow("Method", self.atom_method)
        form.addRow("Spacing", self.spacing)
        form.addRow("Threshold", self.threshold)
        self.atoms_box = atoms_box

        # --- walls
        self.phase_combo = LayerCombo(viewer, Image, optional=True, accept=is_source_image)
        self.phase_combo.setToolTip("PFM phase image (degrees or radians; wrapping is handled).")
        self.amplitude_combo = LayerCombo(viewer, Image, optional=True, accept=is_source_image)
        self.amplitude_combo.setToolTip("PFM amplitude image (optional; walls show as dark lines).")
        self.wall_method = QComboBox()
        self.wall_method.addItems(["gaussian", "canny", "dcnn"])
        self.wall_method.setToolTip(
            "gaussian: smooth the (circular) phase, segment up/down domains, walls at the borders.\n"
            "canny: Canny edges with automatic thresholds.\n"
            "dcnn: the shipped U-Net wall finder."
        )
        self.stride = QSpinBox()
        self.stride.setRange(1, 256)
        self.stride.setValue(4)
        self.stride.setSuffix(" px")
        self.stride.setToolTip("Distance between wall points sampled along the walls.")
        walls_box = QGroupBox("Domain walls")
        form = QFormLayout(walls_box)
        form.addRow("Phase", self.phase_combo)
        form.addRow("Amplitude", self.amplitude_combo)
        form.addRow("Method", self.wall_method)
        form.addRow("Point stride", self.stride)
        self.walls_box = walls_box

        # --- device (the U-Net finders only)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setToolTip(
            "Where the dcnn U-Net runs: auto picks CUDA, then MPS, then the CPU.\n"
            "The classical methods always run on the CPU."
        )
        self.atom_method.currentTextChanged.connect(self._on_method)
        self.wall_method.currentTextChanged.connect(self._on_method)
        device_row = QFormLayout()
        device_row.addRow("Device", self.device)

        # --- run
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

        layout = scroll_layout(self)
        layout.addLayout(task_row)
        layout.addWidget(atoms_box)
        layout.addWidget(walls_box)
        layout.addLayout(device_row)
        layout.addLayout(run_row)
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.atoms_radio.toggled.connect(self._on_task)
        self.atoms_radio.toggled.connect(self._on_method)
        self._apply_role_defaults()
        self._on_task()
        self._on_method()
        _connect_viewer(viewer, self)  # layers added later (a file opened): defaults again
        stop_worker_on_destroy(self)

    # ------------------------------------------------------------------ helpers
    def _on_method(self, *_args) -> None:
        method = (self.atom_method if self.task == "atoms" else self.wall_method).currentText()
        self.device.setEnabled(method == "dcnn")

    @property
    def task(self) -> str:
        """``"atoms"`` or ``"walls"``."""
        return "atoms" if self.atoms_radio.isChecked() else "walls"

    @task.setter
    def task(self, value: str) -> None:
        self._task_chosen = True
        (self.atoms_radio if value == "atoms" else self.walls_radio).setChecked(True)

    def _on_task_clicked(self, *_args: Any) -> None:
        self._task_chosen = True

    def _on_task(self, *_args: Any) -> None:
        self.atoms_box.setVisible(self.task == "atoms")
        self.walls_box.setVisible(self.task == "walls")

    def _images_top_down(self) -> list:
        """Source image layers as napari's layer list shows them (top first)."""
        return [
            ly
            for ly in reversed(self.viewer.layers)
            if isinstance(ly, Image) and is_source_image(ly)
        ]

    def _guess_pfm_channels(self) -> None:
        """Preselect the phase and amplitude layers by role (then by name).

        A combo the user changed is left alone; one still showing "(none)" or
        an earlier automatic choice follows the roles.
        """
        from napari_ivae.io import default_channels, role_of

        images = self._images_top_down()
        chosen = {role_of(ly): ly for ly in default_channels(images, "walls")}
        auto = []
        for k, (combo, key) in enumerate(
            ((self.phase_combo, "phase"), (self.amplitude_combo, "amplitude"))
        ):
            pick = chosen.get(key)
            if pick is None:  # no role (e.g. a plain TIFF): by name
                pick = next((ly for ly in images if key in ly.name.lower()), None)
            current = combo.value
            if pick is not None and (current is None or current is self._auto_walls[k]):
                combo.value = pick
            auto.append(combo.value if pick is not None and combo.value is pick else None)
        self._auto_walls = tuple(auto)

    def _apply_role_defaults(self) -> None:
        """Walls when a phase/amplitude channel is open, else atoms (unless the user chose)."""
        from napari_ivae.io import default_channels

        self._guess_pfm_channels()
        if self._task_chosen:
            return
        walls = bool(default_channels(self._images_top_down(), "walls"))
        (self.walls_radio if walls else self.atoms_radio).setChecked(True)
        if not walls:  # atoms: the image on top that is not an auxiliary channel
            from napari_ivae.io import is_auxiliary, role_of

            images = self._images_top_down()
            roles = [role_of(ly) for ly in images]
            main = [ly for ly in images if not is_auxiliary(ly, roles)]
            if main and self.image_combo.value not in main:
                self.image_combo.value = main[0]

    def refresh(self, *_args: Any, inserted: Any = None) -> None:
        """Layers were added, removed, moved or renamed: choose the defaults again."""
        self._apply_role_defaults()

    def showEvent(self, event: Any) -> None:
        self._apply_role_defaults()
        super().showEvent(event)

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
                    method=self.atom_method.currentText(),
                    spacing=_auto_value(self.spacing),
                    threshold=_auto_value(self.threshold),
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
                method=self.wall_method.currentText(),
                stride=int(self.stride.value()),
                device=self.device.currentText(),
            ),
        )

    def _start(self, job: dict) -> Any:
        from napari_ivae import detect

        func = detect.detect_atoms if job["task"] == "atoms" else detect.detect_walls
        kwargs = dict(job["kwargs"])
        args = (kwargs.pop("image"),) if job["task"] == "atoms" else ()
        cancelled = threading.Event()
        job["cancelled"] = cancelled

        @thread_worker(start_thread=False)
        def _work() -> Any:
            try:
                # Cancel, or the viewer closing (stop_worker_on_destroy quits the worker)
                stop = lambda: cancelled.is_set() or worker.abort_requested  # noqa: E731
                return job, guarded(func, *args, cancel=stop, **kwargs)
            except Cancelled:
                return job, None
            finally:
                job["done"] = True

        worker = _work()
        self._job = job
        # bound methods: Qt disconnects them when the widget is destroyed
        worker.returned.connect(self._on_returned)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self._running = True
        self.run_button.setEnabled(False)
        self.preview_button.setEnabled(False)
        self.busy.setVisible(True)
        self.cancel_button.setVisible(True)
        self.status.setText(f"Detecting {job['task']} in {job['ref'].name!r} …")
        self._t0 = time.perf_counter()
        if self.start_thread:
            worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the running detection: the widget is free at once, nothing is added."""
        if not self._running:
            return
        self._job["cancelled"].set()
        self._reset()
        self.status.setText("Cancelled; nothing was added.")
        self.detection_finished.emit(None)

    def _on_finished(self) -> None:
        if self._job.get("done"):  # else: a cancelled run ending while a new one runs
            self._reset()

    def _reset(self) -> None:
        self._running = False
        self.run_button.setEnabled(True)
        self.preview_button.setEnabled(True)
        self.busy.setVisible(False)
        self.cancel_button.setVisible(False)

    def _on_returned(self, result: Any) -> None:
        job, outcome = result
        if job is not self._job or job["cancelled"].is_set() or outcome is None:
            return  # cancelled: cancel() has reset the widget already
        elapsed = time.perf_counter() - self._t0
        if report(outcome, "Detect", self.status):
            self.detection_finished.emit(None)
            return
        with notify_errors("Detect", self.status):
            layer = self._show(job, outcome.value, elapsed, warned=bool(outcome.warnings))
            self.detection_finished.emit(layer)
            return
        self.detection_finished.emit(None)

    def _show(self, job: dict, result: Any, elapsed: float, *, warned: bool = False) -> Any:
        ref = job["ref"]
        table = result if job["task"] == "atoms" else result.points
        what = "atoms" if job["task"] == "atoms" else "wall points"
        if job.get("preview") is not None:  # back to the whole image's pixels
            y0, x0, frame = job["preview"]
            table = table.assign(y=table["y"] + y0, x=table["x"] + x0)
            if frame is not None:
                table = table.assign(frame=frame)
        elif job["task"] == "walls":
            self._add_labels(result.mask, ref, f"{ref.name} wall mask", opacity=0.8)
            if getattr(result, "domains", None) is not None:
                self._add_labels(
                    _domains_to_labels(result.domains), ref, f"{ref.name} domains", opacity=0.3
                )
        if len(table) == 0:
            msg = f"No {what} found in {ref.name!r}; try another method" + (
                ", a smaller spacing or a lower threshold." if job["task"] == "atoms" else "."
            )
            if not warned:  # the core's own warning was shown already
                show_warning("Detect: " + msg)
            self.status.set_message(msg, "warning")
            return None
        color = "yellow" if job["task"] == "atoms" else "cyan"
        if job.get("preview") is not None:
            color = "orange"
        layer = add_points_table(
            self.viewer, table, image_layer=ref, name=job["name"], face_color=color
        )
        record = get_record(layer)  # what was found where, for Crop and the explorer
        record.task, record.image = job["task"], ref.name
        decided = _decisions(job["task"], table, ref)
        if decided:
            info = table.attrs.get("walls", table.attrs) if job["task"] == "walls" else table.attrs
            record.detection = {k: v for k, v in info.items() if k != "frames"}
        self.viewer.layers.selection.active = layer
        self.status.setText(
            f"Found {len(table):,} {what} in {elapsed:.1f} s → layer {layer.name!r}."
            + (f" {decided}." if decided else "")
        )
        return layer

    def _add_labels(self, data: Any, ref: Image, name: str, *, opacity: float) -> Any:
        import numpy as np

        labels = np.asarray(data).astype(np.uint8, copy=False)
        kwargs = dict(
            name=name,
            scale=tuple(ref.scale),
            translate=tuple(ref.translate),
            units=tuple(ref.units),
            opacity=opacity,
        )
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            layer.data = labels
            return layer
        return self.viewer.add_labels(labels, **kwargs)


def _domains_to_labels(domains: Any) -> Any:
    """Domain map (±1, 0 = undecided) → labels 1 (down), 2 (up), 0 (none)."""
    import numpy as np

    d = np.asarray(domains)
    out = np.zeros(d.shape, dtype=np.uint8)
    out[d < 0] = 1
    out[d > 0] = 2
    return out
