"""The Detect dock's "Rings (graphene)" box: ring statistics of an atoms layer.

A thin adapter over :func:`napari_ivae.rings.find_rings` /
:func:`~napari_ivae.rings.ring_table`, run in a napari ``thread_worker``:

* the atoms layer's ``features`` get ``ring_sizes``, ``ring_count``,
  ``ring_label`` and ``border`` (the explorer colours by any of them);
* the rings are drawn as one Shapes layer of polygons, face-coloured by ring
  size (:data:`RING_COLORS`; the legend is in the box and the layer name);
* "Use ring_label as labels" writes the labels the explorer and Train use
  (:class:`napari_ivae.labels.LabelSet` → the ``label`` column and the
  layer's record): one class per ring pattern, border atoms unlabelled.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Points
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from napari_ivae._errors import IvaeError
from napari_ivae._qt._common import (
    StatusLabel,
    guarded,
    is_data_points,
    notify_errors,
    points_table,
    report,
    set_features,
    show_warning,
)
from napari_ivae._qt._layers import LayerCombo
from napari_ivae._qt._workers import JobWorkerMixin
from napari_ivae.record import get_record

__all__ = ["RING_CLASS_NAMES", "RING_COLORS", "RingsBox", "ring_label_names", "ring_size_colors"]

#: face colour (RGBA) of a ring by its size; any other size: "other"
RING_COLORS: dict[int | str, tuple[float, float, float, float]] = {
    5: (1.0, 0.2, 0.15, 0.65),  # red
    6: (0.8, 0.8, 0.8, 0.3),  # light grey: the pristine lattice stays quiet
    7: (0.15, 0.45, 1.0, 0.65),  # blue
    "other": (0.9, 0.2, 0.9, 0.7),  # magenta (not the atoms' yellow)
}
LEGEND = "5 red · 6 grey · 7 blue · other magenta"

#: class name of every ring label (0–7) when used as explorer labels
RING_CLASS_NAMES: dict[int, str] = {
    0: "0 (<2 rings)",
    1: "1 (6,6)",
    2: "2 (5,6)",
    3: "3 (6,6,7)",
    4: "4 (6,6,6)",
    5: "5 (5,6,7)",
    6: "6 (5,6,6)",
    7: "7 (other)",
}
_COLUMNS = ["ring_sizes", "ring_count", "ring_label", "border"]


def ring_size_colors(sizes: np.ndarray) -> np.ndarray:
    """(R, 4) RGBA face colour of every ring from its size (:data:`RING_COLORS`)."""
    sizes = np.asarray(sizes)
    out = np.tile(np.asarray(RING_COLORS["other"]), (len(sizes), 1))
    for k in (5, 6, 7):
        out[sizes == k] = RING_COLORS[k]
    return out


def ring_label_names(table: Any) -> np.ndarray:
    """(N,) explorer label of every atom: its ring class name, ``""`` on the border."""
    names = np.array([RING_CLASS_NAMES[int(k)] for k in table["ring_label"]], dtype=object)
    names[np.asarray(table["border"], bool)] = ""
    return names


def _compute(yx: np.ndarray, shape: tuple | None, max_ring: int) -> tuple:
    """Worker body: rings and the per-atom table."""
    from napari_ivae.rings import find_rings, ring_table

    return (rings := find_rings(yx, max_ring=max_ring, shape=shape)), ring_table(len(yx), rings)


class RingsBox(JobWorkerMixin, QGroupBox):
    """Find the rings of an atoms Points layer; draw them; use their labels.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer.

    Notes
    -----
    ``run()`` returns the worker (``start_thread = False``: not started, for
    tests); ``rings_finished`` is emitted with the Shapes layer, or None.
    """

    rings_finished = Signal(object)

    def __init__(self, viewer: Any) -> None:
        super().__init__("Rings (graphene)")
        self.viewer = viewer
        self.worker = None
        self.start_thread = True
        self._running = False
        self._job: dict = {}
        self.points_combo = LayerCombo(viewer, Points, accept=is_data_points)
        self.points_combo.setToolTip("Atoms layer (from Detect, or any points) to find rings in.")
        self.max_ring = QSpinBox()
        self.max_ring.setRange(3, 30)
        self.max_ring.setValue(9)
        self.max_ring.setSuffix(" atoms")
        self.max_ring.setToolTip("Largest ring; larger openings (missing atoms) are holes.")
        self.run_button = QPushButton("Find rings")
        self.run_button.setToolTip(
            "Bond the atoms, find the rings and give every atom ring_sizes, ring_count,\n"
            "ring_label (0–7) and border; the rings appear as a Shapes layer."
        )
        self.run_button.clicked.connect(lambda: self.run())
        self.labels_button = QPushButton("Use ring_label as labels")
        self.labels_button.setToolTip(
            "Put ring_label into the explorer's label column (one class per ring pattern);\n"
            "border atoms stay unlabelled.  Replaces the layer's labels."
        )
        self.labels_button.clicked.connect(lambda: self.use_as_labels())
        legend = QLabel(" ".join(_swatch(k) for k in RING_COLORS))
        legend.setToolTip("Face colour of the rings by size (atoms per ring).")
        self.status = StatusLabel()
        outer = QVBoxLayout(self)  # the status under the form: it wraps to its full height
        form = QFormLayout()
        form.addRow("Atoms", self.points_combo)
        form.addRow("Largest ring", self.max_ring)
        row = QHBoxLayout()
        row.addWidget(self.run_button, 1)
        row.addWidget(self.labels_button, 1)
        form.addRow(row)
        form.addRow("Colours", legend)
        outer.addLayout(form)
        outer.addWidget(self.status)

    # ------------------------------------------------------------------ rings
    def _inputs(self) -> tuple[Points, Image | None, Any]:
        points = self.points_combo.value
        if points is None:
            raise IvaeError("points: choose an atoms layer (run Detect first)")
        ref = get_record(points, create=False)
        name = None if ref is None else ref.image
        image = self.viewer.layers[name] if name in self.viewer.layers else None
        image = image if isinstance(image, Image) else None
        table = points_table(points, image)
        if table["frame"].nunique() > 1:
            raise IvaeError(
                f"points: rings need the atoms of one frame; layer {points.name!r} has "
                f"{table['frame'].nunique()} frames"
            )
        return points, image, table

    def run(self) -> Any:
        """Find the rings of the chosen atoms layer in a worker; returns it (or None)."""
        if self._running:
            show_warning("Rings: rings are being found already; wait for them.")
            return None
        self.status.clear_error()
        with notify_errors("Rings", self.status):
            points, image, table = self._inputs()
            shape = None
            if image is not None:
                data = image.data[0] if image.multiscale else image.data
                shape = tuple(int(s) for s in data.shape[-2:])
            yx = table[["y", "x"]].to_numpy(dtype=float)
            return self._start(points, yx, shape)
        return None

    def _start(self, points: Points, yx: np.ndarray, shape: tuple | None) -> Any:
        max_ring = int(self.max_ring.value())
        return self._launch(
            {"points": points, "yx": yx},
            lambda _stop: guarded(_compute, yx, shape, max_ring),
            f"Finding the rings of {len(yx):,} atoms in {points.name!r} …",
        )

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.setEnabled(not running)

    def _on_result(self, job: dict, outcome: Any, _elapsed: float) -> None:
        points, yx = job["points"], job["yx"]
        if report(outcome, "Rings", self.status):
            self.rings_finished.emit(None)
            return
        with notify_errors("Rings", self.status):
            rings, table = outcome.value
            if len(points.data) != len(yx):
                raise IvaeError(f"points: layer {points.name!r} changed while rings were found")
            if not rings.rings:
                raise IvaeError(
                    f"points: no rings of at most {self.max_ring.value()} atoms among the "
                    f"{len(yx):,} atoms of {points.name!r}, so nothing was added"
                )
            features = points.features.drop(columns=_COLUMNS, errors="ignore")
            set_features(points, pd.concat([features.reset_index(drop=True), table], axis=1))
            layer = self._show(points, yx, rings)
            counts = {k: int((rings.sizes == k).sum()) for k in (5, 6, 7)}
            other = len(rings.sizes) - sum(counts.values())
            self.status.setText(
                f"{len(rings.rings):,} rings: {counts[5]} × 5, {counts[6]:,} × 6, {counts[7]} × 7, "
                f"{other} other ({time.perf_counter() - job['t0']:.1f} s); "
                f"{int(table['border'].sum()):,} border atoms. Colour by ring_label in the explorer."
            )
            self.rings_finished.emit(layer)
            return
        self.rings_finished.emit(None)

    def _show(self, points: Points, yx: np.ndarray, rings: Any) -> Any:
        """One Shapes layer of the rings (polygons in the atoms' coordinates)."""
        from napari.layers import Shapes

        name = f"{points.name} rings ({LEGEND})"
        polygons = [yx[ring] for ring in rings.rings]
        kwargs = dict(
            name=name,
            shape_type="polygon",
            face_color=ring_size_colors(rings.sizes),
            edge_width=0,
            features={"size": np.asarray(rings.sizes, np.int64)},
            scale=tuple(points.scale)[-2:],
            translate=tuple(points.translate)[-2:],
            units=tuple(points.units)[-2:],
        )
        layer = Shapes(polygons, **kwargs)
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        below = self.viewer.layers.index(points)  # under the atoms: they stay clickable
        self.viewer.layers.insert(below, layer)
        self.viewer.layers.selection.active = points
        return layer

    # ------------------------------------------------------------------ labels
    def use_as_labels(self) -> Any:
        """Write ``ring_label`` as the explorer's labels of the chosen layer (border: none)."""
        with notify_errors("Rings", self.status):
            return self._use_as_labels()
        return None

    def _use_as_labels(self) -> Any:
        from napari_ivae.labels import LabelSet

        points = self.points_combo.value
        if points is None:
            raise IvaeError("points: choose an atoms layer (run Detect first)")
        features = points.features
        if "ring_label" not in features.columns or len(features) != len(points.data):
            raise IvaeError(
                f"points: layer {points.name!r} has no ring_label; run Find rings first"
            )
        names = ring_label_names(features)
        present = sorted({int(k) for k, n in zip(features["ring_label"], names) if n})
        labels = LabelSet(
            len(names), {RING_CLASS_NAMES[k]: _class_color(k) for k in present}, names
        )
        record = get_record(points)
        record.classes = labels.classes
        record.labels = labels.labels
        column = labels.column()
        df = features.copy()
        df["label"] = column
        points.features = df
        defaults = points.feature_defaults.copy()
        defaults["label"] = pd.Categorical([""], categories=column.categories)
        with contextlib.suppress(Exception):  # as the explorer does: defaults are a nicety
            points.feature_defaults = defaults
        self.status.setText(
            f"{labels.n_labeled:,} atoms labelled in {len(present)} ring classes; "
            f"{len(names) - labels.n_labeled:,} border atoms unlabelled."
        )
        return labels


def _class_color(k: int) -> str:
    """A stable colour per ring label (the categorical palette, by label)."""
    from napari_ivae.colors import categorical_colors, to_hex

    return to_hex(categorical_colors(8)[k])


def _swatch(key: int | str) -> str:
    r, g, b, _a = (int(255 * c) for c in RING_COLORS[key])
    return f"<span style='color:#{r:02x}{g:02x}{b:02x}'>■</span> {key}"
