"""A fast pyqtgraph scatter for 10⁵–10⁶ points with lasso / rectangle / click selection.

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
  screen pixels, lasso is :meth:`matplotlib.path.Path.contains_points`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions as fn
from pyqtgraph.Qt import internals
from qtpy.QtCore import QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QImage, QLinearGradient, QPainter, QPen, QPixmap
from qtpy.QtWidgets import QGraphicsItem

__all__ = [
    "ColorScheme",
    "PaletteScatterItem",
    "ScatterView",
    "color_scheme",
    "points_in_polygon",
]

#: Colours of a continuous map are quantised to this many shared brushes.
N_CONTINUOUS = 64
#: Integer columns (and float columns holding only whole numbers, e.g. ``class``
#: with NaN for points without a crop) with at most this many distinct values are
#: shown as categories.
MAX_CATEGORIES = 24
NAN_COLOR = (110, 110, 110, 255)
#: Colour of selected points, in the scatter and (as rings) in the napari highlight layer.
SELECTION_COLOR = (255, 43, 214, 255)


class ColorScheme:
    """Per-point colour codes and the palette they index.

    Attributes
    ----------
    codes : np.ndarray
        (N,) int32 palette index per point.
    colors : np.ndarray
        (K, 4) uint8 RGBA palette.
    kind : str
        ``"categorical"``, ``"sequential"``, ``"cyclic"`` or ``"none"``.
    labels : list of str
        Category names (categorical) — one per palette entry.
    vmin, vmax : float
        Range of a continuous map.
    """

    def __init__(self, codes, colors, kind, labels=(), vmin=0.0, vmax=1.0):
        self.codes = np.asarray(codes, dtype=np.int32)
        self.colors = np.asarray(colors, dtype=np.uint8)
        self.kind = kind
        self.labels = list(labels)
        self.vmin = float(vmin)
        self.vmax = float(vmax)


def _mpl_colors(name: str, n: int) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps[name]
    if getattr(cmap, "N", 256) < 64:  # qualitative map: take its entries in order
        rgba = np.array([cmap(i % cmap.N) for i in range(n)])
    else:
        rgba = cmap(np.linspace(0.0, 1.0, n, endpoint=name not in ("twilight", "hsv")))
    return np.round(np.asarray(rgba) * 255).astype(np.uint8)


def categorical_colors(n: int) -> np.ndarray:
    """``n`` distinct RGBA colours (tab10, then tab20, then a hue wheel)."""
    if n <= 10:
        return _mpl_colors("tab10", max(n, 1))[:n]
    if n <= 20:
        return _mpl_colors("tab20", n)[:n]
    return _mpl_colors("hsv", n)


def _is_cyclic(name: str) -> bool:
    low = name.lower()
    return low in ("angle", "orientation", "phase") or low.endswith(("_angle", "angle"))


def _period(name: str, values: np.ndarray) -> tuple[float, float]:
    """Guess the period (and its origin) of an angular column."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 2 * np.pi
    lo, hi = float(finite.min()), float(finite.max())
    orientation = name.lower() == "orientation"
    if lo >= -2 * np.pi - 1e-6 and hi <= 2 * np.pi + 1e-6:
        if orientation and lo >= -1e-6 and hi <= np.pi + 1e-6:
            return 0.0, np.pi
        return 0.0, 2 * np.pi
    if orientation and lo >= -1e-6 and hi <= 180 + 1e-6:
        return 0.0, 180.0
    return 0.0, 360.0


