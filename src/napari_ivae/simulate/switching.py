"""Seeded simulator of a PFM switching series: switched domains nucleate and grow.

The image model and the ground-truth conventions are those of
:mod:`napari_ivae.simulate.pfm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.simulate._pfm_render import (
    UNITS,
    Units,
    _check_shape,
    _finish_phase,
    _gain_field,
    _render_opts,
    _render_pfm,
    _shared_params,
    _smooth_field,
    domain_walls,
)


@dataclass
class SwitchingSample:
    """A simulated PFM switching series (domains growing from nucleation sites).

    Attributes
    ----------
    amplitude, phase : np.ndarray
        (T, Y, X) float32; phase wrapped in ``units``.
    domains : np.ndarray
        (T, Y, X) int8, +1 = switched, −1 = not yet switched.
    walls : np.ndarray
        (T, Y, X) bool, boundary pixels between domains of each frame.
    switched_fraction : np.ndarray
        (T,) float64, ``(domains == +1).mean(axis=(1, 2))``, strictly increasing.
    params : dict
        Parameters used; ``nucleation_sites`` (y, x), ``times`` per frame,
        ``pin_sites`` (y, x).
    phase_background : np.ndarray
        (T, Y, X) float32, unwrapped smooth phase part per frame.
    pinning : np.ndarray or None
        (Y, X) bool, the pinning defects (pixels that never switch); all
        False without defects.
    """

    amplitude: np.ndarray
    phase: np.ndarray
    domains: np.ndarray
    walls: np.ndarray
    switched_fraction: np.ndarray
    params: dict = field(default_factory=dict)
    phase_background: np.ndarray | None = None
    pinning: np.ndarray | None = None


def simulate_switching(
    shape: tuple[int, int] = (192, 192),
    *,
    n_frames: int = 6,
    n_nuclei: int = 8,
    fraction_range: tuple[float, float] = (0.08, 0.85),
    roughness: float = 0.3,
    n_pins: int = 0,
    pin_radius: float = 4.0,
    wall_width: float = 3.0,
    wall_depth: float = 0.8,
    phase_offset: float | None = None,
    drift: float = 30.0,
    wrap: bool = True,
    scanline_noise: float = 4.0,
    noise: float = 8.0,
    amplitude_noise: float = 0.08,
    amplitude_gain: float = 1.0,
    amplitude_variation: float = 0.0,
    amplitude_asymmetry: float = 0.0,
    units: Units = "deg",
    seed: int = 0,
) -> SwitchingSample:
    """Simulate a PFM switching series: switched (+1) domains nucleate and grow.

    Each pixel switches at its arrival time ``min_i(t_i + d_i · (1 + roughness · f))``
    where ``t_i`` are the nucleation times of ``n_nuclei`` random sites, ``d_i``
    the distance to site ``i`` and ``f`` a smooth random field (irregular, but
    compact domain shapes).  Frame ``k`` shows the pixels whose arrival time is
    ≤ ``times[k]``; the times are chosen so that the switched fraction rises
    evenly from ``fraction_range[0]`` to ``fraction_range[1]``.  Switched
    regions only grow, so the switched fraction strictly increases.

    Parameters
    ----------
    shape : tuple of int
        Frame shape (Y, X), each ≥ 16.
    n_frames : int
        Number of frames T (≥ 2).
    n_nuclei : int
        Number of nucleation sites.
    fraction_range : tuple of float
        Switched fraction of the first and the last frame, 0 < first < last < 1.
    roughness : float
        Relative irregularity of the growth front (0 = discs).
    n_pins : int
        Number of pinning defects: discs of radius ``pin_radius`` px, at
        random places, whose polarity never switches, so the walls that reach
        them stay there (pinned) while the others move on.  Drawn from their
        own random stream: ``n_pins=0`` gives the series without defects.
    pin_radius : float
        Radius of the pinning defects in pixels (1 … 50).
    wall_width, wall_depth, phase_offset, drift, wrap, scanline_noise, noise, amplitude_noise, amplitude_gain, amplitude_variation, amplitude_asymmetry, units
        As in :func:`simulate_pfm`; the slow amplitude field is the same in all frames; ``phase_offset`` and the drift direction are
        shared by all frames, the scan-line offsets and noise are new each frame
        and the drift changes slowly between frames.
    seed : int
        Seed of the random generator.

    Returns
    -------
    SwitchingSample
        (T, Y, X) ``amplitude``, ``phase``, ``domains``, ``walls``, and
        ``switched_fraction`` (T,), ``params``, ``phase_background``.
    """
    o = dict(locals())  # the arguments by name, before any other local
    h, w, lo, hi = _check_switching_options(o)
    rng = np.random.default_rng(seed)
    n_frames = int(n_frames)
    if phase_offset is None:
        phase_offset = float(rng.uniform(-180.0, 180.0))
    drift_angle = float(rng.uniform(0, 2 * np.pi))
    sites, arrival = _arrival_times((h, w), int(n_nuclei), roughness, rng)
    pins, pinning = _pinning((h, w), int(n_pins), float(pin_radius), seed)
    arrival[pinning] = np.inf
    times = np.quantile(arrival, np.linspace(lo, hi, n_frames))
    gain = _gain_field((h, w), float(amplitude_variation), seed)
    amps, phases, bgs, doms = [], [], [], []
    for k in range(n_frames):
        dom = np.where(arrival <= times[k], 1, -1).astype(np.int8)
        a, p, b = _render_pfm(
            dom,
            rng,
            phase_offset=float(phase_offset),
            drift=float(drift) * (1.0 + 0.1 * k / max(n_frames - 1, 1)),
            drift_angle=drift_angle,
            gain_field=gain,
            **_render_opts(o),
        )
        amps.append(a)
        phases.append(_finish_phase(p, wrap, units))
        bgs.append(b if units == "deg" else np.deg2rad(b))
        doms.append(dom)
    domains = np.stack(doms)
    frac = (domains == 1).mean(axis=(1, 2))
    if np.any(np.diff(frac) <= 0):  # only possible for tiny images / many frames
        raise IvaeError(
            f"n_frames={n_frames} is too many for shape={(h, w)}: the switched fraction "
            "does not increase between every pair of frames"
        )
    params = {
        "shape": (h, w),
        "n_frames": n_frames,
        "n_nuclei": int(n_nuclei),
        "fraction_range": (lo, hi),
        "roughness": float(roughness),
        **_shared_params(o, phase_offset, drift_angle),
        "switched_value": 1,
        "nucleation_sites": [[float(v) for v in s] for s in sites],
        "times": [float(t) for t in times],
        "n_pins": int(n_pins),
        "pin_radius": float(pin_radius),
        "pin_sites": [[float(v) for v in s] for s in pins],
    }
    return SwitchingSample(
        amplitude=np.stack(amps).astype(np.float32),
        phase=np.stack(phases),
        domains=domains,
        walls=domain_walls(domains),
        switched_fraction=frac,
        params=params,
        phase_background=np.stack(bgs).astype(np.float32),
        pinning=pinning,
    )


def _pinning(
    shape: tuple[int, int], n_pins: int, radius: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pinning defect centres ``(n, 2)`` and their (Y, X) mask (own random stream)."""
    h, w = shape
    if n_pins == 0:
        return np.zeros((0, 2)), np.zeros(shape, dtype=bool)
    rng = np.random.default_rng([seed, 0x9117])
    sites = rng.uniform([radius, radius], [h - 1 - radius, w - 1 - radius], size=(n_pins, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros(shape, dtype=bool)
    for sy, sx in sites:
        mask |= np.hypot(yy - sy, xx - sx) <= radius
    return sites, mask


def _arrival_times(
    shape: tuple[int, int], n_nuclei: int, roughness: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Nucleation sites ``(n, 2)`` and each pixel's switching time (see :func:`simulate_switching`)."""
    h, w = shape
    sites = rng.uniform([0, 0], [h - 1, w - 1], size=(n_nuclei, 2))
    t0 = rng.uniform(0, 0.3 * max(h, w), n_nuclei)
    rough = _smooth_field((h, w), max(h, w) / 16.0, rng)
    yy, xx = np.mgrid[0:h, 0:w]
    arrival = np.full((h, w), np.inf)
    for (sy, sx), ti in zip(sites, t0):
        d = np.hypot(yy - sy, xx - sx)
        arrival = np.minimum(arrival, ti + d * (1.0 + roughness * np.tanh(rough)))
    return sites, arrival


def _check_switching_options(o: dict) -> tuple[int, int, float, float]:
    """Check the arguments ``o`` of :func:`simulate_switching`; return ``h, w`` and the fraction range."""
    check_choice("units", o["units"], UNITS)
    h, w = _check_shape(o["shape"])
    check_range("n_frames", o["n_frames"], low=2, high=1000)
    check_range("n_nuclei", o["n_nuclei"], low=1, high=1000)
    lo, hi = (float(v) for v in o["fraction_range"])
    if not 0.0 < lo < hi < 1.0:
        raise IvaeError(f"fraction_range={o['fraction_range']!r} must satisfy 0 < first < last < 1")
    check_range("roughness", o["roughness"], low=0.0, high=0.9)
    check_range("n_pins", o["n_pins"], low=0, high=10000)
    check_range("pin_radius", o["pin_radius"], low=1.0, high=50.0)
    check_range("amplitude_variation", o["amplitude_variation"], low=0.0, high=2.0)
    check_range("amplitude_asymmetry", o["amplitude_asymmetry"], low=-1.0, high=1.0)
    return h, w, lo, hi
