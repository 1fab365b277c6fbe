"""paint_wall_labels: wall pixels take the class of the nearest wall point of their frame."""

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.labels import paint_wall_labels


def test_two_walls_two_classes_and_unlabeled_wall():
    mask = np.zeros((40, 40), bool)
    mask[10, 5:35] = True  # wall A: labeled 1
    mask[30, 5:35] = True  # wall B: labeled 2 on the left half, unlabeled on the right
    yx = np.array([[10, 8], [10, 20], [10, 32], [30, 8], [30, 14], [30, 26], [30, 32]], float)
    codes = np.array([1, 1, 1, 2, 2, 0, 0])
    out = paint_wall_labels(mask, yx, codes)
    assert out.dtype == np.uint8 and out.shape == mask.shape
    assert (out[~mask] == 0).all()
    assert (out[10, 5:35] == 1).all()
    assert (out[30, 5:20] == 2).all() and (out[30, 21:35] == 0).all()


def test_frames_are_kept_apart_and_nan_points_ignored():
    mask = np.zeros((2, 20, 20), bool)
    mask[:, 10, :] = True
    yx = np.array([[10, 10], [10, 10], [np.nan, np.nan]])
    out = paint_wall_labels(mask, yx, np.array([1, 2, 3]), frame=np.array([0, 1, 0]))
    assert (out[0][mask[0]] == 1).all() and (out[1][mask[1]] == 2).all()


def test_bad_shapes_are_named():
    with pytest.raises(IvaeError, match="mask must be"):
        paint_wall_labels(np.zeros(5), np.zeros((1, 2)), np.zeros(1, int))
    with pytest.raises(IvaeError, match="yx must be"):
        paint_wall_labels(np.zeros((5, 5)), np.zeros((2, 3)), np.zeros(2, int))
