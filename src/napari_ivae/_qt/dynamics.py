"""Dynamics dock widget: wall metrics of a PFM switching series against the frame.

A thin adapter over :func:`napari_ivae.dynamics.series.series_metrics`: pick
the phase and amplitude series (T, Y, X), an optional registration reference
(e.g. height), the wall method and whether to register the frames; **Compute**
runs in a napari ``thread_worker`` (Cancel stops it; nothing is added then, nor
on an error).  The result: a plot of the metrics against the frame (click a
frame to go there; a dashed line marks the frame shown), the wall-motion mask
and the wall points with ``displacement_px`` and ``pinned`` in their features
(colour by them in the explorer), and **Export CSV…** of the table.
"""

from __future__ import annotations

import weakref
from typing import Any, get_args

import napari.viewer
from napari.layers import Image
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from napari_ivae._qt._common import (
    LayerChecklist,
    LayerCombo,
    StatusLabel,
    is_source_image,
    scroll_layout,
    stop_worker_on_destroy,
)
from napari_ivae._qt._dynamics_jobs import DynamicsJobsMixin
from napari_ivae._qt._dynamics_plot import MetricsPlot
from napari_ivae._qt._dynamics_results import REGISTERED_KEY, DynamicsResultsMixin, mask_legend

__all__ = ["DynamicsWidget"]


def _default_references(layers: list) -> list:
    """Registration channels by role, as ``ivae wall-metrics``: deflection + amplitude, else height."""
    from napari_ivae.dynamics import REFERENCE_ROLES
    from napari_ivae.io import role_of

    for group in REFERENCE_ROLES:
        chosen = [
            next(ly for ly in layers if role_of(ly) == role)
            for role in group
            if any(role_of(ly) == role for ly in layers)
        ]
        if chosen:
            return chosen
    return []


