"""The PFM image model shared by :func:`~napari_ivae.simulate.simulate_pfm` and
:func:`~napari_ivae.simulate.simulate_switching`: random domains, the amplitude and
phase rendering, the optional artefacts and the ground-truth walls (conventions in
:mod:`napari_ivae.simulate.pfm`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import find_boundaries

from napari_ivae._errors import IvaeError, check_choice

Units = Literal["deg", "rad"]
UNITS: tuple[str, ...] = ("deg", "rad")
DomainShape = Literal["blobs", "stripes"]
DOMAIN_SHAPES: tuple[str, ...] = ("blobs", "stripes")


def _check_shape(shape) -> tuple[int, int]:
    """``(h, w)`` of a simulated image, each at least 16 pixels."""
    if len(shape) != 2 or min(shape) < 16:
        raise IvaeError(f"shape={tuple(shape)!r} must be two sizes of at least 16 pixels")
    return int(shape[0]), int(shape[1])


#: the options of :func:`_render_pfm` that are the same for every frame
_RENDER_KEYS = (
    "wall_width",
    "wall_depth",
    "scanline_noise",
    "noise",
    "amplitude_noise",
    "amplitude_gain",
    "amplitude_asymmetry",
)
#: the amplitude / phase options stored in ``params`` after ``wrap``
_NOISE_KEYS = (
    "scanline_noise",
    "noise",
    "amplitude_noise",
    "amplitude_gain",
    "amplitude_variation",
    "amplitude_asymmetry",
)


def _render_opts(o: dict) -> dict:
    """The options of :func:`_render_pfm` shared by every frame, as floats, from the arguments ``o``."""
    return {k: float(o[k]) for k in _RENDER_KEYS}


def _shared_params(o: dict, phase_offset: float, drift_angle: float) -> dict:
    """The ``params`` entries common to both simulators, in their documented order."""
    p = {k: float(o[k]) for k in ("wall_width", "wall_depth")}
    p.update(phase_offset=float(phase_offset), drift=float(o["drift"]), drift_angle=drift_angle)
    p["wrap"] = bool(o["wrap"])
    p.update({k: float(o[k]) for k in _NOISE_KEYS})
    p.update(units=o["units"], seed=o["seed"])
    return p


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
