"""Scan lines of a PFM series that cannot be trusted (tip changes).

A PFM image is written line by line.  When the tip changes during a scan (it
picks up or loses a particle, its contact changes), every line from then on
looks different: the phase offset of the whole line jumps, or the amplitude
loses its contrast, until the next change.  Domain switching does not do
that: it flips the phase between two levels 180° apart, which leaves the
phase *axis* (the row's mean of ``exp(2iφ)``) unchanged, and it changes the
amplitude only along the walls.

:func:`artefact_rows` therefore cuts each frame into runs of scan lines at the
rows where the phase axis or the (log) amplitude contrast of the lines steps
(a contrast step counts only where it is abrupt, within about 3 rows: the
sample's content changes the contrast gradually), takes as the frame's
reference the run closest to the series' usual phase axis and contrast (the
tip state most scan lines share), and flags every run whose phase axis or
amplitude contrast differs from it by more than the step thresholds (grown
by 2 rows; a clean run shorter than 16 rows beside a flagged one is flagged
too).  A frame without a step is never flagged.  :func:`trust_mask` turns
that into a (T, Y, X) mask and, given a
:class:`~napari_ivae.dynamics.register.Registration`, moves it onto frame 0
and removes the pixels without data after the shift.
"""

from __future__ import annotations

import itertools

import numpy as np

from napari_ivae._errors import IvaeError, check_range

#: rows on each side of a candidate step (and of its abrupt part)
_HALF = 8
_SHORT = 3


