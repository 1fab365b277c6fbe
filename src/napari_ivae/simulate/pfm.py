"""Seeded simulators of PFM amplitude/phase images with 180° domains, and switching series.

Ground truth conventions (exact, shared by :func:`simulate_pfm` and
:func:`simulate_switching`):

- ``domains`` is int8, +1 or −1 per pixel (polarisation up/down).
- ``walls`` is the set of *boundary pixels between domains*: a pixel is a wall
  pixel iff one of its 4-neighbours belongs to the other domain
  (``skimage.segmentation.find_boundaries(domains, connectivity=1,
  mode="thick")``).  The wall line is therefore 2 px wide (one pixel on each
  side of the true wall, which lies between pixel centres); the image border is
  never a wall.
- The amplitude dip is centred on the true wall line: its depth depends on the
  distance ``d = edt - 0.5`` from a pixel centre to the nearest pixel edge
  shared with the other domain.
- ``phase = offset + 180° · (domains == −1) + drift(y, x) + line_offset(y) + noise``,
  wrapped into [−180°, 180°) (or [−π, π) when ``units="rad"``).  The smooth part
  ``offset + drift + line_offset`` is returned as ``phase_background`` (unwrapped,
  same units) so tests can remove it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.simulate._pfm_render import (
    DOMAIN_SHAPES,
    UNITS,
    DomainShape,
    Units,
    _add_artefacts,
    _add_dots,
    _artefact_rng,
    _check_shape,
    _finish_phase,
    _gain_field,
    _render_opts,
    _render_pfm,
    _shared_params,
    domain_walls,
    random_domains,
    wall_distance,
)
from napari_ivae.simulate.switching import SwitchingSample, simulate_switching

__all__ = [
    "DOMAIN_SHAPES",
    "UNITS",
    "DomainShape",
    "PFMSample",
    "SwitchingSample",
    "Units",
    "domain_walls",
    "random_domains",
    "simulate_pfm",
    "simulate_switching",
    "wall_distance",
]

#: bounds of the numeric options of :func:`simulate_pfm`, checked in this order
_PFM_RANGES: tuple[tuple[str, dict], ...] = (
    ("domain_size", {"low": 4.0}),
    ("up_fraction", {"low": 0.05, "high": 0.95}),
    ("amplitude_variation", {"low": 0.0, "high": 2.0}),
    ("amplitude_asymmetry", {"low": -1.0, "high": 1.0}),
    ("wall_width", {"low": 0.5, "high": 50.0}),
    ("wall_depth", {"low": 0.0, "high": 1.0}),
    ("noise", {"low": 0.0, "high": 90.0}),
    ("scanline_noise", {"low": 0.0, "high": 90.0}),
    ("amplitude_noise", {"low": 0.0, "high": 1.0}),
    ("amplitude_gain", {"low": 0.0, "low_inclusive": False}),
    ("dots", {"low": 0, "high": 10_000}),
    ("noisy_patches", {"low": 0, "high": 1000}),
    ("line_glitches", {"low": 0, "high": 10_000}),
    ("tip_bands", {"low": 0, "high": 100}),
    ("patch_size", {"low": 2.0, "high": 1000.0}),
    ("patch_noise", {"low": 0.0, "high": 360.0}),
)


@dataclass
class PFMSample:
    """A simulated PFM amplitude/phase pair and its ground truth.

    Attributes
    ----------
    amplitude : np.ndarray
        (Y, X) float32, piezoresponse amplitude (≈ ``amplitude_gain`` inside
        domains, dipping towards 0 at walls).
    phase : np.ndarray
        (Y, X) float32, wrapped phase in ``units``.
    domains : np.ndarray
        (Y, X) int8, +1 / −1.
    walls : np.ndarray
        (Y, X) bool, boundary pixels between domains (see module docstring).
    params : dict
        Every parameter used, with random choices resolved (``phase_offset``,
        drift direction, ...).
    phase_background : np.ndarray
        (Y, X) float32, unwrapped ``offset + drift + line offsets`` in ``units``
        (tip-change band offsets included).
    noisy : np.ndarray or None
        (Y, X) bool, pixels whose phase carries no domain information (noisy
        patches, glitched scan lines); None when the simulation has none.
    dots : np.ndarray or None
        (N, 4) float64 rows ``y, x, radius, sign`` of the small dot domains
        that were added (``sign`` = their polarisation), None when none.
    """

    amplitude: np.ndarray
    phase: np.ndarray
    domains: np.ndarray
    walls: np.ndarray
    params: dict = field(default_factory=dict)
    phase_background: np.ndarray | None = None
    noisy: np.ndarray | None = None
    dots: np.ndarray | None = None


def simulate_pfm(
    shape: tuple[int, int] = (256, 256),
    *,
    domain_size: float = 48.0,
    domain_shape: DomainShape = "blobs",
    up_fraction: float = 0.5,
    wall_width: float = 3.0,
    wall_depth: float = 0.8,
    phase_offset: float | None = None,
    drift: float = 40.0,
    wrap: bool = True,
    scanline_noise: float = 4.0,
    noise: float = 8.0,
    amplitude_noise: float = 0.08,
    amplitude_gain: float = 1.0,
    amplitude_variation: float = 0.0,
    amplitude_asymmetry: float = 0.0,
    dots: int = 0,
    dot_radius: tuple[float, float] = (2.0, 6.0),
    noisy_patches: int = 0,
    patch_size: float = 24.0,
    patch_noise: float = 120.0,
    line_glitches: int = 0,
    tip_bands: int = 0,
    units: Units = "deg",
    seed: int = 0,
) -> PFMSample:
    """Simulate a PFM amplitude/phase pair with 180° ferroelectric domains.

    Parameters
    ----------
    shape : tuple of int
        Image shape (Y, X), each ≥ 16.
    domain_size : float
        Typical domain width in pixels (≥ 4): domains are the sign of a smooth
        random field (Gaussian sigma ``domain_size / 4``) thresholded at its
        ``1 - up_fraction`` quantile (by default both polarisations cover about
        half of the image).
    domain_shape : {"blobs", "stripes"}
        ``"blobs"``: irregular domains (above); ``"stripes"``: meandering stripe
        domains of width ``domain_size`` in a random direction.
    up_fraction : float
        Target fraction of +1 domains (0.05–0.95); small islands are removed
        afterwards, so the realised fraction is close to, not exactly, this.
    wall_width : float
        Full width at half maximum (px) of the amplitude dip at walls.
    wall_depth : float
        Relative depth of the dip (0–1): amplitude at a wall ≈ ``1 - wall_depth``.
    phase_offset : float, optional
        Phase of the +1 domains in degrees; random in [−180, 180) when None.
    drift : float
        Slow phase drift in degrees across the image (a tilted plane plus a
        quarter of it as curvature), in a random direction.
    wrap : bool
        Wrap the phase into [−180°, 180°) (as instruments do).
    scanline_noise : float
        Standard deviation (degrees) of a random phase offset per scan line (row).
    noise : float
        Standard deviation (degrees) of the pixel phase noise inside domains; it
        grows as 1/amplitude in the wall dips (at most 4×).
    amplitude_noise : float
        Relative (multiplicative) amplitude noise.
    amplitude_gain : float
        Scale of the amplitude (instrument gain).
    amplitude_variation : float
        Relative standard deviation of a slow multiplicative amplitude field
        (uneven response / topographic cross-talk, as in real scans); 0 = off.
    amplitude_asymmetry : float
        Relative amplitude difference between the domains: +1 domains get
        ``1 + a/2``, −1 domains ``1 - a/2``; 0 = equal.
    dots : int
        Number of small dot domains (discs of the opposite polarisation, as
        the nanodomains of real films) added inside the domains, at least
        4 px from walls and 6 px apart (fewer when there is no room); their
        centres, radii and signs are returned in ``PFMSample.dots``.
    dot_radius : tuple of float
        Range (px) of the dots' radii, drawn uniformly; 1 ≤ low ≤ high ≤ 50.
    noisy_patches : int
        Number of noisy patches: irregular blobs about ``patch_size`` px
        across where the response is weak (amplitude × 0.25) and the phase
        noise is ``patch_noise``; marked in ``PFMSample.noisy``.
    patch_size : float
        Typical size of a noisy patch in pixels (2–1000).
    patch_noise : float
        Standard deviation (degrees, 0–360) of the phase noise in the noisy
        patches; 120° leaves almost no domain information.
    line_glitches : int
        Number of glitched scan lines (a piece of a row, a quarter to all of
        its length, with a random phase and amplitude), marked in ``noisy``.
    tip_bands : int
        Number of tip-change bands: runs of 4–12 % of the rows with an extra
        phase offset (60–300°, part of ``phase_background``), a lower
        amplitude gain (0.3–0.7) and twice the phase noise.
    units : {"deg", "rad"}
        Units of ``phase`` and ``phase_background``.
    seed : int
        Seed of the random generator.  The options that are off by default
        (``amplitude_variation``, ``dots``, ``noisy_patches``,
        ``line_glitches``, ``tip_bands``) draw from their own streams, so
        switching them on leaves the domains and noise of a seed unchanged.

    Returns
    -------
    PFMSample
        ``amplitude``, ``phase``, ``domains``, ``walls``, ``params``,
        ``phase_background``, ``noisy``, ``dots``.
    """
    o = dict(locals())  # the arguments by name, before any other local
    h, w = _check_pfm_options(o)
    rng = np.random.default_rng(seed)
    if phase_offset is None:
        phase_offset = float(rng.uniform(-180.0, 180.0))
    drift_angle = float(rng.uniform(0, 2 * np.pi))
    domains = random_domains(
        (h, w), domain_size, rng, up_fraction=float(up_fraction), domain_shape=domain_shape
    )
    dot_table = None
    if dots > 0:
        radius = (float(dot_radius[0]), float(dot_radius[1]))
        domains, dot_table = _add_dots(domains, int(dots), radius, _artefact_rng(seed, 1))
    amp, phase, background = _render_pfm(
        domains,
        rng,
        phase_offset=float(phase_offset),
        drift=float(drift),
        drift_angle=drift_angle,
        gain_field=_gain_field((h, w), float(amplitude_variation), seed),
        **_render_opts(o),
    )
    params = {
        "shape": (h, w),
        "domain_size": float(domain_size),
        "domain_shape": domain_shape,
        "up_fraction": float(up_fraction),
        **_shared_params(o, phase_offset, drift_angle),
    }
    noisy = None
    if noisy_patches or line_glitches or tip_bands:
        art = {
            "noisy_patches": int(noisy_patches),
            "patch_size": float(patch_size),
            "patch_noise": float(patch_noise),
            "line_glitches": int(line_glitches),
            "tip_bands": int(tip_bands),
        }
        amp, phase, background, noisy = _add_artefacts(
            amp, phase, background, seed=seed, noise=float(noise), **art
        )
        params.update(art)
    if dots > 0:
        params.update(dots=int(dots), dot_radius=(float(dot_radius[0]), float(dot_radius[1])))
    bg = background if units == "deg" else np.deg2rad(background)
    return PFMSample(
        amplitude=amp.astype(np.float32),
        phase=_finish_phase(phase, wrap, units),
        domains=domains,
        walls=domain_walls(domains),
        params=params,
        phase_background=bg.astype(np.float32),
        noisy=noisy,
        dots=dot_table,
    )


def _check_pfm_options(o: dict) -> tuple[int, int]:
    """Check the arguments ``o`` of :func:`simulate_pfm`; return ``(h, w)``."""
    check_choice("units", o["units"], UNITS)
    check_choice("domain_shape", o["domain_shape"], DOMAIN_SHAPES)
    h, w = _check_shape(o["shape"])
    for name, bounds in _PFM_RANGES:
        check_range(name, o[name], **bounds)
    dot_radius = o["dot_radius"]
    if len(dot_radius) != 2 or not 1.0 <= float(dot_radius[0]) <= float(dot_radius[1]) <= 50.0:
        raise IvaeError(
            f"dot_radius={tuple(dot_radius)!r} is out of range; expected (low, high) "
            "with 1 ≤ low ≤ high ≤ 50 pixels"
        )
    return h, w
