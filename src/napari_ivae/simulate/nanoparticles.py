"""Seeded simulator of an EELS spectrum image of a plasmonic nanoparticle monolayer.

A scan of ``shape`` pixels holds non-overlapping motifs of spherical particles
of radius ``radius`` (pixels): *isolated* particles, *dimers*, straight
*chains* of 3–5 and hexagonal *close-packed* islands (whose outer particles are
labelled *edge*).  Within a motif neighbouring surfaces are ``gaps[motif] ×
radius`` apart; motifs are kept more than ``cutoff × radius`` (surface to
surface) from each other, so a particle's neighbours are exactly its motif mates
closer than the cutoff.

The law (exact, per particle ``p`` with neighbour gaps ``g_q``, in pixels):

- coupling strength ``s_p = Σ_q exp(-g_q / (decay × radius))`` over the
  neighbours (``g_q < cutoff × radius``); with ``n`` neighbours at one gap
  ``g``: ``s = n exp(-g / (decay × radius))``;
- coupling ``c_p = s_p / (s_p + s_half)`` (0 for an isolated particle);
- the plasmon is a mixture of two unit-area Gaussian modes, the isolated dipole
  (``e_iso``, std ``w_iso``) and the coupled (bonding) mode (``e_coupled``,
  std ``w_coupled``), with weights ``1 - c`` and ``c``; hence its
  **peak energy** (centroid) ``E = e_iso - (e_iso - e_coupled) c`` and its
  **width** (standard deviation)
  ``W = sqrt((1-c) w_iso² + c w_coupled² + c (1-c) (e_iso - e_coupled)²)``.

Excitation against impact parameter ``d`` (beam to particle centre), as in
EELS of metal particles:

- the **surface (dipole) mode** is excited most by a beam grazing the surface;
  outside (aloof) it decays with the impact parameter, inside it is weaker (the
  begrenzung effect: the volume mode takes the oscillator strength):
  ``S(d) = exp(-(d - radius) / (aloof × radius))`` for ``d ≥ radius`` and
  ``S(d) = inside + (1 - inside) (d / radius)²`` within (``aloof`` 0.5,
  ``inside`` 0.25);
- the **bulk (volume) plasmon** is excited only by a beam through the particle,
  in proportion to its path length: the projected thickness
  ``T(d) = sqrt(radius² - d²) / radius`` (1 at the centre, 0 outside).

A pixel's surface weight is ``ρ = min(1, Σ_p S_p)``, its bulk weight
``τ = min(1, Σ_p T_p)``, both divided by ``k = max(1, ρ + τ)`` (``ρ' = ρ / k``,
``τ' = τ / k``), and its coupling is ``c̄ = Σ_p c_p S_p / Σ_p S_p``.  The spectrum
of pixel ``x`` is ``dose × Σ_k abundances[x, k] × endmembers[k]`` (Poisson noise
on top) with four endmember spectra:

0. ``"support"``: zero-loss tail ``(e / e0)^-4`` plus power-law background
   ``0.3 (e / e0)^-1.5`` (``e0`` the first energy) — abundance ``t (1 - ρ' - τ')``;
1. ``"isolated dipole"``: 1.5 × that background plus ``plasmon_strength ×`` a
   unit-area Gaussian at ``e_iso`` (std ``w_iso``) — abundance ``t ρ' (1 - c̄)``;
2. ``"coupled mode"``: the same with the Gaussian at ``e_coupled`` (std
   ``w_coupled``) — abundance ``t ρ' c̄``;
3. ``"bulk plasmon"``: 1.5 × the background plus ``bulk_strength ×`` a
   unit-area Gaussian at ``e_bulk`` (std ``w_bulk``) — abundance ``t τ'``;

where ``t`` is a smooth support-thickness gradient (0.8–1.2).  The spectrum
thus tells a particle's centre (bulk peak, weak surface mode) from a point
just outside it (surface mode only).  The bare support gives pure
``"support"`` pixels, the surface of an isolated particle pure ``"isolated
dipole"`` ones and its centre mostly ``"bulk plasmon"``, so NMF recovery is
well defined.  The surface-plasmon part of a pixel is
``t ρ' plasmon_strength [(1 - c̄) G_iso + c̄ G_coupled]``, so the per-pixel truth
maps ``peak_energy`` and ``peak_width`` (of the surface plasmon) are the law
at ``c̄`` (NaN where ``Σ_p S_p < 0.05``).  Positions are ``(y, x)`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from napari_ivae._errors import IvaeError, check_range
from napari_ivae.simulate._particles import _place, _render
from napari_ivae.spectra import SpectrumImage

__all__ = [
    "ARRANGEMENTS",
    "ENDMEMBER_NAMES",
    "NanoparticleSI",
    "peak_law",
    "simulate_nanoparticle_si",
]

ARRANGEMENTS: tuple[str, ...] = ("isolated", "dimer", "chain", "close-packed", "edge")
ENDMEMBER_NAMES: tuple[str, ...] = ("support", "isolated dipole", "coupled mode", "bulk plasmon")
_DEFAULT_GAPS = {"dimer": 0.3, "chain": 0.4, "close-packed": 0.2}
_PLASMON_MIN = 0.05
#: background of a particle pixel relative to the bare support (thicker)
_PARTICLE_BG = 1.5


@dataclass(eq=False)
class NanoparticleSI:
    """A simulated HAADF image and EELS spectrum image with exact truth.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W)`` float32 HAADF-like image (particles bright).
    si : SpectrumImage
        ``(H, W, E)`` float32 counts (Poisson), energy in eV.
    centers : numpy.ndarray
        ``(N, 2)`` float64 particle centres ``(y, x)``.
    radius : float
        Particle radius (pixels).
    neighbours : numpy.ndarray
        ``(N,)`` int, neighbours closer than ``cutoff × radius`` (surface gap).
    gap : numpy.ndarray
        ``(N,)`` float64, smallest surface gap to another particle (pixels;
        ``inf`` when there is none within the cutoff).
    arrangement : numpy.ndarray
        ``(N,)`` str, one of :data:`ARRANGEMENTS`.
    coupling : numpy.ndarray
        ``(N,)`` float64, ``c_p`` of the law.
    particle_peak_energy, particle_peak_width : numpy.ndarray
        ``(N,)`` float64, the law's peak energy and width of each particle (eV).
    peak_energy, peak_width : numpy.ndarray
        ``(H, W)`` float64 truth maps (eV), NaN where there is no plasmon.
    endmembers : numpy.ndarray
        ``(K, E)`` float64 generating spectra (counts per unit abundance at dose 1).
    abundances : numpy.ndarray
        ``(H, W, K)`` float64; the noiseless SI is
        ``dose × abundances @ endmembers``.
    endmember_names : tuple of str
        :data:`ENDMEMBER_NAMES`.
    params : dict
        The simulator arguments, resolved.
    """

    image: np.ndarray
    si: SpectrumImage
    centers: np.ndarray
    radius: float
    neighbours: np.ndarray
    gap: np.ndarray
    arrangement: np.ndarray
    coupling: np.ndarray
    particle_peak_energy: np.ndarray
    particle_peak_width: np.ndarray
    peak_energy: np.ndarray
    peak_width: np.ndarray
    endmembers: np.ndarray
    abundances: np.ndarray
    endmember_names: tuple[str, ...] = ENDMEMBER_NAMES
    params: dict = field(default_factory=dict)

    @property
    def clean(self) -> np.ndarray:
        """The noiseless SI, ``(H, W, E)`` float64 expected counts."""
        return self.params["dose"] * np.tensordot(self.abundances, self.endmembers, axes=1)


def peak_law(
    coupling: np.ndarray | float,
    *,
    e_iso: float = 2.4,
    e_coupled: float = 1.7,
    w_iso: float = 0.12,
    w_coupled: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Peak energy (centroid) and width (std) of the plasmon for coupling ``c``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``e_iso - (e_iso - e_coupled) c`` and
        ``sqrt((1-c) w_iso² + c w_coupled² + c (1-c) (e_iso - e_coupled)²)``.
    """
    c = np.asarray(coupling, dtype=np.float64)
    energy = e_iso - (e_iso - e_coupled) * c
    var = (1 - c) * w_iso**2 + c * w_coupled**2 + c * (1 - c) * (e_iso - e_coupled) ** 2
    return energy, np.sqrt(var)


