"""Drift correction of a PFM/AFM image series.

Real series drift between scans, and also *during* a scan: a frame is written
line by line, so the drift of the slow axis makes the shift depend on the row
(on the PZT series of ``docs/dynamics.md`` frame 2 sits 1 px off frame 1 in its
first rows and 4-5 px off further down).  :func:`register_series` therefore

1. finds one shift per frame against frame 0 by cross-correlation of all the
   reference channels together (each flattened: scan-line medians and a smooth
   background removed, robust z-score clipped, untrusted pixels left out), and
2. with ``drift="scan"`` (default), refines it in overlapping bands of rows and
   interpolates a shift for every row.

The default reference channels are the deflection (topography edges, which do
not change when domains switch) and the amplitude (its ferroelastic stripes and
most wall lines stay), else the height: on the PZT series these gave the
smallest residual of all three channels after registration and a closure
error (shift 1→3 against 1→2 + 2→3) of 0.4 px; the phase flips where domains
switch, so it is never used (see :data:`REFERENCE_ROLES`).
:func:`apply_shifts` moves any channel onto frame 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from napari_ivae._errors import IvaeError, check_choice
from napari_ivae.dynamics import _xcorr

#: channel roles used as registration reference (see module text); the second
#: group only when the file has none of the first
REFERENCE_ROLES: tuple[tuple[str, ...], ...] = (("deflection", "amplitude"), ("height",))
_DRIFTS = ("scan", "rigid")


@dataclass
class Registration:
    """Shifts that bring each frame onto frame 0.

    Attributes
    ----------
    shifts : np.ndarray
        (T, 2) float64 ``(dy, dx)`` in pixels, one rigid shift per frame;
        ``shifts[0] == (0, 0)``.
    error : np.ndarray
        (T,) RMS difference of the flattened reference channels between frame
        ``t`` (registered) and frame 0 over their common trusted pixels,
        relative to frame 0's RMS (0 = identical, ≈1.4 = unrelated images).
    valid : np.ndarray
        (T, Y, X) bool, pixels that hold data after the shift.
    row_shifts : np.ndarray
        (T, Y, 2) the shift of every row (``drift="scan"``; equal to
        ``shifts`` on every row with ``drift="rigid"``).  This is what
        :meth:`apply` uses.
    channels : tuple of str
        Names of the reference channels used (``"reference"`` for arrays).
    """

    shifts: np.ndarray
    error: np.ndarray
    valid: np.ndarray
    row_shifts: np.ndarray
    channels: tuple[str, ...] = ("reference",)

    def apply(self, series, *, fill: float = np.nan, order: int = 1) -> np.ndarray:
        """Move a (T, Y, X) channel of the series onto frame 0 (row by row)."""
        return apply_shifts(series, self.row_shifts, fill=fill, order=order)


def reference_channels(layers) -> list:
    """The layers a series is registered on: the first of each role of :data:`REFERENCE_ROLES`.

    The first layer of each role of the first group of roles the layers have
    (deflection and amplitude; else height).

    Parameters
    ----------
    layers : list of ImageLayer
        Channels of a series (e.g. from :func:`napari_ivae.io.read_series`).

    Returns
    -------
    list of ImageLayer
    """
    chosen = []
    for group in REFERENCE_ROLES:
        for role in group:
            chosen += [la for la in layers if la.role == role][:1]
        if chosen:
            break
    if not chosen:
        names = ", ".join(repr(la.name) for la in layers)
        raise IvaeError(
            f"reference: no height, deflection or amplitude channel among {names}; "
            "pass the reference channel as an array"
        )
    return chosen


def _channels(reference) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Reference as a list of (T, Y, X) float arrays, and their names."""
    if isinstance(reference, (list, tuple)) and reference and hasattr(reference[0], "role"):
        layers = reference_channels(list(reference))
        arrays, names = [la.data for la in layers], tuple(la.name for la in layers)
    elif isinstance(reference, (list, tuple)) and reference and np.ndim(reference[0]) == 3:
        arrays, names = list(reference), tuple(f"reference {i}" for i in range(len(reference)))
    else:
        arrays, names = [reference], ("reference",)
    out = [_series(a, "reference") for a in arrays]
    if len({a.shape for a in out}) > 1:
        shapes = ", ".join(str(a.shape) for a in out)
        raise IvaeError(f"reference channels differ in shape ({shapes}); they must match")
    return out, names


