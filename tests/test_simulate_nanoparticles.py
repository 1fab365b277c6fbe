"""The nanoparticle EELS simulator: its truth is consistent with its documented law."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._errors import IvaeError
from napari_ivae.simulate import simulate_nanoparticle_si
from napari_ivae.simulate.nanoparticles import ARRANGEMENTS, peak_law


@pytest.fixture(scope="module")
def sim():
    return simulate_nanoparticle_si((96, 96), 128, radius=4.0, seed=3)


def test_shapes_and_types(sim):
    h, w, e = sim.si.shape
    assert (h, w, e) == (96, 96, 128) and sim.si.data.dtype == np.float32
    assert sim.image.shape == (96, 96) and sim.image.dtype == np.float32
    assert sim.endmembers.shape == (4, 128) and sim.abundances.shape == (96, 96, 4)
    assert sim.si.unit == "eV" and sim.si.energy[0] == 1.0 and sim.si.energy[-1] == 4.0
    assert set(sim.arrangement) <= set(ARRANGEMENTS)
    assert {"isolated", "dimer", "chain", "edge"} <= set(sim.arrangement)
    assert np.all(sim.si.data >= 0) and np.all(sim.si.data == np.round(sim.si.data))  # counts


def test_neighbours_and_gaps_follow_the_geometry(sim):
    r = sim.radius
    gaps = sim.params["gaps"]
    surf = np.linalg.norm(sim.centers[:, None] - sim.centers[None], axis=-1) - 2 * r
    np.fill_diagonal(surf, np.inf)
    assert np.array_equal((surf < sim.params["cutoff"] * r).sum(1), sim.neighbours)
    assert np.all(sim.neighbours[sim.arrangement == "isolated"] == 0)
    assert np.all(sim.neighbours[sim.arrangement == "dimer"] == 1)
    assert np.all(np.isinf(sim.gap[sim.arrangement == "isolated"]))
    for kind in ("dimer", "chain"):
        assert np.allclose(sim.gap[sim.arrangement == kind], gaps[kind] * r, atol=1e-9)
    assert np.all(sim.neighbours[sim.arrangement == "close-packed"] == 6)


def test_peak_energy_law_per_particle(sim):
    """With n neighbours at one gap g: c = n e^{-g/(decay r)} / (n e^{-g/(decay r)} + s_half)."""
    p = sim.params
    one_gap = np.isin(sim.arrangement, ["isolated", "dimer", "close-packed"])
    n, g = sim.neighbours[one_gap], np.where(np.isinf(sim.gap), 0.0, sim.gap)[one_gap]
    s = n * np.exp(-g / (p["decay"] * sim.radius))
    c = s / (s + p["s_half"])
    assert np.allclose(sim.coupling[one_gap], c)
    energy = p["e_iso"] - (p["e_iso"] - p["e_coupled"]) * c
    assert np.allclose(sim.particle_peak_energy[one_gap], energy)
    assert np.allclose(sim.particle_peak_energy[sim.arrangement == "isolated"], p["e_iso"])
    # more neighbours at the same gap: lower energy (red shift) and a broader plasmon
    order = np.argsort(sim.coupling)
    assert np.all(np.diff(sim.particle_peak_energy[order]) <= 1e-12)


def test_pixel_truth_is_the_centroid_of_the_plasmon_part(sim):
    """The plasmon part of the noiseless spectrum has the truth map's centroid and std."""
    e = sim.si.energy
    p = sim.params
    bg = sim.endmembers[0]
    plasmon = np.tensordot(sim.abundances[..., 1:3], sim.endmembers[1:3] - 1.5 * bg, axes=1)
    ok = np.isfinite(sim.peak_energy)
    weights = plasmon[ok]
    centroid = (weights * e).sum(1) / weights.sum(1)
    std = np.sqrt((weights * (e - centroid[:, None]) ** 2).sum(1) / weights.sum(1))
    assert ok.sum() > 1000
    assert np.allclose(centroid, sim.peak_energy[ok], atol=2e-3)
    assert np.allclose(std, sim.peak_width[ok], atol=5e-3)
    lo, hi = peak_law(np.array([0.0, 1.0]), e_iso=p["e_iso"], e_coupled=p["e_coupled"],
                      w_iso=p["w_iso"], w_coupled=p["w_coupled"])  # fmt: skip
    assert lo[0] == p["e_iso"] and lo[1] == p["e_coupled"] and hi[0] == p["w_iso"]


