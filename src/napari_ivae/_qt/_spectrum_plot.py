"""The Spectrum dock's plot: cursor, selection-mean and pinned spectra, and the energy band.

A pyqtgraph plot of intensity against energy (the axis says the SI's unit):
the spectrum under the cursor, the mean spectrum of a selection, spectra
pinned by clicks, and a draggable energy band (:class:`pyqtgraph.LinearRegionItem`)
whose changes are emitted as :attr:`SpectrumPlot.band_changed`.  Curves are
updated in place (``PlotDataItem.setData``): a cursor move redraws one curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QSize, Qt, Signal
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from napari_ivae._qt._dynamics_plot import _PlotWidget

__all__ = ["CURSOR_COLOR", "MEAN_COLOR", "PIN_COLORS", "SpectrumPlot"]

#: Curve colours, readable on napari's dark and light themes.
CURSOR_COLOR = "#e0e0e0"
MEAN_COLOR = "#ffb000"
PIN_COLORS = ("#3fa9ff", "#2ca02c", "#e377c2", "#17becf", "#d62728", "#9467bd", "#bcbd22")
#: The band's fill (translucent, so curves stay readable through it).
BAND_BRUSH = (63, 169, 255, 45)


def spectrum_axes() -> _PlotWidget:
    """An empty spectrum plot: intensity against energy loss, grid, no SI prefixes,
    no context menu (the Spectrum and Structure–property docks)."""
    plot = _PlotWidget()
    plot.setMinimumHeight(200)
    plot.setMenuEnabled(False)
    plot.showGrid(x=True, y=True, alpha=0.3)
    for side in ("bottom", "left"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.setLabel("left", "intensity")
    plot.setLabel("bottom", "energy loss")
    return plot


class SpectrumPlot(QWidget):
    """Spectra against energy, with a draggable energy band.

    Signals
    -------
    band_changed(float, float)
        The user is dragging the band (its low and high energy).
    band_done()
        The drag ended (or the band was set in code).
    """

    band_changed = Signal(float, float)
    band_done = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.pins: list[tuple[str, Any]] = []  # (label, PlotDataItem), oldest first
        self.labels = {"cursor": "", "mean": ""}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.legend = QLabel()  # above the plot: never over a curve
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setMinimumWidth(60)  # wraps: never widens the dock
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.plot = spectrum_axes()
        self.region = pg.LinearRegionItem(
            values=(0.0, 1.0),
            orientation="vertical",
            brush=pg.mkBrush(*BAND_BRUSH),
            pen=pg.mkPen("#3fa9ff", width=1.5),
            swapMode="sort",
        )
        self.region.setZValue(-10)
        self.region.setToolTip("Energy band: drag it or its edges; the map shows its integral.")
        self.plot.addItem(self.region, ignoreBounds=True)
        self.region.sigRegionChanged.connect(self._on_region)
        self.region.sigRegionChangeFinished.connect(lambda _r: self.band_done.emit())
        self.mean_curve = self._curve(MEAN_COLOR, 2.0)
        self.cursor_curve = self._curve(CURSOR_COLOR, 1.5)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)

    def sizeHint(self) -> QSize:
        return QSize(420, 300)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_legend()

    def _fit_legend(self) -> None:
        """Make the legend as tall as its wrapped lines (no entry hidden)."""
        text = self.legend.text()
        height = self.legend.heightForWidth(max(60, self.legend.width())) if text else 0
        if height != self.legend.height():
            self.legend.setFixedHeight(max(0, height))

    def _curve(self, color: str, width: float) -> Any:
        item = pg.PlotDataItem(pen=pg.mkPen(color, width=width), connect="finite")
        item.setClipToView(True)
        self.plot.addItem(item)
        return item

    # ------------------------------------------------------------------ axes and band
    def set_energy_axis(self, energy: np.ndarray, unit: str) -> None:
        """Label the energy axis with ``unit`` and fit the view and band limits to ``energy``."""
        lo, hi = float(np.min(energy)), float(np.max(energy))
        self.plot.setLabel("bottom", f"energy loss ({unit})" if unit else "energy loss")
        self.region.blockSignals(True)  # new limits are not a user's band change
        try:
            self.region.setBounds((lo, hi))
        finally:
            self.region.blockSignals(False)
        self.plot.setXRange(lo, hi, padding=0.01)
        self.plot.enableAutoRange(axis="y")

    @property
    def band(self) -> tuple[float, float]:
        """The band's low and high energy."""
        lo, hi = self.region.getRegion()
        return float(lo), float(hi)

    def set_band(self, lo: float, hi: float) -> None:
        """Move the band without emitting :attr:`band_changed`."""
        self.region.blockSignals(True)
        try:
            self.region.setRegion((float(lo), float(hi)))
        finally:
            self.region.blockSignals(False)
        self.region.update()

    def _on_region(self, *_args: Any) -> None:
        self.band_changed.emit(*self.band)

    # ------------------------------------------------------------------ curves
    def set_cursor(
        self, energy: np.ndarray | None, spectrum: np.ndarray | None, label: str
    ) -> None:
        """Draw the spectrum under the cursor (``None`` clears it)."""
        if spectrum is None:
            self.cursor_curve.setData([], [])
        else:
            self.cursor_curve.setData(energy, spectrum)
        self._set_label("cursor", label if spectrum is not None else "")

    def set_mean(self, energy: np.ndarray | None, spectrum: np.ndarray | None, label: str) -> None:
        """Draw the mean spectrum of the selection (``None`` clears it)."""
        if spectrum is None:
            self.mean_curve.setData([], [])
        else:
            self.mean_curve.setData(energy, spectrum)
        self._set_label("mean", label if spectrum is not None else "")

    def add_pin(self, energy: np.ndarray, spectrum: np.ndarray, label: str) -> Any:
        """Keep ``spectrum`` on the plot (at most ``len(PIN_COLORS)``; the oldest goes)."""
        if len(self.pins) >= len(PIN_COLORS):
            _old_label, old = self.pins.pop(0)
            self.plot.removeItem(old)
        used = {item.opts["pen"].color().name() for _l, item in self.pins}
        color = next((c for c in PIN_COLORS if c not in used), PIN_COLORS[0])
        item = self._curve(color, 1.5)
        item.setData(energy, np.array(spectrum, copy=True))  # a pin keeps its own copy
        self.pins.append((label, item))
        self._update_legend()
        return item

    def clear_pins(self) -> None:
        """Remove the pinned spectra."""
        for _label, item in self.pins:
            self.plot.removeItem(item)
        self.pins = []
        self._update_legend()

    def curves_table(self) -> dict[str, np.ndarray]:
        """The spectra on the plot, by legend label (cursor, mean, then pins), with ``energy``.

        Empty when no spectrum is drawn.
        """
        items = [(self.labels["cursor"], self.cursor_curve), (self.labels["mean"], self.mean_curve)]
        items += self.pins
        columns: dict[str, np.ndarray] = {}
        for label, item in items:
            if label and item.yData is not None and len(item.yData):
                if not columns:
                    columns["energy"] = np.asarray(item.xData, dtype=float)
                columns[label] = np.asarray(item.yData, dtype=float)
        return columns

    def _set_label(self, key: str, label: str) -> None:
        if self.labels[key] != label:
            self.labels[key] = label
            self._update_legend()

    def _update_legend(self) -> None:
        entries = []
        if self.labels["cursor"]:
            entries.append((CURSOR_COLOR, self.labels["cursor"]))
        if self.labels["mean"]:
            entries.append((MEAN_COLOR, self.labels["mean"]))
        entries += [(item.opts["pen"].color().name(), label) for label, item in self.pins]
        self.legend.setText(
            " &nbsp;".join(  # breaks between the entries only
                f"<span style='color:{color}'>■</span>&nbsp;" + text.replace(" ", "&nbsp;")
                for color, text in entries
            )
        )
        self._fit_legend()