def _series(frames, name: str) -> np.ndarray:
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim != 3:
        raise IvaeError(f"{name} must be a (T, Y, X) series; got shape {a.shape}")
    if a.shape[0] < 2:
        raise IvaeError(f"{name} has {a.shape[0]} frame; registration needs at least 2")
    if not np.isfinite(a).all():
        raise IvaeError(f"{name} holds NaN or inf pixels; registration needs finite images")
    return a


def _trusted(valid, shape: tuple[int, ...]) -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    v = np.asarray(valid, dtype=bool)
    if v.shape != shape:
        raise IvaeError(f"valid has shape {v.shape}; expected {shape}, the reference's shape")
    return v


def register_series(
    reference,
    *,
    valid=None,
    drift: Literal["scan", "rigid"] = "scan",
    band: int = 32,
    upsample: int = 20,
    max_shift: float | None = None,
) -> Registration:
    """Measure the drift of every frame against frame 0.

    Parameters
    ----------
    reference : array-like or list
        (T, Y, X) reference channel, a list of such channels (registered
        together), or a list of :class:`~napari_ivae.io.ImageLayer` of a series
        (:func:`reference_channels` picks them); ``T ≥ 2``.
    valid : array-like, optional
        (T, Y, X) bool, pixels to trust (e.g. :func:`~napari_ivae.dynamics.
        artefacts.trust_mask`); tip-change bands left out match better.
    drift : {"scan", "rigid"}
        ``"scan"``: one shift per row (drift during the scan), refined in
        bands of ``band`` rows; ``"rigid"``: one shift per frame.
    band : int
        Rows per band of the ``"scan"`` refinement (8 … Y/2); bands overlap by half.
    upsample : int
        Sub-pixel precision ``1 / upsample`` px (≥ 1).
    max_shift : float, optional
        Largest shift accepted, in pixels (default: a quarter of the smaller
        side); a larger measured shift raises an error (the frames do not
        show the same area).

    Returns
    -------
    Registration
    """
    chans, names = _channels(reference)
    check_choice("drift", drift, _DRIFTS)
    if int(upsample) < 1:
        raise IvaeError(f"upsample={upsample} must be ≥ 1")
    t, ny, nx = chans[0].shape
    if drift == "scan" and not 8 <= int(band) <= ny // 2:
        raise IvaeError(f"band={band} is out of range; expected 8 ≤ band ≤ {ny // 2}")
    trust = _trusted(valid, chans[0].shape)
    limit = float(max_shift) if max_shift is not None else min(ny, nx) / 4.0
    sigma = max(ny, nx) / 16.0
    fixed = [_xcorr.prepare(c[0], trust[0], sigma) for c in chans]
    shifts, rows, error = np.zeros((t, 2)), np.zeros((t, ny, 2)), np.zeros(t)
    for k in range(1, t):
        moving = [_xcorr.prepare(c[k], trust[k], sigma) for c in chans]
        shifts[k] = _xcorr.peak_shift(_xcorr.cross_power(fixed, moving), upsample)
        if np.hypot(*shifts[k]) > limit:
            raise IvaeError(
                f"frame {k} is shifted by ({shifts[k][0]:.1f}, {shifts[k][1]:.1f}) px against "
                f"frame 0, more than max_shift={limit:.0f} px: the frames do not show the same area"
            )
        rows[k] = shifts[k]
        moved, moved_trust = _moved(moving, trust[k], rows[k])
        if drift == "scan":
            rows[k] += _band_residuals(fixed, moved, trust[0] & moved_trust, int(band), upsample)
            moved, moved_trust = _moved(moving, trust[k], rows[k])
        error[k] = _xcorr.residual(fixed, moved, trust[0] & moved_trust)
    held = apply_shifts(np.ones(chans[0].shape, dtype=np.float32), rows, fill=0.0) > 0.999
    return Registration(shifts=shifts, error=error, valid=held, row_shifts=rows, channels=names)


