"""Seeded simulator of a PFM frame with 180° domains and ferroelastic a/c stripe walls.

Ground truth conventions (exact; the same as :mod:`napari_ivae.simulate.pfm`):

- ``domains`` is int8, +1 / −1 per pixel (180° polarisation up/down);
  ``a_domains`` is bool, True in the in-plane (a) stripes of the a/c pattern.
- Walls are *boundary pixels*: a pixel is a wall pixel iff one of its
  4-neighbours lies on the other side (:func:`~napari_ivae.simulate.domain_walls`),
  a line 2 px wide.  ``walls_180`` are the boundaries of ``domains``,
  ``walls_non180`` the boundaries of ``a_domains`` that are not also 180°
  wall pixels, ``walls_all`` their union.
- Amplitude: the 180° model of :func:`~napari_ivae.simulate.simulate_pfm`
  (dip of depth ``wall_depth`` at 180° walls), times a dip of depth
  ``stripe_depth`` centred on every a/c wall line, times ``1 − a_contrast``
  inside the a stripes.
- Phase: the 180° model plus ``phase_step`` degrees inside the a stripes (a
  small step across a/c walls, no reversal); the pixel noise grows as
  1/amplitude in the a/c wall dips too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_ivae._errors import check_choice, check_range
from napari_ivae.simulate._pfm_render import (
    UNITS,
    Units,
    _artefact_rng,
    _check_shape,
    _finish_phase,
    _gain_field,
    _render_pfm,
    _smooth_field,
    domain_walls,
    random_domains,
    wall_distance,
)

__all__ = ["FerroelasticSample", "simulate_ferroelastic"]

#: bounds of the numeric options of :func:`simulate_ferroelastic`, checked in this order
_RANGES: tuple[tuple[str, dict], ...] = (
    ("domain_size", {"low": 4.0}),
    ("stripe_period", {"low": 10.0, "high": 500.0}),
    ("a_fraction", {"low": 0.1, "high": 0.6}),
    ("meander", {"low": 0.0, "high": 50.0}),
    ("stripe_depth", {"low": 0.0, "high": 1.0}),
    ("phase_step", {"low": 0.0, "high": 90.0}),
    ("a_contrast", {"low": 0.0, "high": 0.9}),
    ("wall_width", {"low": 0.5, "high": 50.0}),
    ("wall_depth", {"low": 0.0, "high": 1.0}),
    ("noise", {"low": 0.0, "high": 90.0}),
    ("scanline_noise", {"low": 0.0, "high": 90.0}),
    ("amplitude_noise", {"low": 0.0, "high": 1.0}),
    ("amplitude_variation", {"low": 0.0, "high": 2.0}),
)


@dataclass
class FerroelasticSample:
    """A simulated PFM frame with 180° and ferroelastic (non-180°) walls, and its truth.

    Attributes
    ----------
    amplitude : np.ndarray
        (Y, X) float32 amplitude (≈ 1 in c domains, dips at every wall).
    phase : np.ndarray
        (Y, X) float32 wrapped phase in ``units``.
    domains : np.ndarray
        (Y, X) int8, +1 / −1: the 180° domains.
    a_domains : np.ndarray
        (Y, X) bool: the a stripes of the a/c pattern.
    walls_180, walls_non180, walls_all : np.ndarray
        (Y, X) bool truth masks (module docstring).
    params : dict
        Every parameter used, random choices resolved (``stripe_angle``,
        ``phase_offset``, ``drift_angle``).
    phase_background : np.ndarray
        (Y, X) float32 unwrapped offset + drift + scan-line offsets, in ``units``.
    """

    amplitude: np.ndarray
    phase: np.ndarray
    domains: np.ndarray
    a_domains: np.ndarray
    walls_180: np.ndarray
    walls_non180: np.ndarray
    walls_all: np.ndarray
    params: dict = field(default_factory=dict)
    phase_background: np.ndarray | None = None


def simulate_ferroelastic(
    shape: tuple[int, int] = (256, 256),
    *,
    domain_size: float = 64.0,
    stripe_period: float = 32.0,
    stripe_angle: float | None = None,
    a_fraction: float = 0.3,
    meander: float = 2.0,
    stripe_depth: float = 0.6,
    phase_step: float = 15.0,
    a_contrast: float = 0.2,
    wall_width: float = 3.0,
    wall_depth: float = 0.8,
    drift: float = 40.0,
    scanline_noise: float = 4.0,
    noise: float = 8.0,
    amplitude_noise: float = 0.1,
    amplitude_variation: float = 0.3,
    units: Units = "deg",
    seed: int = 0,
) -> FerroelasticSample:
    """Simulate a PFM amplitude/phase frame with 180° domains crossed by a/c stripe walls.

    The 180° domains are irregular blobs (as :func:`~napari_ivae.simulate.simulate_pfm`);
    the ferroelastic a/c pattern is a set of parallel stripes over the whole
    frame (typically diagonal), alternately c (wide) and a (narrow), whose
    walls dip the amplitude about as deeply as the 180° walls but step the
    phase by only ``phase_step`` degrees.

    Parameters
    ----------
    shape : tuple of int
        Image shape (Y, X), each ≥ 16.
    domain_size : float
        Typical 180° domain width in pixels (≥ 4).
    stripe_period : float
        Mean a + c period of the stripes in pixels (10–500); each stripe's
        width varies by ±30 % (a) and ±40 % (c) around its mean.
    stripe_angle : float, optional
        Direction of the a/c walls in degrees from +x towards +y (rows down);
        when None, 45° or 135° (random), ±10°.
    a_fraction : float
        Mean fraction of the period taken by the a stripes (0.1–0.6); a
        stripes are at least 5 px wide, so their two walls stay apart.
    meander : float
        Amplitude in pixels of a slow bend of the stripes (0 = straight).
    stripe_depth : float
        Relative depth (0–1) of the amplitude dip at a/c walls.
    phase_step : float
        Phase step across a/c walls, degrees (0–90; the a stripes carry it).
    a_contrast : float
        Relative amplitude deficit of the a stripes (0–0.9).
    wall_width : float
        Full width at half maximum (px) of every wall dip.
    wall_depth : float
        Relative depth (0–1) of the amplitude dip at 180° walls.
    drift, scanline_noise, noise, amplitude_noise, amplitude_variation
        As :func:`~napari_ivae.simulate.simulate_pfm` (drift and noise in
        degrees; amplitude terms relative).
    units : {"deg", "rad"}
        Units of ``phase`` and ``phase_background``.
    seed : int
        Seed of the random generator (the stripes draw from their own stream).

    Returns
    -------
    FerroelasticSample
        Amplitude, phase, both domain maps and the three truth wall masks.
    """
    o = dict(locals())
    h, w = _check_options(o)
    rng = np.random.default_rng(seed)
    phase_offset = float(rng.uniform(-180.0, 180.0))
    drift_angle = float(rng.uniform(0, 2 * np.pi))
    domains = random_domains((h, w), float(domain_size), rng)
    srng = _artefact_rng(seed, 5)
    if stripe_angle is None:
        stripe_angle = float(srng.choice([45.0, 135.0]) + srng.uniform(-10.0, 10.0))
    a_map = _stripes((h, w), o, float(stripe_angle), srng)
    render = {k: float(o[k]) for k in ("wall_width", "wall_depth", "scanline_noise", "noise")}
    amp, phase, background = _render_pfm(
        domains,
        rng,
        phase_offset=phase_offset,
        drift=float(drift),
        drift_angle=drift_angle,
        amplitude_noise=float(amplitude_noise),
        amplitude_gain=1.0,
        gain_field=_gain_field((h, w), float(amplitude_variation), seed),
        **render,
    )
    amp, phase = _add_stripes(amp, phase, a_map, o, srng)
    walls_180 = domain_walls(domains)
    walls_non180 = domain_walls(np.where(a_map, 1, -1).astype(np.int8)) & ~walls_180
    params = {k: v for k, v in o.items() if k not in ("shape", "stripe_angle")}
    params.update(
        shape=(h, w),
        stripe_angle=float(stripe_angle),
        phase_offset=phase_offset,
        drift_angle=drift_angle,
    )
    bg = background if units == "deg" else np.deg2rad(background)
    return FerroelasticSample(
        amplitude=amp.astype(np.float32),
        phase=_finish_phase(phase, True, units),
        domains=domains,
        a_domains=a_map,
        walls_180=walls_180,
        walls_non180=walls_non180,
        walls_all=walls_180 | walls_non180,
        params=params,
        phase_background=bg.astype(np.float32),
    )


def _check_options(o: dict) -> tuple[int, int]:
    """Check the arguments ``o`` of :func:`simulate_ferroelastic`; return ``(h, w)``."""
    check_choice("units", o["units"], UNITS)
    h, w = _check_shape(o["shape"])
    for name, bounds in _RANGES:
        check_range(name, o[name], **bounds)
    if o["stripe_angle"] is not None:
        check_range("stripe_angle", o["stripe_angle"], low=-360.0, high=360.0)
    return h, w


def _stripes(
    shape: tuple[int, int], o: dict, angle_deg: float, rng: np.random.Generator
) -> np.ndarray:
    """The a stripes (bool): alternating c / a bands across the wall direction, slightly bent."""
    h, w = shape
    t = np.deg2rad(angle_deg)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    period = float(o["stripe_period"])
    u = yy * np.cos(t) - xx * np.sin(t)  # coordinate across the walls
    if o["meander"] > 0:
        u = u + float(o["meander"]) * _smooth_field(shape, 2.0 * period, rng)
    a_mean = float(o["a_fraction"]) * period
    c_mean = period - a_mean
    edges, pos, is_a = [], float(u.min()) - rng.uniform(0.0, period), False
    while pos <= u.max():
        width = a_mean * rng.uniform(0.7, 1.3) if is_a else c_mean * rng.uniform(0.6, 1.4)
        pos += max(width, 5.0)
        edges.append(pos)
        is_a = not is_a
    # band k of u (between edges k-1 and k) is a when k is odd (bands start with c)
    band = np.searchsorted(np.asarray(edges), u)
    return (band % 2) == 1


def _add_stripes(
    amp: np.ndarray, phase: np.ndarray, a_map: np.ndarray, o: dict, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude dips at a/c walls and the a stripes' deficit; their phase step and noise."""
    dist = wall_distance(np.where(a_map, 1, -1).astype(np.int8))
    sig = float(o["wall_width"]) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    dip = 1.0 - float(o["stripe_depth"]) * np.exp(-(dist**2) / (2.0 * sig * sig))
    amp = amp * dip * (1.0 - float(o["a_contrast"]) * a_map)
    # the pixel noise of the phase grows as 1/amplitude in the a/c dips as at 180° walls
    extra = np.sqrt(np.maximum(1.0 / np.clip(dip, 0.25, None) ** 2 - 1.0, 0.0))
    noise = float(o["noise"]) * extra * rng.standard_normal(amp.shape)
    phase = phase + float(o["phase_step"]) * a_map + noise
    return amp, phase
