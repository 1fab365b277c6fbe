"""The Dynamics dock's plot: wall metrics of a switching series against the frame.

A pyqtgraph plot of one group of metrics (a selector above it: fractions,
wall length, counts, curvature, displacement), lengths in nm when the series
is calibrated (the table's ``*_nm`` twins), else in px.  A dashed vertical
line marks the frame the viewer shows; a click on the plot emits the nearest
frame (:attr:`MetricsPlot.frame_clicked`), which the dock sends to the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from qtpy.QtCore import QSize, Qt, Signal
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

__all__ = ["METRIC_GROUPS", "MetricGroup", "MetricsPlot"]

#: Curve colours, readable on napari's dark and light themes: the pinned fraction in
#: the wall mask's blue of pinned walls, the displacement in its amber of moving walls.
_COLORS = {
    "switched_fraction": "#2ca02c",
    "pinned_fraction": "#3fa9ff",
    "domain_convexity": "#e377c2",
    "wall_length_px": "#2ca02c",
    "wall_count": "#17becf",
    "domain_count": "#e377c2",
    "mean_curvature": "#e377c2",
    "wall_displacement_px": "#ffb000",
}


@dataclass(frozen=True)
class MetricGroup:
    """Metrics drawn together: one axis, one unit.

    Attributes
    ----------
    title : str
        Shown in the selector.
    columns : tuple of (str, str, str)
        (table column in px units, its nm twin or "", curve name).
    axis : str
        Left-axis label without its unit.
    unit_px, unit_nm : str
        The unit in px, and in nm when the twins are used.
    """

    title: str
    columns: tuple[tuple[str, str, str], ...]
    axis: str
    unit_px: str
    unit_nm: str = ""


METRIC_GROUPS: tuple[MetricGroup, ...] = (
    MetricGroup(
        "Switched and pinned fractions, convexity",
        (
            ("switched_fraction", "", "switched fraction"),
            ("pinned_fraction", "", "pinned fraction"),
            ("domain_convexity", "", "domain convexity"),
        ),
        "fraction",
        "0–1",
    ),
    MetricGroup(
        "Wall length",
        (("wall_length_px", "wall_length_nm", "wall length"),),
        "wall length",
        "px",
        "nm",
    ),
    MetricGroup(
        "Wall and domain counts",
        (("wall_count", "", "walls (≥ 10 px)"), ("domain_count", "", "domains (≥ 20 px)")),
        "count",
        "",
    ),
    MetricGroup(
        "Mean wall curvature",
        (("mean_curvature", "mean_curvature_per_nm", "mean |κ|"),),
        "mean |κ|",
        "1/px",
        "1/nm",
    ),
    MetricGroup(
        "Wall displacement to the next frame",
        (("wall_displacement_px", "wall_displacement_nm", "mean displacement"),),
        "displacement",
        "px",
        "nm",
    ),
)


class _PlotWidget(pg.PlotWidget):
    """A pyqtgraph plot that asks for a modest height (it grows with the dock).

    Its default hint (a graphics view's) is tall: in the dock's scroll area the
    panel would then scroll even when everything fits at the plot's minimum.
    """

    def sizeHint(self) -> QSize:
        return QSize(400, 220)


def _has_values(table: pd.DataFrame, column: str) -> bool:
    return column in table and bool(np.isfinite(table[column].to_numpy(dtype=float)).any())


class MetricsPlot(QWidget):
    """Metric selector + pyqtgraph plot of a metrics table (one row per frame).

    Signals
    -------
    frame_clicked(int)
        The user clicked the plot: the frame nearest to the click.
    """

    frame_clicked = Signal(int)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.table: pd.DataFrame | None = None
        self.curves: dict[str, Any] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show"))
        self.selector = QComboBox()
        self.selector.addItems([g.title for g in METRIC_GROUPS])
        self.selector.setToolTip(
            "Which metrics to plot against the frame (all of them are in the CSV export)."
        )
        self.selector.currentIndexChanged.connect(lambda _i: self.redraw())
        row.addWidget(self.selector, 1)
        layout.addLayout(row)

        self.plot = _PlotWidget()
        self.plot.setMinimumHeight(180)
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        for side in ("bottom", "left"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "frame")
        self.plot.setToolTip("Click a frame to show it in the viewer.")
        self.legend = QLabel()  # above the plot: never over a curve
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.legend.setMinimumWidth(60)  # wraps: never widens the dock
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.cursor = pg.InfiniteLine(  # the frame shown; its number is in the axis label
            pos=0,
            angle=90,
            movable=False,
            pen=pg.mkPen("#e0e0e0", width=1.5, style=Qt.PenStyle.DashLine),
        )
        self.cursor.setZValue(-5)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_click)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)

    def sizeHint(self) -> QSize:
        return QSize(420, 290)  # a dock of reasonable width; the plot grows with it

    # ------------------------------------------------------------------ data
    @property
    def group(self) -> MetricGroup:
        """The metrics shown."""
        return METRIC_GROUPS[max(0, self.selector.currentIndex())]

    def show_group(self, title: str) -> None:
        """Show the group whose title is ``title`` (see :data:`METRIC_GROUPS`)."""
        titles = [g.title for g in METRIC_GROUPS]
        if title not in titles:
            from napari_ivae._errors import IvaeError

            raise IvaeError(f"title={title!r} is not a metric group; choose one of {titles}")
        self.selector.setCurrentIndex(titles.index(title))

    def set_table(self, table: pd.DataFrame | None) -> None:
        """Plot ``table`` (columns ``frame`` and the metrics); ``None`` clears the plot."""
        self.table = table
        self.redraw()

    def frames(self) -> np.ndarray:
        """The frames of the table (empty without one)."""
        if self.table is None:
            return np.zeros(0, dtype=np.int64)
        return self.table["frame"].to_numpy(dtype=np.int64)

    def redraw(self) -> None:
        """Draw the chosen group's curves from the table."""
        for item in self.curves.values():
            self.plot.removeItem(item)
        self.curves = {}
        self.legend.setText("")
        table, group = self.table, self.group
        if table is None or len(table) == 0:
            self.plot.setLabel("left", group.axis)
            return
        use_nm = bool(group.unit_nm) and all(_has_values(table, nm) for _c, nm, _n in group.columns)
        unit = group.unit_nm if use_nm else group.unit_px
        self.plot.setLabel("left", f"{group.axis} ({unit})" if unit else group.axis)
        x = table["frame"].to_numpy(dtype=float)
        for px, nm, name in group.columns:
            col = nm if use_nm else px
            if col not in table:
                continue
            y = table[col].to_numpy(dtype=float)
            color = _COLORS.get(px, "#17becf")
            self.curves[col] = self.plot.plot(
                x,
                y,
                pen=pg.mkPen(color, width=2),
                symbol="o",
                symbolSize=8,
                symbolBrush=color,
                symbolPen=None,
                name=name,
                connect="finite",
            )
        self.legend.setText(
            " &nbsp;".join(  # breaks between the entries only
                f"<span style='color:{_COLORS.get(px, '#17becf')}'>■</span>&nbsp;"
                + name.replace(" ", "&nbsp;")
                for px, _nm, name in group.columns
            )
        )
        ticks = [(float(t), str(int(t))) for t in x] if len(x) <= 20 else None
        self.plot.getAxis("bottom").setTicks([ticks] if ticks else None)
        self.plot.setXRange(x.min() - 0.4, x.max() + 0.4, padding=0)
        if group.unit_px == "0–1":  # fractions: always the whole range
            self.plot.setYRange(0.0, 1.0, padding=0.03)
        else:
            self.plot.enableAutoRange(axis="y")

    # ------------------------------------------------------------------ current frame / clicks
    def set_current_frame(self, frame: int) -> None:
        """Move the frame marker to ``frame`` (the axis label says its number)."""
        self.cursor.setValue(float(frame))
        self.plot.setLabel("bottom", f"frame (dashed: frame {int(frame)}, shown in the viewer)")

    @property
    def current_frame(self) -> int:
        """The frame the marker is on."""
        return round(self.cursor.value())

    def nearest_frame(self, x: float) -> int | None:
        """The table's frame nearest to plot coordinate ``x`` (within half a frame), or None."""
        frames = self.frames()
        if frames.size == 0 or not np.isfinite(x):
            return None
        k = int(np.argmin(np.abs(frames - x)))
        return int(frames[k]) if abs(frames[k] - x) <= 0.5 else None

    def frame_position(self, frame: int) -> Any:
        """Where the point of ``frame`` (first curve) is drawn, in the plot's viewport pixels."""
        from qtpy.QtCore import QPointF

        frames = self.frames()
        y = 0.0
        if self.curves:
            ys = next(iter(self.curves.values())).yData
            k = np.flatnonzero(frames == frame)
            if k.size and np.isfinite(ys[k[0]]):
                y = float(ys[k[0]])
        scene = self.plot.getViewBox().mapViewToScene(QPointF(float(frame), y))
        return self.plot.mapFromScene(scene)

    def _on_scene_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        frame = self.nearest_frame(vb.mapSceneToView(event.scenePos()).x())
        if frame is not None:
            event.accept()
            self.frame_clicked.emit(frame)
