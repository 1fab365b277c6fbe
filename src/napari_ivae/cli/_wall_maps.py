"""The wall-kind options of ``ivae detect walls``: ``--kind`` checks and the ``--maps`` TIFF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_ivae._errors import IvaeError

_MAP_CHANNELS = ("180", "all", "non180", "amplitude", "phase")


def _check_maps_options(kind: str, maps_path: str | None, map_channels: str) -> list[str]:
    """The ``--maps`` / ``--map-channels`` checks that need no file; the channel list."""
    channels = [c.strip() for c in str(map_channels).split(",") if c.strip()]
    if maps_path is None:
        return channels
    if kind == "180":
        raise IvaeError(
            "--maps needs the walls of every kind; add --kind all or --kind non180 "
            "(and give the phase and the amplitude)"
        )
    bad = [c for c in channels if c not in _MAP_CHANNELS]
    if bad or not channels:
        raise IvaeError(
            f"--map-channels={map_channels!r} is not valid; expected a comma-separated "
            "choice of 180, all, non180, amplitude, phase"
        )
    return channels


def _check_kind_layers(kind: str, phase, amp) -> None:
    """``--kind all`` needs an amplitude, ``--kind non180`` a phase too (before any work)."""
    if kind != "180" and amp is None:
        raise IvaeError(
            f"--kind {kind} needs an amplitude image (every wall is a dark line of it); "
            "give --amplitude or a file with an amplitude channel"
        )
    if kind == "non180" and phase is None:
        raise IvaeError(
            "--kind non180 needs a phase image to tell the 180° walls from the others; "
            "give the phase as IMAGE"
        )


def _maps_write(res, channels: list[str], inputs: dict, layer, maps_path: str):
    """The ``--maps`` output: an ImageJ TIFF, one labelled channel per ``channels`` entry."""
    from napari_ivae.detect import wall_maps
    from napari_ivae.io import pixel_size_nm

    if res.kind_masks is None:
        raise IvaeError(
            "--maps needs the walls of every kind, which an amplitude image alone does not "
            "give; give the phase too"
        )
    kinds = [c for c in channels if c in ("180", "all", "non180")]
    maps = wall_maps(res, kinds=kinds) if kinds else {}
    arrays, labels = [], []
    for c in channels:
        if c in inputs:
            if inputs[c] is None:
                raise IvaeError(f"--map-channels {c}: the {c} image was not given")
            arrays.append(np.asarray(inputs[c], dtype=np.float32))
            labels.append(c)
        else:
            arrays.append(maps[f"{c} walls"])
            labels.append(f"{c} walls")
    data = np.stack(arrays, axis=-3)  # (C, Y, X) or (T, C, Y, X)
    size = pixel_size_nm(layer)
    return (Path(maps_path), _maps_writer(data, labels, size))


def _maps_writer(data: np.ndarray, labels: list[str], size_nm):
    """Write ``data`` as an ImageJ hyperstack with channel ``labels`` (and µm resolution)."""
    import tifffile

    axes = "TCYX" if data.ndim == 4 else "CYX"
    meta = {"axes": axes, "Labels": labels}
    kw = {}
    if size_nm is not None:
        kw["resolution"] = (1e3 / float(size_nm[1]), 1e3 / float(size_nm[0]))
        meta["unit"] = "um"

    def write(p: Path) -> None:
        tifffile.imwrite(p, data, imagej=True, metadata=meta, **kw)

    return write
