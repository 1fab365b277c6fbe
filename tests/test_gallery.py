"""Montage of crops: grid, channels side by side, per-channel scaling, NaN gaps."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.gallery import montage, montage_rows


def test_rows_and_columns_of_the_grid():
    assert montage_rows(0) == (0, 0)
    assert montage_rows(1) == (1, 1)
    assert montage_rows(5) == (2, 3)
    assert montage_rows(64) == (8, 8)
    assert montage_rows(1000) == (8, 8)  # at most 8×8 tiles


def test_tiles_channels_and_gaps():
    rng = np.random.default_rng(0)
    crops = rng.random((5, 2, 4, 4)).astype(np.float32)
    crops[:, 1] *= 100.0  # another scale: each channel is scaled on its own
    out = montage(crops)
    assert out.shape == (2 * 6 - 2, 3 * (4 + 1 + 4 + 2) - 2)
    assert np.nanmin(out) >= 0 and np.nanmax(out) <= 1
    tile = out[:4, :9]
    assert np.isnan(tile[:, 4]).all()  # one pixel between the channels
    assert np.isnan(out[4:6]).all()  # two pixels between tile rows
    # second tile of the first row holds crop 1; the last row's unused slot stays NaN
    a = crops[1, 0]
    np.testing.assert_allclose(
        np.argsort(out[:4, 11:15], axis=None), np.argsort(a, axis=None), atol=0
    )
    assert np.isnan(out[6:, 2 * 11 :]).all()
    assert montage(np.zeros((0, 1, 4, 4))).shape == (0, 0)
    assert montage(crops[:, 0]).shape == (2 * 6 - 2, 3 * 6 - 2)  # (N, h, w) is one channel
    with pytest.raises(IvaeError, match="shape"):
        montage(np.zeros((4, 4)))
