"""The explorer's second scatter: two other feature columns beside the first, one selection.

For the dual VAE (Structure–property dock) the points carry two latent spaces,
``zs1 …`` (structure, from the image patch) and ``zp1 …`` (property, from the
spectrum).  The second scatter, beside the first, plots another pair of
numeric columns of the same points (by default ``zp1``/``zp2`` while the first
shows ``zs1``/``zs2``), with the same colours.  The selection is the layer's:
a lasso, rectangle or click in either scatter selects rows of the explored
layer, and both scatters ring the selected rows.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSizePolicy

from napari_ivae._errors import IvaeError
from napari_ivae._qt._scatter import ScatterView
from napari_ivae.selection import points_in_polygon

__all__ = ["TwinMixin"]

#: Default axes of the two scatters when the points carry both latents of a dual VAE.
DUAL_AXES = (("zs1", "zs2"), ("zp1", "zp2"))


class TwinMixin:
    """The second scatter of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``scatter``, ``_df``, ``_selected``, ``_scheme``,
    ``_set_combo`` and ``select_indices``; owns ``scatter2``, ``second_check``,
    ``x2_combo``, ``y2_combo``, ``_x2col`` and ``_y2col``.
    """

    def _build_twin(self) -> QHBoxLayout:
        """The form row (check box, x / y of the second plot); makes ``scatter2``."""
        self._x2col: str | None = None
        self._y2col: str | None = None
        row = QHBoxLayout()
        self.second_check = QCheckBox("2nd plot")
        self.second_check.setToolTip(
            "A second scatter of two other columns of the same points (e.g. zp1, zp2 beside "
            "zs1, zs2 of a dual VAE); a selection in either shows in both"
        )
        self.second_check.toggled.connect(self._on_second_toggled)
        row.addWidget(self.second_check)
        self.x2_combo, self.y2_combo = QComboBox(), QComboBox()
        for c in (self.x2_combo, self.y2_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(5)
            c.currentTextChanged.connect(self._on_axis2_combo)
            c.setEnabled(False)
            row.addWidget(c)
        self.scatter2 = scatter = ScatterView()
        scatter.setMinimumSize(160, 160)
        scatter.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        scatter.sigPolygon.connect(self._on_polygon2)
        scatter.sigClick.connect(self._on_click2)
        scatter.setVisible(False)
        return row

    # ------------------------------------------------------------------ public
    @property
    def second_axes(self) -> tuple[str | None, str | None]:
        """The columns of the second scatter (``None`` while there is nothing to plot)."""
        return self._x2col, self._y2col

    def show_second(self, on: bool = True):
        """Show (or hide) the second scatter."""
        self.second_check.setChecked(bool(on))

    def set_second_axes(self, xcol: str, ycol: str):
        """Plot feature ``xcol`` against ``ycol`` in the second scatter (and show it)."""
        numeric = self._numeric_or_raise()
        for name, col in (("xcol", xcol), ("ycol", ycol)):
            if col not in numeric:
                raise IvaeError(
                    f"{name}={col!r} is not a numeric feature column; choose one of {numeric}"
                )
        self._x2col, self._y2col = xcol, ycol
        self._set_combo(self.x2_combo, numeric, xcol)
        self._set_combo(self.y2_combo, numeric, ycol)
        self.show_second(True)
        self._redraw_second(autorange=True)

    # ------------------------------------------------------------------ following the plot
    def _numeric_or_raise(self) -> list[str]:
        from napari_ivae._qt.explorer._plot import numeric_columns

        if self._df is None:
            raise IvaeError("no points layer to plot; choose a Points layer first")
        return numeric_columns(self._df)

    def _reload_second(self, numeric: list[str]):
        """New features: keep the second axes if they still exist, else pick defaults."""
        x2 = self._x2col if self._x2col in numeric else None
        y2 = self._y2col if self._y2col in numeric else None
        dual = set(DUAL_AXES[0] + DUAL_AXES[1]) <= set(numeric)
        if x2 is None or y2 is None:
            x2, y2 = DUAL_AXES[1] if dual else (numeric[2:4] if len(numeric) >= 4 else numeric[:2])
            if dual and not self.second_check.isChecked():  # a dual VAE's latents, side by side
                self.second_check.blockSignals(True)  # the caller redraws both plots
                self.second_check.setChecked(True)
                self.second_check.blockSignals(False)
                self._show_twin_widgets(True)
        self._x2col, self._y2col = x2, y2
        self._set_combo(self.x2_combo, numeric, x2)
        self._set_combo(self.y2_combo, numeric, y2)

    def _redraw_second(self, *, autorange: bool = False):
        scatter = self.scatter2
        if self._df is None or self._x2col is None or not self.second_check.isChecked():
            return
        x = self._df[self._x2col].to_numpy(dtype=np.float64, na_value=np.nan)
        y = self._df[self._y2col].to_numpy(dtype=np.float64, na_value=np.nan)
        scatter.setLabel("bottom", self._x2col)
        scatter.setLabel("left", self._y2col)
        scatter.set_points(x, y, self.scatter.scheme, autorange=autorange)
        scatter.set_selection(self._selected[self._selected < len(x)])

    def _recolor_second(self):
        if self.second_check.isChecked() and self._x2col is not None:
            self.scatter2.recolor(self.scatter.scheme)

    def _clear_second(self):
        self._x2col = self._y2col = None
        for combo in (self.x2_combo, self.y2_combo):
            self._set_combo(combo, [], None)
        self.scatter2.set_points(np.zeros(0), np.zeros(0), self.scatter.scheme)
        self.scatter2.set_selection(np.zeros(0, dtype=np.int64))

    def _show_twin_widgets(self, on: bool):
        self.scatter2.setVisible(on)
        self.x2_combo.setEnabled(on)
        self.y2_combo.setEnabled(on)

    def _on_second_toggled(self, on: bool):
        self._show_twin_widgets(on)
        self._redraw_second(autorange=True)

    def _on_axis2_combo(self, _text):
        x, y = self.x2_combo.currentText(), self.y2_combo.currentText()
        if x and y and (x, y) != (self._x2col, self._y2col):
            self.set_second_axes(x, y)

    # ------------------------------------------------------------------ selecting in it
    def _on_polygon2(self, poly, additive):
        if self._df is None or self._x2col is None:
            return
        s = self.scatter2
        self.select_indices(points_in_polygon(s.x, s.y, np.asarray(poly, float)), add=additive)

    def _on_click2(self, x, y, additive):
        if self._df is None or self._x2col is None:
            return
        i = self.scatter2.nearest(x, y)
        if i < 0:
            if not additive:
                self.select_indices([])
        elif additive and i in set(self._selected.tolist()):
            self.select_indices(np.setdiff1d(self._selected, [i]))
        else:
            self.select_indices([i], add=additive)
