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
from typing import Literal

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.detect._common import MIN_SIDE as MIN_SIDE
from napari_ivae.detect._common import _as_stack, _check_cancel
from napari_ivae.detect.atoms import (
    ATOM_COLUMNS,
    MERGE_FRACTION,
    assign_sublattices,
    find_atoms_log,
    merge_duplicates,
    refine_positions,
)
from napari_ivae.detect.spacing import estimate_spacing
from napari_ivae.detect.walls import KINDS as WALL_KINDS
from napari_ivae.detect.walls import wall_maps, wall_points
from napari_ivae.detect.walls._detect import (
    WALL_METHODS,
    WallResult,
    detect_walls,
    wall_summary,
)
from napari_ivae.detect.walls._detect import (
    WallMethod as WallMethod,
)

__all__ = [
    "ATOM_METHODS",
    "WALL_KINDS",
    "WALL_METHODS",
    "WallResult",
    "atoms_summary",
    "detect_atoms",
    "detect_walls",
    "estimate_spacing",
    "refine_positions",
    "wall_maps",
    "wall_points",
    "wall_summary",
]

AtomMethod = Literal["log", "dcnn"]
ATOM_METHODS: tuple[str, ...] = ("log", "dcnn")


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
    pixel_size_nm : float or (float, float), optional
        Pixel size (or the (y, x) pair of :func:`napari_ivae.io.pixel_size_nm`);
        when given the spacing is also written in nm.

    Returns
    -------
    str
        E.g. ``"2209 atoms; spacing 13.43 px (0.171 nm); threshold 3 σ (noise);
        sublattices: 0: 1150, 1: 1059; duplicates merged: 0"``.
    """
    sp = attrs.get("spacing_px", float("nan"))
    spacing = f"spacing {sp:.2f} px"
    if pixel_size_nm is not None and np.isfinite(sp):
        size = float(np.ravel(pixel_size_nm)[-1])  # a (y, x) pair: the column size
        spacing += f" ({sp * size:.3g} nm)"
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
