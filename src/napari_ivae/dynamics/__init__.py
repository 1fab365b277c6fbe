"""Domain-wall dynamics over a PFM switching series (torch-free core).

- :mod:`~napari_ivae.dynamics.motion`: how far each wall pixel moves to the
  next frame, and whether it is pinned (the per-pixel and per-point
  ``displacement_px`` / ``pinned`` of issue 13).
- :mod:`~napari_ivae.dynamics.register`: drift correction of a series by
  phase correlation (real series are not registered).
"""

from __future__ import annotations

from napari_ivae.dynamics.motion import PIN_TOLERANCE, point_motion, wall_motion
from napari_ivae.dynamics.register import Registration, apply_shifts, register_series

__all__ = [
    "PIN_TOLERANCE",
    "Registration",
    "apply_shifts",
    "point_motion",
    "register_series",
    "wall_motion",
]
