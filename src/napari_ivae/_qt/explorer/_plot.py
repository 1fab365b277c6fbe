"""The explorer's plot: which feature columns are drawn, coloured how, with which legend.

The scatter plots two numeric ``features`` columns of the explored layer
(``z1``/``z2`` when there are latents, else the first two numeric columns)
coloured by a third (``label``, ``class``, ``angle``, ``orientation`` first);
the colour schemes and legend contents are :mod:`napari_ivae.colors`.  The
plot follows the layer: new features (training finished, labels rewritten) and
points added or removed in napari redraw it.
"""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd
from qtpy.QtCore import QBuffer, QByteArray, QIODevice
from qtpy.QtWidgets import QComboBox

from napari_ivae._errors import IvaeError, check_choice
from napari_ivae._qt._scatter import gradient_pixmap
from napari_ivae.colors import color_scheme, legend, to_hex
from napari_ivae.record import get_record

__all__ = ["LEGEND_ROWS", "PlotMixin", "numeric_columns"]

#: At most this many categories are listed in the legend.
LEGEND_ROWS = 12


def numeric_columns(df: pd.DataFrame) -> list[str]:
    """Names of the numeric, non-boolean columns of ``df`` (what the scatter can plot)."""
    return [
        str(c)
        for c in df.columns
        if pd.api.types.is_numeric_dtype(df[c].dtype)
        and not pd.api.types.is_bool_dtype(df[c].dtype)
    ]


def _png_base64(pixmap) -> str:
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buf, "PNG")
    return base64.b64encode(bytes(ba.data())).decode()


