"""How the Detect widget shows a result: points, wall mask, domains, one status line."""

from __future__ import annotations

from typing import Any

from napari.layers import Image

from napari_ivae._qt._common import add_points_table, show_warning
from napari_ivae.record import get_record

__all__ = ["DetectResultsMixin"]


def _decisions(task: str, table: Any, ref: Image) -> str:
    """The detector's decisions in one line (spacing, threshold, sublattices, merges)."""
    from napari_ivae.io import pixel_size_nm

    if task == "walls":
        from napari_ivae.detect import wall_summary

        info = table.attrs.get("walls")
        return wall_summary(info) if info else ""
    if "spacing_px" not in table.attrs:
        return ""
    from napari_ivae.detect import atoms_summary

    size = pixel_size_nm(ref)
    text = atoms_summary(table.attrs, float(size[-1]) if size is not None else None)
    return text.split("; ", 1)[-1]  # the count is said already


class DetectResultsMixin:
    """Adds a detection's points (and wall mask / domains) to the viewer."""

    def _show(self, job: dict, result: Any, elapsed: float, *, warned: bool = False) -> Any:
        ref = job["ref"]
        table = result if job["task"] == "atoms" else result.points
        what = "atoms" if job["task"] == "atoms" else "wall points"
        if job.get("preview") is not None:  # back to the whole image's pixels
            y0, x0, frame = job["preview"]
            table = table.assign(y=table["y"] + y0, x=table["x"] + x0)
            if frame is not None:
                table = table.assign(frame=frame)
        elif job["task"] == "walls":
            self._add_labels(result.mask, ref, f"{ref.name} wall mask", opacity=0.8)
            if getattr(result, "domains", None) is not None:
                self._add_labels(
                    _domains_to_labels(result.domains), ref, f"{ref.name} domains", opacity=0.3
                )
        if len(table) == 0:
            msg = f"No {what} found in {ref.name!r}; try another method" + (
                ", a smaller spacing or a lower threshold." if job["task"] == "atoms" else "."
            )
            if not warned:  # the core's own warning was shown already
                show_warning("Detect: " + msg)
            self.status.set_message(msg, "warning")
            return None
        color = "yellow" if job["task"] == "atoms" else "cyan"
        if job.get("preview") is not None:
            color = "orange"
        layer = add_points_table(
            self.viewer, table, image_layer=ref, name=job["name"], face_color=color
        )
        record = get_record(layer)  # what was found where, for Crop and the explorer
        record.task, record.image = job["task"], ref.name
        decided = _decisions(job["task"], table, ref)
        if decided:
            info = table.attrs.get("walls", table.attrs) if job["task"] == "walls" else table.attrs
            record.detection = {k: v for k, v in info.items() if k != "frames"}
        self.viewer.layers.selection.active = layer
        self.status.setText(
            f"Found {len(table):,} {what} in {elapsed:.1f} s → layer {layer.name!r}."
            + (f" {decided}." if decided else "")
        )
        return layer

    def _add_labels(self, data: Any, ref: Image, name: str, *, opacity: float) -> Any:
        import numpy as np

        labels = np.asarray(data).astype(np.uint8, copy=False)
        kwargs = dict(
            name=name,
            scale=tuple(ref.scale),
            translate=tuple(ref.translate),
            units=tuple(ref.units),
            opacity=opacity,
        )
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            layer.data = labels
            return layer
        return self.viewer.add_labels(labels, **kwargs)


def _domains_to_labels(domains: Any) -> Any:
    """Domain map (±1, 0 = undecided) → labels 1 (down), 2 (up), 0 (none)."""
    import numpy as np

    d = np.asarray(domains)
    out = np.zeros(d.shape, dtype=np.uint8)
    out[d < 0] = 1
    out[d > 0] = 2
    return out
