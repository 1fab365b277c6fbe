"""Spectrum dock: the spectra of an (H, W, E) spectrum image, and its band-integrated map.

For an image layer that carries a spectrum image (``layer.metadata["spectrum_image"]``,
a :class:`~napari_ivae.spectra.SpectrumImage`, as the reader and File > Open
Sample give it):

* the spectrum under the cursor, redrawn as the mouse moves (one curve's data
  replaced, read straight from the SI, which may be memory-mapped);
* a click in the image (with the SI layer selected) pins the spectrum there;
* the mean spectrum of a selection: a Shapes layer's shapes (rasterised on the
  scan grid) or a Points layer's selected points (the explorer's lasso is the
  Points layer "<points> selection");
* an energy band (drag it on the plot, or type its limits): the layer shows
  the SI integrated over the band, redrawn live from cumulative sums along
  energy (:class:`napari_ivae._spectrum_cache.BandSums`, built in the
  background; the SI is never copied whole).
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import Any

import napari.viewer
import numpy as np
from napari.layers import Image, Points, Shapes
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFormLayout, QHBoxLayout, QPushButton, QWidget

from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import (
    LayerCombo,
    StatusLabel,
    notify_errors,
    scroll_layout,
    stop_worker_on_destroy,
)
from napari_ivae._qt._spectrum_band import BandMixin
from napari_ivae._qt._spectrum_plot import SpectrumPlot
from napari_ivae._qt._spectrum_selection import selection_pixels
from napari_ivae._spectrum_cache import mean_at

__all__ = ["SI_KEY", "SpectrumWidget", "spectrum_image_of"]

SI_KEY = "spectrum_image"
"""Metadata key of an image layer's :class:`~napari_ivae.spectra.SpectrumImage`."""


def spectrum_image_of(layer: Any) -> Any:
    """The spectrum image an image layer carries, or ``None``."""
    if not isinstance(layer, Image):
        return None
    return layer.metadata.get(SI_KEY)


