"""Crop dock widget: points + image channel(s) → a stack of sub-images.

A thin adapter over :func:`napari_ivae.crop.crop`.  The resulting
:class:`~napari_ivae.crop.Stack` is kept in the points layer's record
(``get_record(points).stack``, :mod:`napari_ivae.record`) for the Train and
Explorer widgets, and shown as a "gallery" layer: a montage
of up to 8×8 crops, channels side by side (:func:`napari_ivae.gallery.montage`;
the explorer shows the selected crops there).  The channels are preselected by
role: amplitude + phase for wall points, never height or frequency.
"""

from __future__ import annotations

from typing import Any

import napari.viewer
from napari.layers import Image, Points
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QFormLayout,
    QPushButton,
    QWidget,
)

from napari_ivae._qt._common import (
    GALLERY_KEY,
    LayerChecklist,
    LayerCombo,
    StatusLabel,
    bus,
    image_array,
    is_data_points,
    is_source_image,
    notify_errors,
    points_table,
    scroll_layout,
)
from napari_ivae._qt._forms import ConfigForm, Hint
from napari_ivae.record import get_record

__all__ = ["CropWidget", "show_gallery"]

#: The usual options of :func:`napari_ivae.crop.crop`; the others are under "Advanced".
CROP_FIELDS = ("window", "border", "normalize")
_NORMALIZE_TIP = (
    "auto: local for intensity images (STEM), zscore for PFM channels.\n"
    "local: each pixel against its neighbourhood (background median and spread of\n"
    "  a few windows around it): contamination, thickness and scan-region contrast\n"
    "  go, a dopant stays brighter than its host.\n"
    "background: the slowly varying background removed, then zscore.\n"
    "zscore: per channel over the whole stack (mean 0, sd 1) — keeps relative contrast.\n"
    "minmax: each sub-image to [0, 1].\nnone: raw values."
)

_PHASE_TIP = (
    "How the phase channel is cropped.\n"
    "domain: as a phase: its domain field (offset, drift, scan-line offsets and wrapping\n"
    "  removed; +1/-1 in the two domains, the same polarity in every frame).\n"
    "raw: its values.\nauto: domain for a time-delay stack, raw otherwise."
)


