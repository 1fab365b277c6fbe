"""Detect atom columns (STEM) and ferroelectric domain walls (PFM).

Two entry points, each with classical methods and a DCNN (a small U-Net whose
weights ship in ``detect/weights/``; torch is imported only when it is used):

- :func:`detect_atoms` → a table ``y, x, score, intensity, frame``;
- :func:`detect_walls` → a :class:`WallResult` (wall mask, domain map, wall
  points ``y, x, frame, orientation``).

Stacks ``(T, Y, X)`` are processed frame by frame; ``frame`` numbers the rows.
Coordinates are pixels in row/column order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from napari_ivae._errors import Cancelled, IvaeError, check_choice, check_range
from napari_ivae.detect.atoms import (
    ATOM_COLUMNS,
    MERGE_FRACTION,
    assign_sublattices,
    find_atoms_log,
    merge_duplicates,
    refine_positions,
)
from napari_ivae.detect.spacing import estimate_spacing
from napari_ivae.detect.walls import (
    DOT_AREA,
    MIN_CONTRAST,
    SIGNIFICANCE,
    WALL_COLUMNS,
    canny_frame,
    filter_walls,
    gaussian_frame,
    orient_domains,
    phase_to_radians,
    ridge_walls,
    thin_walls,
    wall_points,
)

__all__ = [
    "ATOM_METHODS",
    "WALL_METHODS",
    "WallResult",
    "atoms_summary",
    "detect_atoms",
    "detect_walls",
    "estimate_spacing",
    "refine_positions",
    "wall_points",
    "wall_summary",
]

AtomMethod = Literal["log", "dcnn"]
WallMethod = Literal["gaussian", "canny", "dcnn"]
ATOM_METHODS: tuple[str, ...] = ("log", "dcnn")
WALL_METHODS: tuple[str, ...] = ("gaussian", "canny", "dcnn")

#: smallest image side the classical detectors accept
MIN_SIDE = 16


@dataclass
class WallResult:
    """Domain walls found in a PFM image or stack.

    Attributes
    ----------
    mask : np.ndarray
        bool, same shape as the input ((Y, X) or (T, Y, X)); thin wall lines.
    domains : np.ndarray or None
        int8 ``+1`` / ``-1`` domain map of the same shape (``gaussian`` with a
        phase image), else None.  ``+1`` is the domain whose raw phase is
        closer to +90° in the first frame, and the same phase in later frames.
    points : pandas.DataFrame
        Points along the walls every ``stride`` px: ``y, x, frame, orientation``
        (radians, the wall direction from the +x axis towards +y, in (−π/2, π/2]).
        ``points.attrs["walls"]`` is ``info``.
    info : dict
        What the detector decided (JSON-serialisable): ``method``, ``inputs``
        ("phase+amplitude", "phase", "amplitude"), ``significance`` and
        ``min_contrast`` (the thresholds of the wall test; None when it was
        not run: amplitude only, or ``significance=0``), ``noise_deg``
        (robust phase noise of the domains, degrees, median over frames; None
        without a phase), ``walls_tested`` / ``walls_dropped`` (wall pieces of
        about 12 px) and ``wall_px_dropped`` (pixels), and for ``gaussian``
        ``regions_merged`` (regions without a significant phase, merged into
        their surroundings), ``domains`` and ``dots`` (connected domains, and
        those of at most 113 px, a disc of radius 6 px); counts are summed
        over frames; ``frames`` holds the per-frame dicts.  :attr:`summary`
        says it in one line.
    """

    mask: np.ndarray
    domains: np.ndarray | None
    points: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line for the user: method, noise, thresholds, walls dropped, domains found."""
        return wall_summary(self.info)

    @property
    def switched_fraction(self) -> np.ndarray | None:
        """Fraction of ``+1`` pixels per frame ((T,) array; (1,) for one image), or None."""
        if self.domains is None:
            return None
        d = self.domains if self.domains.ndim == 3 else self.domains[None]
        return (d > 0).mean(axis=(1, 2))


# --------------------------------------------------------------------------- input checks


def _check_cancel(cancel: Callable[[], bool] | None, frame: int) -> None:
    if cancel is not None and cancel():
        raise Cancelled(f"detection cancelled before frame {frame}")