def _category_name(value) -> str:
    """``1.0`` → ``"1"`` (whole numbers stored as float), else ``str(value)``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def is_categorical(name: str, values) -> bool:
    """Whether a column is coloured by category (legend of swatches) rather than a colour bar.

    Text, booleans and categoricals always; integer columns, and float columns
    whose finite values are all whole numbers (``class`` after a join with NaN),
    when they hold at most :data:`MAX_CATEGORIES` distinct values; never the
    angular columns.
    """
    import pandas as pd

    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    dtype = series.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if not numeric:
        return True
    if _is_cyclic(name) or series.nunique(dropna=True) > MAX_CATEGORIES:
        return False
    if pd.api.types.is_integer_dtype(dtype):
        return True
    vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = vals[np.isfinite(vals)]
    return finite.size > 0 and bool(np.all(finite == np.round(finite)))


def color_scheme(
    name: str,
    values,
    *,
    label_colors: dict[str, tuple[int, int, int, int]] | None = None,
) -> ColorScheme:
    """Choose a colour scheme for a feature column.

    Parameters
    ----------
    name : str
        Column name: ``angle``/``orientation`` get a cyclic map, ``label`` the
        class colours in ``label_colors``.
    values : array-like
        The column.
    label_colors : dict, optional
        Class name → RGBA (0–255), used for the ``label`` column; ``""``
        (unlabeled) is always grey and drawn first.

    Returns
    -------
    ColorScheme
    """
    import pandas as pd

    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if name == "label":
        label_colors = label_colors or {}
        names = ["", *[k for k in label_colors if k != ""]]
        extra = [
            v for v in pd.unique(series.astype(str).fillna("")) if v not in label_colors and v != ""
        ]
        names += sorted(extra)
        lookup = {k: i for i, k in enumerate(names)}
        codes = series.astype(str).fillna("").map(lookup).to_numpy(dtype=np.int32)
        extra_cols = categorical_colors(len(extra) + 10)[10:] if extra else np.zeros((0, 4))
        colors = [NAN_COLOR] + [tuple(label_colors[k]) for k in names[1 : 1 + len(label_colors)]]
        colors += [tuple(c) for c in extra_cols[: len(extra)]]
        shown = ["unlabeled", *names[1:]]
        return ColorScheme(codes, np.array(colors, dtype=np.uint8), "categorical", shown)

    if is_categorical(name, series):
        codes, uniques = pd.factorize(series, sort=True)
        codes = np.asarray(codes, dtype=np.int32)
        k = len(uniques)
        colors = categorical_colors(k)
        shown = [_category_name(u) for u in uniques]
        if (codes < 0).any():  # NaN / None
            codes = np.where(codes < 0, k, codes)
            colors = np.vstack([colors, np.array([NAN_COLOR], dtype=np.uint8)])
            shown.append("n/a")
        return ColorScheme(codes, colors, "categorical", shown)

    vals = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(vals)
    if _is_cyclic(name):
        origin, period = _period(name, vals)
        frac = np.mod(vals - origin, period) / period
        colors = _mpl_colors("twilight", N_CONTINUOUS)
        kind, vmin, vmax = "cyclic", origin, origin + period
    else:
        if finite.any():
            vmin, vmax = np.percentile(vals[finite], [0.5, 99.5])
        else:
            vmin, vmax = 0.0, 1.0
        if vmax <= vmin:
            vmax = vmin + 1.0
        frac = (vals - vmin) / (vmax - vmin)
        colors = _mpl_colors("viridis", N_CONTINUOUS)
        kind = "sequential"
    codes = np.clip(
        (np.nan_to_num(frac, nan=0.0) * N_CONTINUOUS).astype(np.int32), 0, N_CONTINUOUS - 1
    )
    if not finite.all():
        codes[~finite] = N_CONTINUOUS
        colors = np.vstack([colors, np.array([NAN_COLOR], dtype=np.uint8)])
    return ColorScheme(codes, colors, kind, vmin=vmin, vmax=vmax)


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Indices of the points ``(x, y)`` inside ``polygon`` ((M, 2), closed or not)."""
    from matplotlib.path import Path

    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        return np.zeros(0, dtype=np.int64)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    cand = np.flatnonzero((x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]))
    if cand.size == 0:
        return cand.astype(np.int64)
    inside = Path(poly).contains_points(np.column_stack([x[cand], y[cand]]))
    return cand[inside].astype(np.int64)


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
