"""The Spectrum dock's energy band: two spin boxes, the plot's band, the live band map.

The band (the plot's :class:`~pyqtgraph.LinearRegionItem` and the two spin
boxes, kept in step) selects channels [i0, i1) of the spectrum image
(``SpectrumImage.band_indices``); the SI layer's data becomes their sum, from
:class:`napari_ivae._spectrum_cache.BandSums`.  Its cumulative sums are built
once per SI, on the first band change: right away for a small SI, else in a
napari worker (until then maps are summed directly, band by band).

While the band is dragged, the map is drawn with its edges snapped to the
cache's stored sums (``BandSums.snap``: no read of the SI, so the drag stays
live on a GiB SI); when the drag ends, and for typed limits, the exact band.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from napari.qt.threading import create_worker
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton

from napari_ivae._errors import IvaeError
from napari_ivae._spectrum_cache import BandSums

__all__ = ["BAND_KEY", "BUILD_NOW_BYTES", "BandMixin", "band_name"]

#: SIs up to this size get their band cache built in the GUI thread, at once (bytes).
BUILD_NOW_BYTES = 32 * 2**20
#: Layer metadata key of the band the map shows, (low, high) energy (as the reader sets it).
BAND_KEY = "energy_band"


def band_name(si: Any, lo: float, hi: float) -> str:
    """The layer name the reader gives a band map (``"<si> [lo–hi unit]"``)."""
    return f"{si.name} [{lo:g}–{hi:g} {si.unit}]"


class BandMixin:
    """Energy band of :class:`~napari_ivae._qt.spectrum.SpectrumWidget`.

    Uses the widget's ``si``, ``si_layer``, ``plot``, ``status`` and ``worker``;
    owns ``band_channels`` (the channels the map shows), ``sums`` and the spin boxes.
    """

    band_channels: tuple[int, int] | None = None
    band_exact: bool = True
    sums: BandSums | None = None
    last_band_ms: float = float("nan")
    _want_exact: bool = True
    _band_buffer: np.ndarray | None = None

    def _build_band_row(self) -> QHBoxLayout:
        self.band_lo, self.band_hi = QDoubleSpinBox(), QDoubleSpinBox()
        for box, tip in ((self.band_lo, "low"), (self.band_hi, "high")):
            box.setKeyboardTracking(False)  # typed values apply on Enter, not per digit
            box.setToolTip(f"The band's {tip} energy (or drag the band on the plot).")
            box.valueChanged.connect(lambda _v: self._on_spin())
        self.full_button = QPushButton("All")
        self.full_button.setToolTip("Integrate the whole energy range.")
        self.full_button.clicked.connect(lambda: self.set_band(-np.inf, np.inf))
        row = QHBoxLayout()
        row.addWidget(self.band_lo, 1)
        row.addWidget(QLabel("–"))
        row.addWidget(self.band_hi, 1)
        row.addWidget(self.full_button)
        self._band_timer = QTimer(self)
        self._band_timer.setSingleShot(True)
        self._band_timer.setInterval(0)  # a drag's many moves between two paints draw once
        self._band_timer.timeout.connect(self.redraw_band)
        return row

    # ------------------------------------------------------------------ SI changed
    def _reset_band(self) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.worker = None
        self.sums, self.band_channels, self._band_buffer = None, None, None
        si = self.si
        enabled = si is not None
        for w in (self.band_lo, self.band_hi, self.full_button):
            w.setEnabled(enabled)
        if not enabled:
            return
        energy = np.asarray(si.energy, dtype=float)
        lo, hi = float(energy.min()), float(energy.max())
        step = float(np.median(np.abs(np.diff(energy)))) if energy.size > 1 else 1.0
        decimals = int(np.clip(np.ceil(-np.log10(step)) + 1, 0, 6)) if step > 0 else 3
        for box in (self.band_lo, self.band_hi):
            box.blockSignals(True)
            box.setDecimals(decimals)
            box.setRange(lo, hi)
            box.setSingleStep(step if step > 0 else 1.0)
            box.setSuffix(f" {si.unit}" if si.unit else "")
            box.blockSignals(False)
        self.plot.set_energy_axis(energy, si.unit)
        band = self.si_layer.metadata.get(BAND_KEY, (lo, hi))
        self._show_band(*band)
        self._band_timer.stop()  # showing the band is not changing it

    def _show_band(self, lo: float, hi: float) -> None:
        """Put the band on the plot and in the spin boxes (no redraw)."""
        self.plot.set_band(lo, hi)
        for box, value in ((self.band_lo, lo), (self.band_hi, hi)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    # ------------------------------------------------------------------ user changes
    def set_band(self, lo: float, hi: float) -> None:
        """Integrate the map over [lo, hi] (in the SI's energy unit; clipped to its range)."""
        si = self.si
        if si is None:
            return
        e_lo, e_hi = float(np.min(si.energy)), float(np.max(si.energy))
        lo, hi = sorted((float(np.clip(lo, e_lo, e_hi)), float(np.clip(hi, e_lo, e_hi))))
        self._show_band(lo, hi)
        self._want_exact = True
        self._band_timer.start()

    def _on_plot_band(self, lo: float, hi: float) -> None:
        self._show_band(lo, hi)  # the spin boxes follow the drag
        self._want_exact = False  # live: snapped to the cache until the drag ends
        self._band_timer.start()

    def _on_plot_band_done(self) -> None:
        self._want_exact = True
        self._band_timer.start()

    def _on_spin(self) -> None:
        self.set_band(self.band_lo.value(), self.band_hi.value())

    # ------------------------------------------------------------------ the map
    def channels_of(self, lo: float, hi: float) -> tuple[int, int]:
        """Channels [i0, i1) of the band [lo, hi] (at least the channel nearest to it)."""
        si = self.si
        try:
            i0, i1 = si.band_indices(lo, hi)
        except IvaeError:  # narrower than a channel: the nearest one
            k = int(np.argmin(np.abs(np.asarray(si.energy) - 0.5 * (lo + hi))))
            i0, i1 = k, k + 1
        return int(i0), int(i1)

    def redraw_band(self, *, exact: bool | None = None) -> np.ndarray | None:
        """Show the band's map in the SI layer now; returns it (``None``: nothing to do).

        ``exact=False`` snaps the band's edges to the cache (what a drag shows);
        by default, exact unless a drag is under way.
        """
        si, layer = self.si, self.si_layer
        if si is None:
            return None
        exact = self._want_exact if exact is None else exact
        t0 = time.perf_counter()
        sums = self._band_sums()
        i0, i1 = self.channels_of(*self.plot.band)
        if not exact:
            i0, i1 = sums.snap(i0, i1)
        if (i0, i1) == self.band_channels:
            return None
        image = sums.band_map(i0, i1)
        self._show_map(layer, image)
        lo_e, hi_e = float(si.energy[i0]), float(si.energy[i1 - 1])
        old = layer.metadata.get(BAND_KEY)
        layer.metadata[BAND_KEY] = (lo_e, hi_e)
        if self.band_exact and old is not None and layer.name == band_name(si, *old):
            layer.name = band_name(si, lo_e, hi_e)  # the reader's name, for the new band
        self.band_channels = (i0, i1)
        self.band_exact = exact or (i0, i1) == self.channels_of(*self.plot.band)
        self.last_band_ms = 1000.0 * (time.perf_counter() - t0)
        how = "cached sums" if sums.ready else "summed directly; building the cache"
        if not self.band_exact:
            how += f"; edges on {sums.block}-channel steps while dragging"
        self.status.set_message(
            f"Band {lo_e:.4g}–{hi_e:.4g} {si.unit}: channels {i0}–{i1 - 1} "
            f"({i1 - i0} of {si.n_energy}), {self.last_band_ms:.0f} ms ({how})."
        )
        return image

    def _show_map(self, layer: Any, image: np.ndarray) -> None:
        """Put ``image`` in the layer, contrast fitted to it.

        The first map replaces the layer's data (the reader's array is never
        written); later ones are copied into that map and the layer refreshed,
        which skips napari's re-check of the viewer's dimensions (2–3× faster).
        """
        buf = self._band_buffer
        data = layer.data
        if buf is not None and data.shape == buf.shape and np.shares_memory(data, buf):
            np.copyto(buf, image)
            layer.refresh(extent=False, thumbnail=False)
        else:
            self._band_buffer = image
            layer.data = image
        finite = image[np.isfinite(image)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            layer.contrast_limits_range = (lo, hi if hi > lo else lo + 1.0)
            layer.contrast_limits = layer.contrast_limits_range

    def _band_sums(self) -> BandSums:
        """The SI's band cache; its build starts here (at once when the SI is small)."""
        if self.sums is None:
            data = self.si.data
            self.sums = BandSums(data)
            # a chunked (compressed) file reads ~8x slower than a mapped one (bench_spectra_hdf5)
            if data.nbytes <= BUILD_NOW_BYTES // (1 if isinstance(data, np.ndarray) else 8):
                self.sums.build_now()
            else:
                sums = self.sums
                worker = create_worker(sums.build, _start_thread=False)
                worker.finished.connect(lambda: self._on_sums_built(sums))
                self.worker = worker
                worker.start()
        return self.sums

    def _on_sums_built(self, sums: BandSums) -> None:
        if sums is not self.sums:  # an SI left before its cache was built
            return
        self.worker = None
        if sums.ready:
            self.status.set_message(
                f"Band maps cached ({self.sums.nbytes / 2**20:.0f} MB): any band redraws at once."
            )