class DynamicsWidget(DynamicsJobsMixin, DynamicsResultsMixin, QWidget):
    """Wall metrics of a switching series, plotted against the frame.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer this dock widget belongs to.

    Notes
    -----
    ``run()`` starts the computation in a worker thread (``self.worker``); set
    ``start_thread = False`` to create the worker without starting it (tests
    start it themselves).  ``computed`` is emitted with the
    :class:`~napari_ivae.dynamics.series.SeriesResult`, or ``None`` when nothing
    was added (error, cancel).
    """

    computed = Signal(object)

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.start_thread = True
        self.result: Any = None
        self._running = False
        self._job: dict = {}
        layout = scroll_layout(self, grow=True)
        layout.addLayout(self._build_form())
        layout.addLayout(self._run_row())
        layout.addWidget(self.busy)
        self.plot = MetricsPlot()
        self.plot.frame_clicked.connect(self.go_to_frame)
        layout.addWidget(self.plot, 1)
        self.mask_legend = QLabel(mask_legend())
        self.mask_legend.setTextFormat(Qt.TextFormat.RichText)
        self.mask_legend.setWordWrap(True)
        self.mask_legend.setMinimumWidth(60)  # wraps: never widens the dock
        self.mask_legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.mask_legend.setVisible(False)  # shown with the first result
        layout.addWidget(self.mask_legend)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write the metrics table (one row per frame) as CSV.")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_dialog)
        layout.addWidget(self.export_button)
        layout.addWidget(self.status)
        self._guess_channels()
        self._follow_dims()
        stop_worker_on_destroy(self)

    # ------------------------------------------------------------------ layout
    def _build_form(self) -> QFormLayout:
        from napari_ivae.detect import WallMethod

        form = QFormLayout()
        accept = is_source_image
        self.phase_combo = LayerCombo(self.viewer, Image, optional=True, accept=accept)
        self.phase_combo.setToolTip("PFM phase series (T, Y, X): walls are where it reverses.")
        self.amplitude_combo = LayerCombo(self.viewer, Image, optional=True, accept=accept)
        self.amplitude_combo.setToolTip("PFM amplitude series (T, Y, X): walls are its dark lines.")
        self.reference_list = LayerChecklist(
            self.viewer, Image, accept=self._series_layer, default=_default_references
        )
        self.reference_list.setToolTip(
            "Channels the frames are registered on, together (one shift per scan line).\n"
            "Default, as ivae wall-metrics: deflection + amplitude, else height; none\n"
            "ticked: the amplitude.  The phase flips where domains switch: a poor reference."
        )
        self.method = QComboBox()
        self.method.addItems(list(get_args(WallMethod)))
        self.method.setToolTip("Wall detector applied to every frame (as in 1 Detect).")
        self.register = QCheckBox("register the frames (drift correction)")
        self.register.setChecked(True)
        self.register.setToolTip(
            "Measure each frame's shift against frame 0 by phase correlation and correct it\n"
            "before comparing frames (real series drift between scans)."
        )
        form.addRow("Phase", self.phase_combo)
        form.addRow("Amplitude", self.amplitude_combo)
        form.addRow("Register on", self.reference_list)
        form.addRow("Walls", self.method)
        self.artefacts = QCheckBox("leave out tip-change scan lines")
        self.artefacts.setChecked(True)
        self.artefacts.setToolTip(
            "Scan lines where the phase axis or the amplitude contrast jumps (a tip change)\n"
            "are left out of every metric; the status line says how many."
        )
        self.common = QCheckBox("measure every frame on the common area")
        self.common.setChecked(True)
        self.common.setToolTip(
            "Only the pixels trusted in all frames count, so a frame that lost a band to a\n"
            "tip change is not measured on less area than the others."
        )
        form.addRow("", self.register)
        form.addRow("", self.artefacts)
        form.addRow("", self.common)
        for combo in (self.phase_combo, self.amplitude_combo):
            combo.layer_changed.connect(lambda _layer: self._user_picked())
        return form

    def _run_row(self) -> QHBoxLayout:
        self.run_button = QPushButton("Compute")
        self.run_button.setToolTip(
            "Compute the wall metrics of every frame (runs in the background)."
        )
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the computation; nothing is added.")
        self.cancel_button.clicked.connect(lambda: self.cancel())
        self.cancel_button.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.run_button, 2)
        row.addWidget(self.cancel_button, 1)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setVisible(False)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.status = StatusLabel()
        return row

    # ------------------------------------------------------------------ defaults
    _auto: tuple = (None, None)
    _picking = False

    def _user_picked(self) -> None:
        if not self._picking:
            self._auto = (None, None)  # the user chose: roles no longer decide

    def _guess_channels(self) -> None:
        """Preselect the phase and amplitude series by role, then by name."""
        from napari_ivae.io import role_of

        images = [ly for ly in reversed(self.viewer.layers) if isinstance(ly, Image)]
        images = [ly for ly in images if self._series_layer(ly)]
        self._picking = True
        try:
            auto = []
            combos = (self.phase_combo, self.amplitude_combo)
            for k, (combo, key) in enumerate(zip(combos, ("phase", "amplitude"))):
                pick = next((ly for ly in images if role_of(ly) == key), None)
                pick = pick or next((ly for ly in images if key in ly.name.lower()), None)
                if pick is not None and combo.value in (None, self._auto[k]):
                    combo.value = pick
                auto.append(combo.value if combo.value is pick else None)
            self._auto = tuple(auto)
        finally:
            self._picking = False

    @staticmethod
    def _series_layer(layer: Any) -> bool:
        """A (T, Y, X) source image, not one of the dock's registered copies (shifted already)."""
        return is_source_image(layer) and layer.ndim == 3 and REGISTERED_KEY not in layer.metadata

    def refresh(self, *_args: Any, inserted: Any = None) -> None:
        """Layers were added, removed or renamed: choose the defaults again."""
        self._guess_channels()

    def showEvent(self, event: Any) -> None:
        self._guess_channels()
        super().showEvent(event)

    # ------------------------------------------------------------------ frames
    def _frame_axis(self) -> int:
        """The viewer's axis of the series' frames (layers are right-aligned)."""
        return max(0, self.viewer.dims.ndim - 3)

    def _follow_dims(self) -> None:
        """Keep the plot's frame marker on the frame the viewer shows."""
        from napari_ivae._qt._layers import connect_viewer

        ref = weakref.ref(self)

        def _moved(*_args: Any) -> None:
            w = ref()
            if w is not None:
                try:
                    w._on_step()
                except RuntimeError:  # the C++ widget is gone
                    pass

        dims = self.viewer.dims.events.current_step
        dims.connect(_moved)
        self.destroyed.connect(lambda *_: dims.disconnect(_moved))
        connect_viewer(self.viewer, self)
        self._on_step()

    def _on_step(self) -> None:
        step = self.viewer.dims.current_step
        self.plot.set_current_frame(int(step[self._frame_axis()]) if len(step) else 0)

    def go_to_frame(self, frame: int) -> None:
        """Show ``frame`` of the series in the viewer."""
        self.viewer.dims.set_current_step(self._frame_axis(), int(frame))
