"""series_metrics with a tip-change band: left out of every frame, metrics on the common area."""

from __future__ import annotations

import numpy as np

from napari_ivae.dynamics.metrics import wall_metrics
from napari_ivae.dynamics.series import series_metrics
from napari_ivae.simulate import simulate_switching


def test_a_tip_change_band_is_left_out_of_every_frame():
    s = simulate_switching(
        (192, 192), n_frames=4, amplitude_variation=0.3, n_pins=3, pin_radius=4.0, seed=4
    )
    phase = s.phase.copy()
    phase[1, 130:] = (phase[1, 130:] + 70 + 180) % 360 - 180  # phase offset jumps at row 130
    res = series_metrics(phase, s.amplitude)
    runs = res.info["artefact_rows"]
    assert runs[0] == [] and runs[2] == [] and runs[3] == []
    assert len(runs[1]) == 1 and abs(runs[1][0][0] - 130) <= 3
    # the same area in every frame (common=True): the band's rows are out of all of them
    assert (res.valid == res.valid[0]).all()
    assert not res.valid[:, 135:].any() and res.valid[:, 20:120, 20:170].all()
    truth = wall_metrics(s.domains, valid=res.valid)
    rel = np.abs(res.table["wall_length_px"] / truth["wall_length_px"] - 1)
    assert rel.max() < 0.08, rel
    np.testing.assert_allclose(
        res.table["switched_fraction"], truth["switched_fraction"], atol=0.02
    )
    raw = series_metrics(phase, s.amplitude, artefacts=False)
    assert raw.info["artefact_rows"] == [[], [], [], []] and raw.valid[:, 20:172, 20:172].all()
    assert not res.points.empty and (res.points["y"] < 135).all()


def test_frames_detected_in_parallel_equal_one_by_one(monkeypatch):
    import napari_ivae.detect.walls._detect as det
    from napari_ivae.detect import detect_walls

    s = simulate_switching((96, 96), n_frames=4, n_pins=3, seed=8)
    monkeypatch.setattr(det, "cpu_budget", lambda: 2)
    par = detect_walls(s.phase, s.amplitude)
    monkeypatch.setattr(det, "cpu_budget", lambda: 1)
    one = detect_walls(s.phase, s.amplitude)
    np.testing.assert_array_equal(par.mask, one.mask)
    np.testing.assert_array_equal(par.domains, one.domains)
    assert par.points.equals(one.points) and par.info == one.info
