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
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from napari_ivae._errors import IvaeError, check_choice, check_range

Lattice = Literal["graphene", "hexagonal", "square"]
LATTICES: tuple[str, ...] = ("graphene", "hexagonal", "square")

#: default nearest-neighbour distance (px) per lattice
DEFAULT_SPACING = {"graphene": 8.0, "hexagonal": 9.0, "square": 10.0}
#: peak intensity of the second sublattice relative to the host sites
SUBLATTICE_B_INTENSITY = {"graphene": 1.0, "hexagonal": 0.45, "square": 0.55}
#: rotational symmetry of each lattice (grain orientations are drawn in [0, sym))
LATTICE_SYMMETRY = {"graphene": np.pi / 3, "hexagonal": np.pi / 3, "square": np.pi / 2}

#: minimum distance between two atoms of different grains, in units of spacing
MIN_SEPARATION = 0.7


@dataclass
class STEMSample:
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
    """

    image: np.ndarray
    atoms: pd.DataFrame
    vacancies: pd.DataFrame
    params: dict = field(default_factory=dict)
    clean: np.ndarray | None = None


def _basis(lattice: str, spacing: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Lattice vectors (2, 2) in (y, x), basis positions (B, 2) and their kinds."""
    if lattice == "square":
        a = spacing * np.sqrt(2.0)  # A-B distance = a / sqrt(2)
        vecs = np.array([[0.0, a], [a, 0.0]])
        basis = np.array([[0.0, 0.0], [a / 2, a / 2]])
        return vecs, basis, ["host", "sublattice_b"]
    # honeycomb (graphene) and projected 2H-TMD share the same geometry
    a = spacing * np.sqrt(3.0)
    vecs = np.array([[0.0, a], [a * np.sqrt(3.0) / 2, a / 2]])
    basis = np.array([[0.0, 0.0], (vecs[0] + vecs[1]) / 3.0])
    return vecs, basis, ["host", "host" if lattice == "graphene" else "sublattice_b"]


def _lattice_points(
    lattice: str,
    spacing: float,
    angle: float,
    origin: np.ndarray,
    centre: np.ndarray,
    radius: float,
) -> tuple[np.ndarray, np.ndarray]:
    """All lattice sites within ``radius`` of ``centre``; returns (N, 2) yx and (N,) basis index."""
    vecs, basis, _ = _basis(lattice, spacing)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])  # acts on (y, x) column vectors
    vecs = vecs @ rot.T
    basis = basis @ rot.T
    n = int(np.ceil(radius / (spacing * 0.8))) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    cells = i.reshape(-1, 1) * vecs[0] + j.reshape(-1, 1) * vecs[1] + origin
    pts = (cells[:, None, :] + basis[None, :, :]).reshape(-1, 2)
    sub = np.tile(np.arange(len(basis)), len(cells))
    keep = np.hypot(*(pts - centre).T) <= radius
    return pts[keep], sub[keep]


