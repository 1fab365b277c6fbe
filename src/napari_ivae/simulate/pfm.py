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
from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries

from napari_ivae._errors import IvaeError, check_choice, check_range

Units = Literal["deg", "rad"]
UNITS: tuple[str, ...] = ("deg", "rad")
DomainShape = Literal["blobs", "stripes"]
DOMAIN_SHAPES: tuple[str, ...] = ("blobs", "stripes")


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
        Parameters used; ``nucleation_sites`` (y, x), ``times`` per frame.
    phase_background : np.ndarray
        (T, Y, X) float32, unwrapped smooth phase part per frame.
    """

    amplitude: np.ndarray
    phase: np.ndarray
    domains: np.ndarray
    walls: np.ndarray
    switched_fraction: np.ndarray
    params: dict = field(default_factory=dict)
    phase_background: np.ndarray | None = None


def domain_walls(domains: np.ndarray) -> np.ndarray:
    """Boundary pixels between domains: pixels with a 4-neighbour of another value.

    Parameters
    ----------
    domains : np.ndarray
        (Y, X) or (T, Y, X) integer domain map; stacks are handled frame by frame.

    Returns
    -------
    np.ndarray
        bool mask of the same shape.
    """
    domains = np.asarray(domains)
    if domains.ndim == 3:
        return np.stack([domain_walls(d) for d in domains])
    return find_boundaries(domains, connectivity=1, mode="thick")


def wall_distance(domains: np.ndarray) -> np.ndarray:
    """Distance (px) from each pixel centre to the true wall line between domains.

    The wall lies on pixel edges, so a pixel touching the other domain is 0.5 px
    from it.  Pixels of a uniform image get ``inf``.
    """
    up = domains > 0
    if up.all() or (~up).all():
        return np.full(domains.shape, np.inf)
    d = np.where(up, ndi.distance_transform_edt(up), ndi.distance_transform_edt(~up))
    return d - 0.5


def _smooth_field(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std smooth Gaussian random field with correlation length ``sigma``."""
    f = ndi.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (f - f.mean()) / max(f.std(), 1e-12)


def _drop_small(mask: np.ndarray, min_size: int) -> np.ndarray:
    """``mask`` without its 4-connected components of fewer than ``min_size`` pixels."""
    lab, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[lab]


def random_domains(
    shape: tuple[int, int],
    domain_size: float,
    rng: np.random.Generator,
    *,
    up_fraction: float = 0.5,
    domain_shape: DomainShape = "blobs",
) -> np.ndarray:
    """Random 180° domains, thresholded from a smooth random field.

    Parameters
    ----------
    shape : tuple of int
        (Y, X).
    domain_size : float
        Typical domain width in pixels.  ``"blobs"``: sign of a smooth random
        field (Gaussian sigma ``domain_size / 4``).  ``"stripes"``: stripes of
        period ``2 * domain_size`` in a random direction, meandering (the
        stripe phase is warped by a smooth field of correlation length
        ``2 * domain_size``).
    rng : numpy.random.Generator
        Random generator.
    up_fraction : float
        Fraction of +1 pixels before small islands are removed (the field is
        thresholded at its ``1 - up_fraction`` quantile).
    domain_shape : {"blobs", "stripes"}
        Domain morphology.

    Returns
    -------
    np.ndarray
        int8 (+1 / −1), islands (and holes) smaller than ``(domain_size / 4)²`` px removed.
    """
    check_choice("domain_shape", domain_shape, DOMAIN_SHAPES)
    if domain_shape == "blobs":
        f = _smooth_field(shape, domain_size / 4.0, rng)
    else:
        h, w = shape
        theta = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        u = np.cos(theta) * yy + np.sin(theta) * xx
        warp = 1.5 * np.pi * _smooth_field(shape, 2.0 * domain_size, rng)
        f = np.sin(np.pi * u / domain_size + warp)
    up = f > np.quantile(f, 1.0 - up_fraction)
    min_size = max(int((domain_size / 4.0) ** 2), 4)
    up = _drop_small(up, min_size)
    up = ~_drop_small(~up, min_size)
    return np.where(up, 1, -1).astype(np.int8)


