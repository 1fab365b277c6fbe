"""Sub-image stacks: crop windows around points from one or more channels.

``crop(images, points, window=w)`` returns a :class:`Stack` of ``(N, C, w, w)``
float32 crops plus the bookkeeping needed to join results back into the
points table (``yx``, ``frame`` and ``index`` = row position in the table).

Geometry: pixel centres sit at integer coordinates (napari's convention), and a
point is snapped to the nearest pixel centre (``floor(v + 0.5)``).  The window
covers rows ``iy - w//2 ... iy - w//2 + w - 1``, so the point lies at pixel
``(w//2, w//2)`` of its crop: the exact centre for odd ``w``, the lower-right of
the four central pixels for even ``w``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from napari_ivae._atomic import atomic_write
from napari_ivae._crop_gather import _check_finite, _check_memory, _gather, _placement
from napari_ivae._crop_inputs import (
    LOCAL_MODES,
    _as_channels,
    _check_neighborhood,
    _check_window,
    _checked_points,
    _delay_names,
    _pair_frames,
    _phase_channels,
    _roles,
    domain_series,
)
from napari_ivae._errors import IvaeError, check_choice
from napari_ivae._normalize import (
    _normalize,
    default_normalize,
    local_background,
    local_normalize,
)

__all__ = [
    "Border",
    "Normalize",
    "Phase",
    "Stack",
    "crop",
    "default_normalize",
    "domain_series",
    "local_background",
    "local_normalize",
]

Border = Literal["drop", "reflect", "constant", "edge"]
Normalize = Literal["zscore", "minmax", "none", "local", "background"]
_BORDERS: tuple[str, ...] = ("drop", "reflect", "constant", "edge")
_NORMALIZE: tuple[str, ...] = ("zscore", "minmax", "none", "local", "background")
Phase = Literal["raw", "domain"]
_PHASE: tuple[str, ...] = ("raw", "domain")
#: the modes that first remove the image's slowly varying background
_LOCAL: tuple[str, ...] = LOCAL_MODES
#: default neighbourhood of the local modes, in crop windows
NEIGHBORHOOD_WINDOWS = 3


@dataclass
class Stack:
    """A stack of sub-images with their origin.

    Attributes
    ----------
    images : ndarray
        ``(N, C, w, w)`` float32, C-contiguous.
    yx : ndarray
        ``(N, 2)`` float64 source coordinates (pixels, row/column) of each crop's
        point as given (before snapping); NaN when unknown.
    frame : ndarray
        ``(N,)`` int64 frame of each crop (0 for single images).
    index : ndarray
        ``(N,)`` int64 row position of each crop's point in the input table.
    channels : tuple of str
        Channel names, ``C`` of them.
    normalize : str or None
        How :func:`crop` normalised the crops (its ``normalize``), None when
        unknown; training decides its class-seed features from it
        (``TrainConfig.seed_features``).
    time_delay : int or None
        ``K`` of a time-delay stack (channels ``name@t``, ``name@t+K``), else None.
    unpaired : int
        Points dropped because frame ``t + K`` is outside the series (0
        without a time delay).
    """

    images: np.ndarray
    yx: np.ndarray
    frame: np.ndarray
    index: np.ndarray
    channels: tuple[str, ...]
    normalize: str | None = None
    time_delay: int | None = None
    unpaired: int = 0

    def __post_init__(self) -> None:
        self.images = np.ascontiguousarray(self.images, dtype=np.float32)
        if self.images.ndim != 4:
            raise IvaeError(f"Stack images must have shape (N, C, H, W); got {self.images.shape}")
        n, c = self.images.shape[:2]
        self.yx = np.asarray(self.yx, dtype=np.float64).reshape(-1, 2)
        self.frame = np.asarray(self.frame, dtype=np.int64).reshape(-1)
        self.index = np.asarray(self.index, dtype=np.int64).reshape(-1)
        self.channels = tuple(str(ch) for ch in self.channels)
        for key in ("yx", "frame", "index"):
            if len(getattr(self, key)) != n:
                raise IvaeError(f"Stack {key} has {len(getattr(self, key))} rows; images has {n}")
        if len(self.channels) != c:
            raise IvaeError(f"Stack has {c} channels but {len(self.channels)} channel names")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def take(self, rows) -> Stack:
        """The stack of the given rows (a boolean mask or positions), same channels and options."""
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        return dataclasses.replace(
            self,
            images=np.ascontiguousarray(self.images[rows]),
            yx=self.yx[rows],
            frame=self.frame[rows],
            index=self.index[rows],
        )

    @property
    def window(self) -> int:
        """Crop size ``w`` in pixels."""
        return int(self.images.shape[-1])

    def save(self, path: str | Path) -> Path:
        """Write the stack to an ``.npz`` file atomically (temp file + rename).

        Keys: ``images``, ``yx``, ``frame``, ``index``, ``channels`` and, when
        known, ``normalize``; ``time_delay`` and ``unpaired`` for a
        time-delay stack.

        Returns
        -------
        Path
            The written path.
        """

        extra = {} if self.normalize is None else {"normalize": np.asarray(str(self.normalize))}
        if self.time_delay is not None:
            extra["time_delay"] = np.asarray(int(self.time_delay))
            extra["unpaired"] = np.asarray(int(self.unpaired))

        def _write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    images=self.images,
                    yx=self.yx,
                    frame=self.frame,
                    index=self.index,
                    channels=np.asarray(self.channels, dtype=str),
                    **extra,
                )

        return atomic_write(path, _write)

    @classmethod
    def load(cls, path: str | Path) -> Stack:
        """Read a stack written by :meth:`save`, or any npz holding ``images``.

        An npz with only ``images`` of shape ``(N, H, W)`` or ``(N, C, H, W)`` is
        accepted: ``yx`` is then NaN, ``frame`` 0, ``index`` ``0..N-1`` and the
        channels are named ``ch0, ch1, ...``.

        Raises
        ------
        IvaeError
            Missing or unreadable file, no ``images``, wrong shapes.
        """
        path = Path(path)
        if not path.is_file():
            raise IvaeError(f"{path}: stack file not found")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception as err:
            raise IvaeError(f"{path}: cannot read as a .npz stack ({err})") from err
        if "images" not in arrays:
            raise IvaeError(
                f"{path}: no 'images' array in the npz (found: {', '.join(arrays) or 'none'})"
            )
        images = arrays["images"]
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or images.shape[0] == 0:
            raise IvaeError(
                f"{path}: 'images' has shape {images.shape}; expected (N, H, W) or (N, C, H, W) with N ≥ 1"
            )
        if not np.issubdtype(images.dtype, np.number):
            raise IvaeError(f"{path}: 'images' is not numeric (dtype {images.dtype})")
        n, c = images.shape[:2]
        channels = arrays.get("channels")
        channels = (
            tuple(str(x) for x in np.atleast_1d(channels))
            if channels is not None
            else tuple(f"ch{i}" for i in range(c))
        )
        try:
            return cls(
                images=images,
                yx=arrays.get("yx", np.full((n, 2), np.nan)),
                frame=arrays.get("frame", np.zeros(n, np.int64)),
                index=arrays.get("index", np.arange(n)),
                channels=channels,
                normalize=str(arrays["normalize"]) if "normalize" in arrays else None,
                time_delay=int(arrays["time_delay"]) if "time_delay" in arrays else None,
                unpaired=int(arrays["unpaired"]) if "unpaired" in arrays else 0,
            )
        except IvaeError as err:
            raise IvaeError(f"{path}: {err}") from err
        except ValueError as err:
            raise IvaeError(f"{path}: inconsistent stack arrays ({err})") from err


def crop(
    images,
    points,
    *,
    window: int,
    border: Border = "drop",
    normalize: Normalize = "zscore",
    channels: Sequence[str] | None = None,
    neighborhood: int | None = None,
    time_delay: int | None = None,
    phase: Phase = "raw",
    phase_channels: Sequence[int] | None = None,
) -> Stack:
    """Crop ``window × window`` sub-images centred on points.

    Parameters
    ----------
    images : array-like or sequence of array-like
        One ``(Y, X)`` or ``(T, Y, X)`` array is one channel; a list/tuple of
        them (same shape) are channels, e.g. ``[amplitude, phase]``.  A
        :class:`napari_ivae.io.ImageLayer` may stand in for an array (its name
        becomes the channel name).  Arrays are not copied (memmaps stay lazy).
    points : pandas.DataFrame or array-like
        Table with columns ``y``, ``x`` and optional ``frame`` (pixels, row/column
        order), or an ``(N, 2)`` array ``(y, x)`` or ``(N, 3)`` ``(frame, y, x)``
        (napari Points order).  Positions are snapped to the nearest pixel centre.
    window : int
        Crop size in pixels, ``2 ≤ window ≤ min(Y, X)``.
    border : {"drop", "reflect", "constant", "edge"}
        Points whose window crosses the image border are dropped (``"drop"``), or
        the missing pixels are filled by mirroring without repeating the edge
        (``"reflect"``), with 0 after normalisation (``"constant"``: the stack
        mean for z-score), or with the nearest edge pixel (``"edge"``).  Points
        whose centre lies outside the image are always dropped.
    normalize : {"zscore", "minmax", "none", "local", "background"}
        ``"zscore"``: per channel over the whole stack (mean 0, std 1);
        ``"minmax"``: per crop and channel to [0, 1]; ``"none"``: raw values.
        The two local modes first remove the image's slowly varying
        background (contamination, thickness, scan-region offsets), estimated
        robustly by :func:`local_background` on tiles of ``neighborhood``
        pixels: ``"local"``: ``(x − B) / S``, the image minus its local
        background ``B`` (median) divided by its local robust spread ``S``
        (1.4826 × median absolute deviation), so every crop is measured
        against its neighbourhood, not against itself (a dopant stays brighter
        than its host; the choice for atom-resolved images);
        ``"background"``: ``x − B``, then z-scored over the stack (offsets
        removed, the contrast of each region kept).  Both make a float32 copy
        of each channel.
    channels : sequence of str, optional
        Channel names (default: the ImageLayer names, else ``ch0, ch1, ...``).
    neighborhood : int, optional
        Side in pixels of the tiles the local modes take their statistics
        from (tiles overlap by half); default ``3 × window``.  It should
        hold many atom columns (several lattice spacings) and be smaller
        than the features to remove.  Only for ``"local"`` / ``"background"``.
    time_delay : int, optional
        ``K``: a time-delay stack of a ``(T, Y, X)`` series.  Every point of
        frame ``t`` with ``0 ≤ t + K < T`` gets the channels ``[frame t,
        frame t + K]`` of each input channel at the same place (names
        ``"phase@t"``, ``"phase@t+1"``); its ``frame`` stays ``t``.  ``K < 0``
        pairs with an earlier frame (the reverse direction).  Points without
        a partner frame are dropped and counted (``Stack.unpaired``).
        ``1 ≤ |K| ≤ T − 1``.  A pinned wall looks the same in both channels of
        its pair, a moving one does not.
    phase : {"raw", "domain"}
        How phase channels are cropped.  ``"raw"``: their values, like any
        channel (a wrapped phase with its offset, drift and scan-line
        offsets).  ``"domain"``: as a phase: each frame becomes its domain
        field (:func:`domain_series`: flattened, projected on the domain
        axis, smoothed 1 px, ≈ +1 / −1 in the two 180° domains, the same
        polarity +1 in every frame); these channels are not normalised
        further (their ±1 levels are the scale).
    phase_channels : sequence of int, optional
        With ``phase="domain"``: indices of the phase channels; default the
        channels whose ImageLayer role is ``"phase"``, else those whose name
        contains "phase".

    Returns
    -------
    Stack
        ``images`` ``(N, C, window, window)`` float32 in input order of the kept
        points, with ``yx``, ``frame`` and ``index`` (``C`` doubled by
        ``time_delay``).

    Raises
    ------
    IvaeError
        Bad window, no points, NaN coordinates, frames outside the stack,
        channel shape mismatch, no point left, NaN/inf pixels inside a crop,
        a stack larger than the free memory, ``time_delay`` 0, ``|K| ≥ T`` or
        a single frame, ``phase="domain"`` without a phase channel.
    """
    check_choice("border", border, _BORDERS)
    check_choice("normalize", normalize, _NORMALIZE)
    check_choice("phase", phase, _PHASE)
    arrays, names = _as_channels(images, channels)
    t, ny, nx = arrays[0].shape
    window = _check_window(window, ny, nx)
    _check_neighborhood(neighborhood, normalize, ny, nx)
    y, x, frame = _checked_points(points, t)
    paired = _pair_frames(frame, time_delay, t)
    as_phase = _phase_channels(phase, phase_channels, arrays, names, _roles(images))
    iy, ix, interior, kept = _placement(y, x, window, ny, nx, border, paired)
    n, c = kept.size, len(arrays) * (1 if paired is None else 2)
    _check_memory(n, c, window)
    frames = [frame] if paired is None else [frame, frame + int(time_delay)]
    used = np.unique(np.concatenate([f[kept] for f in frames]))
    arrays = _prepared(
        arrays, as_phase, normalize, neighborhood or NEIGHBORHOOD_WINDOWS * window, used
    )
    parts = [_gather(arrays, f, (iy, ix), interior, kept, window, border) for f in frames]
    out, pos_edge, edge_valid = parts[0]
    if paired is not None:  # [a@t, a@t+K, b@t, b@t+K, ...]
        out = np.stack([parts[0][0], parts[1][0]], axis=2).reshape(n, c, window, window)
        names = _delay_names(names, int(time_delay))
        as_phase = [2 * i + j for i in as_phase for j in (0, 1)]
    _check_finite(out, pos_edge, edge_valid, kept, y, x)
    _normalize_some(
        out, "zscore" if normalize == "background" else normalize, pos_edge, edge_valid, as_phase
    )
    if edge_valid is not None:
        for ch in range(c):
            sub = out[pos_edge, ch]
            sub[~edge_valid] = 0.0
            out[pos_edge, ch] = sub
    return Stack(
        images=out,
        yx=np.stack([y[kept], x[kept]], axis=1),
        frame=frame[kept],
        index=kept.astype(np.int64),
        channels=names,
        normalize=normalize,
        time_delay=None if paired is None else int(time_delay),
        unpaired=0 if paired is None else int((~paired).sum()),
    )


def _prepared(arrays, as_phase, normalize: str, size: int, frames_used) -> list[np.ndarray]:
    """The channels as cropped: phase channels as domain fields, local modes applied to the rest."""
    out = list(arrays)
    for i in as_phase:
        out[i] = domain_series(arrays[i])
    if normalize in _LOCAL:
        out = [
            a
            if i in as_phase
            else local_normalize(a, int(size), scale=normalize == "local", frames=frames_used)
            for i, a in enumerate(out)
        ]
    return out


def _normalize_some(out: np.ndarray, mode: str, pos_edge, edge_valid, skip: list[int]) -> None:
    """:func:`_normalize` in place on every channel not in ``skip`` (the domain fields)."""
    if not skip:
        _normalize(out, mode, pos_edge, edge_valid)
        return
    rest = [ch for ch in range(out.shape[1]) if ch not in skip]
    if rest:
        sub = np.ascontiguousarray(out[:, rest])
        _normalize(sub, mode, pos_edge, edge_valid)
        out[:, rest] = sub