def _as_stack(image, name: str) -> tuple[np.ndarray, bool]:
    """Float32 (T, Y, X) view of a (Y, X) or (T, Y, X) image; NaNs filled; checked."""
    if image is None:
        raise IvaeError(f"{name} is required")
    arr = np.asarray(image)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise IvaeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise IvaeError(f"{name} must be real-valued; got a complex array")
    if arr.ndim not in (2, 3):
        raise IvaeError(
            f"{name} must be 2-D (Y, X) or a 3-D stack (T, Y, X); got shape {arr.shape}"
        )
    single = arr.ndim == 2
    arr = arr[None] if single else arr
    if arr.shape[0] == 0:
        raise IvaeError(f"{name} is an empty stack (shape {arr.shape})")
    if min(arr.shape[1:]) < MIN_SIDE:
        raise IvaeError(
            f"{name} is {arr.shape[1]}×{arr.shape[2]}, too small; at least "
            f"{MIN_SIDE}×{MIN_SIDE} pixels are needed"
        )
    arr = arr.astype(np.float32, copy=False)
    out = np.empty(arr.shape, dtype=np.float32)
    for t, frame in enumerate(arr):
        finite = np.isfinite(frame)
        where = f" (frame {t})" if not single else ""
        if not finite.any():
            raise IvaeError(f"{name}{where} has no finite values (all NaN or inf)")
        if not finite.all():
            frac = 1.0 - finite.mean()
            warnings.warn(
                f"{name}{where}: {frac:.1%} of the pixels are NaN/inf; filled with the median",
                UserWarning,
                stacklevel=3,
            )
            frame = np.where(finite, frame, np.median(frame[finite]))
        if not np.ptp(frame) > 0:
            raise IvaeError(
                f"{name}{where} is constant ({float(frame.flat[0]):g}); there is nothing to detect"
            )
        out[t] = frame
    return out, single


# --------------------------------------------------------------------------- atoms