def _render_pfm(
    domains: np.ndarray,
    rng: np.random.Generator,
    *,
    phase_offset: float,
    drift: float,
    drift_angle: float,
    wall_width: float,
    wall_depth: float,
    scanline_noise: float,
    noise: float,
    amplitude_noise: float,
    amplitude_gain: float,
    gain_field: np.ndarray | None = None,
    amplitude_asymmetry: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amplitude, wrapped phase and phase background (all degrees) for a domain map."""
    h, w = domains.shape
    dist = wall_distance(domains)
    sig = wall_width / (2.0 * np.sqrt(2.0 * np.log(2.0)))  # FWHM -> sigma
    shape_a = 1.0 - wall_depth * np.exp(-(dist**2) / (2.0 * sig * sig))
    amp = shape_a * (1.0 + amplitude_noise * rng.standard_normal((h, w)))
    if amplitude_asymmetry:
        amp = amp * (1.0 + 0.5 * amplitude_asymmetry * domains)
    if gain_field is not None:
        amp = amp * gain_field
    amp = amplitude_gain * np.abs(amp + 0.02 * rng.standard_normal((h, w)))

    yy = (np.arange(h)[:, None] - (h - 1) / 2) / max(h, w)
    xx = (np.arange(w)[None, :] - (w - 1) / 2) / max(h, w)
    plane = np.cos(drift_angle) * yy + np.sin(drift_angle) * xx
    bow = 0.25 * (yy**2 + xx**2) / 0.5**2  # slow curvature, a quarter of the drift
    lines = scanline_noise * rng.standard_normal(h)
    background = phase_offset + drift * (plane + bow) + lines[:, None]
    # phase noise grows where the response (amplitude) is weak
    phase_noise = noise * rng.standard_normal((h, w)) / np.clip(shape_a, 0.25, None)
    phase = background + 180.0 * (domains < 0) + phase_noise
    return amp, phase, background


def _gain_field(shape: tuple[int, int], variation: float, seed: int | None) -> np.ndarray | None:
    """Slow multiplicative amplitude field ``max(1 + variation · f, 0.2)`` (None when 0).

    Drawn from its own random stream, so switching it on leaves every other
    random choice of the simulation unchanged.
    """
    if variation <= 0:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    f = _smooth_field(shape, max(shape) / 8.0, rng)
    return np.clip(1.0 + variation * f, 0.2, None)


def _artefact_rng(seed: int | None, k: int) -> np.random.Generator:
    """The random stream of artefact ``k`` (1: dots, 2: noisy patches, 3: lines, 4: tip bands).

    Each optional artefact draws from its own stream, so switching one on
    leaves the domains, noise and other artefacts of a seed unchanged.
    """
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(k + 1)[k])


def _add_dots(
    domains: np.ndarray, n: int, radius: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Small discs of the opposite polarisation, inside domains, apart from walls and each other.

    Returns the new domain map and the (N, 4) rows ``y, x, radius, sign``
    (fewer than ``n`` when the image has no room left).
    """
    h, w = domains.shape
    out = domains.copy()
    dist = wall_distance(domains)
    yy, xx = np.mgrid[0:h, 0:w]
    dots: list[tuple[float, float, float, float]] = []
    for _ in range(60 * n):
        if len(dots) >= n:
            break
        r = float(rng.uniform(*radius))
        cy, cx = rng.uniform(r + 2, h - r - 3), rng.uniform(r + 2, w - r - 3)
        iy, ix = round(cy), round(cx)
        if not (0 <= iy < h and 0 <= ix < w) or dist[iy, ix] < r + 4:
            continue
        if any(np.hypot(cy - d[0], cx - d[1]) < r + d[2] + 6 for d in dots):
            continue
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        sign = -int(domains[iy, ix])
        out[disc] = sign
        dots.append((float(cy), float(cx), r, float(sign)))
    return out, np.asarray(dots, dtype=np.float64).reshape(-1, 4)


def _noisy_patches(
    shape: tuple[int, int], n: int, size: float, rng: np.random.Generator
) -> np.ndarray:
    """Union of ``n`` irregular blobs about ``size`` px across (bool mask)."""
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    if n <= 0:
        return mask
    yy, xx = np.mgrid[0:h, 0:w]
    rough = _smooth_field(shape, max(size / 4.0, 2.0), rng)
    for _ in range(n):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        a, b = size / 2.0 * rng.uniform(0.5, 1.5, 2)
        t = rng.uniform(0, np.pi)
        u = (yy - cy) * np.cos(t) + (xx - cx) * np.sin(t)
        v = -(yy - cy) * np.sin(t) + (xx - cx) * np.cos(t)
        mask |= (u / a) ** 2 + (v / b) ** 2 + 0.35 * rough <= 1.0
    return mask


def _wrap_deg(phase: np.ndarray) -> np.ndarray:
    return (phase + 180.0) % 360.0 - 180.0


def _finish_phase(phase_deg: np.ndarray, wrap: bool, units: str) -> np.ndarray:
    p = _wrap_deg(phase_deg) if wrap else phase_deg
    if units == "rad":
        p = np.deg2rad(p)
        if wrap:  # guard against rounding onto +pi
            p = np.where(p >= np.pi, p - 2 * np.pi, p)
    return p.astype(np.float32)


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
    check_choice("units", units, UNITS)
    check_choice("domain_shape", domain_shape, DOMAIN_SHAPES)
    if len(shape) != 2 or min(shape) < 16:
        raise IvaeError(f"shape={tuple(shape)!r} must be two sizes of at least 16 pixels")
    check_range("domain_size", domain_size, low=4.0)
    check_range("up_fraction", up_fraction, low=0.05, high=0.95)
    check_range("amplitude_variation", amplitude_variation, low=0.0, high=2.0)
    check_range("amplitude_asymmetry", amplitude_asymmetry, low=-1.0, high=1.0)
    check_range("wall_width", wall_width, low=0.5, high=50.0)
    check_range("wall_depth", wall_depth, low=0.0, high=1.0)
    check_range("noise", noise, low=0.0, high=90.0)
    check_range("scanline_noise", scanline_noise, low=0.0, high=90.0)
    check_range("amplitude_noise", amplitude_noise, low=0.0, high=1.0)
    check_range("amplitude_gain", amplitude_gain, low=0.0, low_inclusive=False)
    check_range("dots", dots, low=0, high=10_000)
    check_range("noisy_patches", noisy_patches, low=0, high=1000)
    check_range("line_glitches", line_glitches, low=0, high=10_000)
    check_range("tip_bands", tip_bands, low=0, high=100)
    check_range("patch_size", patch_size, low=2.0, high=1000.0)
    check_range("patch_noise", patch_noise, low=0.0, high=360.0)
    if len(dot_radius) != 2 or not 1.0 <= float(dot_radius[0]) <= float(dot_radius[1]) <= 50.0:
        raise IvaeError(
            f"dot_radius={tuple(dot_radius)!r} is out of range; expected (low, high) "
            "with 1 ≤ low ≤ high ≤ 50 pixels"
        )
    rng = np.random.default_rng(seed)
    h, w = int(shape[0]), int(shape[1])
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
        wall_width=float(wall_width),
        wall_depth=float(wall_depth),
        scanline_noise=float(scanline_noise),
        noise=float(noise),
        amplitude_noise=float(amplitude_noise),
        amplitude_gain=float(amplitude_gain),
        gain_field=_gain_field((h, w), float(amplitude_variation), seed),
        amplitude_asymmetry=float(amplitude_asymmetry),
    )
    params = {
        "shape": (h, w),
        "domain_size": float(domain_size),
        "domain_shape": domain_shape,
        "up_fraction": float(up_fraction),
        "wall_width": float(wall_width),
        "wall_depth": float(wall_depth),
        "phase_offset": float(phase_offset),
        "drift": float(drift),
        "drift_angle": drift_angle,
        "wrap": bool(wrap),
        "scanline_noise": float(scanline_noise),
        "noise": float(noise),
        "amplitude_noise": float(amplitude_noise),
        "amplitude_gain": float(amplitude_gain),
        "amplitude_variation": float(amplitude_variation),
        "amplitude_asymmetry": float(amplitude_asymmetry),
        "units": units,
        "seed": seed,
    }
    noisy = None
    if noisy_patches or line_glitches or tip_bands:
        amp, phase, background, noisy = _add_artefacts(
            amp,
            phase,
            background,
            seed=seed,
            noise=float(noise),
            noisy_patches=int(noisy_patches),
            patch_size=float(patch_size),
            patch_noise=float(patch_noise),
            line_glitches=int(line_glitches),
            tip_bands=int(tip_bands),
        )
        params.update(
            noisy_patches=int(noisy_patches),
            patch_size=float(patch_size),
            patch_noise=float(patch_noise),
            line_glitches=int(line_glitches),
            tip_bands=int(tip_bands),
        )
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


