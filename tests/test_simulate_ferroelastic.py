"""simulate_ferroelastic: exact truth of both wall kinds, amplitude dips and phase steps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_ivae._errors import IvaeError
from napari_ivae.simulate import domain_walls, simulate_ferroelastic


@pytest.fixture(scope="module")
def sample():
    return simulate_ferroelastic((128, 128), seed=7, stripe_angle=45.0)


def test_truth_masks_are_the_boundaries(sample):
    s = sample
    assert s.amplitude.shape == s.phase.shape == s.domains.shape == (128, 128)
    np.testing.assert_array_equal(s.walls_180, domain_walls(s.domains))
    ac = domain_walls(np.where(s.a_domains, 1, -1))
    np.testing.assert_array_equal(s.walls_non180, ac & ~s.walls_180)
    np.testing.assert_array_equal(s.walls_all, s.walls_180 | s.walls_non180)
    assert s.walls_180.any() and s.walls_non180.any()
    assert not (s.walls_180 & s.walls_non180).any()
    assert 0.15 < s.a_domains.mean() < 0.45  # a stripes ≈ a_fraction of the area


def test_stripes_run_along_the_angle(sample):
    # at 45° (rows down) the a/c pattern is constant along (+1, +1) diagonal steps
    a = sample.a_domains
    same = (a[:-1, :-1] == a[1:, 1:]).mean()
    across = (a[:-1, 1:] == a[1:, :-1]).mean()
    assert same > 0.95 and across < same - 0.05


def test_both_walls_dip_the_amplitude_only_180_reverses_the_phase():
    s = simulate_ferroelastic((128, 128), seed=3, amplitude_variation=0.0, drift=0.0,
                              scanline_noise=0.0)  # fmt: skip
    far = ~ndimage.binary_dilation(s.walls_all, iterations=3)
    base = np.median(s.amplitude[far & ~s.a_domains])
    dip180 = np.median(s.amplitude[s.walls_180]) / base
    dip_ac = np.median(s.amplitude[s.walls_non180]) / base
    assert dip180 < 0.6 and dip_ac < 0.75  # dips of similar depth
    z = np.exp(1j * np.deg2rad(s.phase.astype(np.float64)))
    c_up = z[far & ~s.a_domains & (s.domains > 0)].mean()
    c_dn = z[far & ~s.a_domains & (s.domains < 0)].mean()
    a_up = z[far & s.a_domains & (s.domains > 0)].mean()
    step180 = np.degrees(abs(np.angle(c_dn / c_up)))
    step_ac = np.degrees(abs(np.angle(a_up / c_up)))
    assert abs(step180 - 180) < 10
    assert abs(step_ac - 15) < 5  # the default phase_step: a small step, no reversal


def test_seeded_and_checked():
    a = simulate_ferroelastic((64, 64), seed=1)
    b = simulate_ferroelastic((64, 64), seed=1)
    np.testing.assert_array_equal(a.phase, b.phase)
    assert a.params["seed"] == 1 and 0 <= a.params["stripe_angle"] % 180 < 180
    rad = simulate_ferroelastic((64, 64), seed=1, units="rad")
    assert np.abs(rad.phase).max() <= np.pi
    with pytest.raises(IvaeError, match="a_fraction"):
        simulate_ferroelastic((64, 64), a_fraction=0.9)
    with pytest.raises(IvaeError, match="shape"):
        simulate_ferroelastic((8, 64))