class PlotMixin:
    """Axes, colours and legend of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``scatter``, ``x_combo``, ``y_combo``, ``color_combo``,
    ``legend``, ``mode_buttons``, ``status``, ``_layer``, ``_selected``,
    ``_notify``, ``_label_rgba``, ``_restore_labels`` and ``_refresh_class_views``; owns ``_df`` (the
    plotted features), ``_xcol``, ``_ycol``, ``_color_col`` and
    ``_row_to_entry`` (row → stack entry, -1 for points without a crop).
    """

    def _clear_plot(self):
        self.scatter.set_points(np.zeros(0), np.zeros(0), color_scheme("none", np.zeros(0)))
        self.scatter.set_selection(np.zeros(0, dtype=np.int64))

    def _reload(self, *, autorange: bool = False):
        """Re-read the features of the layer, redraw the scatter and the class views."""
        self._reload_plot(autorange=autorange)
        self._refresh_class_views()

    def _reload_plot(self, *, autorange: bool = False):
        layer = self._layer
        self._df = None
        self._row_to_entry = None
        if layer is None:
            for combo in (self.x_combo, self.y_combo, self.color_combo):
                self._set_combo(combo, [], None)
            self._clear_plot()
            self._clear_second()
            self.status.setText("No points layer: run Detect (and Train) or open one.")
            return
        df = layer.features
        n = len(layer.data)
        if len(df) != n:  # napari keeps them equal; be safe with empty tables
            df = pd.DataFrame(index=pd.RangeIndex(n))
        self._df = df
        numeric = numeric_columns(df)
        if n == 0 or len(numeric) < 2:
            self._set_combo(self.x_combo, numeric, None)
            self._set_combo(self.y_combo, numeric, None)
            self._set_combo(self.color_combo, [], None)
            self._xcol = self._ycol = None
            self._clear_plot()
            self._clear_second()
            why = (
                f"layer {layer.name!r} has no points"
                if n == 0
                else f"layer {layer.name!r} has fewer than two numeric feature columns "
                "(train a model first to get z1, z2)"
            )
            self._notify(f"Explorer: nothing to plot: {why}.", warn=True)
            return
        xcol = self._xcol if self._xcol in numeric else None
        ycol = self._ycol if self._ycol in numeric else None
        if xcol is None or ycol is None:
            xcol, ycol = numeric[:2]
            for pair in (("z1", "z2"), ("zs1", "zs2")):  # a model's latents (dual: structure)
                if set(pair) <= set(numeric):
                    xcol, ycol = pair
                    break
            autorange = True
        self._xcol, self._ycol = xcol, ycol
        self._reload_second(numeric)
        self._set_combo(self.x_combo, numeric, xcol)
        self._set_combo(self.y_combo, numeric, ycol)
        colorable = [str(c) for c in df.columns]
        ccol = self._color_col if self._color_col in colorable else None
        if ccol is None:
            for pref in ("label", "class", "angle", "orientation"):
                if pref in colorable and (pref != "label" or self._has_labels()):
                    ccol = pref
                    break
            else:
                ccol = ycol
        self._color_col = ccol
        self._set_combo(self.color_combo, colorable, ccol)
        self._row_to_entry = self._stack_rows(n)
        self._redraw(autorange=autorange)
        self.status.setText(f"{layer.name}: {n:,} points")

    def _stack_rows(self, n: int) -> np.ndarray | None:
        """Row → entry of the layer's stack (-1: no crop), or None without a stack."""
        record = get_record(self._layer, create=False)
        stack = None if record is None else record.stack
        if stack is None or not hasattr(stack, "index"):
            return None
        idx = np.asarray(stack.index, dtype=np.int64)
        r2e = np.full(n, -1, dtype=np.int64)
        ok = (idx >= 0) & (idx < n)
        r2e[idx[ok]] = np.flatnonzero(ok)
        return r2e

    def _has_labels(self) -> bool:
        df = self._df
        return df is not None and "label" in df and (df["label"].astype(str) != "").any()

    @staticmethod
    def _set_combo(combo: QComboBox, items: list[str], current: str | None):
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(items)
        if current is not None and current in items:
            combo.setCurrentIndex(items.index(current))
        combo.blockSignals(False)

    def _column(self, col: str) -> np.ndarray:
        return self._df[col].to_numpy(dtype=np.float64, na_value=np.nan)

    def _redraw(self, *, autorange: bool = False):
        x, y = self._column(self._xcol), self._column(self._ycol)
        self.scatter.setLabel("bottom", self._xcol)
        self.scatter.setLabel("left", self._ycol)
        self.scatter.set_points(x, y, self._scheme(), autorange=autorange)
        self._selected = self._selected[self._selected < len(x)]
        self.scatter.set_selection(self._selected)
        self._redraw_second(autorange=autorange)

    def _scheme(self):
        col = self._color_col
        values = self._df[col] if col in self._df else np.zeros(len(self._df))
        label_colors = self._label_rgba() if col == "label" else None
        scheme = color_scheme(col, values, label_colors=label_colors)
        self._update_legend(col, scheme)
        return scheme

    def _update_legend(self, col, scheme):
        leg = legend(col, scheme, max_rows=LEGEND_ROWS)
        if leg.kind == "categorical":
            rows = [
                f"<span style='color:{to_hex(rgba)}; font-size:14px'>■</span>&nbsp;"
                f"{html.escape(name)}"
                f" <span style='color:#999'>({count:,})</span>"
                for name, rgba, count in leg.entries
            ]
            if leg.more:
                rows.append(f"… {leg.more} more")
            self.legend.setText(f"<b>{html.escape(col)}</b><br>" + "<br>".join(rows))
            self._fit_legend(len(rows) + 1)
        else:
            self._legend_pix = gradient_pixmap(leg.bar, 120, 10)
            cyc = " (cyclic)" if leg.cyclic else ""
            self.legend.setText(
                f"<b>{col}</b>{cyc}<br><img src='data:image/png;base64,"
                f"{_png_base64(self._legend_pix)}'><br>{leg.vmin:.3g} … {leg.vmax:.3g}"
            )
            self._fit_legend(3)

    def _fit_legend(self, lines: int):
        """Keep room for every legend line: the splitter never squeezes it under the plot."""
        self.legend.setMinimumHeight(
            int(lines * self.legend.fontMetrics().lineSpacing() * 1.15) + 6
        )

    # ------------------------------------------------------------------ following the layer
    def _on_features_changed(self, event=None):
        if self._updating or self._layer is None:
            return
        layer = self._layer
        self._restore_labels()  # a rewrite (e.g. retraining) without the labels keeps them
        n_old = 0 if self._df is None else len(self._df)
        old = set() if self._df is None else {str(c) for c in self._df.columns}
        new = {str(c) for c in layer.features.columns}
        pairs = ({"z1", "z2"}, {"zs1", "zs2", "zp1", "zp2"})  # a model's / a dual VAE's latents
        if any(p <= new and not p <= old for p in pairs):  # latents just arrived: show them
            self._xcol = self._ycol = self._x2col = self._y2col = None
            if self._color_col in ("x", "y", None):
                self._color_col = None
        self._reload(autorange=n_old != len(layer.data))

    def _on_data_changed(self, event=None):
        # points added or removed in napari: the rows changed, re-read everything
        if (
            self._layer is not None
            and self._df is not None
            and len(self._layer.data) != len(self._df)
        ):
            self._selected = np.zeros(0, dtype=np.int64)
            self._on_features_changed()
            self._update_highlight()

    # ------------------------------------------------------------------ axes / colour / mode
    def _on_axis_combo(self, _text):
        x, y = self.x_combo.currentText(), self.y_combo.currentText()
        if x and y and (x, y) != (self._xcol, self._ycol):
            self.set_axes(x, y)

    def _on_color_combo(self, text):
        if text and text != self._color_col:
            self.set_color_by(text)

    def set_axes(self, xcol: str, ycol: str):
        """Plot feature ``xcol`` against ``ycol``."""
        if self._df is None:
            raise IvaeError("no points layer to plot; choose a Points layer first")
        numeric = numeric_columns(self._df)
        for name, col in (("xcol", xcol), ("ycol", ycol)):
            if col not in numeric:
                raise IvaeError(
                    f"{name}={col!r} is not a numeric feature column; choose one of {numeric}"
                )
        self._xcol, self._ycol = xcol, ycol
        self._set_combo(self.x_combo, numeric, xcol)
        self._set_combo(self.y_combo, numeric, ycol)
        self._redraw(autorange=True)

    def set_color_by(self, col: str):
        """Colour the scatter by feature ``col``."""
        if self._df is None:
            raise IvaeError("no points layer to colour; choose a Points layer first")
        cols = [str(c) for c in self._df.columns]
        if col not in cols:
            raise IvaeError(f"col={col!r} is not a feature column; choose one of {cols}")
        self._color_col = col
        self._set_combo(self.color_combo, cols, col)
        self.scatter.recolor(self._scheme())
        self._recolor_second()

    def set_mode(self, mode: str):
        """Selection mode of a left drag: ``"lasso"``, ``"rect"`` or ``"pan"``."""
        check_choice("mode", mode, ("lasso", "rect", "pan"))
        self.scatter.select_mode = mode
        self.scatter2.select_mode = mode
        self.mode_buttons[mode].setChecked(True)
