"""Classical ferroelectric domain-wall detectors for PFM phase / amplitude images.

Phase images are handled as the circular quantity they are: the phase becomes
the unit phasor ``exp(iφ)``; 180° domains are the two levels ``φ0`` and
``φ0 + π``, which the doubled phasor ``exp(2iφ)`` maps onto the same point,
so the doubled phasor measures the (unknown) offset ``φ0`` without knowing the
domains.  :func:`flatten_phase` uses it to remove the slow drift (smoothed
doubled phasor, unwrapped in 2-D), then the per-scan-line offsets (phasor
difference of consecutive rows), then refines both with the provisional
domains flipped onto each other; what remains has its two domains near ``0``
and ``π``, whatever the wrapping, offset and drift of the input.

- ``gaussian``: Gaussian-smoothed phasor projected on the domain axis → up/down
  domain map (small islands removed); walls are the boundary pixels between
  domains (one pixel thick).
- ``canny``: :func:`skimage.feature.canny` on that domain field, thresholds
  from the data (Otsu of the gradient magnitude, never below 4.5 standard
  deviations of the gradient of the field's own pixel noise, nor below 30 %
  of the gradient of a full −1 → +1 wall step), so noise does not become
  edges.

With amplitude only, walls are the dark lines of the amplitude: a Hessian
valley filter (:func:`skimage.filters.sato`) on the locally normalised
amplitude, hysteresis thresholds from the data, then a skeleton.

Wall kinds (``detect_walls(kind=...)``, ``_kinds``): ``"180"`` (the phase
reverses), ``"all"`` (every amplitude valley: ferroelastic a/c walls too) and
``"non180"`` (all minus 180°); :func:`wall_maps` makes image channels of them
for a multilayer crop.

The code is split by stage: ``_phase`` (units, flattening, domain field),
``_significance`` (the noise tests of domains and walls), ``_frames`` (the
phase detectors, one frame at a time), ``_valleys`` (the amplitude valley
detector and its depth test), ``_kinds`` (wall kinds, wall maps),
``_points`` (wall points) and ``_summary`` (the info dict and its line).
"""

from __future__ import annotations

from napari_ivae.detect.walls._frames import (
    DOT_AREA,
    boundary_mask,
    canny_frame,
    canny_walls,
    filter_walls,
    gaussian_frame,
    gaussian_walls,
    orient_domains,
    thin_walls,
)
from napari_ivae.detect.walls._kinds import (
    KIND_TOLERANCE,
    KINDS,
    MIN_PIECE,
    WallKind,
    kind_frame,
    point_kinds,
    subtract_180,
    wall_maps,
)
from napari_ivae.detect.walls._phase import (
    PHASE_UNITS,
    PhaseUnits,
    domain_field,
    flatten_phase,
    phase_projection,
    phase_to_radians,
)
from napari_ivae.detect.walls._points import WALL_COLUMNS, wall_points
from napari_ivae.detect.walls._significance import (
    CHUNK_LENGTH,
    MIN_CONTRAST,
    NOISE_SCALE,
    SIDE_BAND,
    SIGNIFICANCE,
    local_noise,
    phase_noise_deg,
    significant_domains,
    significant_walls,
)
from napari_ivae.detect.walls._valleys import MIN_DEPTH, ridge_walls

__all__ = [
    "CHUNK_LENGTH",
    "DOT_AREA",
    "KINDS",
    "KIND_TOLERANCE",
    "MIN_CONTRAST",
    "MIN_DEPTH",
    "MIN_PIECE",
    "NOISE_SCALE",
    "PHASE_UNITS",
    "SIDE_BAND",
    "SIGNIFICANCE",
    "WALL_COLUMNS",
    "PhaseUnits",
    "WallKind",
    "boundary_mask",
    "canny_frame",
    "canny_walls",
    "domain_field",
    "filter_walls",
    "flatten_phase",
    "gaussian_frame",
    "gaussian_walls",
    "kind_frame",
    "local_noise",
    "orient_domains",
    "phase_noise_deg",
    "phase_projection",
    "phase_to_radians",
    "point_kinds",
    "ridge_walls",
    "significant_domains",
    "significant_walls",
    "subtract_180",
    "thin_walls",
    "wall_maps",
    "wall_points",
]
