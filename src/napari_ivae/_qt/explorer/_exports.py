"""The explorer's exports: points CSV, the labeled wall mask (layer and TIFF).

One-line calls into :class:`napari_ivae.labels.LabelSet`: every point with all
its features (latents included), labelled or not, with ``y_nm, x_nm`` beside
``y, x`` when the image is calibrated; the wall mask (a Labels layer from
Detect) painted with the class index of the nearest wall point of the same
frame, the first class being 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.layers import Labels
from qtpy.QtWidgets import QFileDialog

from napari_ivae._errors import IvaeError
from napari_ivae._qt._layers import show_labels
from napari_ivae.labels import write_points_csv

__all__ = ["ExportsMixin"]


class ExportsMixin:
    """Exports of :class:`~napari_ivae._qt.explorer.ExplorerWidget`.

    Uses the widget's ``viewer``, ``status``, ``mask_combo``, ``_layer``,
    ``_labelset``, ``_classes``, ``_guard`` and ``_source_image``; owns
    ``_mask_layers`` (the Labels layers offered as wall masks).
    """

    def _export_points_dialog(self):
        path, _ = QFileDialog.getSaveFileName(
            self, "Export points with their latents and labels", "points.csv", "CSV (*.csv)"
        )
        if path:
            self._guard("Export points", self.export_points, path)

    def _export_mask_dialog(self):
        path, _ = QFileDialog.getSaveFileName(
            self, "Export labeled wall mask", "labeled_walls.tif", "TIFF (*.tif *.tiff)"
        )
        if path:
            self._guard("Export wall mask", self.export_label_mask, path)

    def _pixel_size_nm(self):
        """Pixel size (y, x) in nm of the points' image, or None when uncalibrated."""
        from napari_ivae.io import pixel_size_nm

        image = self._source_image()
        if image is not None:
            size = pixel_size_nm(image)
            if size is not None:
                return size
        layer = image if image is not None else self._layer
        try:  # a layer with length units (napari/pint): its scale in nm
            nm = [float((1.0 * u).to("nm").magnitude) for u in tuple(layer.units)[-2:]]
        except Exception:  # dimensionless pixels, or no length unit
            return None
        return tuple(float(s) * f for s, f in zip(tuple(layer.scale)[-2:], nm))

    def points_export_table(self):
        """Every point with all its features (latents included), labelled or not.

        Columns: ``point`` (row), the features (``y, x`` in image pixels; added
        from the layer's positions when missing), ``y_nm, x_nm`` beside them when
        the image is calibrated, and ``label`` (``""`` = unlabelled); see
        :meth:`napari_ivae.labels.LabelSet.points_table`.
        """
        from napari_ivae._qt._common import points_table

        labels = self._labelset()
        feats = self._layer.features
        positions = None
        if not {"y", "x"} <= {str(c) for c in feats.columns}:
            positions = points_table(self._layer, self._source_image())
        return labels.points_table(feats, positions=positions, pixel_size_nm=self._pixel_size_nm())

    def export_points(self, path) -> Path:
        """Write every point with all its features, labelled or not, as CSV.

        See :meth:`points_export_table` for the columns.
        """
        df = self.points_export_table()
        if df.empty:
            raise IvaeError(f"layer {self._layer.name!r} has no points to export")
        out = write_points_csv(path, df)
        n_lab = int((df["label"] != "").sum())
        self.status.set_message(
            f"Wrote {len(df):,} points ({n_lab:,} labelled, {df.shape[1]} columns) to {out.name}"
        )
        return out

    def _refresh_masks(self):
        current = self.mask_combo.currentText()
        labels = [lay for lay in self.viewer.layers if isinstance(lay, Labels)]
        self._mask_layers = labels
        self.mask_combo.blockSignals(True)
        self.mask_combo.clear()
        for lay in labels:
            self.mask_combo.addItem(lay.name)
        names = [lay.name for lay in labels]
        if current in names:
            self.mask_combo.setCurrentIndex(names.index(current))
        else:
            guess = [i for i, lay in enumerate(labels) if "wall" in lay.name.lower()]
            if guess:
                self.mask_combo.setCurrentIndex(guess[0])
        self.mask_combo.blockSignals(False)

    def _mask_layer(self, mask_layer=None) -> Labels:
        if isinstance(mask_layer, Labels):
            return mask_layer
        if isinstance(mask_layer, str):
            return self.viewer.layers[mask_layer]
        i = self.mask_combo.currentIndex()
        layers = getattr(self, "_mask_layers", [])
        if 0 <= i < len(layers) and layers[i] in self.viewer.layers:
            return layers[i]
        raise IvaeError(
            "no wall mask: run Detect in walls mode (it makes a Labels layer) or choose one"
        )

    def _wall_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) positions ``y, x`` in pixels and (N,) frames of the explored points."""
        df = self._layer.features
        data = np.asarray(self._layer.data, dtype=float)
        yx = df[["y", "x"]].to_numpy(float) if {"y", "x"} <= set(df.columns) else data[:, -2:]
        if "frame" in df:
            frame = df["frame"].to_numpy(dtype=float, na_value=np.nan)
        elif data.shape[1] >= 3:
            frame = np.rint(data[:, -3])
        else:
            frame = np.zeros(len(yx))
        return yx, frame

    def label_mask(self, mask_layer=None) -> np.ndarray:
        """The wall mask painted with class indices.

        Every wall pixel (mask > 0) gets the class index (1, 2, ... in the order
        of :attr:`classes`) of the nearest wall point of the same frame; pixels
        whose nearest point is unlabeled, and non-wall pixels, are 0.
        """
        labels = self._labelset()
        mask = np.asarray(self._mask_layer(mask_layer).data)
        return labels.label_mask(mask, *self._wall_points())

    def export_label_mask(self, path, mask_layer=None) -> Path:
        """Write :meth:`label_mask` as a TIFF (0 = unlabeled / no wall, k = k-th class)."""
        labels = self._labelset()
        mask = np.asarray(self._mask_layer(mask_layer).data)
        out = labels.save_mask(path, mask, *self._wall_points())
        self.status.setText(f"Wrote the labeled wall mask to {out.name}")
        return out

    def show_label_mask(self, mask_layer=None) -> Labels:
        """Add (or update) a Labels layer with :meth:`label_mask`, in the class colours."""
        lab = self.label_mask(mask_layer)
        colors = dict(enumerate(self._classes().values(), start=1))
        name = f"{self._layer.name} labeled walls"
        return show_labels(
            self.viewer, lab, name=name, colors=colors, like=self._mask_layer(mask_layer)
        )
