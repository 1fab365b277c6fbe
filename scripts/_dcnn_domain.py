"""Domain-randomised STEM patches for training the atoms DCNN (``scripts/train_dcnn.py``).

Every patch is drawn from :data:`RECIPE` by :func:`domain_sample` with its own seeded
generator, so a patch is a pure function of its seed.  The scene is built in specimen
coordinates and then "scanned":

* lattices: graphene (honeycomb, equal sites), MoS2-like 2H (honeycomb, dim chalcogen
  sublattice), hexagonal (triangular, one site), square (A sites + dim cell centres),
  perovskite ABO3 [001] (A corners, B-O centres, optional faint O columns);
* grains (Voronoi cells, each with its own orientation; atoms closer than 0.7 spacing
  to an earlier grain are not placed), vacancies, bright dopants, edges (a half-plane
  of vacuum) and holes (blobs of vacuum); vacancies and removed atoms get no target;
* probe: a Gaussian core of sigma ``blur * spacing`` plus a wide tail (a fraction of
  the signal blurred by ``tail_width`` times the core);
* scan: pixel ``(r, c)`` samples the specimen at ``(r + ey(r), c + ex(r))``, where
  ``ey, ex`` hold linear drift (stretch along the slow scan, shear), slow sine
  distortion and a per-row jitter of ``ex`` (line jitter; noise, not in the target);
* backgrounds: a slow gradient, amorphous carbon (smoothed random texture, absent in
  vacuum), contamination (large bright blobs), a darker vacuum;
* noise: Poisson counts at ``dose`` counts per host peak, Gaussian readout and
  per-row offsets.

The target is the max of unit Gaussians (sigma ``HEAT_SIGMA``) at the recorded image
positions of the drawn atoms only.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

HEAT_SIGMA = 1.25  # px, Gaussian at each atom in the target
MIN_SEPARATION = 0.7  # between grains, in units of the spacing

#: every range the generator draws from (stored with the weights)
RECIPE: dict = {
    "lattice_p": {
        "graphene": 0.22,
        "mos2": 0.24,
        "hexagonal": 0.14,
        "square": 0.16,
        "perovskite": 0.24,
    },
    "spacing_px": [5.0, 40.0],  # nearest-neighbour distance, log-uniform
    "sublattice_ratio": [0.1, 1.0],  # dim / bright sublattice peak, uniform
    "perovskite_o_p": 0.4,  # probability that O columns are drawn (ratio 0.1-0.35)
    "perovskite_o_ratio": [0.1, 0.35],
    "grains": [1, 3],
    "vacancy_fraction": [0.0, 0.06],
    "dopant_fraction": [0.0, 0.05],
    "dopant_contrast": [1.3, 2.5],
    "intensity_jitter": [0.0, 0.2],
    "edge_p": 0.2,
    "hole_p": 0.25,
    "hole_fraction": [0.05, 0.3],
    "blur_over_spacing": [0.11, 0.3],  # probe core sigma, min 0.6 px
    "tail_p": 0.6,
    "tail_fraction": [0.05, 0.5],
    "tail_width": [3.0, 6.0],
    "drift_stretch": [-0.12, 0.12],  # d ey / d row
    "drift_shear": [-0.12, 0.12],  # d ex / d row
    "drift_p": 0.6,
    "distortion_p": 0.5,
    "distortion_over_spacing": [0.0, 0.25],  # sine amplitude of ex (ey: half)
    "jitter_p": 0.5,
    "jitter_over_spacing": [0.0, 0.06],  # per-row sd of ex
    "background": [0.0, 1.5],  # slow gradient, units of a host peak
    "amorphous_p": 0.5,
    "amorphous": [0.05, 0.8],
    "amorphous_grain_px": [0.8, 4.0],
    "contamination_p": 0.3,
    "contamination": [0.3, 3.0],
    "vacuum_level": [0.0, 0.5],  # background kept in vacuum, fraction
    "dose": [2.0, 500.0],  # counts per host peak, log-uniform
    "dim_peak_counts_min": 6.0,  # ... from max(2, this / dimmest site's height) up
    "readout_over_dose": [0.0, 0.2],  # Gaussian readout sd, units of a host peak
    "line_noise_p": 0.3,
    "line_noise": [0.0, 0.2],
}


def _u(rng: np.random.Generator, key: str) -> float:
    lo, hi = RECIPE[key]
    return float(rng.uniform(lo, hi))


def _logu(rng: np.random.Generator, key: str) -> float:
    lo, hi = RECIPE[key]
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _motif(lattice: str, spacing: float, rng: np.random.Generator):
    """Lattice vectors (2, 2), basis (B, 2) and relative peak heights (B,), unit NN spacing."""
    ratio = _u(rng, "sublattice_ratio")
    if lattice in ("graphene", "mos2"):
        a = spacing * math.sqrt(3.0)
        vecs = np.array([[0.0, a], [a * math.sqrt(3.0) / 2, a / 2]])
        basis = np.array([[0.0, 0.0], (vecs[0] + vecs[1]) / 3.0])
        return vecs, basis, np.array([1.0, 1.0 if lattice == "graphene" else ratio])
    if lattice == "hexagonal":
        vecs = np.array([[0.0, spacing], [spacing * math.sqrt(3.0) / 2, spacing / 2]])
        return vecs, np.zeros((1, 2)), np.ones(1)
    if lattice == "square":
        a = spacing * math.sqrt(2.0)
        vecs = np.array([[0.0, a], [a, 0.0]])
        return vecs, np.array([[0.0, 0.0], [a / 2, a / 2]]), np.array([1.0, ratio])
    # perovskite [001]: A corners, B-O centre, O at the edge midpoints (if visible)
    if rng.random() < RECIPE["perovskite_o_p"]:
        a = 2.0 * spacing
        o = _u(rng, "perovskite_o_ratio")
        basis = np.array([[0, 0], [a / 2, a / 2], [0, a / 2], [a / 2, 0]], float)
        heights = np.array([1.0, ratio, o, o])
    else:
        a = spacing * math.sqrt(2.0)
        basis, heights = np.array([[0, 0], [a / 2, a / 2]], float), np.array([1.0, ratio])
    if rng.random() < 0.5:  # B brighter than A as often as not
        heights[:2] = heights[1::-1]
    return np.array([[0.0, a], [a, 0.0]]), basis, heights / heights.max()


def _grain_sites(lattice, spacing, extent, rng):
    """Sites (N, 2) in specimen coordinates covering [lo, hi]² and their heights (N,)."""
    lo, hi = extent
    centre, radius = np.full(2, (lo + hi) / 2), (hi - lo) / math.sqrt(2) + 2 * spacing
    vecs, basis, heights = _motif(lattice, spacing, rng)
    n_grains = int(rng.integers(RECIPE["grains"][0], RECIPE["grains"][1] + 1))
    seeds = rng.uniform(lo, hi, (n_grains, 2))
    owner_tree = cKDTree(seeds)
    pts_all, h_all = np.empty((0, 2)), np.empty(0)
    for g in range(n_grains):
        ang = rng.uniform(0, 2 * math.pi)
        rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        v, b = vecs @ rot.T, basis @ rot.T
        n = int(radius / (0.5 * np.linalg.norm(v, axis=1).min())) + 2
        i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
        cells = i.reshape(-1, 1) * v[0] + j.reshape(-1, 1) * v[1] + centre
        cells = cells + rng.uniform(0, 1) * v[0] + rng.uniform(0, 1) * v[1]
        pts = (cells[:, None] + b[None]).reshape(-1, 2)
        hh = np.tile(heights, len(cells))
        keep = (np.abs(pts - centre) <= radius).all(axis=1)
        keep &= owner_tree.query(pts)[1] == g
        pts, hh = pts[keep], hh[keep]
        if len(pts_all) and len(pts):
            d, _ = cKDTree(pts_all).query(pts, distance_upper_bound=MIN_SEPARATION * spacing)
            pts, hh = pts[~np.isfinite(d)], hh[~np.isfinite(d)]
        pts_all, h_all = np.concatenate([pts_all, pts]), np.concatenate([h_all, hh])
    return pts_all, h_all


def _scan(size: int, spacing: float, rng: np.random.Generator):
    """Per-row specimen offsets: smooth ``ey, ex`` (rows) and ``ex`` with line jitter."""
    r = np.arange(size, dtype=np.float64)
    ey, ex = np.zeros(size), np.zeros(size)
    if rng.random() < RECIPE["drift_p"]:
        ey += _u(rng, "drift_stretch") * (r - size / 2)
        ex += _u(rng, "drift_shear") * (r - size / 2)
    if rng.random() < RECIPE["distortion_p"]:
        amp = _u(rng, "distortion_over_spacing") * spacing
        # periods of at least 20 amplitudes keep the row mapping monotonic
        p1, p2 = (max(rng.uniform(0.4, 1.5) * size, 20 * amp) for _ in range(2))
        ph1, ph2 = rng.uniform(0, 2 * math.pi, 2)
        ex += amp * np.sin(2 * math.pi * r / p1 + ph1)
        ey += 0.5 * amp * np.sin(2 * math.pi * r / p2 + ph2)
    ex_j = ex.copy()
    if rng.random() < RECIPE["jitter_p"]:
        ex_j += rng.normal(0, _u(rng, "jitter_over_spacing") * spacing, size)
    return ey, ex, ex_j


def _to_image(pts: np.ndarray, ey: np.ndarray, ex: np.ndarray) -> np.ndarray:
    """Image (row, col) of specimen points: solve ``r + ey(r) = y``, then ``c = x - ex(r)``."""
    rows = np.arange(len(ey), dtype=np.float64)
    r = pts[:, 0].copy()
    for _ in range(30):  # a contraction: |ey'| < 0.2
        r = pts[:, 0] - np.interp(r, rows, ey, left=ey[0], right=ey[-1])
    return np.stack([r, pts[:, 1] - np.interp(r, rows, ex)], axis=1)


def _render(size, spec, app, amp, sigma, ey, ex_j) -> np.ndarray:
    """Sum of Gaussians; pixel (r, c) samples the specimen at (r + ey[r], c + ex_j[r])."""
    rad = math.ceil(4 * sigma) + 2
    offs = np.arange(-rad, rad + 1)
    out = np.zeros((size + 2 * rad) ** 2)
    rows = np.rint(app[:, 0]).astype(int)[:, None] + offs  # (N, P)
    cols = np.rint(app[:, 1]).astype(int)[:, None] + offs
    rc = np.clip(rows, 0, size - 1)
    inv = 1 / (2 * sigma**2)
    gy = amp[:, None] * np.exp(-((rows + ey[rc] - spec[:, :1]) ** 2) * inv)
    dx = cols[:, None, :] + ex_j[rc][:, :, None] - spec[:, 1, None, None]
    vals = gy[:, :, None] * np.exp(-(dx**2) * inv)
    ok = (rows >= 0) & (rows < size)
    vals = vals * ok[:, :, None]
    flat = ((rows + rad) * (size + 2 * rad))[:, :, None] + (cols + rad)[:, None, :]
    flat = np.clip(flat, 0, out.size - 1)
    out += np.bincount(flat.ravel(), weights=vals.ravel(), minlength=out.size)
    return out.reshape(size + 2 * rad, -1)[rad : rad + size, rad : rad + size]


def _blobs(size: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field, zero mean, unit sd."""
    f = ndi.gaussian_filter(rng.standard_normal((size, size)), scale, mode="wrap")
    return (f - f.mean()) / max(float(f.std()), 1e-12)