def detect_atoms(
    image,
    *,
    method: AtomMethod = "log",
    spacing: float | None = None,
    threshold: float | None = None,
    sigma: float | None = None,
    device: str = "auto",
    cancel: Callable[[], bool] | None = None,
) -> pd.DataFrame:
    """Detect atom columns in a STEM image or stack.

    Parameters
    ----------
    image : array (Y, X) or (T, Y, X)
        Image with bright atom columns (HAADF-like); stacks are done per frame.
    method : {"log", "dcnn"}
        ``"log"``: Laplacian-of-Gaussian peaks refined by a Gaussian fit
        (:func:`napari_ivae.detect.atoms.find_atoms_log`); ``"dcnn"``: the
        shipped U-Net (:func:`napari_ivae.detect.dcnn.detect_atoms_dcnn`).
    spacing : float, optional
        Nearest-neighbour atom distance in pixels; estimated from the image
        (autocorrelation) when omitted.
    threshold : float, optional
        ``"log"``: smallest ``score``, the LoG peak height in standard
        deviations of the filtered noise (default 3; the same meaning on every
        image); ``"dcnn"``: smallest heatmap value in (0, 1), default 0.5.
    sigma : float, optional
        ``"log"`` only: LoG scale in pixels (default ``spacing / 5``).
    device : str
        ``"dcnn"`` only: "auto", "cpu", "cuda" or "mps".
    cancel : callable, optional
        Called before each frame; when it returns True the detection stops
        with :class:`~napari_ivae._errors.Cancelled` (a GUI's Cancel button).

    Returns
    -------
    pandas.DataFrame
        ``y, x`` (sub-pixel), ``score``, ``intensity`` (background-subtracted,
        integrated over a disc of about a third of the spacing, so brighter
        columns such as dopants stand out), ``sublattice`` (int, 0 = the
        brightest sublattice; see :func:`~napari_ivae.detect.atoms.assign_sublattices`)
        and ``frame`` (int).  Atoms closer than 0.4 × the spacing are merged
        (the higher score kept), whatever the method.  ``.attrs`` says what was
        decided (see :func:`atoms_summary`): ``method``, ``spacing_px``,
        ``threshold``, ``sublattices`` ({label: count}), ``duplicates_merged``,
        ``lattice_sites_tested`` / ``lattice_sites_filled`` (``"log"``, two
        sublattices: sites predicted by the lattice and not found by the
        search, and those whose column fitted at the predicted position
        reached ``fill_threshold`` (2/3 of the threshold); see
        :mod:`napari_ivae.detect._fill`),
        ``frames`` (one dict per frame) and ``summary`` (the one line the CLI prints).

    Raises
    ------
    IvaeError
        Bad input: not 2-D/3-D, smaller than 16×16, all NaN, constant; bad options.

    Warns
    -----
    UserWarning
        When no atom is found.
    """
    check_choice("method", method, ATOM_METHODS)
    if spacing is not None:
        check_range("spacing", float(spacing), low=2.0)
    if sigma is not None and method != "log":
        raise IvaeError(f"sigma is an option of method='log' only; got method={method!r}")
    if threshold is not None:
        if method == "dcnn" and not 0 < float(threshold) < 1:
            raise IvaeError(f"threshold={threshold!r} is out of range; expected 0 < threshold < 1")
        check_range("threshold", float(threshold), low=0.0)
    stack, _single = _as_stack(image, "image")
    side = min(stack.shape[1:])
    if spacing is not None:
        check_range("spacing", float(spacing), low=2.0, high=side / 2)
    if sigma is not None:
        check_range("sigma", float(sigma), low=0.3, high=side / 4)
    tables = []
    infos = []
    for t, frame in enumerate(stack):
        _check_cancel(cancel, t)
        if method == "log":
            df = find_atoms_log(frame, spacing=spacing, threshold=threshold, sigma=sigma)
            info = dict(df.attrs)
        else:
            from napari_ivae.detect import dcnn

            thr = 0.5 if threshold is None else float(threshold)
            df = dcnn.detect_atoms_dcnn(frame, spacing=spacing, threshold=thr, device=device)
            df = df[ATOM_COLUMNS].astype(np.float64)
            df, info = _dcnn_finish(df, spacing)
            info["threshold"] = thr
        df = df.copy()
        df["frame"] = np.int64(t)
        tables.append(df)
        infos.append(info)
    out = pd.concat(tables, ignore_index=True)
    out["frame"] = out["frame"].astype(np.int64)
    out["sublattice"] = out["sublattice"].astype(np.int64)
    if len(out) == 0:
        warnings.warn(
            f"detect_atoms(method={method!r}) found no atoms; check the image "
            "(bright columns on a dark background?), spacing and threshold",
            UserWarning,
            stacklevel=2,
        )
    out = out[[*ATOM_COLUMNS, "sublattice", "frame"]]
    out.attrs.update(_summarise(method, infos, out))
    return out


def _dcnn_finish(df: pd.DataFrame, spacing: float | None) -> tuple[pd.DataFrame, dict]:
    """Shared post-processing of DCNN peaks: duplicate merge and sublattices."""
    yx = df[["y", "x"]].to_numpy()
    if spacing is None:
        if len(yx) > 1:
            from scipy.spatial import cKDTree

            d, _ = cKDTree(yx).query(yx, k=2)
            # atoms of one column refined onto the same place have ~0 distance:
            # the spacing is the median of the clearly separated neighbours
            far = d[:, 1][d[:, 1] > 1.0]
            spacing = float(np.median(far)) if len(far) else 2.0
        else:
            spacing = 2.0
    keep, n_merged = merge_duplicates(
        yx, df["score"].to_numpy(), min_distance=MERGE_FRACTION * spacing
    )
    df = df[keep].reset_index(drop=True)
    sub = assign_sublattices(
        df[["y", "x"]].to_numpy(), np.clip(df["intensity"].to_numpy(), 1e-12, None), spacing=spacing
    )
    df["sublattice"] = sub
    info = {
        "method": "dcnn",
        "spacing_px": float(spacing),
        "sublattices": {int(k): int(v) for k, v in zip(*np.unique(sub, return_counts=True))},
        "duplicates_merged": int(n_merged),
    }
    return df, info


