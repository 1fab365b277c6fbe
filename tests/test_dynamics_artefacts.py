"""Tip-change bands: injected into simulated series (exact rows), and the real PZT series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_ivae import IvaeError
from napari_ivae.dynamics.artefacts import artefact_rows, trust_mask
from napari_ivae.dynamics.register import register_series
from napari_ivae.simulate import simulate_switching


def _sim(seed: int):
    return simulate_switching(
        (192, 192), n_frames=4, amplitude_variation=0.3, n_pins=3, pin_radius=4.0, seed=seed
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_simulated_series_has_no_flagged_rows(seed):
    s = _sim(seed)
    assert not artefact_rows(s.phase, s.amplitude).any()
    assert trust_mask(s.phase, s.amplitude).all()


def test_injected_tip_changes_are_flagged_to_within_3_rows():
    s = _sim(4)
    phase, amp = s.phase.copy(), s.amplitude.copy()
    phase[1, 130:] = (phase[1, 130:] + 70 + 180) % 360 - 180  # phase offset jumps at row 130
    med = np.median(amp[2, 40:75], axis=1, keepdims=True)
    amp[2, 40:75] = med + 0.25 * (amp[2, 40:75] - med)  # amplitude contrast lost, rows 40-74
    rows = artefact_rows(phase, amp)
    assert not rows[0].any() and not rows[3].any()
    for t, (a, b) in {1: (130, 192), 2: (40, 75)}.items():
        found = np.flatnonzero(rows[t])
        assert abs(found[0] - a) <= 3 and abs(found[-1] + 1 - b) <= 3, (t, found[[0, -1]])
        assert found.size == found[-1] - found[0] + 1  # one band
    # the phase alone sees the offset jump, the amplitude alone the lost contrast
    assert artefact_rows(phase=phase)[1].any() and not artefact_rows(phase=phase)[2].any()
    assert artefact_rows(amplitude=amp)[2].any() and not artefact_rows(amplitude=amp)[1].any()


def test_trust_mask_follows_the_registration():
    s = _sim(5)
    topo = ndimage.gaussian_filter(np.random.default_rng(5).normal(size=(192, 192)), 3)
    moves = [(0, 0), (1.5, -2.0), (-3.0, 2.5), (4.0, 1.0)]
    reg = register_series(np.stack([ndimage.shift(topo, m, mode="nearest") for m in moves]))
    np.testing.assert_allclose(reg.shifts, -np.array(moves), atol=0.2)
    mask = trust_mask(s.phase, s.amplitude, registration=reg)
    np.testing.assert_array_equal(mask, reg.valid)  # nothing flagged: only the overlap


def test_bad_input_is_named():
    s = _sim(0)
    with pytest.raises(IvaeError, match="neither"):
        artefact_rows()
    with pytest.raises(IvaeError, match="differ in shape"):
        artefact_rows(s.phase, s.amplitude[:, :96])
    with pytest.raises(IvaeError, match="axis_step"):
        artefact_rows(s.phase, axis_step=120)
    with pytest.raises(IvaeError, match="phase_unit"):
        artefact_rows(s.phase, phase_unit="grad")


@pytest.mark.real
def test_real_pzt_bands_are_flagged_and_little_else(real_data):
    """PZT_final0001 is clean; 0002 has a band from row ~183, 0003 loses contrast from ~110."""
    from napari_ivae.io import read

    frames = [read(real_data / f"PZT_final000{k}.tif") for k in (1, 2, 3)]
    phase = np.stack([np.asarray(f[4].data) for f in frames])
    amp = np.stack([np.asarray(f[1].data) for f in frames])
    rows = artefact_rows(phase, amp)
    assert not rows[0].any()
    for t, (lo, hi) in {1: (175, 188), 2: (104, 116)}.items():
        found = np.flatnonzero(rows[t])
        assert lo <= found[0] <= hi and found[-1] == 255 and found.size == 256 - found[0]
