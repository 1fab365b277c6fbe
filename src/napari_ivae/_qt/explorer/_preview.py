"""The explorer's previews: the crop under the cursor, decoding, the latent manifold, the gallery.

* Hovering the scatter shows the sub-image of the point under the cursor
  (the layer record's ``stack``, rows mapped by ``Stack.index``).
* A click in empty latent space decodes the latent vector there with the
  record's ``model`` (both axes must be latents ``z<k>``; the others are 0).
* *Show latent manifold* decodes a grid over the two plotted latents into an
  image layer placed beside the points; a conditional or joint model draws it
  (and decodes clicks) as the class chosen beside the button (each class has
  its own latent space), in a layer ``"<layer> manifold class <label>"``.
* The crop gallery (``"<layer> gallery"``, made by Crop) shows a montage of the
  selected points' crops (up to 8×8, channels side by side).
"""

from __future__ import annotations

import re

import numpy as np
from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import notify_errors
from napari_ivae._qt._scatter import array_to_pixmap
from napari_ivae.record import get_record

__all__ = ["PreviewMixin"]

_Z = re.compile(r"^z(\d+)$")


def _channels_side_by_side(grid: np.ndarray) -> np.ndarray:
    """(C, H, W) → (H, C·W + gaps): channels next to each other, each z-scored on its own."""
    grid = np.asarray(grid, dtype=np.float32)
    if grid.shape[0] == 1:
        return grid[0]
    gap = max(2, grid.shape[-1] // 40)
    parts = []
    for k, ch in enumerate(grid):
        sd = float(np.nanstd(ch)) or 1.0
        parts.append((ch - float(np.nanmean(ch))) / sd)
        if k < len(grid) - 1:
            parts.append(np.full((ch.shape[0], gap), np.nan, dtype=np.float32))
    return np.concatenate(parts, axis=1)


def _tile_channels(img: np.ndarray) -> np.ndarray:
    """(C, h, w) → (h, C*w) side by side, each channel normalised on its own."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 2:
        return img
    parts = []
    for ch in img:
        lo, hi = np.nanpercentile(ch, [1, 99]) if np.isfinite(ch).any() else (0, 1)
        parts.append((ch - lo) / (hi - lo if hi > lo else 1.0))
    return np.concatenate(parts, axis=1)


class PreviewMixin:
    """Hover, decode, manifold and gallery of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``viewer``, ``scatter``, ``status``, ``_layer``, ``_df``,
    ``_xcol``, ``_ycol``, ``_color_col``, ``_selected`` and ``_row_to_entry``
    (row → stack entry, -1 without a crop); owns ``preview``, ``preview_text``,
    ``manifold_button``, ``hover_entry`` and ``last_decoded``.
    """

    def _build_info_row(self, legend: QWidget) -> QWidget:
        """The row under the scatter: preview image | hover text, ``legend``, manifold button."""
        info = QWidget()
        row = QHBoxLayout(info)
        row.setContentsMargins(0, 2, 0, 2)
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(112, 112))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background:#111; border:1px solid #444;")
        self.preview.setToolTip("Sub-image of the point under the cursor, or the decoded image")
        row.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        self.preview_text = QLabel("hover a point")
        self.preview_text.setWordWrap(True)
        col.addWidget(self.preview_text)
        col.addWidget(legend, 1)
        self.manifold_button = QPushButton("Show latent manifold")
        self.manifold_button.setToolTip(
            "Decode a grid over the two latent axes of the scatter and show it as an image layer"
        )
        self.manifold_button.clicked.connect(lambda: self.show_manifold())
        mrow = QHBoxLayout()
        mrow.addWidget(self.manifold_button, 1)
        self.manifold_class_label = QLabel("as class")
        self.manifold_class_combo = QComboBox()
        self.manifold_class_combo.setToolTip(
            "The class the manifold and the decoded clicks are drawn as (conditional and "
            "joint models: each class has its own latent space)"
        )
        for w in (self.manifold_class_label, self.manifold_class_combo):
            w.setVisible(False)
            mrow.addWidget(w)
        col.addLayout(mrow)
        row.addLayout(col, 1)
        return info

    # ------------------------------------------------------------------ hover
    def _on_hover_moved(self, x, y):
        self._hover_pos = (x, y)
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def _do_hover(self):
        if self._hover_pos is not None:
            self.hover_at(*self._hover_pos)

    def hover_at(self, x: float, y: float) -> int | None:
        """Show the sub-image of the point nearest to ``(x, y)``; return its row or None."""
        if self._df is None or self._xcol is None:
            return None
        i = self.scatter.nearest(x, y)
        if i < 0:
            return None
        self._hover_row = i
        entry = -1 if self._row_to_entry is None else int(self._row_to_entry[i])
        text = f"point {i}"
        if self._color_col in self._df:
            v = self._df[self._color_col].iloc[i]
            text += f"<br>{self._color_col} = " + (
                f"{v:.3g}" if isinstance(v, float | np.floating) else str(v)
            )
        stack = self._stack()
        if entry >= 0 and stack is not None:
            img = np.asarray(stack.images[entry])
            self.preview.setPixmap(array_to_pixmap(_tile_channels(img)))
        else:
            self.preview.clear()
            self.preview.setText("no sub-image\n(crop first)")
        self.preview_text.setText(text)
        self.hover_entry = entry
        return i

    # ------------------------------------------------------------------ record
    def _stack(self):
        record = None if self._layer is None else get_record(self._layer, create=False)
        return None if record is None else record.stack

    def _model(self):
        record = None if self._layer is None else get_record(self._layer, create=False)
        return None if record is None else record.model

    def _latent_dims(self) -> tuple[int, int] | None:
        mx, my = _Z.match(self._xcol or ""), _Z.match(self._ycol or "")
        if mx and my:
            return int(mx.group(1)) - 1, int(my.group(1)) - 1
        return None

    # ------------------------------------------------------------------ decode / manifold
    def decode_at(self, x: float, y: float, *, quiet: bool = False) -> np.ndarray | None:
        """Decode the latent vector at scatter position ``(x, y)`` and show it beside the scatter.

        Works when both axes are latent columns ``z<k>`` and the layer holds a
        model; the other latents are 0.  Returns the decoded image (C, H, W).
        """
        model = self._model()
        dims = self._latent_dims()
        if model is None or dims is None:
            if not quiet:
                raise IvaeError(
                    "decoding needs a trained model on the layer and z-columns on both axes"
                )
            return None
        from napari_ivae.analysis import decode

        k = model.config.latent_dim
        if max(dims) >= k:
            raise IvaeError(f"the model has {k} latents; axes {self._xcol}/{self._ycol} are beyond")
        z = np.zeros((1, k), dtype=np.float32)
        z[0, dims[0]], z[0, dims[1]] = x, y
        label = self.manifold_class()
        img = decode(model, z, cls=self._decode_arg(label))[0]
        self.last_decoded = img
        self.preview.setPixmap(array_to_pixmap(_tile_channels(img)))
        self.preview_text.setText(
            f"decoded at<br>{self._xcol}={x:.2f}, {self._ycol}={y:.2f}"
            + ("" if label is None else f"<br>as class {label}")
        )
        self.scatter.set_marker((x, y))
        return img

    def show_manifold(self, *, n: int = 10, cls=None):
        """Add (or update) an image layer with the model's latent manifold over the plotted z axes.

        ``cls``: the class to draw it as (conditional and joint models; default
        the one chosen beside the button).
        """
        with notify_errors("Latent manifold"):
            model = self._model()
            if model is None:
                raise IvaeError("the points layer has no trained model; train one with Train first")
            dims = self._latent_dims() or (0, 1)
            from napari_ivae.analysis import manifold

            cols = [f"z{d + 1}" for d in dims]
            span = 2.0
            if self._df is not None and all(c in self._df for c in cols):
                vals = np.abs(self._df[cols].to_numpy(dtype=float))
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    span = float(np.clip(np.percentile(vals, 98), 0.05, 6.0))
            if cls is not None:
                self.set_manifold_class(cls)
            label = self.manifold_class()
            grid = manifold(model, dims=dims, n=n, span=span, cls=self._decode_arg(label))
            img = _channels_side_by_side(grid)
            self.status.setText(
                f"Manifold: {cols[0]} left→right, {cols[1]} bottom→top, ±{span:.2f}"
                + ("" if label is None else f"; as class {label}")
                + (f"; {grid.shape[0]} channels side by side" if grid.shape[0] > 1 else "")
            )
            what = "-".join(cols) if label is None else f"class {label}"
            return self._show_manifold_image(img, f"{self._layer.name} manifold {what}")

    def _show_manifold_image(self, img: np.ndarray, name: str):
        limits = tuple(float(v) for v in np.nanpercentile(img, [1, 99]))
        if limits[1] <= limits[0]:
            limits = (limits[0], limits[0] + 1.0)
        if name in self.viewer.layers:
            lay = self.viewer.layers[name]
            lay.data = img
            lay.contrast_limits = limits
            lay.visible = True
            return lay
        # place it to the right of the points so that it does not cover the image
        ext = np.asarray(self._layer.extent.world)
        right = float(ext[1, -1]) + 0.05 * float(ext[1, -1] - ext[0, -1])
        return self.viewer.add_image(
            img,
            name=name,
            colormap="gray",
            contrast_limits=limits,
            translate=(float(ext[0, -2]), right),
            scale=self._layer.scale[-2:],
            units=tuple(self._layer.units)[-2:],
        )

    # ------------------------------------------------------------------ gallery
    def update_gallery(self):
        """Show the crops of the selection (up to 8×8) in the layer's gallery.

        The gallery is the montage layer made by Crop (``"<layer> gallery"``);
        with no selection it shows crops spread over the whole stack.  Nothing
        happens when the layer has no crops or its gallery was removed.
        """
        layer = self._layer
        stack = self._stack()
        name = None if layer is None else f"{layer.name} gallery"
        if stack is None or name not in self.viewer.layers or self._row_to_entry is None:
            return None
        from napari_ivae._qt.crop import show_gallery

        rows = None
        if self._selected.size:
            entries = self._row_to_entry[self._selected[self._selected < len(self._row_to_entry)]]
            rows = entries[entries >= 0][:64]
        return show_gallery(self.viewer, layer, stack, rows)
