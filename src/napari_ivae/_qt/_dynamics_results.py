"""How the Dynamics dock shows a result: wall-motion mask, wall points, registered frames.

:func:`prepare` runs in the worker thread (NumPy only): it turns a
:class:`~napari_ivae.dynamics.series.SeriesResult` into the arrays the layers
need.  :class:`DynamicsResultsMixin` adds them to the viewer in the GUI thread,
all at once after the computation succeeded (nothing is added on an error or
a cancel).

The wall mask is a Labels layer in three colours: walls that move before the
next frame (:data:`MOVED`), pinned walls (:data:`PINNED`, within
:data:`~napari_ivae.dynamics.PIN_TOLERANCE` px of a wall of the next frame) and
walls with nothing to compare with (:data:`NO_NEXT`: the last frame, or outside
the next frame's trusted area); a dark veil (:data:`LEFT_OUT`) covers the pixels
no metric looked at (outside the registration overlap, tip-change scan lines,
outside the area common to all frames).  The results are in
the coordinates of frame 0 of the registered series: when registration moved a
frame by half a pixel or more, the registered phase (and amplitude) are added
as layers and the walls sit on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image

from napari_ivae._qt._common import add_points_table
from napari_ivae._qt._layers import show_labels
from napari_ivae.record import get_record

__all__ = [
    "LEFT_OUT",
    "MOVED",
    "NO_NEXT",
    "PINNED",
    "REGISTERED_KEY",
    "DynamicsResultsMixin",
    "mask_legend",
    "prepare",
    "summary",
]

#: Label values of the wall-motion mask.
MOVED, PINNED, NO_NEXT, LEFT_OUT = 1, 2, 3, 4
#: Their colours (amber, blue, grey, a dark veil; :func:`mask_legend` names them).
MASK_COLORS = {MOVED: "#ffb000", PINNED: "#3fa9ff", NO_NEXT: "#b0b0b0", LEFT_OUT: "#20000099"}
#: Registration shifts below this (px) are not worth registered copies of the images.
SHIFT_SHOWN = 0.5
#: Metadata key of a registered copy (value: the name of the layer it was made from).
REGISTERED_KEY = "ivae_registered_of"


def motion_labels(walls: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """(T, Y, X) uint8: :data:`MOVED` / :data:`PINNED` / :data:`NO_NEXT` on wall pixels,
    :data:`LEFT_OUT` on pixels outside ``valid``, else 0."""
    from napari_ivae.dynamics import PIN_TOLERANCE, wall_motion

    walls = np.asarray(walls, dtype=bool)
    out = np.zeros(walls.shape, dtype=np.uint8)
    disp = wall_motion(walls, valid=valid)
    if valid is not None:  # pixels no metric looked at (registration, tip changes, common area)
        out[~np.broadcast_to(np.asarray(valid, dtype=bool), walls.shape)] = LEFT_OUT
    out[walls] = NO_NEXT  # last frame, or no trusted pixel of the next frame there
    with np.errstate(invalid="ignore"):
        out[walls & (disp > PIN_TOLERANCE)] = MOVED
        out[walls & (disp <= PIN_TOLERANCE)] = PINNED
    return out


def prepare(result: Any, job: dict) -> dict:
    """Arrays for the layers of ``result`` (worker thread, no Qt)."""
    from napari_ivae.dynamics import apply_shifts

    rows = getattr(result, "row_shifts", None)  # one shift per scan line, as applied
    shifts = np.asarray(result.shifts if rows is None else rows, dtype=float)
    max_shift = float(np.abs(shifts).max()) if shifts.size else 0.0
    registered = {}
    if max_shift >= SHIFT_SHOWN:  # the walls are in frame 0's coordinates: registered frames
        for role, array in job["arrays"].items():  # nearest for the phase: no blend across wraps
            registered[role] = apply_shifts(array, shifts, order=0 if role == "phase" else 1)
    flagged = result.info.get("artefact_rows") or []
    return {
        "result": result,
        "mask": motion_labels(result.walls, getattr(result, "valid", None)),
        "registered": registered,
        "max_shift": max_shift,
        "flagged": sum(int(b) - int(a) + 1 for runs in flagged for a, b in runs),  # [first, last]
    }


class DynamicsResultsMixin:
    """Adds a series result's layers; uses the widget's ``viewer`` and ``status``."""

    def _show(self, job: dict, shown: dict) -> Any:
        """Add (or update) the layers of a finished computation; returns the points layer."""
        ref = job["layers"]["phase"] or job["layers"]["amplitude"]
        base = self._registered_layers(job, shown["registered"]) or ref
        result = shown["result"]
        mask = self._add_mask(shown["mask"], base, f"{ref.name} wall motion")
        points = result.points
        layer = None
        if len(points):
            layer = add_points_table(
                self.viewer,
                points,
                image_layer=base,
                name=f"{ref.name} wall points (dynamics)",
                face_color="cyan",
            )
            record = get_record(layer)
            record.task, record.image = "walls", base.name
        self.viewer.layers.selection.active = layer if layer is not None else mask
        return layer

    def _registered_layers(self, job: dict, registered: dict) -> Image | None:
        """Add the registered phase / amplitude; returns the one the walls go on (or None)."""
        first = None
        for role in ("phase", "amplitude"):
            if role not in registered:
                continue
            src = job["layers"][role]
            name = f"{src.name} registered"
            if name in self.viewer.layers:
                layer = self.viewer.layers[name]
                layer.data = registered[role]
            else:
                layer = self.viewer.add_image(
                    registered[role],
                    name=name,
                    colormap=src.colormap,
                    scale=tuple(src.scale),
                    translate=tuple(src.translate),
                    units=tuple(src.units),
                    metadata={**src.metadata, REGISTERED_KEY: src.name},
                )
            first = first or layer
        return first

    def _add_mask(self, labels: np.ndarray, base: Image, name: str) -> Any:
        return show_labels(self.viewer, labels, name=name, colors=MASK_COLORS, like=base)


def summary(table: Any, elapsed: float, shown: dict) -> str:
    """The status line after a computation: frames, switching, pinning, registration, artefacts."""
    n = len(table)
    parts = [f"{n} frames in {elapsed:.1f} s"]
    sf = table["switched_fraction"].to_numpy(dtype=float)
    if n and np.isfinite(sf).any():
        parts.append(f"switched fraction {sf[0]:.2f} → {sf[-1]:.2f}")
    pf = table["pinned_fraction"].to_numpy(dtype=float)
    if np.isfinite(pf).any():
        parts.append(f"mean pinned fraction {np.nanmean(pf):.2f}")
    max_shift = shown["max_shift"]
    if shown["registered"]:
        parts.append(f"registered (shifts ≤ {max_shift:.1f} px; walls on '… registered')")
    elif max_shift > 0:
        parts.append(f"registration shifts ≤ {max_shift:.1f} px")
    if shown.get("flagged"):
        parts.append(f"{shown['flagged']} tip-change scan lines left out")
    return "; ".join(parts) + "."


def mask_legend() -> str:
    """Rich text: the colours of the wall-motion mask."""
    names = {
        MOVED: "moves by the next frame",
        PINNED: "pinned (≤ 1.5 px)",
        NO_NEXT: "no next frame",
    }
    swatches = [
        f"<span style='color:{MASK_COLORS[k]}'>■</span>&nbsp;{names[k].replace(' ', '&nbsp;')}"
        for k in names
    ]
    return "Wall mask: " + " &nbsp;".join(swatches) + " &nbsp;dark&nbsp;veil:&nbsp;left&nbsp;out"
