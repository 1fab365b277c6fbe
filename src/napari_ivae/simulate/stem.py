"""Seeded simulator of atom-resolved HAADF-STEM images with exact ground truth.

The image is rendered from a list of atom columns (sub-pixel positions), so the
ground-truth table is exact: every recorded atom is drawn as a Gaussian peak
centred at its recorded ``(y, x)``, and nothing else is drawn.

Pixel convention: pixel ``(i, j)`` is sampled at the coordinate ``y = i, x = j``
(row, column).  An atom is kept when its centre lies inside the sampled grid,
``0 <= y <= H - 1`` and ``0 <= x <= W - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.simulate._defects import RingTruth, add_defects, check_defect_options, drop_sites
from napari_ivae.simulate._stem_render import (
    DEFAULT_SPACING,
    LATTICE_SYMMETRY,
    LATTICES,
    MIN_SEPARATION,
    SUBLATTICE_B_INTENSITY,
    Lattice,
    _basis,
    _decorate,
    _detector,
    _grain_angles,
    _grains,
    _scan_distortion,
    _signal,
    _slow_background,
    _tables,
)

__all__ = [
    "DEFAULT_SPACING",
    "LATTICES",
    "LATTICE_SYMMETRY",
    "MIN_SEPARATION",
    "SUBLATTICE_B_INTENSITY",
    "Lattice",
    "STEMSample",
    "simulate_stem",
]

#: bounds of the options of :func:`simulate_stem` that do not depend on the spacing
_STEM_RANGES: tuple[tuple[str, dict], ...] = (
    ("n_grains", {"low": 1, "high": 50}),
    ("dopant_fraction", {"low": 0.0, "high": 0.3}),
    ("vacancy_fraction", {"low": 0.0, "high": 0.3}),
    ("dopant_contrast", {"low": 1.0, "high": 10.0}),
    ("dose", {"low": 0.0, "low_inclusive": False}),
    ("read_noise", {"low": 0.0}),
    ("noise_scale", {"low": 0.0}),
    ("background", {"low": 0.0}),
    ("intensity_jitter", {"low": 0.0, "high": 0.3}),
)
#: the float options stored in ``params`` before and after ``blur``, in their documented order
_FLOAT_PARAMS = (
    "dopant_fraction",
    "vacancy_fraction",
    "dopant_contrast",
    "dose",
    "read_noise",
    "noise_scale",
)
_FLOAT_PARAMS_2 = (
    "background",
    "intensity_jitter",
    "scan_distortion",
    "line_noise",
    "position_jitter",
)


@dataclass
class STEMSample(RingTruth):
    """A simulated STEM image and its ground truth.

    Attributes
    ----------
    image : np.ndarray
        (Y, X) float32, detector counts (Poisson + Gaussian read noise).
    atoms : pandas.DataFrame
        One row per atom column drawn in the image, columns ``y``, ``x``
        (float64, pixels, exact peak position), ``kind`` (``"host"``,
        ``"dopant"``, ``"sublattice_b"``), ``grain`` (int, index of the grain)
        and ``intensity`` (peak height in units of a host atom, before noise).
    vacancies : pandas.DataFrame
        Removed lattice sites, columns ``y``, ``x``, ``kind`` (the sublattice of
        the removed site) and ``grain``.
    params : dict
        Every parameter used, with defaults resolved (spacing, blur, ...), plus
        ``grain_angles`` (radians) and ``grain_seeds`` (Voronoi seeds, (y, x)).
    clean : np.ndarray
        (Y, X) float32, noise-free expected counts (atoms + background).
    rings : pandas.DataFrame or None
        Graphene only (a property, computed on first use): the truth ring
        statistics of every row of ``atoms`` (``ring_sizes``, ``ring_count``,
        ``ring_label``, ``ring_known``, ``defect``), from the exact bond graph
        (see :mod:`napari_ivae.simulate._defects`).
    bonds : np.ndarray or None
        Graphene only (a property): (E, 2) int, the exact bonds between rows
        of ``atoms``.
    """

    image: np.ndarray
    atoms: pd.DataFrame
    vacancies: pd.DataFrame
    params: dict = field(default_factory=dict)
    clean: np.ndarray | None = None
    #: graphene: what the ring truth is computed from, on first use (it costs ~25 % of a sample)
    _ring_inputs: tuple | None = field(default=None, repr=False, compare=False)
    _ring_truth: tuple | None = field(default=None, repr=False, compare=False)


def simulate_stem(
    shape: tuple[int, int] = (512, 512),
    *,
    lattice: Lattice = "graphene",
    spacing: float | None = None,
    n_grains: int = 3,
    dopant_fraction: float = 0.02,
    vacancy_fraction: float = 0.01,
    dopant_contrast: float = 1.8,
    dose: float = 60.0,
    read_noise: float = 3.0,
    noise_scale: float = 1.0,
    blur: float | None = None,
    background: float = 0.3,
    intensity_jitter: float = 0.05,
    scan_distortion: float = 0.0,
    line_noise: float = 0.0,
    position_jitter: float = 0.0,
    sublattice_ratio: float | None = None,
    probe_tail: float = 0.0,
    amorphous: float = 0.0,
    stone_wales: int = 0,
    reconstructed_vacancies: int = 0,
    seed: int = 0,
) -> STEMSample:
    """Simulate an atom-resolved HAADF-STEM image of a polycrystalline 2-D lattice.

    Parameters
    ----------
    shape : tuple of int
        Image shape (Y, X), each ≥ 16.
    lattice : {"graphene", "hexagonal", "square"}
        ``"graphene"``: honeycomb, all sites equal (``kind="host"``).
        ``"hexagonal"``: projected 2H-TMD, honeycomb geometry whose second
        sublattice (chalcogen columns, ``kind="sublattice_b"``) has 0.45× the
        host intensity.  ``"square"``: perovskite-like, bright A sites on a
        square lattice and dimmer B sites (0.55×, ``kind="sublattice_b"``) at
        the cell centres.
    spacing : float, optional
        Nearest-neighbour distance in pixels (A–B distance for the two-sublattice
        lattices).  Default 8 (graphene), 9 (hexagonal), 10 (square); a 512×512
        graphene image then holds about 3,000 atoms.
    n_grains : int
        Number of grains (Voronoi cells around random seeds), each with its own
        orientation and lattice offset.  Where two grains meet, atoms of the
        later grain closer than 0.7·spacing to an atom of an earlier grain are
        not placed (so no two atoms are closer than that, before
        ``position_jitter`` and ``scan_distortion``).
    dopant_fraction : float
        Fraction of all atoms that are substitutional dopants; they replace
        ``host`` sites and are ``dopant_contrast`` times brighter.
    vacancy_fraction : float
        Fraction of all sites removed (never dopant sites); they are listed in
        ``vacancies`` and not drawn.
    dopant_contrast : float
        Dopant peak intensity relative to a host atom (> 1).
    dose : float
        Expected counts at the peak of a host atom (before background).  Shot
        noise is Poisson in these counts.
    read_noise : float
        Standard deviation of the additive Gaussian detector noise, in counts.
    noise_scale : float
        Multiplies the noise standard deviation at every pixel (Poisson and
        read noise), keeping the expected image: 2.0 gives twice the noise.
        The default noise (1.0) gives a peak SNR of about 6 per host atom.
    blur : float, optional
        Gaussian sigma (px) of each atom column; default ``0.2 * spacing``.
    background : float
        Mean level of the slow background in units of a host atom peak; it
        varies smoothly by ±50 % over the field of view.
    intensity_jitter : float
        Relative standard deviation of atom peak heights (thickness / tilt).
    scan_distortion : float
        Amplitude (px) of the slow scan distortion: each scan row ``r`` is
        acquired at the specimen position ``(r + ey(r), c + ex(r))``, with
        ``ex`` a slow sine of this amplitude, ``ey`` one of half of it, plus a
        per-row jitter of 0.1× this amplitude (the jitter is noise: the ground
        truth gives the positions of the peaks without it).  0 disables it.
    line_noise : float
        Standard deviation of a random additive offset per scan row (scan-line
        artefacts), in units of a host atom peak; scaled by ``noise_scale``.
        Drawn from its own random stream, so switching it on leaves the atoms
        and the other noise of a seed unchanged.  0 disables it.
    position_jitter : float
        Standard deviation (px) of a random displacement of every atom from its
        lattice site (static disorder); the ground truth holds the displaced
        positions.  Drawn from its own random stream.  Up to ``0.1 * spacing``.
    sublattice_ratio : float, optional
        Peak intensity of the second sublattice (``kind="sublattice_b"``)
        relative to the host sites, in (0, 1]; default 0.45 (hexagonal), 0.55
        (square).  ``"graphene"`` has one kind of site, so it must stay None.
    probe_tail : float
        Fraction of each column's signal spread into a wide probe tail (a
        second Gaussian of 4× ``blur``), as real aberrated probes do; in
        [0, 0.6].  0 disables it (the image of a seed is then unchanged).
    amorphous : float
        Level of an amorphous-carbon-like background (smoothed random blobs of
        about a third of the spacing), in units of a host atom peak; in [0, 1].
        Drawn from its own random stream; 0 disables it.
    stone_wales : int
        ``"graphene"`` only: number of Stone–Wales defects (a bond rotated by
        90°: two pentagons, two heptagons), relaxed, placed inside the grains
        away from the image edge; their own random stream, 0 disables them.
    reconstructed_vacancies : int
        ``"graphene"`` only: number of single vacancies reconstructed into a
        pentagon and a nonagon (5-9; two neighbours of the missing atom bond).
        Not listed in ``vacancies`` (which holds the unreconstructed ones of
        ``vacancy_fraction``: a missing atom, a 12-atom hole).  Own random
        stream, but the removed sites change which sites the dopants and
        ``vacancy_fraction`` vacancies fall on.
    seed : int
        Seed of the random generator; the same arguments give the same sample.

    Returns
    -------
    STEMSample
        ``image`` (float32 counts), ``atoms`` (y, x, kind, grain, intensity),
        ``vacancies`` (y, x, kind, grain), ``params`` and ``clean``.
    """
    o = dict(locals())  # the arguments by name, before any other local
    h, w, spacing, blur, ratio_b = _check_stem_options(o)
    rng = np.random.default_rng(seed)
    n_grains = int(n_grains)
    radius = np.hypot(h, w) / 2 + 3 * spacing + 2 * scan_distortion
    seeds = rng.uniform([0, 0], [h - 1, w - 1], size=(n_grains, 2))
    angles = _grain_angles(n_grains, LATTICE_SYMMETRY[lattice], rng)
    pts, sub, grain = _grains(lattice, spacing, (h, w), seeds, angles, radius, rng)
    if lattice == "graphene":
        n_sw, n_59 = int(stone_wales), int(reconstructed_vacancies)
        pts, bonds, removed, defect = add_defects(pts, grain, spacing, (h, w), n_sw, n_59, seed)
        pts, sub, grain, bonds, defect = drop_sites(~removed, pts, sub, grain, bonds, defect)
        ideal, ideal_grain = pts, grain
    if position_jitter > 0:
        jitter_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        pts = pts + jitter_rng.normal(0.0, position_jitter, pts.shape)
    # scan distortion: probe offsets per row; apparent (recorded) positions solve r + ey(r) = y_u
    app, ey, ex = _scan_distortion(pts, h, scan_distortion, rng)
    inside = (app[:, 0] >= 0) & (app[:, 0] <= h - 1) & (app[:, 1] >= 0) & (app[:, 1] <= w - 1)
    pts, app, sub, grain = pts[inside], app[inside], sub[inside], grain[inside]
    kind, intensity, vac = _decorate(sub, _basis(lattice, spacing)[2], ratio_b, o, rng)
    ring_inputs = None
    if lattice == "graphene":
        ring_inputs = (ideal, ideal_grain, bonds, defect, inside, vac, spacing)
    sel = ~vac
    signal = _signal((h, w), pts[sel], intensity[sel], blur, (ey, ex), o, spacing)
    expected = dose * (signal + _slow_background((h, w), background, rng))
    noisy = _detector(expected, o, rng)
    atoms, vacancies = _tables(app, kind, grain, intensity, vac)
    params = {
        "shape": (h, w),
        "lattice": lattice,
        "spacing": spacing,
        "n_grains": n_grains,
        **{k: float(o[k]) for k in _FLOAT_PARAMS},
        "blur": blur,
        **{k: float(o[k]) for k in _FLOAT_PARAMS_2},
        "sublattice_ratio": ratio_b if lattice != "graphene" else 1.0,
        "probe_tail": float(probe_tail),
        "amorphous": float(amorphous),
        **{k: int(o[k]) for k in ("stone_wales", "reconstructed_vacancies") if o[k]},
        "seed": seed,
        "grain_angles": [float(a) for a in angles],
        "grain_seeds": [[float(v) for v in s] for s in seeds],
    }
    return STEMSample(
        image=noisy.astype(np.float32),
        atoms=atoms,
        vacancies=vacancies,
        params=params,
        clean=expected.astype(np.float32),
        _ring_inputs=ring_inputs,
    )


def _check_stem_options(o: dict) -> tuple[int, int, float, float, float]:
    """Check the arguments ``o`` of :func:`simulate_stem`; return ``h, w, spacing, blur, ratio_b``."""
    lattice = o["lattice"]
    check_choice("lattice", lattice, LATTICES)
    shape = o["shape"]
    if len(shape) != 2 or min(shape) < 16:
        raise IvaeError(f"shape={tuple(shape)!r} must be two sizes of at least 16 pixels")
    h, w = int(shape[0]), int(shape[1])
    spacing = float(DEFAULT_SPACING[lattice] if o["spacing"] is None else o["spacing"])
    check_range("spacing", spacing, low=3.0, high=min(h, w) / 2)
    blur = float(0.2 * spacing if o["blur"] is None else o["blur"])
    check_range("blur", blur, low=0.3, high=spacing)
    for name, bounds in _STEM_RANGES:
        check_range(name, o[name], **bounds)
    check_range("scan_distortion", o["scan_distortion"], low=0.0, high=spacing)
    check_range("line_noise", o["line_noise"], low=0.0, high=1.0)
    check_range("position_jitter", o["position_jitter"], low=0.0, high=0.1 * spacing)
    ratio = o["sublattice_ratio"]
    if ratio is not None:
        if lattice == "graphene":
            raise IvaeError(
                "sublattice_ratio applies to the two-sublattice lattices 'hexagonal' and "
                f"'square'; got lattice='graphene', sublattice_ratio={ratio!r}"
            )
        check_range("sublattice_ratio", ratio, low=0.0, high=1.0, low_inclusive=False)
    check_range("probe_tail", o["probe_tail"], low=0.0, high=0.6)
    check_range("amorphous", o["amorphous"], low=0.0, high=1.0)
    check_defect_options(o)
    ratio_b = float(SUBLATTICE_B_INTENSITY[lattice] if ratio is None else ratio)
    return h, w, spacing, blur, ratio_b