def _crop_form() -> ConfigForm:
    """The form of :func:`~napari_ivae.crop.crop`'s options ("auto" normalisation added)."""
    import typing

    from napari_ivae.crop import Normalize, crop

    first = ("auto", "local", "background")  # the likely choices first, then the core's others
    normalize = (*first, *(m for m in typing.get_args(Normalize) if m not in first))
    hints = {
        "window": Hint(
            min=4, max=512, step=2, suffix=" px",
            tooltip="Side of the square sub-image in pixels; about 2–3 atom spacings, "
            "or 8–16 wall points along a wall.",
        ),
        "border": Hint(
            tooltip="Points whose window crosses the image edge: drop them, or pad the image "
            "(reflect / edge / constant zeros).",
        ),
        "normalize": Hint(choices=normalize, tooltip=_NORMALIZE_TIP),
        "neighborhood": Hint(suffix=" px", min=3, max=4096, unset=96),
        "time_delay": Hint(
            min=-99, max=99, unset=1, suffix=" frames",
            tooltip="Time-delay stack of a series: each point of frame t gets [frame t, "
            "frame t+K] of every channel (K < 0: the reverse direction); points without "
            "frame t+K are dropped and counted.  A pinned wall is the same in both frames.",
        ),
        "phase": Hint(choices=("auto", "raw", "domain"), tooltip=_PHASE_TIP),
    }  # fmt: skip
    return ConfigForm.for_function(
        crop,
        exclude=("images", "points", "channels", "phase_channels"),
        defaults={"window": 32, "normalize": "auto", "phase": "auto"},
        hints=hints,
    )


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
        self.images_list = LayerChecklist(
            viewer, Image, accept=is_source_image, default=self._default_channels
        )
        self.images_list.setToolTip(
            "Image layer(s) to crop; each checked layer becomes one channel "
            "(e.g. amplitude + phase), in list order."
        )
        self.form = _crop_form()
        self.window, self.border, self.normalize = (self.form[n].native for n in CROP_FIELDS)
        self.run_button = QPushButton("Crop")
        self.run_button.setToolTip(
            "Cut the sub-images; they are shown as a gallery and kept for training."
        )
        self.run_button.clicked.connect(self.run)
        self.status = StatusLabel()

        form = QFormLayout()
        form.addRow("Points", self.points_combo)
        form.addRow("Channels", self.images_list)
        self.form.add_rows(form, CROP_FIELDS)
        layout = scroll_layout(self)
        layout.addLayout(form)
        layout.addWidget(self.form.section("Advanced", besides=CROP_FIELDS))
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.images_list.refresh()
        self.points_combo.layer_changed.connect(lambda _layer: self.images_list.refresh())

    def _source_image(self, points: Points | None) -> Image | None:
        """The image the points were detected in (Detect's metadata, else the name prefix)."""
        if points is None:
            return None
        record = get_record(points, create=False)
        name = None if record is None else record.image
        if name is None:
            name = points.name.rsplit(" ", 1)[0]
            if name.endswith((" atoms", " walls")):  # "<image> walls preview"
                name = name.rsplit(" ", 1)[0]
        layer = self.viewer.layers[name] if name in self.viewer.layers else None
        return layer if isinstance(layer, Image) else None

    def _default_channels(self, layers: list[Image]) -> list[Image]:
        """Channels checked until the user chooses: by role, for the chosen points.

        Wall points (and, before any detection, a PFM file): amplitude + phase of
        the points' file; atoms: the image they were found in; otherwise the
        first channel that is not height, frequency or deflection.
        """
        from napari_ivae.io import default_channels, is_auxiliary, role_of

        points = self.points_combo.value if hasattr(self, "points_combo") else None
        source = self._source_image(points)
        record = None if points is None else get_record(points, create=False)
        walls = points is not None and (
            (record is not None and record.task == "walls")
            or "orientation" in points.features.columns
            or points.name.endswith(" walls")
        )
        if points is None or walls:
            same = layers
            origin = None if source is None else source.metadata.get("source")
            if origin:
                same = [ly for ly in layers if ly.metadata.get("source") == origin]
            picked = default_channels(list(reversed(same)), "crop")  # top of the list first
            if source is not None and role_of(source) in ("phase", "amplitude"):
                picked = [source if role_of(ly) == role_of(source) else ly for ly in picked]
            if picked:
                return picked
        if source is not None and source in layers:
            return [source]
        roles = [role_of(ly) for ly in layers]
        main = [ly for ly in reversed(layers) if not is_auxiliary(ly, roles)]
        return main[:1] or layers[:1]

    def run(self) -> Any:
        """Crop with the current settings; returns the Stack (or None on a user mistake)."""
        self.status.clear_error()
        with notify_errors("Crop", self.status):
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
        options = self.form.values()
        normalize = options.pop("normalize")
        if normalize == "auto":
            from napari_ivae.crop import default_normalize
            from napari_ivae.io import role_of

            normalize = default_normalize([role_of(layer) for layer in layers])
        phase, phase_channels = _phase_choice(options.pop("phase"), options, layers)
        stack = crop(
            arrays if len(arrays) > 1 else arrays[0],
            table,
            normalize=normalize,
            channels=tuple(layer.name for layer in layers),
            phase=phase,
            phase_channels=phase_channels,
            **options,
        )
        n_in, n_kept = len(table), len(stack.index)
        if n_kept == 0:
            raise ValueError(
                f"all {n_in} points are within {self.window.value() // 2} px of the image edge; "
                "use a smaller window or border='reflect'"
            )
        get_record(points).stack = stack
        self.stack = stack
        self._show_gallery(points, stack, layers[0])
        dropped = n_in - n_kept - stack.unpaired
        w = stack.images.shape[-1]
        text = (
            f"Kept {n_kept:,} of {n_in:,} points ({w}×{w} px, {stack.images.shape[1]} channel(s),"
            f" normalize {normalize}{', phase as domains' if phase == 'domain' else ''})"
        )
        if stack.time_delay is not None:
            text += f"; {stack.unpaired:,} without frame t{stack.time_delay:+d}"
        text += f"; {dropped:,} dropped at the border." if dropped else "."
        self.status.setText(text)
        self.stack_ready.emit(points, stack)
        bus().stack_changed.emit(points)
        return stack

    def _show_gallery(self, points: Points, stack: Any, image: Image) -> Any:
        """Show a montage of the first crops below the image (see :func:`show_gallery`)."""
        layer = show_gallery(self.viewer, points, stack, image=image)
        self.viewer.layers.selection.active = points  # keep working on the points
        return layer