def _summarise(method: str, infos: list[dict], table: pd.DataFrame) -> dict:
    """Table-level ``.attrs`` from the per-frame decisions (see :func:`atoms_summary`)."""
    spacings = [i["spacing_px"] for i in infos if "spacing_px" in i]
    subs = {
        int(k): int(v)
        for k, v in zip(*np.unique(table["sublattice"].to_numpy(), return_counts=True))
    }
    attrs = {
        "method": method,
        "spacing_px": float(np.median(spacings)) if spacings else float("nan"),
        "threshold": float(infos[0].get("threshold", float("nan"))) if infos else float("nan"),
        "threshold_unit": "noise sigma" if method == "log" else "heatmap",
        "sublattices": subs,
        "duplicates_merged": int(sum(i.get("duplicates_merged", 0) for i in infos)),
        "lattice_sites_filled": int(sum(i.get("lattice_sites_filled", 0) for i in infos)),
        "lattice_sites_tested": int(sum(i.get("lattice_sites_tested", 0) for i in infos)),
        "fill_threshold": float(infos[0].get("fill_threshold", float("nan")))
        if infos
        else float("nan"),
        "n_atoms": len(table),
        "frames": infos,
    }
    attrs["summary"] = atoms_summary(attrs)
    return attrs


def atoms_summary(attrs: dict, pixel_size_nm: float | None = None) -> str:
    """One line saying what the atom detector decided (printed by the CLI, shown by the GUI).

    Parameters
    ----------
    attrs : dict
        ``detect_atoms(...).attrs``.
    pixel_size_nm : float, optional
        Pixel size; when given the spacing is also written in nm.

    Returns
    -------
    str
        E.g. ``"2209 atoms; spacing 13.43 px (0.171 nm); threshold 3 σ (noise);
        sublattices: 0: 1150, 1: 1059; duplicates merged: 0"``.
    """
    sp = attrs.get("spacing_px", float("nan"))
    spacing = f"spacing {sp:.2f} px"
    if pixel_size_nm is not None and np.isfinite(sp):
        spacing += f" ({sp * float(pixel_size_nm):.3g} nm)"
    thr = attrs.get("threshold", float("nan"))
    unit = " σ (noise)" if attrs.get("threshold_unit") == "noise sigma" else " (heatmap)"
    subs = attrs.get("sublattices", {})
    sub = ", ".join(f"{k}: {v}" for k, v in sorted(subs.items())) or "none"
    line = (
        f"{attrs.get('n_atoms', 0)} atoms; {spacing}; threshold {thr:g}{unit}; "
        f"sublattices: {sub}; duplicates merged: {attrs.get('duplicates_merged', 0)}"
    )
    if attrs.get("lattice_sites_tested"):
        line += (
            f"; lattice fill: {attrs.get('lattice_sites_filled', 0)} of "
            f"{attrs['lattice_sites_tested']} predicted, missed sites fitted at ≥ "
            f"{attrs.get('fill_threshold', float('nan')):g} σ"
        )
    return line


# --------------------------------------------------------------------------- walls


