"""Wall metrics of a PFM switching series, from the raw phase (and amplitude) frames.

:func:`series_metrics` is what the CLI (``ivae wall-metrics``) and the napari
Dynamics dock call: registration → wall detection → polarity alignment →
:func:`~napari_ivae.dynamics.metrics.wall_metrics`, plus the wall points with
their motion.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from napari_ivae._errors import IvaeError, check_choice
from napari_ivae.detect.walls import boundary_mask
from napari_ivae.dynamics._geometry import wall_skeleton
from napari_ivae.dynamics._inputs import (
    as_series,
    drift_limit,
    fill_invalid,
    mask_series,
    radians,
    shift_series,
    significant_drift,
)
from napari_ivae.dynamics.artefacts import artefact_rows
from napari_ivae.dynamics.metrics import BORDER, align_polarity, wall_metrics
from napari_ivae.dynamics.motion import point_motion, wall_motion
from napari_ivae.dynamics.register import register_series


@dataclass
class SeriesResult:
    """Wall metrics of a series and what they were computed from (all in frame 0's coordinates).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per frame (:func:`~napari_ivae.dynamics.metrics.wall_metrics`).
    walls : np.ndarray
        (T, Y, X) bool, the one-pixel wall skeletons the metrics measured
        (trusted pixels only).
    domains : np.ndarray
        (T, Y, X) int8 ±1, aligned across frames (same label = same polarity).
    points : pandas.DataFrame
        Wall points ``y, x, frame, orientation, displacement_px, pinned``
        (registered coordinates; points on untrusted pixels dropped).
    shifts : np.ndarray
        (T, 2) ``(dy, dx)`` px, the rigid part of the shift that moved each
        frame onto frame 0 (zeros without registration).
    valid : np.ndarray
        (T, Y, X) bool, the trusted pixels (registration overlap ∩ ``trust``).
    info : dict
        ``method``, ``registered``, ``registration_error`` (T,), ``phase_units``,
        ``drift_peak_z`` (phase-correlation peak of each frame against frame 0, in
        robust σ), ``unshifted`` (frames left in place: no significant peak),
        ``polarity_flipped`` (frames whose labels the alignment negated),
        ``detection`` (the detector's info) and ``summary`` (one line).
    """

    table: pd.DataFrame
    walls: np.ndarray
    domains: np.ndarray
    points: pd.DataFrame
    shifts: np.ndarray
    valid: np.ndarray
    info: dict = field(default_factory=dict)
    row_shifts: np.ndarray | None = None
    """(T, Y, 2) the shift of every scan line (what was applied; real frames
    drift during the scan too); None without registration."""


def series_metrics(
    phase,
    amplitude=None,
    *,
    method: str = "gaussian",
    register: bool = True,
    reference=None,
    pixel_size_nm=None,
    trust=None,
    artefacts: bool = True,
    common: bool = True,
    phase_units: str = "auto",
    align: str = "overlap",
    sigma: float = 1.5,
    stride: int = 4,
    device: str = "auto",
    cancel: Callable[[], bool] | None = None,
) -> SeriesResult:
    """Detect the walls of every frame of a switching series and measure them.

    Parameters
    ----------
    phase : array-like
        (T, Y, X) PFM phase, ``T ≥ 2``, degrees or radians (see ``phase_units``);
        a list of (Y, X) frames is accepted.
    amplitude : array-like, optional
        (T, Y, X) PFM amplitude (weights the phase; the default registration
        reference).
    method : {"gaussian", "canny", "dcnn"}
        Wall detector (:func:`~napari_ivae.detect.detect_walls`).  The domain
        map always comes from the ``gaussian`` detector (the others give none).
    register : bool
        Correct the drift between frames and during each scan by
        cross-correlation on ``reference``
        (:func:`~napari_ivae.dynamics.register.register_series`, one shift
        per scan line) and move every frame onto frame 0.  Frames whose
        correlation peak against frame 0 is not significant (nothing static
        to lock on, e.g. a simulated series) stay in place.
    reference : array-like or list of array-like, optional
        (T, Y, X) registration channel(s), registered together (e.g.
        deflection and amplitude; default ``amplitude``).
    pixel_size_nm : float or (float, float), optional
        Adds the ``*_nm`` columns.
    trust : array-like of bool, optional
        (T, Y, X) or (Y, X) pixels that can be trusted, in the input frames'
        coordinates (e.g. a tip-change artefact mask, inverted); untrusted
        pixels are left out of every metric.
    artefacts : bool
        Also leave out the scan lines of tip changes found by
        :func:`~napari_ivae.dynamics.artefacts.trust_mask` (jumps of the
        phase axis or of the amplitude contrast); ``info["artefact_rows"]``
        lists them per frame.
    common : bool
        Measure every frame on the same area: the pixels trusted in all
        frames (after registration).  Without it each frame is measured on its
        own trusted pixels, and a frame that lost a band to a tip change has
        less wall to measure than the others.
    phase_units : {"auto", "deg", "rad"}
        Units of ``phase`` ("auto": degrees when the values span more than 2π).
    align : {"overlap", "phase"}
        How the labels are kept on the same physical polarity across frames:
        ``"overlap"`` (:func:`~napari_ivae.dynamics.metrics.align_polarity`:
        right through any drift or jump of the phase offset, wrong when more
        than half of the area switches between two consecutive frames) or
        ``"phase"`` (the detector's orientation by the raw phase, each frame
        against the previous one: right whatever switches, wrong when the
        phase offset jumps by more than 90° between two frames).  A warning
        names the frames where the two disagree.
    sigma, stride, device
        Passed to :func:`~napari_ivae.detect.detect_walls`.
    cancel : callable, optional
        Called before each frame's detection; True stops with
        :class:`~napari_ivae._errors.Cancelled`.

    Returns
    -------
    SeriesResult

    Raises
    ------
    IvaeError
        A single frame, frames of different shapes, channels of different
        shapes, a phase declared in degrees that spans less than 2π, no
        registration reference, a shift larger than a quarter of the frame,
        or a frame without walls in its trusted area (named).
    """
    from napari_ivae.detect import WALL_METHODS, detect_walls

    check_choice("method", method, WALL_METHODS)
    check_choice("align", align, ("overlap", "phase"))
    ph = as_series(phase, "phase")
    amp = None if amplitude is None else as_series(amplitude, "amplitude", like=ph)
    refs = _references(reference, amp, ph)
    ph, units = radians(ph, phase_units)
    ok = mask_series(trust, ph.shape, "trust")
    flagged = _artefact_rows(ph, amp) if artefacts else np.zeros(ph.shape[:2], dtype=bool)
    ok &= ~flagged[:, :, None]
    shifts, error = np.zeros((len(ph), 2)), np.zeros(len(ph))
    rows = None
    drift_z = np.full(len(ph), np.nan)
    if register:
        if refs is None:
            raise IvaeError(
                "register=True needs a reference channel (amplitude or height); "
                "give amplitude= or reference=, or register=False"
            )
        shifts, rows, error, drift_z = _register(refs, ok)
        ph, amp, ok = shift_series(ph, amp, ok, rows)
    if common:
        ok = np.broadcast_to(ok.all(axis=0), ok.shape).copy()
    ph, amp = fill_invalid(ph, ok), (None if amp is None else fill_invalid(amp, ok))
    opts = {"sigma": sigma, "stride": stride, "phase_units": "rad", "cancel": cancel}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="detect_walls.*found no walls")
        res = detect_walls(ph, amp, method="gaussian", **opts)
        det = (
            res
            if method == "gaussian"
            else detect_walls(ph, amp, method=method, device=device, **opts)
        )
    domains, flipped = align_polarity(res.domains, valid=ok)
    if align == "phase":
        domains = res.domains.astype(np.int8)
    walls = np.stack([_walls(method, det.mask[t], domains[t]) for t in range(len(ph))]) & ok
    _check_walls(walls, ok)
    _warn_disagreement(flipped, align)
    table = wall_metrics(domains, walls=walls, valid=ok, pixel_size_nm=pixel_size_nm)
    points = _points(det.points, walls, ok)
    info = {
        "method": method,
        "registered": bool(register),
        "registration_error": [float(e) for e in error],
        "drift_peak_z": [float(z) for z in drift_z],
        "unshifted": [t for t in range(1, len(ph)) if register and not np.any(shifts[t])],
        "phase_units": units,
        "artefact_rows": [_runs(f) for f in flagged],
        "align": align,
        "polarity_flipped": [int(t) for t in np.flatnonzero(flipped)] if align == "overlap" else [],
        "detection": det.info,
    }
    info["summary"] = _summary(info, shifts, ok)
    return SeriesResult(table, walls, domains, points, shifts, ok, info, rows)


def _references(reference, amp, ph) -> list[np.ndarray] | None:
    """The registration channels: ``reference`` (one array or a list), else the amplitude."""
    if reference is None:
        return None if amp is None else [amp]
    items = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    return [as_series(r, "reference", like=ph) for r in items]


def _artefact_rows(ph: np.ndarray, amp) -> np.ndarray:
    """(T, Y) scan lines of tip changes; none for frames too small to judge."""
    try:
        return artefact_rows(ph, amp, phase_unit="rad")
    except IvaeError:  # too few rows to find runs of scan lines: nothing flagged
        return np.zeros(ph.shape[:2], dtype=bool)


def _runs(rows: np.ndarray) -> list[list[int]]:
    """Flagged rows as ``[first, last]`` runs."""
    idx = np.flatnonzero(rows)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[idx[0], idx[cuts + 1]]
    ends = np.r_[idx[cuts], idx[-1]]
    return [[int(a), int(b)] for a, b in zip(starts, ends)]


def _register(refs: list[np.ndarray], ok: np.ndarray):
    """Rigid and per-row shifts onto frame 0; frames without a significant peak stay put."""
    t, ny = refs[0].shape[:2]
    filled = [fill_invalid(r, ok & np.isfinite(r)) for r in refs]
    z = np.max([significant_drift(f)[0] for f in filled], axis=0)
    real = z >= drift_limit(refs[0].shape)
    if not real[1:].any():
        return np.zeros((t, 2)), np.zeros((t, ny, 2)), np.zeros(t), z
    reg = register_series(filled, valid=ok)
    shifts = np.where(real[:, None], reg.shifts, 0.0)
    rows = np.where(real[:, None, None], reg.row_shifts, 0.0)
    return shifts, rows, np.where(real, reg.error, np.nan), z


def _walls(method: str, mask: np.ndarray, domains: np.ndarray) -> np.ndarray:
    """The wall skeleton measured in one frame.

    ``gaussian``: the ``+1``-side boundary pixels of the aligned domains (the
    definition of :func:`~napari_ivae.dynamics.metrics.wall_metrics`, so the
    side does not change with the labels) that lie next to a wall the
    detector kept (pieces its significance test dropped stay dropped); other
    methods: their own wall lines.
    """
    if method == "gaussian":
        near = ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))  # within 1.5 px
        return wall_skeleton(boundary_mask(domains) & near, domains)
    return wall_skeleton(mask, domains)


def _warn_disagreement(flipped: np.ndarray, align: str) -> None:
    """Say where the overlap and the phase disagree on the labels (an offset jump or a big switch)."""
    frames = [int(t) for t in np.flatnonzero(flipped)]
    if not frames:
        return
    follow, other = ("overlap", "phase") if align == "overlap" else ("phase", "overlap")
    warnings.warn(
        f"frames {frames}: the phase and the overlap with the previous frame disagree on the "
        "polarity labels (the phase offset jumped by more than 90°, or more than half of the "
        f"area switched); the labels follow the {follow} (align={align!r}); use "
        f"align={other!r} if that is wrong",
        UserWarning,
        stacklevel=3,
    )


def _check_walls(walls: np.ndarray, ok: np.ndarray) -> None:
    """Every frame must hold walls in its trusted area (a frame of one domain has nothing to measure)."""
    for t in range(len(walls)):
        if not ok[t].any():
            raise IvaeError(f"frame {t} has no trusted pixel (registration overlap and trust mask)")
        if walls[t].sum() < 2:
            raise IvaeError(
                f"frame {t} has no domain walls in its trusted area (a single domain?); "
                "wall metrics need walls in every frame: drop that frame or check its phase"
            )


def _points(points: pd.DataFrame, walls: np.ndarray, ok: np.ndarray) -> pd.DataFrame:
    """Wall points on trusted pixels, with ``displacement_px`` and ``pinned``."""
    pts = points
    if len(pts):
        f = pts["frame"].to_numpy(dtype=np.int64)
        iy = np.clip(np.rint(pts["y"].to_numpy()).astype(int), 0, ok.shape[1] - 1)
        ix = np.clip(np.rint(pts["x"].to_numpy()).astype(int), 0, ok.shape[2] - 1)
        inside = ok[f, iy, ix]
        if BORDER > 0:
            inside &= (iy >= BORDER) & (ix >= BORDER)
            inside &= (iy < ok.shape[1] - BORDER) & (ix < ok.shape[2] - BORDER)
        pts = pts[inside].reset_index(drop=True)
    return point_motion(pts, wall_motion(walls, valid=ok))


def _summary(info: dict, shifts: np.ndarray, ok: np.ndarray) -> str:
    parts = [f"wall metrics ({info['method']})"]
    if info["registered"]:
        moved = ", ".join(f"{t}: ({dy:+.1f}, {dx:+.1f})" for t, (dy, dx) in enumerate(shifts) if t)
        parts.append(f"registered, shifts (dy, dx) px {moved}")
        if info["unshifted"]:
            parts.append(f"frames {info['unshifted']} not shifted (no significant drift peak)")
    else:
        parts.append("not registered")
    parts.append(f"trusted {ok.mean():.1%} of the pixels")
    if info["polarity_flipped"]:
        parts.append(f"polarity labels re-aligned in frames {info['polarity_flipped']}")
    return "; ".join(parts)