class SpectrumWidget(BandMixin, QWidget):
    """Cursor, pinned and selection-mean spectra of a spectrum image; a live energy band.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer this dock widget belongs to.

    Notes
    -----
    ``cursor_pixel`` is the (y, x) whose spectrum the cursor curve shows;
    ``band_channels`` the channels [i0, i1) the map integrates.  Redraws are
    coalesced: many mouse moves between two paints draw once.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.cursor_pixel: tuple[int, int] | None = None
        self.last_cursor_ms = float("nan")  # the dock's share of the last cursor redraw
        self._sel_layer: Any = None
        layout = scroll_layout(self, grow=True)
        form = QFormLayout()
        self.si_combo = LayerCombo(self.viewer, Image, accept=lambda ly: SI_KEY in ly.metadata)
        self.si_combo.setToolTip("The image layer of a spectrum image (open an SI, or a sample).")
        self.selection_combo = LayerCombo(self.viewer, (Shapes, Points), optional=True)
        self.selection_combo.setToolTip(
            "Plot the mean spectrum of this selection: a Shapes layer's selected shapes\n"
            "(all when none is selected), or a Points layer's selected points (all when\n"
            "none is); the explorer's lasso is the Points layer '<points> selection'."
        )
        form.addRow("Spectrum image", self.si_combo)
        form.addRow("Mean of", self.selection_combo)
        form.addRow("Band", self._build_band_row())
        layout.addLayout(form)
        self.plot = SpectrumPlot()
        self.plot.band_changed.connect(self._on_plot_band)
        self.plot.band_done.connect(self._on_plot_band_done)
        layout.addWidget(self.plot, 1)
        row = QHBoxLayout()
        self.clear_button = QPushButton("Clear pins")
        self.clear_button.setToolTip("Remove the pinned spectra (click the image to pin one).")
        self.clear_button.clicked.connect(lambda: self.plot.clear_pins())
        row.addWidget(self.clear_button)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip(
            "Write the spectra on the plot (cursor, mean, pins) as CSV: energy, then one\n"
            "column per curve, named as in the legend."
        )
        self.export_button.clicked.connect(self._export_dialog)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        self.status = StatusLabel()
        layout.addWidget(self.status)
        self._cursor_timer = self._timer(0, self._draw_cursor)
        self._mean_timer = self._timer(30, self.update_mean)
        self.si_combo.layer_changed.connect(lambda _ly: self._on_si_layer())
        self.selection_combo.layer_changed.connect(lambda ly: self._watch_selection(ly))
        self._connect_viewer()
        stop_worker_on_destroy(self)
        self._on_si_layer()

    def _timer(self, ms: int, slot: Any) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    # ------------------------------------------------------------------ layers
    @property
    def si_layer(self) -> Image | None:
        """The chosen image layer of a spectrum image."""
        return self.si_combo.value

    @property
    def si(self) -> Any:
        """The chosen :class:`~napari_ivae.spectra.SpectrumImage`, or ``None``."""
        return spectrum_image_of(self.si_layer)

    def _on_si_layer(self) -> None:
        self.cursor_pixel = None
        self.plot.set_cursor(None, None, "")
        self.plot.clear_pins()
        self._reset_band()
        self.update_mean()

    def _connect_viewer(self) -> None:
        """Follow the cursor and clicks; both hooks hold the widget weakly and go with it."""
        ref = weakref.ref(self)
        viewer = self.viewer

        def _moved(*_args: Any) -> None:
            w = ref()
            if w is not None:
                try:
                    w._cursor_timer.start()
                except RuntimeError:  # the C++ widget is gone
                    pass

        def _drag(_viewer: Any, event: Any) -> Any:
            start = tuple(event.position)
            yield
            moved = False
            while event.type == "mouse_move":
                moved = True
                yield
            w = ref()
            if w is not None and not moved:
                try:
                    w._on_click(start)
                except RuntimeError:
                    pass

        viewer.cursor.events.position.connect(_moved)
        viewer.mouse_drag_callbacks.append(_drag)

        def _disconnect(*_args: Any) -> None:
            viewer.cursor.events.position.disconnect(_moved)
            if _drag in viewer.mouse_drag_callbacks:
                viewer.mouse_drag_callbacks.remove(_drag)

        self.destroyed.connect(_disconnect)

    # ------------------------------------------------------------------ cursor and pins
    def pixel_at(self, world: Any) -> tuple[int, int] | None:
        """The SI pixel (y, x) under a world position, or ``None`` outside the scan."""
        layer, si = self.si_layer, self.si
        if layer is None or si is None:
            return None
        coords = layer.world_to_data(tuple(world))
        y, x = (int(np.floor(c + 0.5)) for c in coords[-2:])
        h, w = si.data.shape[:2]
        return (y, x) if 0 <= y < h and 0 <= x < w else None

    def _draw_cursor(self) -> None:
        t0 = time.perf_counter()
        pixel = self.pixel_at(self.viewer.cursor.position)
        if pixel is None or pixel == self.cursor_pixel:
            return
        self.cursor_pixel = pixel
        si = self.si
        self.plot.set_cursor(si.energy, si.spectrum(*pixel), f"cursor (y={pixel[0]}, x={pixel[1]})")
        self.last_cursor_ms = 1000.0 * (time.perf_counter() - t0)

    def _on_click(self, world: Any) -> None:
        """A click without a drag: pin the spectrum there when the SI layer is the active one."""
        layer = self.si_layer
        if layer is None or self.viewer.layers.selection.active != layer:  # viewer: a proxy
            return
        if getattr(layer, "mode", "pan_zoom") != "pan_zoom":
            return
        pixel = self.pin(world)
        if pixel is not None:
            self.status.set_message(f"Pinned the spectrum at (y={pixel[0]}, x={pixel[1]}).")

    def pin(self, world: Any) -> tuple[int, int] | None:
        """Pin the spectrum at a world position; returns its pixel (``None`` outside the scan)."""
        pixel = self.pixel_at(world)
        if pixel is not None:
            si = self.si
            self.plot.add_pin(si.energy, si.spectrum(*pixel), f"(y={pixel[0]}, x={pixel[1]})")
        return pixel

    # ------------------------------------------------------------------ selection mean
    def _watch_selection(self, layer: Any) -> None:
        """Follow the chosen selection layer's data and selection; forget the previous one."""
        for emitter in self._selection_emitters(self._sel_layer):
            emitter.disconnect(self._schedule_mean)
        self._sel_layer = layer
        for emitter in self._selection_emitters(layer):
            emitter.connect(self._schedule_mean)
        self.update_mean()

    def _schedule_mean(self, *_args: Any) -> None:
        self._mean_timer.start()  # edits and selections in a burst draw once

    @staticmethod
    def _selection_emitters(layer: Any) -> list:
        if layer is None:
            return []
        emitters = [layer.events.data, layer.events.highlight]
        if isinstance(layer, Points):
            emitters.append(layer.selected_data.events.items_changed)
        return emitters

    def update_mean(self) -> np.ndarray | None:
        """Draw the mean spectrum of the chosen selection; returns it (or ``None``)."""
        layer, si, sel = self.si_layer, self.si, self.selection_combo.value
        if si is None or sel is None:
            self.plot.set_mean(None, None, "")
            return None
        try:
            ys, xs, what = selection_pixels(sel, layer, tuple(si.data.shape[:2]))
        except IvaeError as err:  # live: said in the status line, never a stream of pop-ups
            self.plot.set_mean(None, None, "")
            self.status.set_error(str(err))
            return None
        mean = mean_at(si.data, ys, xs)
        self.plot.set_mean(si.energy, mean, f"mean of {sel.name}: {what}, {ys.size} px")
        return mean

    # ------------------------------------------------------------------ export
    def _export_dialog(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self, "Export the spectra", "spectra.csv", "CSV (*.csv)"
        )
        if path:
            with notify_errors("Export", self.status):
                self.export_csv(path)

    def export_csv(self, path: str | Path) -> Path:
        """Write the plotted spectra to ``path`` as CSV (``energy``, one column per curve), atomically."""
        import pandas as pd

        from napari_ivae._atomic import atomic_write

        columns = self.plot.curves_table()
        if not columns:
            raise IvaeError("no spectrum to export; move the mouse over the image or pin one")
        unit = self.si.unit if self.si is not None else ""
        table = pd.DataFrame(columns).rename(
            columns={"energy": f"energy ({unit})" if unit else "energy"}
        )
        out = atomic_write(
            path,
            lambda tmp: table.to_csv(tmp, index=False, float_format="%.8g"),
            make_parents=False,
        )
        self.status.set_message(f"Wrote {len(columns) - 1} spectra to {out}")
        return out

    def closeEvent(self, event: Any) -> None:
        self._watch_selection(None)
        super().closeEvent(event)