def detect_walls(
    phase=None,
    amplitude=None,
    *,
    method: WallMethod = "gaussian",
    stride: int = 4,
    sigma: float = 1.5,
    min_size: int = 4,
    phase_units: Literal["auto", "deg", "rad"] = "auto",
    threshold: float = 0.5,
    significance: float = SIGNIFICANCE,
    device: str = "auto",
    cancel: Callable[[], bool] | None = None,
) -> WallResult:
    """Detect ferroelectric domain walls in a PFM phase and/or amplitude image or stack.

    Parameters
    ----------
    phase : array (Y, X) or (T, Y, X), optional
        PFM phase in degrees or radians (detected, see ``phase_units``);
        wrapped, offset, drifting, with scan-line offsets: all handled.
    amplitude : array, same shape as ``phase``, optional
        PFM amplitude; walls are its dark lines.  With a phase it weights the
        phase (weak response → noisy phase); alone, walls are found as its
        valleys.  At least one of ``phase`` and ``amplitude`` is needed.
    method : {"gaussian", "canny", "dcnn"}
        ``"gaussian"``: smoothed phasor → up/down domain map → walls between
        domains; ``"canny"``: Canny edges of the flattened phase field with
        data-driven thresholds; ``"dcnn"``: the shipped U-Net's wall
        probability, thresholded and thinned.  With amplitude only,
        ``gaussian`` and ``canny`` both use the amplitude valley detector.
    stride : int
        Distance in pixels between wall points, ``1 ≤ stride ≤ min(Y, X)``.
    sigma : float
        Smoothing scale in pixels (classical methods), at most 50 and a
        quarter of the image's smaller side.
    min_size : int
        ``gaussian``: smallest domain kept, in pixels (default 4, so dots of
        a few pixels are kept; the significance test removes noise);
        ``dcnn``, ``canny``: smallest wall piece kept.
    phase_units : {"auto", "deg", "rad"}
        Units of ``phase``; "auto": degrees when the values span more than 2π.
    threshold : float
        ``dcnn`` only: probability threshold in (0, 1).
    significance : float
        With a phase, every method: a wall must separate two phases that
        differ beyond the noise.  Walls are cut into pieces of about 12 px;
        the pixels within 4 px on each side of a piece must carry their own
        polarisation, with a mean phase projection ``m`` (``cos`` of the
        flattened phase, ±1 in clean domains) of at least once its robust σ
        (1.4826 × MAD; :data:`~napari_ivae.detect.walls.MIN_CONTRAST`) and a
        z-score ``m √n / σ`` of at least ``significance``; pieces that fail
        (inside or along noisy patches, on artefacts inside a domain) are
        dropped.  ``gaussian`` tests every domain the same way first and
        merges those that fail into their surroundings.  0 ≤ significance ≤
        100; 0 switches the tests off (``gaussian`` then only merges domains
        under ``min_size``).
    device : str
        ``dcnn`` only: "auto", "cpu", "cuda" or "mps".
    cancel : callable, optional
        Called before each frame; when it returns True the detection stops
        with :class:`~napari_ivae._errors.Cancelled` (a GUI's Cancel button).

    Returns
    -------
    WallResult
        ``mask`` (bool, input shape), ``domains`` (int8 ±1 or None),
        ``points`` (``y, x, frame, orientation``), ``info`` (what was
        decided; one line in ``summary``).

    Raises
    ------
    IvaeError
        Neither image given, shapes differ, images too small, all NaN or
        constant, bad options.

    Warns
    -----
    UserWarning
        When no wall is found, or when the phase units are ambiguous.
    """
    check_choice("method", method, WALL_METHODS)
    check_choice("phase_units", phase_units, ("auto", "deg", "rad"))
    check_range("stride", stride, low=1)
    check_range("sigma", sigma, low=0.0, high=50.0)
    check_range("min_size", min_size, low=0)
    check_range("significance", significance, low=0.0, high=100.0)
    if method == "dcnn" and not 0 < threshold < 1:
        raise IvaeError(f"threshold={threshold!r} is out of range; expected 0 < threshold < 1")
    if phase is None and amplitude is None:
        raise IvaeError("detect_walls needs a phase and/or an amplitude image; both are None")
    ph = amp = None
    single = True
    if phase is not None:
        ph, single = _as_stack(phase, "phase")
    if amplitude is not None:
        amp, single_a = _as_stack(amplitude, "amplitude")
        if ph is not None and amp.shape != ph.shape:
            sp = ph.shape[1:] if single else ph.shape
            sa = amp.shape[1:] if single_a else amp.shape
            raise IvaeError(f"amplitude shape {sa} differs from phase shape {sp}")
        single = single_a if ph is None else single
    side = min((ph if ph is not None else amp).shape[1:])
    if stride > side:
        raise IvaeError(
            f"stride={stride} is out of range; expected 1 ≤ stride ≤ {side} (the image's smaller side)"
        )
    if sigma > side / 4:
        raise IvaeError(
            f"sigma={sigma!r} is out of range; expected 0 ≤ sigma ≤ {side / 4:g} (a quarter of the image's smaller side)"
        )
    if ph is not None:
        ph, _units = phase_to_radians(ph, phase_units)
    n = (ph if ph is not None else amp).shape[0]
    masks, doms, points, infos = [], [], [], []
    ref = None
    for t in range(n):
        _check_cancel(cancel, t)
        p = None if ph is None else ph[t]
        a = None if amp is None else amp[t]
        dom = None
        finfo: dict = {}
        if method == "dcnn":
            from napari_ivae.detect import dcnn

            prob = dcnn.wall_probability(p, a, phase_units="rad", device=device)
            mask = thin_walls(prob >= threshold, min_size)
            if p is not None:
                mask, finfo = filter_walls(mask, p, a, sigma=sigma, significance=significance)
        elif p is None:
            mask = ridge_walls(a, sigma=sigma)
        elif method == "gaussian":
            mask, dom, _, finfo = gaussian_frame(
                p, a, sigma=sigma, min_size=min_size, significance=significance
            )
            dom, ref = orient_domains(dom, p, ref)
        else:
            mask, finfo = canny_frame(
                p, a, sigma=sigma, min_size=min_size, significance=significance
            )
        masks.append(mask)
        doms.append(dom)
        infos.append({"frame": t, **finfo})
        points.append(wall_points(mask, stride=stride, frame=t))
    mask = np.stack(masks)
    domains = None if doms[0] is None else np.stack(doms)
    if single:
        mask = mask[0]
        domains = None if domains is None else domains[0]
    pts = pd.concat(points, ignore_index=True)[WALL_COLUMNS]
    pts["frame"] = pts["frame"].astype(np.int64)
    inputs = "+".join(k for k, v in (("phase", ph), ("amplitude", amp)) if v is not None)
    info = _wall_info(method, inputs, significance if ph is not None else 0.0, infos)
    pts.attrs["walls"] = info
    if not mask.any():
        warnings.warn(
            f"detect_walls(method={method!r}) found no walls"
            + (" (the image holds a single domain)" if domains is not None else "")
            + "; check the image and the options",
            UserWarning,
            stacklevel=2,
        )
    return WallResult(mask=mask, domains=domains, points=pts, info=info)