def _render(
    shape: tuple[int, int],
    y: np.ndarray,
    x: np.ndarray,
    amp: np.ndarray,
    sigma: float,
    ey: np.ndarray | None = None,
    ex: np.ndarray | None = None,
    chunk: int = 16384,
) -> np.ndarray:
    """Sum of Gaussians ``amp * exp(-r²/2σ²)`` evaluated on the pixel grid.

    ``y, x`` are the undistorted (probe-frame) positions; when the per-row probe
    offsets ``ey, ex`` are given, pixel ``(r, c)`` samples the specimen at
    ``(r + ey[r], c + ex[r])``.  Each atom is evaluated on a local patch
    (radius 4σ) and the patches are scatter-added with ``np.bincount`` into a
    canvas padded by the patch radius (so no index ever falls outside), which
    is then cropped.
    """
    h, w = shape
    r = int(np.ceil(4.0 * sigma))
    offs = np.arange(-r, r + 1)
    hp, wp = h + 2 * r, w + 2 * r
    out = np.zeros(hp * wp, dtype=np.float64)
    inv = 1.0 / (2.0 * sigma * sigma)
    for start in range(0, len(y), chunk):
        yy, xx, aa = y[start : start + chunk], x[start : start + chunk], amp[start : start + chunk]
        if ey is None:
            cy, cx = np.rint(yy).astype(np.int64), np.rint(xx).astype(np.int64)
        else:
            cy = np.rint(yy - np.interp(yy, np.arange(h), ey)).astype(np.int64)
            cx = np.rint(xx - ex[np.clip(cy, 0, h - 1)]).astype(np.int64)
        cy, cx = np.clip(cy, 0, h - 1), np.clip(cx, 0, w - 1)
        rows = cy[:, None] + offs  # (N, P), image rows
        cols = cx[:, None] + offs
        if ey is None:
            gy = aa[:, None] * np.exp(-((rows - yy[:, None]) ** 2) * inv)
            gx = np.exp(-((cols - xx[:, None]) ** 2) * inv)
            vals = gy[:, :, None] * gx[:, None, :]
        else:
            rc = np.clip(rows, 0, h - 1)
            gy = aa[:, None] * np.exp(-((rows + ey[rc] - yy[:, None]) ** 2) * inv)
            dx = cols[:, None, :] + ex[rc][:, :, None] - xx[:, None, None]
            vals = gy[:, :, None] * np.exp(-(dx**2) * inv)
        flat = ((rows + r) * wp)[:, :, None] + (cols + r)[:, None, :]
        out += np.bincount(flat.ravel(), weights=vals.ravel(), minlength=hp * wp)
    return out.reshape(hp, wp)[r : r + h, r : r + w]


