"""A fast pyqtgraph scatter for 10⁵–10⁶ points with lasso / rectangle / click selection.

Only the Qt items live here; the colour schemes they draw are
:mod:`napari_ivae.colors` and the lasso / rectangle tests :mod:`napari_ivae.selection`.

Speed comes from three choices (measured with 200,000 points in
``benchmarks/bench_explorer.py``):

* points are drawn by :class:`PaletteScatterItem`: a small palette of
  pre-rendered marker pixmaps (one per colour, shared by all points of that
  colour) blitted with one ``QPainter.drawPixmapFragments`` call whose fragment
  array is filled by NumPy — pyqtgraph's own ``ScatterPlotItem`` spends several
  µs per point in Python on every ``setData`` (its symbol-atlas lookup), which
  alone exceeds the recolour budget at 2·10⁵ points;
* the selection is a second, separate item of the same kind drawn on top;
* hit tests (hover, click) are a vectorised NumPy nearest-point search in
  screen pixels, lasso is :meth:`matplotlib.path.Path.contains_points`
  (:func:`napari_ivae.selection.points_in_polygon`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions as fn
from pyqtgraph.Qt import internals
from qtpy.QtCore import QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QImage, QLinearGradient, QPainter, QPen, QPixmap
from qtpy.QtWidgets import QGraphicsItem

from napari_ivae.colors import SELECTION_COLOR, ColorScheme

__all__ = [
    "PaletteScatterItem",
    "ScatterView",
    "array_to_pixmap",
    "gradient_pixmap",
]


def gradient_pixmap(colors: np.ndarray, width: int = 160, height: int = 12) -> QPixmap:
    """A horizontal colour bar of the palette ``colors`` ((K, 4) uint8)."""
    pix = QPixmap(width, height)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    grad = QLinearGradient(0, 0, width, 0)
    k = len(colors)
    for i, c in enumerate(colors):
        grad.setColorAt(i / max(k - 1, 1), QColor(*[int(v) for v in c]))
    painter.fillRect(0, 0, width, height, grad)
    painter.end()
    return pix


def array_to_pixmap(img: np.ndarray, size: int = 128) -> QPixmap:
    """Grey-scale pixmap of a 2-D float image, contrast-stretched, scaled to ``size``."""
    a = np.asarray(img, dtype=np.float64)
    finite = np.isfinite(a)
    if finite.any():
        lo, hi = np.percentile(a[finite], [1, 99])
    else:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    u8 = np.ascontiguousarray(
        (np.clip((np.nan_to_num(a, nan=lo) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    )
    h, w = u8.shape
    qimg = QImage(u8.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimg).scaled(
        size,
        size,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )


class _SelectViewBox(pg.ViewBox):
    """ViewBox whose left-drag draws a lasso or a rectangle instead of panning."""

    sigPolygon = Signal(object, bool)  # (M, 2) polygon in data coords, additive
    sigClick = Signal(float, float, bool)  # x, y, additive

    def __init__(self):
        super().__init__()
        self.select_mode = "lasso"  # "pan" | "lasso" | "rect"
        self._path: list[tuple[float, float]] = []
        self._outline = pg.PlotCurveItem(
            pen=pg.mkPen((255, 220, 0), width=1.5, style=Qt.PenStyle.DashLine)
        )
        self._outline.setZValue(1e6)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None):
        if self.select_mode == "pan" or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            p0 = self.mapSceneToView(ev.buttonDownScenePos())
            self._path = [(p0.x(), p0.y())]
        self._path.append((p.x(), p.y()))
        poly = self._polygon()
        closed = np.vstack([poly, poly[:1]])
        self._outline.setData(closed[:, 0], closed[:, 1])
        if ev.isFinish():
            additive = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._outline.setData([], [])
            self._path = []
            self.sigPolygon.emit(poly, additive)

    def _polygon(self) -> np.ndarray:
        pts = np.asarray(self._path, dtype=np.float64)
        if self.select_mode == "rect":
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        return pts

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            additive = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.sigClick.emit(p.x(), p.y(), additive)
        else:
            super().mouseClickEvent(ev)


class PaletteScatterItem(pg.GraphicsObject):
    """Many points in screen-pixel size, each drawn with one of a few shared marker pixmaps.

    Parameters
    ----------
    size : float
        Marker diameter in screen pixels.
    ring : bool
        Draw rings (outline only) instead of filled discs.
    """

    def __init__(self, size: float = 3.0, *, ring: bool = False):
        super().__init__()
        self._size = float(size)
        self._ring = ring
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._src = np.zeros((0, 4))
        self._atlas: QPixmap | None = None
        self._cell = int(np.ceil(self._size)) + 2
        self._bounds = QRectF()
        self._frags = internals.PrimitiveArray(QPainter.PixmapFragment, 10)

    # -- data --------------------------------------------------------------
    def set_data(self, x, y, codes=None, colors=None):
        """Points ``(x, y)`` (NaN skipped) with palette ``codes`` into ``colors`` ((K, 4) uint8)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if codes is None:
            codes = np.zeros(len(x), dtype=np.int32)
        if colors is None:
            colors = np.array([[255, 255, 255, 255]], dtype=np.uint8)
        codes = np.asarray(codes)
        ok = np.isfinite(x) & np.isfinite(y) & (codes >= 0)
        if not ok.all():
            x, y, codes = x[ok], y[ok], codes[ok]
        order = np.argsort(codes, kind="stable")  # later palette entries on top
        self._x, self._y = x[order], y[order]
        self._build_atlas(np.asarray(colors, dtype=np.uint8))
        w = self._cell
        src = np.empty((len(order), 4))
        src[:, 0] = codes[order] * w
        src[:, 1] = 0.0
        src[:, 2] = w
        src[:, 3] = w
        self._src = src
        self.prepareGeometryChange()
        if len(self._x):
            x0, x1 = float(self._x.min()), float(self._x.max())
            y0, y1 = float(self._y.min()), float(self._y.max())
            self._bounds = QRectF(x0, y0, x1 - x0, y1 - y0)
        else:
            self._bounds = QRectF()
        self.update()

    def _build_atlas(self, colors: np.ndarray):
        w = int(np.ceil(self._size)) + 2
        self._cell = w
        atlas = QPixmap(w * max(len(colors), 1), w)
        atlas.fill(Qt.GlobalColor.transparent)
        p = QPainter(atlas)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for k, c in enumerate(colors):
            col = QColor(*[int(v) for v in c])
            if self._ring:  # filled, with a thin dark outline: visible alone and in crowds
                p.setPen(QPen(QColor(20, 20, 20), 1.0))
                p.setBrush(QBrush(col))
            else:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QBrush(col))
            p.drawEllipse(QRectF(k * w + 1, 1, self._size, self._size))
        p.end()
        self._atlas = atlas

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn points (NaN removed, in drawing order)."""
        return self._x, self._y

    def __len__(self) -> int:
        return len(self._x)

    # -- QGraphicsItem -----------------------------------------------------
    def dataBounds(self, ax, frac=1.0, orthoRange=None):
        d = self._x if ax == 0 else self._y
        if d.size == 0:
            return (None, None)
        return (float(d.min()), float(d.max()))

    def pixelPadding(self):
        return self._cell

    def boundingRect(self):
        if self._bounds.isNull() and not len(self._x):
            return QRectF()
        px = self.pixelLength(pg.Point(1, 0)) or 0.0
        py = self.pixelLength(pg.Point(0, 1)) or 0.0
        pad_x, pad_y = px * self._cell, py * self._cell
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def viewTransformChanged(self):
        self.prepareGeometryChange()

    def paint(self, p, *_args):
        n = len(self._x)
        if n == 0 or self._atlas is None:
            return
        pts = fn.transformCoordinates(p.transform(), np.vstack([self._x, self._y]))
        vr = p.viewport() if p.viewport().isValid() else None
        p.resetTransform()
        keep = None
        if vr is not None:
            m = self._cell
            keep = (
                (pts[0] > vr.left() - m)
                & (pts[0] < vr.right() + m)
                & (pts[1] > vr.top() - m)
                & (pts[1] < vr.bottom() + m)
            )
            if keep.all():
                keep = None
        if keep is None:
            xy, src = pts.T, self._src
        else:
            xy, src = pts[:, keep].T, self._src[keep]
        self._frags.resize(len(src))
        frags = self._frags.ndarray()
        frags[:, 0:2] = xy
        frags[:, 2:6] = src
        frags[:, 6:10] = (1.0, 1.0, 0.0, 1.0)
        p.drawPixmapFragments(*self._frags.drawargs(), self._atlas)


class ScatterView(pg.PlotWidget):
    """Scatter of many points coloured by a palette, with a selection overlay.

    Signals
    -------
    sigPolygon(polygon, additive)
        A lasso or rectangle was drawn (polygon in data coordinates).
    sigClick(x, y, additive)
        Left click at data coordinates ``(x, y)``.
    sigHover(x, y)
        The mouse moved to data coordinates ``(x, y)``.
    """

    sigHover = Signal(float, float)

    def __init__(self, parent=None):
        self._vb = _SelectViewBox()
        super().__init__(parent=parent, viewBox=self._vb)
        self.sigPolygon = self._vb.sigPolygon
        self.sigClick = self._vb.sigClick
        self.setBackground((25, 25, 28))
        self.showGrid(x=False, y=False)
        self.setMenuEnabled(False)
        for ax in ("left", "bottom"):
            self.getAxis(ax).enableAutoSIPrefix(False)
        self._points = PaletteScatterItem(4.0)
        # the many points are rendered once into a device pixmap and re-blitted while only the
        # selection overlay changes (re-rendered on zoom/pan or recolour)
        self._points.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.addItem(self._points)
        self._sel = PaletteScatterItem(6.0, ring=True)
        self._sel.setZValue(10)
        self.addItem(self._sel)
        self._sel_color = np.array([SELECTION_COLOR], dtype=np.uint8)
        self._marker = pg.ScatterPlotItem(
            pxMode=True, size=12, pen=pg.mkPen((255, 60, 60), width=2), brush=None, symbol="+"
        )
        self._marker.setZValue(20)
        self.addItem(self._marker)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.scheme = ColorScheme(np.zeros(0), np.zeros((1, 4)), "none")
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- drawing ---------------------------------------------------------
    @property
    def select_mode(self) -> str:
        return self._vb.select_mode

    @select_mode.setter
    def select_mode(self, mode: str) -> None:
        self._vb.select_mode = mode

    def set_points(self, x: np.ndarray, y: np.ndarray, scheme: ColorScheme, *, autorange=True):
        """Show points ``(x, y)`` coloured by ``scheme`` (replaces everything)."""
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        vb = self._vb
        vb.disableAutoRange()
        self.recolor(scheme)
        if autorange:
            self.auto_range()

    def auto_range(self):
        """Fit the view to all finite points."""
        ok = np.isfinite(self.x) & np.isfinite(self.y)
        if not ok.any():
            self._vb.setRange(xRange=(0, 1), yRange=(0, 1))
            return
        x, y = self.x[ok], self.y[ok]
        self._vb.setRange(
            xRange=(float(x.min()), float(x.max())),
            yRange=(float(y.min()), float(y.max())),
            padding=0.04,
        )

    def recolor(self, scheme: ColorScheme):
        """Redraw the points with new colour codes (one shared marker per colour)."""
        self.scheme = scheme
        self._points.set_data(self.x, self.y, scheme.codes, scheme.colors)

    def point_colors(self) -> np.ndarray:
        """(N, 4) uint8 RGBA colour of every point, in row order."""
        return self.scheme.colors[self.scheme.codes]

    def set_selection(self, idx: np.ndarray):
        """Draw the overlay ring on the points ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        self._sel.set_data(self.x[idx], self.y[idx], None, self._sel_color)

    def set_marker(self, xy: tuple[float, float] | None):
        """Show a cross at ``xy`` (``None`` hides it)."""
        if xy is None:
            self._marker.setData(x=[], y=[])
        else:
            self._marker.setData(x=[xy[0]], y=[xy[1]])

    # -- hit tests -------------------------------------------------------
    def nearest(self, x: float, y: float, max_px: float = 8.0) -> int:
        """Index of the point nearest to ``(x, y)`` within ``max_px`` screen pixels, or -1."""
        if self.x.size == 0:
            return -1
        pw, ph = self._vb.viewPixelSize()
        pw, ph = max(abs(pw), 1e-300), max(abs(ph), 1e-300)
        dx = np.abs(self.x - x) / pw
        dy = np.abs(self.y - y) / ph
        near = np.flatnonzero((dx <= max_px) & (dy <= max_px))
        if near.size == 0:
            return -1
        d2 = dx[near] ** 2 + dy[near] ** 2
        j = int(np.argmin(d2))
        return int(near[j]) if d2[j] <= max_px**2 else -1

    def _on_mouse_moved(self, pos):
        if not self._vb.sceneBoundingRect().contains(pos):
            return
        p = self._vb.mapSceneToView(QPointF(pos))
        self.sigHover.emit(p.x(), p.y())
