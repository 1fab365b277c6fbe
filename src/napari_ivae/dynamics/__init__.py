"""Domain-wall dynamics over a PFM switching series (torch-free core).

- :mod:`~napari_ivae.dynamics.motion`: how far each wall pixel moves to the
  next frame, and whether it is pinned (the per-pixel and per-point
  ``displacement_px`` / ``pinned`` of issue 13).
- :mod:`~napari_ivae.dynamics.register`: drift correction of a series
  (masked multi-channel cross-correlation, one shift per scan line: real
  series drift between scans and during them).
- :mod:`~napari_ivae.dynamics.artefacts`: scan lines that cannot be trusted
  (tip changes: jumps of the phase axis or of the amplitude contrast).
"""

from __future__ import annotations

from napari_ivae.dynamics.artefacts import artefact_rows, trust_mask
from napari_ivae.dynamics.motion import PIN_TOLERANCE, point_motion, wall_motion
from napari_ivae.dynamics.register import (
    REFERENCE_ROLES,
    Registration,
    apply_shifts,
    reference_channels,
    register_series,
)

__all__ = [
    "PIN_TOLERANCE",
    "REFERENCE_ROLES",
    "Registration",
    "apply_shifts",
    "artefact_rows",
    "point_motion",
    "reference_channels",
    "register_series",
    "trust_mask",
    "wall_motion",
]