def _slow_background(shape: tuple[int, int], level: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth positive background: ``level * (1 + 0.5 * sum of 4 long-wavelength waves)``.

    Each plane wave ``cos(ky·y + kx·x + φ)`` is evaluated separably as
    ``cos(ky·y)cos(kx·x + φ) − sin(ky·y)sin(kx·x + φ)``.
    """
    h, w = shape
    yy = np.arange(h, dtype=np.float64)
    xx = np.arange(w, dtype=np.float64)
    size = max(h, w)
    cy, sy, cx, sx = [], [], [], []
    for _ in range(4):
        wavelength = rng.uniform(0.7, 2.5) * size
        theta = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / wavelength
        a = rng.uniform(0.5, 1.0)
        phi = rng.uniform(0, 2 * np.pi)
        ay, ax = k * np.cos(theta) * yy, k * np.sin(theta) * xx + phi
        cy += [a * np.cos(ay)]
        sy += [-a * np.sin(ay)]
        cx += [np.cos(ax)]
        sx += [np.sin(ax)]
    bg = np.stack(cy + sy, axis=1) @ np.stack(cx + sx, axis=0)  # (h, 8) @ (8, w)
    bg = bg / max(np.abs(bg).max(), 1e-12)
    return level * (1.0 + 0.5 * bg)


def _grain_angles(n: int, sym: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` orientations in [0, sym), evenly spread with jitter (distinct grains)."""
    base = rng.uniform(0, sym)
    jitter = rng.uniform(-0.25, 0.25, n) * sym / max(n, 1)
    return np.mod(base + np.arange(n) * sym / max(n, 1) + jitter, sym)


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
    seed : int
        Seed of the random generator; the same arguments give the same sample.

    Returns
    -------
    STEMSample
        ``image`` (float32 counts), ``atoms`` (y, x, kind, grain, intensity),
        ``vacancies`` (y, x, kind, grain), ``params`` and ``clean``.
    """
    check_choice("lattice", lattice, LATTICES)
    if len(shape) != 2 or min(shape) < 16:
        raise IvaeError(f"shape={tuple(shape)!r} must be two sizes of at least 16 pixels")
    h, w = int(shape[0]), int(shape[1])
    spacing = float(DEFAULT_SPACING[lattice] if spacing is None else spacing)
    check_range("spacing", spacing, low=3.0, high=min(h, w) / 2)
    blur = float(0.2 * spacing if blur is None else blur)
    check_range("blur", blur, low=0.3, high=spacing)
    check_range("n_grains", n_grains, low=1, high=50)
    check_range("dopant_fraction", dopant_fraction, low=0.0, high=0.3)
    check_range("vacancy_fraction", vacancy_fraction, low=0.0, high=0.3)
    check_range("dopant_contrast", dopant_contrast, low=1.0, high=10.0)
    check_range("dose", dose, low=0.0, low_inclusive=False)
    check_range("read_noise", read_noise, low=0.0)
    check_range("noise_scale", noise_scale, low=0.0)
    check_range("background", background, low=0.0)
    check_range("intensity_jitter", intensity_jitter, low=0.0, high=0.3)
    check_range("scan_distortion", scan_distortion, low=0.0, high=spacing)
    check_range("line_noise", line_noise, low=0.0, high=1.0)
    check_range("position_jitter", position_jitter, low=0.0, high=0.1 * spacing)
    if sublattice_ratio is not None:
        if lattice == "graphene":
            raise IvaeError(
                "sublattice_ratio applies to the two-sublattice lattices 'hexagonal' and "
                f"'square'; got lattice='graphene', sublattice_ratio={sublattice_ratio!r}"
            )
        check_range("sublattice_ratio", sublattice_ratio, low=0.0, high=1.0, low_inclusive=False)
    check_range("probe_tail", probe_tail, low=0.0, high=0.6)
    check_range("amorphous", amorphous, low=0.0, high=1.0)
    ratio_b = float(
        SUBLATTICE_B_INTENSITY[lattice] if sublattice_ratio is None else sublattice_ratio
    )

    rng = np.random.default_rng(seed)
    n_grains = int(n_grains)
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    radius = np.hypot(h, w) / 2 + 3 * spacing + 2 * scan_distortion
    seeds = rng.uniform([0, 0], [h - 1, w - 1], size=(n_grains, 2))
    angles = _grain_angles(n_grains, LATTICE_SYMMETRY[lattice], rng)
    seed_tree = cKDTree(seeds)

    kinds_b = _basis(lattice, spacing)[2]
    parts_pts, parts_sub, parts_grain = [], [], []
    accepted: np.ndarray = np.empty((0, 2))
    for g in range(n_grains):
        origin = centre + rng.uniform(-spacing, spacing, 2)
        pts, sub = _lattice_points(lattice, spacing, angles[g], origin, centre, radius)
        _, owner = seed_tree.query(pts)
        keep = owner == g
        pts, sub = pts[keep], sub[keep]
        if len(accepted):
            d, _ = cKDTree(accepted).query(pts, distance_upper_bound=MIN_SEPARATION * spacing)
            keep = ~np.isfinite(d)
            pts, sub = pts[keep], sub[keep]
        accepted = np.concatenate([accepted, pts])
        parts_pts.append(pts)
        parts_sub.append(sub)
        parts_grain.append(np.full(len(pts), g))
    pts = np.concatenate(parts_pts)
    sub = np.concatenate(parts_sub)
    grain = np.concatenate(parts_grain)

    if position_jitter > 0:
        jitter_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        pts = pts + jitter_rng.normal(0.0, position_jitter, pts.shape)

    # scan distortion: probe offsets per row; apparent (recorded) positions solve r + ey(r) = y_u
    ex = ey = None
    app = pts.copy()
    if scan_distortion > 0:
        rows = np.arange(h, dtype=np.float64)
        # periods of at least 12 amplitudes keep |ex'|, |ey'| <= 0.53: rows stay in order
        p1 = max(rng.uniform(0.3, 0.8) * h, 12 * scan_distortion)
        p2 = max(rng.uniform(0.3, 0.8) * h, 12 * scan_distortion)
        ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)

        def ex_s(r):
            return scan_distortion * np.sin(2 * np.pi * r / p1 + ph1)

        def ey_s(r):
            return 0.5 * scan_distortion * np.sin(2 * np.pi * r / p2 + ph2)

        yy = pts[:, 0].copy()
        for _ in range(40):  # a contraction: |ey'| <= pi * scan_distortion / p2 < 0.27
            yy = pts[:, 0] - ey_s(yy)
        app = np.stack([yy, pts[:, 1] - ex_s(yy)], axis=1)
        ey = ey_s(rows)
        ex = ex_s(rows) + rng.normal(0, 0.1 * scan_distortion, h)
    inside = (app[:, 0] >= 0) & (app[:, 0] <= h - 1) & (app[:, 1] >= 0) & (app[:, 1] <= w - 1)
    pts, app, sub, grain = pts[inside], app[inside], sub[inside], grain[inside]

    n = len(pts)
    kind = np.array([kinds_b[s] for s in range(len(kinds_b))], dtype=object)[sub]
    intensity = np.where(kind == "host", 1.0, ratio_b)
    order = rng.permutation(n)
    host_idx = order[kind[order] == "host"]
    n_dop = min(round(dopant_fraction * n), len(host_idx))
    dop = host_idx[:n_dop]
    kind[dop] = "dopant"
    intensity[dop] = dopant_contrast
    rest = order[kind[order] != "dopant"]
    n_vac = min(round(vacancy_fraction * n), len(rest))
    vac = np.zeros(n, dtype=bool)
    vac[rng.permutation(rest)[:n_vac]] = True
    intensity = intensity * np.clip(1 + intensity_jitter * rng.standard_normal(n), 0.5, 1.5)

    atoms_sel = ~vac
    signal = _render(
        (h, w), pts[atoms_sel, 0], pts[atoms_sel, 1], intensity[atoms_sel], blur, ey, ex
    )
    if probe_tail > 0:
        # the same total signal per column, a fraction of it in a 4x wider tail
        # (peak of the tail: 1/16 of a core of the same integral)
        tail = _render(
            (h, w),
            pts[atoms_sel, 0],
            pts[atoms_sel, 1],
            intensity[atoms_sel] / 16.0,
            4.0 * blur,
            ey,
            ex,
        )
        signal = (1.0 - probe_tail) * signal + probe_tail * tail
    if amorphous > 0:
        am_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
        blobs = ndimage.gaussian_filter(am_rng.standard_normal((h, w)), spacing / 3.0)
        blobs = np.clip(blobs / max(float(blobs.std()), 1e-12), 0.0, None)
        signal = signal + amorphous * blobs / 2.0
    expected = dose * (signal + _slow_background((h, w), background, rng))
    if noise_scale > 0:
        # scale the Poisson noise by drawing at a lower effective dose, then rescale
        eff = 1.0 / (noise_scale * noise_scale)
        noisy = rng.poisson(expected * eff) / eff
        noisy = noisy + rng.normal(0.0, read_noise * noise_scale, (h, w))
    else:
        noisy = expected
    if line_noise > 0 and noise_scale > 0:
        line_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        noisy = noisy + (dose * line_noise * noise_scale) * line_rng.standard_normal(h)[:, None]

    atoms = pd.DataFrame(
        {
            "y": app[atoms_sel, 0],
            "x": app[atoms_sel, 1],
            "kind": pd.Series(kind[atoms_sel], dtype=str),
            "grain": grain[atoms_sel].astype(np.int64),
            "intensity": intensity[atoms_sel],
        }
    )
    vacancies = pd.DataFrame(
        {
            "y": app[vac, 0],
            "x": app[vac, 1],
            "kind": pd.Series(kind[vac], dtype=str),
            "grain": grain[vac].astype(np.int64),
        }
    )
    params = {
        "shape": (h, w),
        "lattice": lattice,
        "spacing": spacing,
        "n_grains": n_grains,
        "dopant_fraction": float(dopant_fraction),
        "vacancy_fraction": float(vacancy_fraction),
        "dopant_contrast": float(dopant_contrast),
        "dose": float(dose),
        "read_noise": float(read_noise),
        "noise_scale": float(noise_scale),
        "blur": blur,
        "background": float(background),
        "intensity_jitter": float(intensity_jitter),
        "scan_distortion": float(scan_distortion),
        "line_noise": float(line_noise),
        "position_jitter": float(position_jitter),
        "sublattice_ratio": ratio_b if lattice != "graphene" else 1.0,
        "probe_tail": float(probe_tail),
        "amorphous": float(amorphous),
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
    )