def test_noise_is_poisson_about_the_mixture(sim):
    clean = sim.clean
    resid = (sim.si.data - clean) / np.sqrt(clean)
    assert abs(resid.mean()) < 0.01 and abs(resid.std() - 1.0) < 0.02
    quiet = simulate_nanoparticle_si((96, 96), 128, radius=4.0, seed=3, noise=False)
    assert np.allclose(quiet.si.data, clean, rtol=1e-6)
    assert np.array_equal(quiet.centers, sim.centers)


def test_seeded_and_validated():
    a = simulate_nanoparticle_si((32, 32), 16, radius=2.0, seed=5)
    b = simulate_nanoparticle_si((32, 32), 16, radius=2.0, seed=5)
    assert np.array_equal(a.si.data, b.si.data) and np.array_equal(a.image, b.image)
    with pytest.raises(IvaeError, match="radius"):
        simulate_nanoparticle_si((32, 32), 16, radius=20.0)
    with pytest.raises(IvaeError, match="e_iso"):
        simulate_nanoparticle_si((32, 32), 16, radius=2.0, e_iso=9.0)
    with pytest.raises(IvaeError, match="gaps has key 'trimer'"):
        simulate_nanoparticle_si((32, 32), 16, radius=2.0, gaps={"trimer": 0.2})


def test_bulk_plasmon_follows_thickness_and_surface_mode_peaks_at_the_surface(sim):
    """Bulk abundance ∝ projected thickness; surface-mode excitation peaked at d = r."""
    r, t = sim.radius, sim.abundances.sum(-1)  # t: the support-thickness gradient
    yy, xx = np.mgrid[0 : sim.si.shape[0], 0 : sim.si.shape[1]]
    d_all = np.hypot(yy - sim.centers[:, 0, None, None], xx - sim.centers[:, 1, None, None])
    inside = d_all < r
    s_p = np.where(inside, 0.25 + 0.75 * (d_all / r) ** 2, np.exp(-(d_all - r) / (0.5 * r)))
    rho = np.minimum(s_p.sum(0), 1.0)
    tau = np.minimum((np.sqrt(np.clip(r**2 - d_all**2, 0, None)) / r).sum(0), 1.0)
    k = np.maximum(1.0, rho + tau)
    assert np.allclose(sim.abundances[..., 3] / t, tau / k, atol=1e-6)
    assert np.allclose(sim.abundances[..., 1:3].sum(-1) / t, rho / k, atol=1e-6)
    assert np.all(sim.abundances[..., 3][~inside.any(0)] == 0)
    # about isolated particles the surface mode is strongest at the surface
    d = d_all[sim.arrangement == "isolated"].min(0)
    surf = sim.abundances[..., 1:3].sum(-1) / t
    at = lambda lo, hi: surf[(d >= lo * r) & (d < hi * r)].mean()  # noqa: E731
    assert at(0.9, 1.1) > 2 * at(0, 0.3) and at(0.9, 1.1) > 2 * at(2.0, 2.4)
    # a particle centre and a point one radius outside no longer share a spectrum
    e = sim.si.energy
    band = np.abs(e - sim.params["e_bulk"]) < 2 * sim.params["w_bulk"]
    spec = sim.clean / t[..., None]
    cy, cx = np.round(sim.centers[sim.arrangement == "isolated"][0]).astype(int)
    assert spec[cy, cx, band].sum() > 1.5 * spec[cy, cx + int(2 * r), band].sum()