def _moved(prepared: list[np.ndarray], trust: np.ndarray, row_shifts: np.ndarray):
    """Prepared channels of one frame and its trusted pixels, moved by ``row_shifts`` (Y, 2)."""
    held = apply_shifts(trust[None].astype(np.float32), row_shifts[None], fill=0.0)[0] > 0.5
    moved = [apply_shifts(p[None], row_shifts[None], fill=0.0)[0] * held for p in prepared]
    return moved, held


def _band_residuals(fixed, moved, mask, band: int, upsample: int) -> np.ndarray:
    """(Y, 2) residual shift of every row from overlapping bands of ``band`` rows."""
    ny = mask.shape[0]
    centres, found = [], []
    for r0 in range(0, ny - band + 1, band // 2):
        part = mask[r0 : r0 + band]
        if part.mean() < 0.6:
            continue
        power = _xcorr.cross_power(
            [f[r0 : r0 + band] * part for f in fixed], [m[r0 : r0 + band] * part for m in moved]
        )
        shift = _xcorr.peak_shift(power, upsample)
        if np.hypot(*shift) <= band / 4:
            centres.append(r0 + (band - 1) / 2)
            found.append(shift)
    if not found:
        return np.zeros((ny, 2))
    found = np.asarray(found)
    if len(found) >= 3:  # a band that disagrees with both neighbours is an outlier
        found = ndimage.median_filter(found, size=(3, 1), mode="nearest")
    y = np.arange(ny)
    return np.stack([np.interp(y, centres, found[:, i]) for i in range(2)], axis=1)


def apply_shifts(series, shifts, *, fill: float = np.nan, order: int = 1) -> np.ndarray:
    """Move frame ``t`` of ``series`` by ``shifts[t]`` (from :func:`register_series`).

    Parameters
    ----------
    series : array-like
        (T, Y, X) any channel of the series.
    shifts : array-like
        (T, 2) ``(dy, dx)`` per frame (:attr:`Registration.shifts`), or
        (T, Y, 2) per row of the output (:attr:`Registration.row_shifts`).
    fill : float
        Value of the pixels that come from outside the frame.
    order : int
        Spline order of the interpolation (0 = nearest: use it for masks and
        domain maps).

    Returns
    -------
    np.ndarray
        (T, Y, X) float32.
    """
    a = np.asarray(series)
    s = np.asarray(shifts, dtype=np.float64)
    ok = a.ndim == 3 and s.shape in ((a.shape[0], 2), (a.shape[0], a.shape[1], 2))
    if not ok:
        raise IvaeError(
            f"shifts has shape {s.shape}; expected ({a.shape[0]}, 2) or "
            f"({a.shape[0]}, {a.shape[1] if a.ndim == 3 else 'Y'}, 2) for a series of shape {a.shape}"
        )
    if s.ndim == 2:
        s = np.repeat(s[:, None, :], a.shape[1], axis=1)
    out = np.empty(a.shape, dtype=np.float32)
    yy, xx = np.mgrid[0 : a.shape[1], 0 : a.shape[2]].astype(np.float64)
    for k in range(a.shape[0]):
        if not s[k].any():
            out[k] = a[k]
            continue
        coords = [yy - s[k][:, 0:1], xx - s[k][:, 1:2]]
        out[k] = ndimage.map_coordinates(
            a[k].astype(np.float32), coords, order=order, mode="constant", cval=fill
        )
    return out