def _vacuum(size: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask (image coordinates) of edges and holes."""
    vac = np.zeros((size, size), bool)
    if rng.random() < RECIPE["edge_p"]:
        ang, off = rng.uniform(0, 2 * math.pi), rng.uniform(0.15, 0.5) * size
        yy, xx = np.mgrid[:size, :size] - size / 2
        vac |= yy * math.cos(ang) + xx * math.sin(ang) > size / 2 - off
    if rng.random() < RECIPE["hole_p"]:
        f = _blobs(size, rng.uniform(1.0, 3.0) * spacing, rng)
        vac |= f > np.quantile(f, 1 - _u(rng, "hole_fraction"))
    return vac


def _backgrounds(size, spacing, vac, rng) -> np.ndarray:
    """Slow gradient + amorphous carbon + contamination, units of a host peak."""
    yy, xx = np.mgrid[:size, :size] / size
    bg = _u(rng, "background") * (1 + rng.uniform(-0.5, 0.5) * (yy - 0.5))
    bg = bg * (1 + rng.uniform(-0.5, 0.5) * (xx - 0.5))
    if rng.random() < RECIPE["amorphous_p"]:
        grain = _u(rng, "amorphous_grain_px") * max(1.0, spacing / 8)
        bg = bg + _u(rng, "amorphous") * np.clip(_blobs(size, grain, rng) + 1, 0, None) / 2
    if vac.any():
        soft = ndi.gaussian_filter(vac.astype(float), 1.5)
        bg = bg * (1 - soft * (1 - _u(rng, "vacuum_level")))
    if rng.random() < RECIPE["contamination_p"]:
        f = _blobs(size, rng.uniform(8, 40), rng)
        bg = bg + _u(rng, "contamination") * np.clip(f - rng.uniform(0, 1.5), 0, None)
    return bg


def _noise(clean: np.ndarray, dimmest: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts at ``dose`` per host peak + Gaussian readout + row offsets.

    The dose is log-uniform from ``max(dose_lo, dim_peak_counts_min / dimmest)`` up, so
    the dimmest drawn site still has a few counts at its peak (atoms no detector
    could see would only teach the network to hedge).
    """
    lo, hi = RECIPE["dose"]
    lo = min(max(lo, RECIPE["dim_peak_counts_min"] / max(dimmest, 1e-3)), hi)
    dose = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
    img = rng.poisson(np.clip(clean, 0, None) * dose).astype(np.float64)
    img += rng.normal(0, _u(rng, "readout_over_dose") * dose, clean.shape)
    if rng.random() < RECIPE["line_noise_p"]:
        img += rng.normal(0, _u(rng, "line_noise") * dose, (clean.shape[0], 1))
    return img


def atom_target(shape, yx: np.ndarray) -> np.ndarray:
    """Max of unit Gaussians (sigma HEAT_SIGMA) at the atom positions."""
    heat = np.zeros(shape, np.float32)
    r = math.ceil(3 * HEAT_SIGMA)
    off = np.arange(-r, r + 1)
    for y, x in yx:
        ys, xs = round(y) + off, round(x) + off
        g = np.exp(-((ys[:, None] - y) ** 2 + (xs[None, :] - x) ** 2) / (2 * HEAT_SIGMA**2))
        oky, okx = (ys >= 0) & (ys < shape[0]), (xs >= 0) & (xs < shape[1])
        sub = np.ix_(ys[oky], xs[okx])
        heat[sub] = np.maximum(heat[sub], g[np.ix_(oky, okx)])
    return heat


def domain_sample(seed: int, size: int = 128):
    """One patch: (raw counts (H, W) float32, atom positions (N, 2) in image pixels).

    Parameters
    ----------
    seed : int
        Seed of the patch's own random generator.
    size : int
        Patch side in pixels.
    """
    rng = np.random.default_rng(seed)
    names = list(RECIPE["lattice_p"])
    lattice = names[rng.choice(len(names), p=list(RECIPE["lattice_p"].values()))]
    spacing = _logu(rng, "spacing_px")
    ey, ex, ex_j = _scan(size, spacing, rng)
    span = np.abs(np.concatenate([ey, ex])).max() + 6 * spacing
    spec, height = _grain_sites(lattice, spacing, (-span, size + span), rng)
    app = _to_image(spec, ey, ex)
    sigma = max(0.6, _u(rng, "blur_over_spacing") * spacing)
    pad = 4 * sigma
    near = ((app > -pad) & (app < size - 1 + pad)).all(axis=1)
    spec, app, height = spec[near], app[near], height[near]
    n = len(app)
    height = height * np.clip(1 + _u(rng, "intensity_jitter") * rng.standard_normal(n), 0.4, 1.6)
    dop = rng.random(n) < _u(rng, "dopant_fraction")
    height[dop] *= _u(rng, "dopant_contrast")
    keep = rng.random(n) >= _u(rng, "vacancy_fraction")
    vac = _vacuum(size, spacing, rng)
    iy, ix = (np.clip(np.rint(app[:, k]), 0, size - 1).astype(int) for k in (0, 1))
    keep &= ~vac[iy, ix]
    core = _render(size, spec[keep], app[keep], height[keep], sigma, ey, ex_j)
    signal = core
    if rng.random() < RECIPE["tail_p"]:
        f, k = _u(rng, "tail_fraction"), _u(rng, "tail_width")
        signal = (1 - f) * core + f * ndi.gaussian_filter(core, sigma * math.sqrt(k * k - 1))
    dimmest = float(height[keep].min()) if keep.any() else 1.0
    img = _noise(signal + _backgrounds(size, spacing, vac, rng), dimmest, rng)
    yx = app[keep]
    yx = yx[((yx >= 0) & (yx <= size - 1)).all(axis=1)]
    return img.astype(np.float32), yx
