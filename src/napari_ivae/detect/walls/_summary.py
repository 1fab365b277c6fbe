"""What :func:`~napari_ivae.detect.detect_walls` decided: the ``info`` dict and its one line."""

from __future__ import annotations

import numpy as np

from napari_ivae.detect.walls._frames import DOT_AREA
from napari_ivae.detect.walls._significance import MIN_CONTRAST

__all__ = ["wall_summary"]


_WALL_COUNTS = (
    "wall_px_180",
    "wall_px_non180",
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
    kind = info.get("kind")
    head = f"walls ({info.get('method')}, {info.get('inputs')}" + (
        f", kind {kind})" if kind else ")"
    )
    parts = []
    if "wall_px_180" in info:
        parts.append(f"{info['wall_px_180']} px 180°, {info['wall_px_non180']} px non-180°")
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
