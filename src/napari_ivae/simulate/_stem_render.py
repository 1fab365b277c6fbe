"""The STEM image model of :func:`~napari_ivae.simulate.simulate_stem`, step by step:
grains of lattice sites, scan distortion, dopants and vacancies, rendering, detector noise."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

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


def _grains(
    lattice: str,
    spacing: float,
    shape: tuple[int, int],
    seeds: np.ndarray,
    angles: np.ndarray,
    radius: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sites of every grain (Voronoi cells of ``seeds``): (N, 2) yx, basis index, grain.

    A site closer than :data:`MIN_SEPARATION` spacings to a site of an earlier
    grain is dropped.
    """
    h, w = shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    seed_tree = cKDTree(seeds)
    parts_pts, parts_sub, parts_grain = [], [], []
    accepted: np.ndarray = np.empty((0, 2))
    for g in range(len(seeds)):
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
    return np.concatenate(parts_pts), np.concatenate(parts_sub), np.concatenate(parts_grain)


def _scan_distortion(
    pts: np.ndarray, h: int, amount: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Recorded positions and the per-row probe offsets ``ey, ex`` (None when ``amount`` is 0).

    The recorded (apparent) row ``r`` of a site solves ``r + ey(r) = y``.
    """
    if not amount > 0:
        return pts.copy(), None, None
    rows = np.arange(h, dtype=np.float64)
    # periods of at least 12 amplitudes keep |ex'|, |ey'| <= 0.53: rows stay in order
    p1 = max(rng.uniform(0.3, 0.8) * h, 12 * amount)
    p2 = max(rng.uniform(0.3, 0.8) * h, 12 * amount)
    ph1, ph2 = rng.uniform(0, 2 * np.pi, 2)

    def ex_s(r):
        return amount * np.sin(2 * np.pi * r / p1 + ph1)

    def ey_s(r):
        return 0.5 * amount * np.sin(2 * np.pi * r / p2 + ph2)

    yy = pts[:, 0].copy()
    for _ in range(40):  # a contraction: |ey'| <= pi * amount / p2 < 0.27
        yy = pts[:, 0] - ey_s(yy)
    app = np.stack([yy, pts[:, 1] - ex_s(yy)], axis=1)
    ey = ey_s(rows)
    ex = ex_s(rows) + rng.normal(0, 0.1 * amount, h)
    return app, ey, ex


def _decorate(
    sub: np.ndarray, kinds_b: list[str], ratio_b: float, o: dict, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kind and peak intensity of every site, and the vacancies (bool), from the options ``o``."""
    n = len(sub)
    kind = np.array([kinds_b[s] for s in range(len(kinds_b))], dtype=object)[sub]
    intensity = np.where(kind == "host", 1.0, ratio_b)
    order = rng.permutation(n)
    host_idx = order[kind[order] == "host"]
    n_dop = min(round(o["dopant_fraction"] * n), len(host_idx))
    dop = host_idx[:n_dop]
    kind[dop] = "dopant"
    intensity[dop] = o["dopant_contrast"]
    rest = order[kind[order] != "dopant"]
    n_vac = min(round(o["vacancy_fraction"] * n), len(rest))
    vac = np.zeros(n, dtype=bool)
    vac[rng.permutation(rest)[:n_vac]] = True
    jitter = o["intensity_jitter"]
    intensity = intensity * np.clip(1 + jitter * rng.standard_normal(n), 0.5, 1.5)
    return kind, intensity, vac


def _signal(
    shape: tuple[int, int],
    yx: np.ndarray,
    intensity: np.ndarray,
    blur: float,
    offsets: tuple[np.ndarray | None, np.ndarray | None],
    o: dict,
    spacing: float,
) -> np.ndarray:
    """Noise-free signal of the atoms: Gaussian peaks, the probe tail, the amorphous layer."""
    ey, ex = offsets
    signal = _render(shape, yx[:, 0], yx[:, 1], intensity, blur, ey, ex)
    probe_tail, amorphous = o["probe_tail"], o["amorphous"]
    if probe_tail > 0:
        # the same total signal per column, a fraction of it in a 4x wider tail
        # (peak of the tail: 1/16 of a core of the same integral)
        tail = _render(shape, yx[:, 0], yx[:, 1], intensity / 16.0, 4.0 * blur, ey, ex)
        signal = (1.0 - probe_tail) * signal + probe_tail * tail
    if amorphous > 0:
        am_rng = np.random.default_rng(np.random.SeedSequence(o["seed"]).spawn(3)[2])
        blobs = ndimage.gaussian_filter(am_rng.standard_normal(shape), spacing / 3.0)
        blobs = np.clip(blobs / max(float(blobs.std()), 1e-12), 0.0, None)
        signal = signal + amorphous * blobs / 2.0
    return signal


def _detector(expected: np.ndarray, o: dict, rng: np.random.Generator) -> np.ndarray:
    """Counting (Poisson) and read noise, scaled by ``noise_scale``, and scan-line noise."""
    h, w = expected.shape
    noise_scale, dose, line_noise = o["noise_scale"], o["dose"], o["line_noise"]
    if noise_scale > 0:
        # scale the Poisson noise by drawing at a lower effective dose, then rescale
        eff = 1.0 / (noise_scale * noise_scale)
        noisy = rng.poisson(expected * eff) / eff
        noisy = noisy + rng.normal(0.0, o["read_noise"] * noise_scale, (h, w))
    else:
        noisy = expected
    if line_noise > 0 and noise_scale > 0:
        line_rng = np.random.default_rng(np.random.SeedSequence(o["seed"]).spawn(1)[0])
        noisy = noisy + (dose * line_noise * noise_scale) * line_rng.standard_normal(h)[:, None]
    return noisy


def _tables(
    app: np.ndarray, kind: np.ndarray, grain: np.ndarray, intensity: np.ndarray, vac: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ground-truth tables: atoms (with intensity) and vacancies, at recorded positions."""
    sel = ~vac
    atoms = pd.DataFrame(
        {
            "y": app[sel, 0],
            "x": app[sel, 1],
            "kind": pd.Series(kind[sel], dtype=str),
            "grain": grain[sel].astype(np.int64),
            "intensity": intensity[sel],
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
    return atoms, vacancies
