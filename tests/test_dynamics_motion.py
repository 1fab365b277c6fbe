"""Wall motion (displacement, pinning) against hand-made ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae import IvaeError
from napari_ivae.dynamics import PIN_TOLERANCE, point_motion, wall_motion
from napari_ivae.simulate import simulate_switching


def _line_series(shift: int) -> np.ndarray:
    w = np.zeros((2, 40, 40), dtype=bool)
    w[0, 5:35, 10] = True
    w[1, 5:35, 10 + shift] = True
    return w


@pytest.mark.parametrize("shift", [0, 1, 3, 7])
def test_a_moved_line_is_displaced_by_the_shift(shift):
    d = wall_motion(_line_series(shift))
    on = d[0][~np.isnan(d[0])]
    assert on.size == 30
    np.testing.assert_allclose(on, shift)
    assert np.isnan(d[1]).all()  # the last frame has no partner
    assert (on <= PIN_TOLERANCE).all() == (shift <= 1)


def test_valid_mask_removes_pixels_from_both_frames():
    w = _line_series(3)
    valid = np.ones((40, 40), dtype=bool)
    valid[:20] = False
    d = wall_motion(w, valid=valid)
    assert np.count_nonzero(~np.isnan(d[0])) == 15


def test_no_wall_in_the_next_frame_is_inf():
    w = _line_series(0)
    w[1] = False
    assert np.isinf(wall_motion(w)[0][w[0]]).all()


def test_points_take_the_motion_of_their_wall():
    w = _line_series(3)
    d = wall_motion(w)
    pts = pd.DataFrame(
        {"y": [10.0, 20.0, 10.0, 2.0], "x": [10.0, 11.0, 13.0, 30.0], "frame": [0, 0, 1, 0]}
    )
    out = point_motion(pts, d)
    np.testing.assert_allclose(out["displacement_px"][:2], 3.0)
    assert np.isnan(out["displacement_px"][2]) and np.isnan(out["displacement_px"][3])
    assert not out["pinned"].any()
    assert list(pts.columns) == ["y", "x", "frame"]  # input not modified


def test_bad_input_names_the_parameter():
    with pytest.raises(IvaeError, match="walls has 1 frame"):
        wall_motion(np.zeros((1, 8, 8), dtype=bool))
    with pytest.raises(IvaeError, match="valid has shape"):
        wall_motion(np.zeros((2, 8, 8), dtype=bool), valid=np.ones((3, 3), dtype=bool))


def test_pinning_defects_never_switch_and_pin_walls():
    s = simulate_switching((96, 96), n_frames=4, n_pins=6, pin_radius=4.0, seed=3)
    plain = simulate_switching((96, 96), n_frames=4, seed=3)
    assert s.pinning.sum() > 6 * 30
    assert (s.domains[:, s.pinning] == -1).all()
    assert np.diff(s.switched_fraction).min() > 0
    np.testing.assert_array_equal(plain.pinning, np.zeros((96, 96), dtype=bool))
    d = wall_motion(s.walls)
    # walls hugging a defect that the front has passed stay put
    ring = s.walls[1] & s.walls[2] & ~s.pinning
    assert ring.any() and (d[1][ring] == 0).all()