def _frames(a, name: str) -> np.ndarray | None:
    if a is None:
        return None
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise IvaeError(f"{name} must be a (T, Y, X) series or one (Y, X) frame; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise IvaeError(f"{name} holds NaN or inf pixels; pass the frames as read")
    return arr


def _phase_radians(phase: np.ndarray, unit: str) -> np.ndarray:
    if unit == "auto":
        unit = "deg" if np.ptp(phase) > 2 * np.pi + 1e-6 else "rad"
    return np.deg2rad(phase) if unit == "deg" else phase


def _row_axis(phase: np.ndarray) -> np.ndarray:
    """(Y,) mean of ``exp(2iφ)`` of every row (its angle / 2 is the phase axis)."""
    return np.mean(np.exp(2j * phase), axis=1)


def _row_contrast(amplitude: np.ndarray) -> np.ndarray:
    """(Y,) log of the robust spread of every row (its median removed)."""
    dev = np.abs(amplitude - np.median(amplitude, axis=1, keepdims=True))
    spread = np.median(dev, axis=1)
    floor = max(float(np.median(spread)) * 1e-3, 1e-300)
    return np.log(np.maximum(spread, floor))


def _axis_gap(a: complex, b: complex) -> float:
    """Angle (deg, 0…90) between the phase axes of two ``exp(2iφ)`` means."""
    return float(np.degrees(np.abs(np.angle(a * np.conj(b)))) / 2)


def _contrast_jumps(contrast: np.ndarray) -> np.ndarray:
    """(Y,) signed step of the row contrast at every row, counted only where it is abrupt.

    The step at row ``r`` is the median of the next ``_HALF`` rows minus that of
    the previous ``_HALF``, and the same over ``_SHORT`` rows; the smaller of
    the two (0 when their signs differ) is kept.  A tip change steps within a
    row or two (both equal); the sample's content changes the contrast over
    several rows (the short step is a fraction of the long one).
    """
    ny = contrast.shape[0]
    jump = np.zeros(ny)
    if ny < 2 * _HALF:
        return jump
    r = np.arange(_HALF, ny - _HALF + 1)
    long = _window_medians(contrast, _HALF)  # [k] = median of rows k … k + _HALF − 1
    short = _window_medians(contrast, _SHORT)
    d_long = long[r] - long[r - _HALF]
    d_short = short[r] - short[r - _SHORT]
    same = d_long * d_short > 0
    jump[r] = np.where(same, np.sign(d_long) * np.minimum(np.abs(d_long), np.abs(d_short)), 0.0)
    return jump


def _window_medians(values: np.ndarray, n: int) -> np.ndarray:
    """Median of every run of ``n`` consecutive values (index = first value of the run)."""
    return np.median(np.lib.stride_tricks.sliding_window_view(values, n), axis=1)


def _steps(axis, jump, axis_step: float, contrast_step: float) -> list[int]:
    """Rows where the phase axis or the contrast of the next ``_HALF`` rows steps."""
    ny = len(axis if axis is not None else jump)
    score = np.zeros(ny)
    for r in range(_HALF, ny - _HALF + 1):
        s = 0.0
        if axis is not None:
            gap = _axis_gap(axis[r : r + _HALF].mean(), axis[r - _HALF : r].mean())
            s = max(s, gap / axis_step)
        if jump is not None:
            s = max(s, abs(jump[r]) / contrast_step)
        score[r] = s
    steps: list[int] = []
    for r in np.argsort(-score):
        if score[r] < 1:
            break
        if all(abs(int(r) - q) >= _HALF for q in steps):
            steps.append(int(r))
    return sorted(steps)


def _frame_rows(axis, contrast, jump, usual, axis_step: float, contrast_step: float):
    """(Y,) bool, rows of one frame in a run that differs from its reference run.

    The reference run is the one closest to ``usual`` (the series' typical
    phase axis and contrast): the tip state most scan lines of the series share.
    """
    ny = len(axis if axis is not None else contrast)
    edges = [0, *_steps(axis, jump, axis_step, contrast_step), ny]
    runs = list(itertools.pairwise(edges))

    def distance(run: tuple[int, int]) -> float:
        a, b = run
        d = _axis_gap(axis[a:b].mean(), usual[0]) / axis_step if axis is not None else 0.0
        if contrast is not None:
            d += abs(np.median(contrast[a:b]) - usual[1]) / contrast_step
        return d

    a0, b0 = min(runs, key=distance)
    flagged = np.zeros(ny, dtype=bool)
    for a, b in runs:
        off = False
        if axis is not None:
            off |= _axis_gap(axis[a:b].mean(), axis[a0:b0].mean()) > axis_step
        if contrast is not None:
            off |= abs(np.median(contrast[a:b]) - np.median(contrast[a0:b0])) > contrast_step
        flagged[a:b] = off
    return _tidy(flagged)


def _tidy(flagged: np.ndarray, margin: int = 2) -> np.ndarray:
    """Grow flagged runs by ``margin`` rows and flag short clean runs beside them."""
    if not flagged.any():
        return flagged
    out = flagged.copy()
    edges = np.flatnonzero(np.diff(np.r_[False, flagged, False].astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2]):
        out[max(a - margin, 0) : b + margin] = True
    edges = np.flatnonzero(np.diff(np.r_[True, out, True].astype(np.int8)))
    for a, b in zip(edges[::2], edges[1::2]):  # clean runs
        if b - a < 2 * _HALF:
            out[a:b] = True
    return out


def artefact_rows(
    phase=None,
    amplitude=None,
    *,
    phase_unit: str = "auto",
    axis_step: float = 30.0,
    contrast_step: float = 0.9,
) -> np.ndarray:
    """Scan lines of every frame that belong to a tip-change band.

    Parameters
    ----------
    phase : array-like, optional
        (T, Y, X) phase of the series, as recorded (not registered: rows are
        scan lines).
    amplitude : array-like, optional
        (T, Y, X) amplitude of the series; at least one of the two is needed.
    phase_unit : {"auto", "deg", "rad"}
        Unit of ``phase`` ("auto": degrees when the values span more than 2π).
    axis_step : float
        Change of the row phase axis (degrees, 1 … 89) that marks a tip change.
    contrast_step : float
        Abrupt change of the log amplitude contrast of the rows (> 0; 0.9 ≈ a
        factor of 2.5) that marks a tip change.  On the PZT series the
        contrast lost in PZT_final0003 steps by 1.0; 48 simulated series
        (96-192 px, 4 frames) flag nothing at 0.9, 1 frame in 192 at 0.8.

    Returns
    -------
    np.ndarray
        (T, Y) bool, True on the scan lines that cannot be trusted.
    """
    ph, amp = _frames(phase, "phase"), _frames(amplitude, "amplitude")
    if ph is None and amp is None:
        raise IvaeError("artefact_rows needs the phase, the amplitude or both; got neither")
    if ph is not None and amp is not None and ph.shape != amp.shape:
        raise IvaeError(f"phase {ph.shape} and amplitude {amp.shape} differ in shape")
    if phase_unit not in ("auto", "deg", "rad"):
        raise IvaeError(f"phase_unit={phase_unit!r} is not one of 'auto', 'deg', 'rad'")
    check_range("axis_step", axis_step, low=1.0, high=89.0)
    check_range("contrast_step", contrast_step, low=0.0, low_inclusive=False)
    ref = ph if ph is not None else amp
    if ref.shape[1] < 4 * _HALF:
        raise IvaeError(
            f"frames have {ref.shape[1]} rows; artefact_rows needs at least {4 * _HALF}"
        )
    if ph is not None:
        ph = _phase_radians(ph, phase_unit)
    out = np.zeros(ref.shape[:2], dtype=bool)
    contrast = np.stack([_row_contrast(a) for a in amp]) if amp is not None else None
    jumps = np.stack([_contrast_jumps(c) for c in contrast]) if contrast is not None else None
    axes = np.stack([_row_axis(p) for p in ph]) if ph is not None else None
    usual = (
        axes.mean() if axes is not None else None,
        float(np.median(contrast)) if contrast is not None else None,
    )
    for t in range(ref.shape[0]):
        axis = axes[t] if axes is not None else None
        c, j = (contrast[t], jumps[t]) if contrast is not None else (None, None)
        out[t] = _frame_rows(axis, c, j, usual, axis_step, contrast_step)
    return out


def trust_mask(
    phase=None,
    amplitude=None,
    *,
    registration=None,
    phase_unit: str = "auto",
    axis_step: float = 30.0,
    contrast_step: float = 0.9,
) -> np.ndarray:
    """Pixels of a series that can be trusted: no tip-change band, data after registration.

    Parameters
    ----------
    phase, amplitude : array-like, optional
        (T, Y, X) channels of the series as recorded (see :func:`artefact_rows`).
    registration : Registration, optional
        From :func:`~napari_ivae.dynamics.register.register_series`; the mask is
        then moved onto frame 0 like the images (``registration.apply``) and
        the pixels without data after the shift are removed.  Without it the
        mask is in the recorded frames' coordinates.
    phase_unit, axis_step, contrast_step
        See :func:`artefact_rows`.

    Returns
    -------
    np.ndarray
        (T, Y, X) bool, True where a pixel can be trusted.
    """
    rows = artefact_rows(
        phase,
        amplitude,
        phase_unit=phase_unit,
        axis_step=axis_step,
        contrast_step=contrast_step,
    )
    shape = np.shape(phase if phase is not None else amplitude)
    good = np.broadcast_to(~rows[:, :, None], (*rows.shape, shape[-1])).copy()
    if registration is None:
        return good
    if registration.valid.shape != good.shape:
        raise IvaeError(
            f"registration is for a series of shape {registration.valid.shape}, not {good.shape}"
        )
    moved = registration.apply(good.astype(np.float32), fill=0.0, order=0) > 0.5
    return moved & registration.valid
