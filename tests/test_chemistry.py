"""site_contrast: bright/dim sites against their own sublattice (known dopants in simulations)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.chemistry import site_contrast
from napari_ivae.simulate import simulate_stem


@pytest.fixture(scope="module")
def tmd():
    """2H-TMD-like lattice, one grain, 4 % dopants on the bright sublattice (truth known)."""
    s = simulate_stem((200, 200), lattice="hexagonal", n_grains=1, dopant_fraction=0.04, seed=5)
    atoms = s.atoms.copy()
    atoms["sublattice"] = (atoms["kind"] == "sublattice_b").astype(int)
    return s.image, atoms


def test_dopants_found_on_their_sublattice(tmd):
    image, atoms = tmd
    out = site_contrast(image, atoms, sublattice=0, spacing=9.0)
    dop = (atoms["kind"] == "dopant").to_numpy()
    judged = out["site_z"].notna().to_numpy()
    assert (dop & judged).sum() >= 12  # sites too near the border are not judged
    assert out.loc[dop & judged, "bright"].mean() >= 0.95  # recall
    assert (out["bright"] & ~dop).sum() <= 1  # ≤ 1 false bright site of ~180
    assert out.loc[atoms["sublattice"] == 1, "site_z"].isna().all()  # other sublattice not judged
    info = out.attrs["site_contrast"]
    assert info["k"] == 3.0 and info["bright"] == int(out["bright"].sum())
    # z is a robust standard score among the hosts
    z_host = out.loc[(atoms["kind"] == "host").to_numpy(), "site_z"].dropna()
    assert abs(z_host.median()) < 0.3 and 0.7 < z_host.std() < 1.5


def test_immune_to_background_and_contamination(tmd):
    image, atoms = tmd
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    blob = np.exp(-((yy - 70.0) ** 2 + (xx - 120.0) ** 2) / (2 * 25.0**2))
    peak = float(np.percentile(image, 99))
    dirty = image + 0.8 * peak * (xx / xx.max()) + 0.6 * peak * blob  # ramp + contamination
    a = site_contrast(image, atoms, sublattice=0, spacing=9.0)
    b = site_contrast(dirty.astype(np.float32), atoms, sublattice=0, spacing=9.0)
    dop = (atoms["kind"] == "dopant").to_numpy() & a["site_z"].notna().to_numpy()
    assert b.loc[dop, "bright"].mean() >= 0.95 and (b["bright"] & ~dop).sum() <= 2
    assert (a["bright"] == b["bright"]).mean() > 0.98


def test_one_sublattice_and_errors(tmd):
    image, atoms = tmd
    host = atoms[atoms["sublattice"] == 0].drop(columns="sublattice").reset_index(drop=True)
    out = site_contrast(image, host, sublattice=None)  # spacing from the nearest distances
    dop = (host["kind"] == "dopant").to_numpy() & out["site_z"].notna().to_numpy()
    assert out.loc[dop, "bright"].mean() >= 0.9
    with pytest.raises(IvaeError, match="no 'sublattice' column"):
        site_contrast(image, host)
    with pytest.raises(IvaeError, match=r"k=0\.0 is out of range"):
        site_contrast(image, atoms, k=0.0)
    with pytest.raises(IvaeError, match="expected a 2-D image"):
        site_contrast(image[None], atoms)
    with pytest.raises(IvaeError, match="needs columns 'y' and 'x'"):
        site_contrast(image, atoms.rename(columns={"x": "col"}))