def _phase_choice(choice: str, options: dict, layers: list) -> tuple[str, list[int] | None]:
    """``phase`` and ``phase_channels`` for crop: the checked layers of role phase."""
    from napari_ivae.io import role_of

    phases = [i for i, layer in enumerate(layers) if role_of(layer) == "phase"]
    if choice == "auto":
        choice = "domain" if options.get("time_delay") is not None and phases else "raw"
    return choice, (phases or None) if choice == "domain" else None


def show_gallery(
    viewer: Any, points: Points, stack: Any, rows: Any = None, *, image: Image | None = None
) -> Any:
    """Add or update the gallery of ``points``: a montage of crops under the image.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer.
    points : Points
        The points layer the crops belong to (the gallery is ``"<name> gallery"``).
    stack : Stack
        Its sub-images.
    rows : array of int, optional
        Stack rows to show (up to 64, e.g. the explorer's selection); default
        the first 64, spread over the stack.
    image : Image, optional
        The image the crops were cut from: the gallery is placed below it, at a
        zoom that makes it three quarters as wide as the image.  When the gallery exists
        already, it keeps its place.

    Returns
    -------
    Image
        The gallery layer: 2-D, so it adds no slider to the viewer.
    """
    import numpy as np

    from napari_ivae.gallery import montage

    name = f"{points.name} gallery"
    n = len(stack.images)
    if rows is None:
        rows = np.unique(np.linspace(0, n - 1, min(n, 64)).round().astype(int)) if n else []
    rows = np.asarray(rows, dtype=int)[:64]
    data = montage(stack.images[rows]) if rows.size else np.full((1, 1), np.nan, np.float32)
    meta = {GALLERY_KEY: points.name, "channels": tuple(stack.channels), "rows": rows}
    place = _gallery_place(image, data.shape) if image is not None else {}
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        layer.metadata.update(meta)
        layer.contrast_limits = (0.0, 1.0)
        if place:  # a new crop (maybe another window): place it again
            layer.scale, layer.translate = place["scale"], place["translate"]
        return layer
    return viewer.add_image(
        data, name=name, colormap="gray", contrast_limits=(0.0, 1.0), metadata=meta, **place
    )


def _gallery_place(image: Image, shape: tuple[int, ...]) -> dict:
    """Scale, translate and units that put a montage of ``shape`` below ``image``."""
    size = image.data[0].shape if image.multiscale else image.data.shape
    height, width = size[-2], size[-1]
    sy, sx = (float(v) for v in image.scale[-2:])
    ty, tx = (float(v) for v in image.translate[-2:])
    zoom = 0.75 * width / max(shape[1], 1)  # three quarters of the image's width
    half = (zoom - 1.0) / 2.0  # napari centres pixels on the grid: align the edges
    return dict(
        scale=(sy * zoom, sx * zoom),
        translate=(ty + (height + 4 + half) * sy, tx + half * sx),
        units=tuple(image.units)[-2:],
    )
