"""Crop dock widget: points + image channel(s) → a stack of sub-images.

A thin adapter over :func:`napari_ivae.crop.crop`.  The resulting
:class:`~napari_ivae.crop.Stack` is kept in ``points_layer.metadata["ivae_stack"]``
for the Train and Explorer widgets, and shown as an image-stack "gallery" layer.
"""

from __future__ import annotations

from typing import Any

import napari.viewer
from napari.layers import Image, Points
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_ivae._qt._common import (
    GALLERY_KEY,
    STACK_KEY,
    LayerChecklist,
    LayerCombo,
    bus,
    image_array,
    is_data_points,
    is_source_image,
    notify_errors,
    points_table,
)

__all__ = ["CropWidget"]


class CropWidget(QWidget):
    """Cut a square window around every point of a Points layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer this dock widget belongs to.

    Notes
    -----
    ``run()`` crops synchronously (cropping is a strided copy: fast) and returns
    the Stack; ``stack_ready`` is emitted with the points layer and the Stack.
    """

    stack_ready = Signal(object, object)

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        viewer = self.viewer = napari_viewer
        self.stack = None

        self.points_combo = LayerCombo(viewer, Points, accept=is_data_points)
        self.points_combo.setToolTip("Points (atoms or wall points) to crop around.")
        self.images_list = LayerChecklist(viewer, Image, accept=is_source_image)
        self.images_list.setToolTip(
            "Image layer(s) to crop; each checked layer becomes one channel "
            "(e.g. amplitude + phase), in list order."
        )
        self.window = QSpinBox()
        self.window.setRange(4, 512)
        self.window.setValue(32)
        self.window.setSingleStep(2)
        self.window.setSuffix(" px")
        self.window.setToolTip(
            "Side of the square sub-image in pixels; about 2–3 atom spacings, "
            "or 8–16 wall points along a wall."
        )
        self.border = QComboBox()
        self.border.addItems(["drop", "reflect", "edge", "constant"])
        self.border.setToolTip(
            "Points whose window crosses the image edge: drop them, or pad the image "
            "(reflect / edge / constant zeros)."
        )
        self.normalize = QComboBox()
        self.normalize.addItems(["zscore", "minmax", "none"])
        self.normalize.setToolTip(
            "zscore: per channel over the whole stack (mean 0, sd 1) — keeps relative contrast.\n"
            "minmax: each sub-image to [0, 1].\nnone: raw values."
        )
        self.run_button = QPushButton("Crop")
        self.run_button.setToolTip(
            "Cut the sub-images; they are shown as a gallery and kept for training."
        )
        self.run_button.clicked.connect(self.run)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Points", self.points_combo)
        form.addRow("Channels", self.images_list)
        form.addRow("Window", self.window)
        form.addRow("Border", self.border)
        form.addRow("Normalize", self.normalize)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._prefer_source_image()
        self.points_combo.layer_changed.connect(self._prefer_source_image)

    def _prefer_source_image(self, *_args: Any) -> None:
        """Check the image the points were detected on (same name prefix), if any."""
        points = self.points_combo.value
        if points is None:
            return
        base = points.name.rsplit(" ", 1)[0]
        if base in self.viewer.layers and isinstance(self.viewer.layers[base], Image):
            if self.viewer.layers[base] not in self.images_list.value:
                self.images_list.value = [self.viewer.layers[base]]

    def run(self) -> Any:
        """Crop with the current settings; returns the Stack (or None on a user mistake)."""
        with notify_errors("Crop"):
            return self._crop()
        return None

    def _crop(self) -> Any:
        from napari_ivae.crop import crop

        points = self.points_combo.value
        layers = self.images_list.value
        if points is None:
            raise ValueError("no points layer chosen; run Detect first or add a points layer")
        if not layers:
            raise ValueError("no image channel checked; tick at least one image layer")
        if len(points.data) == 0:
            raise ValueError(f"points layer {points.name!r} has no points")
        arrays = [image_array(layer, "image") for layer in layers]
        table = points_table(points, layers[0])
        stack = crop(
            arrays if len(arrays) > 1 else arrays[0],
            table,
            window=int(self.window.value()),
            border=self.border.currentText(),
            normalize=self.normalize.currentText(),
            channels=tuple(layer.name for layer in layers),
        )
        n_in, n_kept = len(table), len(stack.index)
        if n_kept == 0:
            raise ValueError(
                f"all {n_in} points are within {self.window.value() // 2} px of the image edge; "
                "use a smaller window or border='reflect'"
            )
        points.metadata[STACK_KEY] = stack
        self.stack = stack
        self._show_gallery(points, stack, layers[0])
        dropped = n_in - n_kept
        w = stack.images.shape[-1]
        text = (
            f"Kept {n_kept:,} of {n_in:,} points ({w}×{w} px, {stack.images.shape[1]} channel(s))"
        )
        text += f"; {dropped:,} dropped at the border." if dropped else "."
        self.status.setText(text)
        self.stack_ready.emit(points, stack)
        bus().stack_changed.emit(points)
        return stack

    def _show_gallery(self, points: Points, stack: Any, image: Image) -> Any:
        """Show the first channel of the crops as an (N, w, w) stack below the image.

        The crops are drawn enlarged (about a third of the image height) so that a
        single crop is readable; the slider of the first axis pages through them.
        """
        name = f"{points.name} gallery"
        data = stack.images[:, 0]  # a view: no copy, even for 10⁵ crops
        meta = {GALLERY_KEY: points.name, "channels": tuple(stack.channels)}
        shape = image.data[0].shape if image.multiscale else image.data.shape
        height, w = shape[-2], data.shape[-1]
        sy, sx = (float(v) for v in image.scale[-2:])
        ty, tx = (float(v) for v in image.translate[-2:])
        zoom = max(1.0, height / 3.0 / w)
        half = (zoom - 1.0) / 2.0  # napari centres pixels on the grid: align the edges
        place = dict(
            scale=(1.0, sy * zoom, sx * zoom),
            translate=(0.0, ty + (height + 4 + half) * sy, tx + half * sx),
        )
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        layer = self.viewer.add_image(data, name=name, colormap="gray", metadata=meta, **place)
        self.viewer.dims.set_current_step(0, 0)
        self.viewer.layers.selection.active = points  # keep working on the points
        return layer