def _add_artefacts(
    amp: np.ndarray,
    phase: np.ndarray,
    background: np.ndarray,
    *,
    seed: int | None,
    noise: float,
    noisy_patches: int,
    patch_size: float,
    patch_noise: float,
    line_glitches: int,
    tip_bands: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noisy patches, glitched scan lines and tip-change bands (degrees); the ``noisy`` mask."""
    h, w = phase.shape
    amp, phase, background = amp.copy(), phase.copy(), background.copy()
    noisy = np.zeros((h, w), dtype=bool)
    if tip_bands:
        rng = _artefact_rng(seed, 4)
        for _ in range(tip_bands):
            hb = min(max(2, round(rng.uniform(0.04, 0.12) * h)), h)
            r0 = int(rng.integers(0, h - hb + 1))
            rows = slice(r0, r0 + hb)
            off = rng.uniform(60.0, 300.0)
            # twice the phase noise in the band: add sqrt(3) x noise in quadrature
            phase[rows] += off + np.sqrt(3.0) * noise * rng.standard_normal((hb, w))
            background[rows] += off
            amp[rows] *= rng.uniform(0.3, 0.7)
    if noisy_patches:
        rng = _artefact_rng(seed, 2)
        patch = _noisy_patches((h, w), noisy_patches, patch_size, rng)
        k = int(patch.sum())
        phase[patch] += patch_noise * rng.standard_normal(k)
        amp[patch] = amp[patch] * 0.25 * np.abs(1.0 + 0.3 * rng.standard_normal(k))
        noisy |= patch
    if line_glitches:
        rng = _artefact_rng(seed, 3)
        for _ in range(line_glitches):
            r = int(rng.integers(0, h))
            n = int(rng.integers(max(w // 4, 1), w + 1))
            c0 = int(rng.integers(0, w - n + 1))
            cols = slice(c0, c0 + n)
            phase[r, cols] = rng.uniform(-180.0, 180.0, n)
            amp[r, cols] = np.abs(amp[r, cols] * rng.uniform(0.0, 3.0, n))
            noisy[r, cols] = True
    return amp, phase, background, noisy


def simulate_switching(
    shape: tuple[int, int] = (192, 192),
    *,
    n_frames: int = 6,
    n_nuclei: int = 8,
    fraction_range: tuple[float, float] = (0.08, 0.85),
    roughness: float = 0.3,
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
    check_choice("units", units, UNITS)
    if len(shape) != 2 or min(shape) < 16:
        raise IvaeError(f"shape={tuple(shape)!r} must be two sizes of at least 16 pixels")
    check_range("n_frames", n_frames, low=2, high=1000)
    check_range("n_nuclei", n_nuclei, low=1, high=1000)
    lo, hi = (float(v) for v in fraction_range)
    if not 0.0 < lo < hi < 1.0:
        raise IvaeError(f"fraction_range={fraction_range!r} must satisfy 0 < first < last < 1")
    check_range("roughness", roughness, low=0.0, high=0.9)
    check_range("amplitude_variation", amplitude_variation, low=0.0, high=2.0)
    check_range("amplitude_asymmetry", amplitude_asymmetry, low=-1.0, high=1.0)
    rng = np.random.default_rng(seed)
    h, w = int(shape[0]), int(shape[1])
    n_frames = int(n_frames)
    if phase_offset is None:
        phase_offset = float(rng.uniform(-180.0, 180.0))
    drift_angle = float(rng.uniform(0, 2 * np.pi))

    sites = rng.uniform([0, 0], [h - 1, w - 1], size=(int(n_nuclei), 2))
    t0 = rng.uniform(0, 0.3 * max(h, w), int(n_nuclei))
    rough = _smooth_field((h, w), max(h, w) / 16.0, rng)
    yy, xx = np.mgrid[0:h, 0:w]
    arrival = np.full((h, w), np.inf)
    for (sy, sx), ti in zip(sites, t0):
        d = np.hypot(yy - sy, xx - sx)
        arrival = np.minimum(arrival, ti + d * (1.0 + roughness * np.tanh(rough)))
    targets = np.linspace(lo, hi, n_frames)
    times = np.quantile(arrival, targets)

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
            wall_width=float(wall_width),
            wall_depth=float(wall_depth),
            scanline_noise=float(scanline_noise),
            noise=float(noise),
            amplitude_noise=float(amplitude_noise),
            amplitude_gain=float(amplitude_gain),
            gain_field=gain,
            amplitude_asymmetry=float(amplitude_asymmetry),
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
        "wall_width": float(wall_width),
        "wall_depth": float(wall_depth),
        "phase_offset": float(phase_offset),
        "drift": float(drift),
        "drift_angle": drift_angle,
        "wrap": bool(wrap),
        "scanline_noise": float(scanline_noise),
        "noise": float(noise),
        "amplitude_noise": float(amplitude_noise),
        "amplitude_gain": float(amplitude_gain),
        "amplitude_variation": float(amplitude_variation),
        "amplitude_asymmetry": float(amplitude_asymmetry),
        "units": units,
        "seed": seed,
        "switched_value": 1,
        "nucleation_sites": [[float(v) for v in s] for s in sites],
        "times": [float(t) for t in times],
    }
    return SwitchingSample(
        amplitude=np.stack(amps).astype(np.float32),
        phase=np.stack(phases),
        domains=domains,
        walls=domain_walls(domains),
        switched_fraction=frac,
        params=params,
        phase_background=np.stack(bgs).astype(np.float32),
    )