def coupling_law(
    gaps: list[np.ndarray], radius: float, *, decay: float = 0.4, s_half: float = 0.5
) -> np.ndarray:
    """``c_p = s_p / (s_p + s_half)``, ``s_p = Σ exp(-g / (decay radius))`` per particle."""
    s = np.array([np.exp(-np.asarray(g) / (decay * radius)).sum() for g in gaps])
    return s / (s + s_half)


def _gauss(e: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((e - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))


def simulate_nanoparticle_si(
    shape: tuple[int, int] = (128, 128),
    n_energy: int = 256,
    *,
    seed: int = 0,
    radius: float = 5.0,
    energy_range: tuple[float, float] = (1.0, 4.0),
    gaps: dict[str, float] | None = None,
    cutoff: float = 1.0,
    decay: float = 0.4,
    s_half: float = 0.5,
    e_iso: float = 2.4,
    e_coupled: float = 1.7,
    w_iso: float = 0.12,
    w_coupled: float = 0.2,
    plasmon_strength: float = 1.0,
    e_bulk: float = 3.6,
    w_bulk: float = 0.25,
    bulk_strength: float = 1.0,
    dose: float = 200.0,
    noise: bool = True,
) -> NanoparticleSI:
    """Simulate a HAADF image and an EELS spectrum image of a nanoparticle monolayer.

    Parameters
    ----------
    shape : (int, int)
        Scan size ``(H, W)``, each 16–4096.
    n_energy : int
        Energy channels ``E``, 8–8192.
    seed : int
        Random seed (placement, support gradient, noise).
    radius : float
        Particle radius in pixels, 1.5–``min(H, W) / 6``.
    energy_range : (float, float)
        First and last energy (eV), ``0 < e0 < e1``.
    gaps : dict, optional
        Surface gap within ``"dimer"``, ``"chain"``, ``"close-packed"`` motifs,
        in units of ``radius``; default 0.3, 0.4, 0.2.  Each must be below ``cutoff``.
    cutoff, decay, s_half : float
        The law's neighbour cutoff and decay length (units of ``radius``) and
        half-saturation strength (see the module docstring).
    e_iso, e_coupled, w_iso, w_coupled : float
        Energies and widths (std) of the two plasmon modes (eV), inside ``energy_range``.
    plasmon_strength : float
        Area of a surface-plasmon mode relative to the background at ``e0`` (> 0).
    e_bulk, w_bulk : float
        Energy (inside ``energy_range``) and width (std, > 0) of the bulk
        (volume) plasmon (eV).
    bulk_strength : float
        Area of the bulk plasmon relative to the background at ``e0`` (> 0).
    dose : float
        Expected counts per unit endmember value (> 0).
    noise : bool
        Poisson noise on the counts (``False``: the expected counts).

    Returns
    -------
    NanoparticleSI
    """
    h, w = (int(n) for n in shape)
    check_range("shape[0]", h, low=16, high=4096)
    check_range("shape[1]", w, low=16, high=4096)
    check_range("n_energy", int(n_energy), low=8, high=8192)
    check_range("radius", float(radius), low=1.5, high=min(h, w) / 6)
    e0, e1 = (float(v) for v in energy_range)
    if not 0 < e0 < e1:
        raise IvaeError(f"energy_range={energy_range!r} must satisfy 0 < e0 < e1")
    for name, value in (("e_iso", e_iso), ("e_coupled", e_coupled), ("e_bulk", e_bulk)):
        check_range(name, float(value), low=e0, high=e1)
    for name, value in (("w_iso", w_iso), ("w_coupled", w_coupled), ("decay", decay)):
        check_range(name, float(value), low=0.0, low_inclusive=False)
    for name, value in (
        ("s_half", s_half),
        ("plasmon_strength", plasmon_strength),
        ("w_bulk", w_bulk),
        ("bulk_strength", bulk_strength),
    ):
        check_range(name, float(value), low=0.0, low_inclusive=False)
    check_range("dose", float(dose), low=0.0, low_inclusive=False)
    gaps = {**_DEFAULT_GAPS, **(gaps or {})}
    for kind, g in gaps.items():
        if kind not in _DEFAULT_GAPS:
            raise IvaeError(f"gaps has key {kind!r}; expected one of {', '.join(_DEFAULT_GAPS)}")
        check_range(f"gaps[{kind!r}]", float(g), low=0.0, high=cutoff, low_inclusive=False)
    rng = np.random.default_rng(seed)
    r = float(radius)
    centers, labels = _place(rng, (h, w), r, {k: v * r for k, v in gaps.items()}, cutoff)
    n = len(centers)
    surf = np.linalg.norm(centers[:, None] - centers[None], axis=-1) - 2 * r
    np.fill_diagonal(surf, np.inf)
    near = surf < cutoff * r
    neighbour_gaps = [surf[i][near[i]] for i in range(n)]
    coupling = coupling_law(neighbour_gaps, r, decay=decay, s_half=s_half)
    law = {"e_iso": e_iso, "e_coupled": e_coupled, "w_iso": w_iso, "w_coupled": w_coupled}
    p_energy, p_width = peak_law(coupling, **law)

    yy, xx, thick, ring_sum, ring_c = _render(centers, coupling, (h, w), r)
    rho, tau = np.minimum(ring_sum, 1.0), np.minimum(thick, 1.0)
    k = np.maximum(1.0, rho + tau)
    rho, tau = rho / k, tau / k
    with np.errstate(invalid="ignore", divide="ignore"):
        c_map = np.where(ring_sum >= _PLASMON_MIN, ring_c / ring_sum, np.nan)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (yy / h - 0.5) + np.sin(angle) * (xx / w - 0.5)) * 0.4
    support = 1.0 + np.clip(ramp, -0.2, 0.2)
    c_fill = np.nan_to_num(c_map)
    abundances = support[..., None] * np.stack(
        [np.clip(1.0 - rho - tau, 0.0, None), rho * (1.0 - c_fill), rho * c_fill, tau], axis=-1
    )

    energy = np.linspace(e0, e1, int(n_energy))
    bg = (energy / e0) ** -4.0 + 0.3 * (energy / e0) ** -1.5
    s = float(plasmon_strength)
    endmembers = np.stack(
        [
            bg,
            _PARTICLE_BG * bg + s * _gauss(energy, e_iso, w_iso),
            _PARTICLE_BG * bg + s * _gauss(energy, e_coupled, w_coupled),
            _PARTICLE_BG * bg + float(bulk_strength) * _gauss(energy, e_bulk, w_bulk),
        ]
    )
    expected = float(dose) * np.tensordot(abundances, endmembers, axes=1)
    counts = rng.poisson(expected) if noise else expected
    e_map, w_map = peak_law(c_map, **law)

    image = ndimage.gaussian_filter(0.1 * support + thick, 0.8)
    image = (image + rng.normal(0.0, 0.02, image.shape)).astype(np.float32)
    params = {
        "shape": (h, w),
        "n_energy": int(n_energy),
        "seed": seed,
        "radius": r,
        "energy_range": (e0, e1),
        "gaps": dict(gaps),
        "cutoff": float(cutoff),
        "decay": float(decay),
        "s_half": float(s_half),
        **{k: float(v) for k, v in law.items()},
        "plasmon_strength": s,
        "e_bulk": float(e_bulk),
        "w_bulk": float(w_bulk),
        "bulk_strength": float(bulk_strength),
        "dose": float(dose),
        "noise": bool(noise),
    }
    si = SpectrumImage(
        counts.astype(np.float32),
        energy,
        "eV",
        "simulated nanoparticle EELS SI",
        {
            "source": "simulate_nanoparticle_si",
            "format": "simulated",
            "storage": "memory",
            "memmap": False,
        },
    )
    gap = np.array([g.min() if g.size else np.inf for g in neighbour_gaps])
    return NanoparticleSI(
        image=image,
        si=si,
        centers=centers,
        radius=r,
        neighbours=near.sum(axis=1).astype(int),
        gap=gap,
        arrangement=np.array(labels, dtype=object).astype(str),
        coupling=coupling,
        particle_peak_energy=p_energy,
        particle_peak_width=p_width,
        peak_energy=e_map,
        peak_width=w_map,
        endmembers=endmembers,
        abundances=abundances,
        params=params,
    )
