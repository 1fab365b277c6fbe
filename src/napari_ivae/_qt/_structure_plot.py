"""The Structure–property widget's plot: measured and predicted spectrum of one point.

pyqtgraph, intensity against energy (the axis says the SI's unit); the
prediction's uncertainty (± one standard deviation over posterior draws) is a
translucent band around the predicted curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from napari_ivae._qt._spectrum_plot import CURSOR_COLOR, MEAN_COLOR, spectrum_axes

__all__ = ["PredictionPlot"]

_BAND = (255, 176, 0, 60)


class PredictionPlot(QWidget):
    """Measured (light) and predicted (amber, with its ± 1 σ band) spectrum of one point."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.legend = QLabel("Train (or load) a model, then click a point.")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.plot = spectrum_axes()
        self.lower = pg.PlotDataItem(pen=None)
        self.upper = pg.PlotDataItem(pen=None)
        self.band = pg.FillBetweenItem(self.lower, self.upper, brush=pg.mkBrush(*_BAND))
        self.plot.addItem(self.band)
        self.measured = self.plot.plot([], [], pen=pg.mkPen(CURSOR_COLOR, width=1.5))
        self.predicted = self.plot.plot([], [], pen=pg.mkPen(MEAN_COLOR, width=2))
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)

    def set_energy_unit(self, unit: str) -> None:
        """Label the energy axis with ``unit``."""
        self.plot.setLabel("bottom", f"energy loss ({unit})" if unit else "energy loss")

    def show_point(self, energy, measured, predicted, std=None, title: str = "") -> None:
        """Draw one point's spectra (``std``: the prediction's spread, or None)."""
        self.measured.setData(energy, measured)
        self.predicted.setData(energy, predicted)
        if std is None:
            self.lower.setData([], [])
            self.upper.setData([], [])
        else:
            self.lower.setData(energy, np.asarray(predicted) - std)
            self.upper.setData(energy, np.asarray(predicted) + std)
        e = np.asarray(energy, dtype=float)
        self.plot.setXRange(float(e.min()), float(e.max()), padding=0.02)
        self.plot.enableAutoRange(axis="y")
        self.legend.setText(
            f"{title}<br><span style='color:{CURSOR_COLOR}'>━ measured</span> &nbsp; "
            f"<span style='color:{MEAN_COLOR}'>━ predicted</span>"
            + ("" if std is None else " (band: ± 1 σ over posterior draws)")
        )

    def clear(self, text: str) -> None:
        """No curves; ``text`` says why."""
        for item in (self.measured, self.predicted, self.lower, self.upper):
            item.setData([], [])
        self.legend.setText(text)
