"""The explorer's selection, both ways: scatter (lasso / rectangle / click) ↔ napari.

* A lasso, rectangle or click in the scatter selects rows of the explored
  points layer; the selected points are shown in the image by a small,
  separate :class:`HighlightPoints` layer ``"<layer> selection"`` (the colours
  of the points themselves are never rewritten).
* Selecting points in napari (``layer.selected_data``) rings the same points
  in the scatter; the explorer never writes back into napari's selection (no
  feedback loop).

Speed with 200,000 points is in ``docs/gui.md``.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Points

from napari_ivae._errors import IvaeError
from napari_ivae.colors import SELECTION_COLOR, to_hex
from napari_ivae.selection import points_in_polygon, points_in_rect

__all__ = ["HIGHLIGHT_KEY", "HighlightPoints", "SelectionMixin"]

HIGHLIGHT_KEY = "ivae_highlight_of"
"""Metadata key marking a highlight layer (value: name of its points layer when created)."""


class HighlightPoints(Points):
    """The selection overlay: a Points layer whose points all share one symbol.

    napari's ``Points`` keeps a per-point array of ``Symbol`` objects: every
    time the layer grows it re-validates the whole array, and every redraw
    turns each into a string for vispy (most of a large lasso's time; see
    docs/gui.md, "Latent explorer with 200,000 points").  The overlay only ever
    uses the symbol it was created with, so this layer fills that array in one
    step and hands vispy plain strings.  Everything else is a normal ``Points`` layer
    (napari picks its visual and controls by class inheritance).
    """

    @property
    def symbol(self) -> np.ndarray:
        """(N,) array of the (one) marker symbol."""
        return self._symbol

    @symbol.setter
    def symbol(self, symbol) -> None:
        if np.ndim(symbol) == 0 or len(self._symbol) == 0:  # one symbol: napari's own check
            first = symbol if np.ndim(symbol) == 0 else self.current_symbol
            Points.symbol.fset(self, first)
            return
        self._symbol = np.full(len(self.data), self._symbol[0], dtype=object)
        self.events.symbol()
        self.events.highlight()

    @property
    def _view_symbol(self) -> np.ndarray:
        marker = str(self._symbol[0]) if len(self._symbol) else "o"
        return np.full(len(self._view_indices), marker, dtype=object)


class SelectionMixin:
    """Selection of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``viewer``, ``scatter``, ``count_label``, ``_layer``,
    ``_df``, ``_xcol``, ``_updating`` and ``_gallery_timer``; owns ``_selected``
    (sorted row indices), ``_highlight`` (the overlay of the explored layer) and
    ``_highlights`` (id of every overlay → its points layer).
    """

    @property
    def selected(self) -> np.ndarray:
        """Row indices (into the layer's points/features) of the selection, sorted."""
        return self._selected.copy()

    @property
    def highlight_layer(self) -> Points | None:
        """The Points layer showing the selection in the image (created on first use)."""
        return self._highlight

    def select_indices(self, indices, *, add: bool = False):
        """Select the points with row ``indices`` (``add``: union with the selection)."""
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        idx = idx.astype(np.int64, copy=False).ravel()
        n = 0 if self._df is None else len(self._df)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IvaeError(
                f"indices must be in 0..{n - 1}; got {int(idx.min())}..{int(idx.max())}"
            )
        if add and self._selected.size:
            idx = np.union1d(self._selected, idx)
        else:
            idx = np.unique(idx)
        self._apply_selection(idx)

    def lasso(self, polygon_xy, *, add: bool = False) -> np.ndarray:
        """Select the points inside ``polygon_xy`` ((M, 2) in scatter data coordinates)."""
        if self._df is None or self._xcol is None:
            return self.selected
        idx = points_in_polygon(self.scatter.x, self.scatter.y, np.asarray(polygon_xy, float))
        self.select_indices(idx, add=add)
        return self.selected

    def rect(self, x0: float, y0: float, x1: float, y1: float, *, add: bool = False) -> np.ndarray:
        """Select the points inside the rectangle spanned by ``(x0, y0)`` and ``(x1, y1)``."""
        if self._df is None or self._xcol is None:
            return self.selected
        self.select_indices(points_in_rect(self.scatter.x, self.scatter.y, x0, y0, x1, y1), add=add)
        return self.selected

    def _on_polygon(self, poly, additive):
        self.lasso(poly, add=additive)

    def _on_click(self, x, y, additive):
        if self._df is None or self._xcol is None:
            return
        i = self.scatter.nearest(x, y)
        if i >= 0:
            if additive and i in set(self._selected.tolist()):
                self.select_indices(np.setdiff1d(self._selected, [i]))
            else:
                self.select_indices([i], add=additive)
            self.scatter.set_marker(None)
        else:
            if not additive:
                self.select_indices([])
            self.decode_at(x, y, quiet=True)

    def _apply_selection(self, idx: np.ndarray, *, from_napari: bool = False):
        self._selected = idx
        self.scatter.set_selection(idx)
        if self.second_check.isChecked() and self._x2col is not None:
            self.scatter2.set_selection(idx)
        self._update_count()
        self._update_highlight()
        self._gallery_timer.start()  # the montage follows, once the selection settles

    def _update_count(self, *_args):
        """ "N selected"; for a series also how many are in the frame shown, and where the rest are.

        The overlay shows the selected walls of the frame on screen only (napari
        slices points by frame), so the count says where the others are.
        """
        idx, layer = self._selected, self._layer
        text, tip = f"{idx.size:,} selected", ""
        if layer is not None and layer.ndim >= 3 and idx.size:
            frames = np.rint(np.asarray(layer.data)[idx, -3]).astype(np.int64)
            here = round(float(layer.world_to_data(self.viewer.dims.point)[-3]))
            text += f" · {int(np.sum(frames == here)):,} in this frame"
            values, counts = np.unique(frames, return_counts=True)
            tip = "Selected points per frame: " + ", ".join(
                f"{v}: {c:,}" for v, c in zip(values.tolist(), counts.tolist())
            )
        self.count_label.setText(text)
        self.count_label.setToolTip(tip)

    def _on_napari_selection(self, *_args):
        if self._updating or self._layer is None:
            return
        idx = np.fromiter(self._layer.selected_data, dtype=np.int64)
        idx.sort()
        self._apply_selection(idx, from_napari=True)

    # ------------------------------------------------------------------ the overlay layer
    def _update_highlight(self):
        layer = self._layer
        if layer is None:
            return
        coords = np.asarray(layer.data)[self._selected]
        hl = self._highlight
        if hl is None or hl not in self.viewer.layers:
            if self._selected.size == 0:
                return
            hl = self._create_highlight(layer)
        self._updating = True
        try:
            hl.data = coords
        finally:
            self._updating = False

    def _create_highlight(self, layer: Points) -> Points:
        size = float(np.median(layer.size)) if len(layer.size) else 3.0
        hl = HighlightPoints(
            np.zeros((0, layer.ndim)),
            ndim=layer.ndim,
            name=f"{layer.name} selection",
            size=max(size * 1.8, size + 2.0),
            symbol="o",
            face_color="transparent",
            border_color=to_hex(SELECTION_COLOR),
            border_width=0.25,
            border_width_is_relative=True,
            scale=layer.scale,
            translate=layer.translate,
            units=tuple(layer.units),
            rotate=layer.rotate,
            shear=layer.shear,
            affine=layer.affine,
            metadata={HIGHLIGHT_KEY: layer.name},
            blending="translucent_no_depth",
        )
        active = self.viewer.layers.selection.active
        selection = set(self.viewer.layers.selection)
        self._highlight = hl
        self._highlights[id(hl)] = layer
        self.viewer.layers.append(hl)
        # keep the user's layer selection: the highlight layer is not for editing
        self.viewer.layers.selection.clear()
        self.viewer.layers.selection.update(selection)
        if active is not None:
            self.viewer.layers.selection.active = active
        hl.editable = False
        return hl

    def _find_highlight(self, layer: Points) -> Points | None:
        for lay in self.viewer.layers:
            if isinstance(lay, Points) and self._highlights.get(id(lay)) is layer:
                return lay
        return None

    def _remove_orphan_highlights(self):
        for lay in list(self.viewer.layers):
            src = self._highlights.get(id(lay))
            if src is not None and src not in self.viewer.layers:
                self._highlights.pop(id(lay), None)
                self.viewer.layers.remove(lay)