_WALL_COUNTS = (
    "walls_tested",
    "walls_dropped",
    "wall_px_dropped",
    "regions_merged",
    "domains",
    "dots",
)


def _wall_info(method: str, inputs: str, significance: float, frames: list[dict]) -> dict:
    """The ``WallResult.info`` dict: thresholds, noise (median over frames), summed counts."""
    tested = significance > 0
    noise = [f["noise_deg"] for f in frames if np.isfinite(f.get("noise_deg", np.nan))]
    info: dict = {
        "method": method,
        "inputs": inputs,
        "significance": float(significance) if tested else None,
        "min_contrast": MIN_CONTRAST if tested else None,
        "noise_deg": round(float(np.median(noise)), 2) if noise else None,
    }
    for key in _WALL_COUNTS:
        if any(key in f for f in frames):
            info[key] = int(sum(f.get(key, 0) for f in frames))
    info["frames"] = [
        {k: (round(float(v), 2) if k == "noise_deg" else v) for k, v in f.items()} for f in frames
    ]
    return info


def wall_summary(info: dict) -> str:
    """One line saying what :func:`detect_walls` decided (from ``WallResult.info``).

    Example: ``walls (gaussian, phase+amplitude): phase noise 9.8° (robust σ);
    test z ≥ 4, contrast ≥ 1σ: 6 of 63 wall pieces dropped (71 px); 4 noise
    regions merged; 41 domains, 17 of them dots (≤ 113 px)``.
    """
    if not info:
        return ""
    head = f"walls ({info.get('method')}, {info.get('inputs')})"
    parts = []
    if info.get("noise_deg") is not None:
        parts.append(f"phase noise {info['noise_deg']:.1f}° (robust σ)")
    if info.get("significance") is not None:
        parts.append(
            f"test z ≥ {info['significance']:g}, contrast ≥ {info['min_contrast']:g}σ: "
            f"{info.get('walls_dropped', 0)} of {info.get('walls_tested', 0)} wall pieces dropped "
            f"({info.get('wall_px_dropped', 0)} px)"
        )
    elif "phase" in str(info.get("inputs")):
        parts.append("significance test off")
    else:
        parts.append("no phase: walls not tested")
    if info.get("regions_merged"):
        parts.append(f"{info['regions_merged']} noise regions merged")
    if "domains" in info:
        n_frames = len(info.get("frames", [])) or 1
        per = " (all frames)" if n_frames > 1 else ""
        parts.append(
            f"{info['domains']} domains{per}, {info['dots']} of them dots (≤ {DOT_AREA} px)"
        )
    return head + ": " + "; ".join(parts)
