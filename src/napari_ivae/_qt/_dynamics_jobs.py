"""The Dynamics dock's computation: a job from the form, the worker, Cancel, Export CSV.

The job is read from the widgets in the GUI thread (arrays, not layers, go to
the worker); :func:`~napari_ivae.dynamics.series.series_metrics` and the
arrays of the layers (:func:`~napari_ivae._qt._dynamics_results.prepare`) run in
a napari ``thread_worker``; user mistakes come back as values (:func:`guarded`)
and are shown as one notification and a red status line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtWidgets import QFileDialog

from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import guarded, image_array, notify_errors, report, show_warning
from napari_ivae._qt._dynamics_results import prepare, summary
from napari_ivae._qt._workers import JobWorkerMixin

__all__ = ["DynamicsJobsMixin", "series_array"]


def series_array(layer: Any, role: str) -> Any:
    """The (T, Y, X) array of ``layer``, or an IvaeError naming the layer and its shape."""
    data = image_array(layer, role)
    if data.ndim != 3 or data.shape[0] < 2:
        what = "a single frame" if data.ndim == 2 or data.shape[0] < 2 else f"{data.ndim} axes"
        raise IvaeError(
            f"{role} layer {layer.name!r} has shape {tuple(data.shape)} ({what}); "
            "the Dynamics dock needs a (T, Y, X) series of at least 2 frames"
        )
    return data


def _compute(job: dict, cancel: Any) -> dict:
    """The worker's body: the metrics, then the arrays of the layers."""
    from napari_ivae.dynamics.series import series_metrics

    arrays = job["arrays"]
    result = series_metrics(
        arrays.get("phase"),
        arrays.get("amplitude"),
        reference=job["reference"],
        cancel=cancel,
        **job["options"],
    )
    return prepare(result, job)


class DynamicsJobsMixin(JobWorkerMixin):
    """Compute / Cancel / Export of :class:`~napari_ivae._qt.dynamics.DynamicsWidget`.

    The worker, Cancel and ``finished``: :class:`~napari_ivae._qt._workers.JobWorkerMixin`.
    """

    def run(self) -> Any:
        """Start the computation with the current settings; returns the worker (or None)."""
        if self._running:
            show_warning("Dynamics: a computation is already running; wait for it to finish.")
            return None
        self.status.clear_error()
        with notify_errors("Dynamics", self.status):
            return self._start(self._make_job())
        self.computed.emit(None)
        return None

    def _make_job(self) -> dict:
        from napari_ivae.io import pixel_size_nm

        layers = {"phase": self.phase_combo.value, "amplitude": self.amplitude_combo.value}
        if layers["phase"] is None and layers["amplitude"] is None:
            raise IvaeError("choose a phase series, an amplitude series or both")
        arrays = {r: series_array(ly, r) for r, ly in layers.items() if ly is not None}
        shapes = {r: tuple(a.shape) for r, a in arrays.items()}
        if len(set(shapes.values())) > 1:
            raise IvaeError(f"the phase and amplitude series differ in shape: {shapes}")
        references = [series_array(ly, "reference") for ly in self.reference_list.value]
        ref = layers["phase"] or layers["amplitude"]
        size = pixel_size_nm(ref)
        options = {
            "method": self.method.currentText(),
            "register": self.register.isChecked(),
            "artefacts": self.artefacts.isChecked(),
            "common": self.common.isChecked(),
            "pixel_size_nm": tuple(float(v) for v in size) if size is not None else None,
        }
        return {
            "layers": layers,
            "arrays": arrays,
            "reference": references or None,  # None: the amplitude
            "options": options,
            "ref": ref,
        }

    def _start(self, job: dict) -> Any:
        return self._launch(
            job,
            lambda stop: guarded(_compute, job, stop),
            f"Computing the wall metrics of {job['ref'].name!r} …",
        )

    def _on_cancelled(self) -> None:
        self.computed.emit(None)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.setEnabled(not running)
        self.busy.setVisible(running)
        self.cancel_button.setVisible(running)

    def _on_failed(self) -> None:
        self.computed.emit(None)

    def _on_result(self, job: dict, outcome: Any, elapsed: float) -> None:
        if report(outcome, "Dynamics", self.status):
            self.computed.emit(None)
            return
        shown = outcome.value
        result = shown["result"]
        self._show(job, shown)
        self.result = result
        self.plot.set_table(result.table)
        self._on_step()
        self.export_button.setEnabled(True)
        self.mask_legend.setVisible(True)
        self.status.setText(summary(result.table, elapsed, shown))
        self.computed.emit(result)

    # ------------------------------------------------------------------ export
    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the wall metrics", "wall_metrics.csv", "CSV (*.csv)"
        )
        if path:
            with notify_errors("Export", self.status):
                self.export_csv(path)

    def export_csv(self, path: str | Path) -> Path:
        """Write the metrics table (one row per frame) to ``path`` as CSV, atomically."""
        from napari_ivae._atomic import atomic_write

        if self.result is None:
            raise IvaeError("no metrics to export; press Compute first")
        table = self.result.table
        out = atomic_write(
            path,
            lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"),
            make_parents=False,
        )
        self.status.setText(f"Wrote the metrics of {len(table)} frames to {out}")
        return out
