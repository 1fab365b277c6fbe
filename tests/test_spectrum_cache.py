"""The Spectrum dock's core: band maps from cumulative block sums, chunked mean spectra.

Ground truth: plain numpy sums and means over the same (memory-mapped) array.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae import _spectrum_cache as sc
from napari_ivae._errors import IvaeError


@pytest.fixture
def si(tmp_path):
    """A memory-mapped (H, W, E) float32 array of positive counts."""
    rng = np.random.default_rng(0)
    arr = rng.gamma(2.0, 50.0, size=(13, 11, 70)).astype(np.float32)
    np.save(tmp_path / "si.npy", arr)
    return np.load(tmp_path / "si.npy", mmap_mode="r")


@pytest.mark.parametrize("band", [(0, 70), (0, 1), (3, 9), (5, 64), (8, 16), (17, 70), (31, 33)])
def test_band_map_is_the_sum_over_the_band_before_and_after_the_cache(si, band, monkeypatch):
    i0, i1 = band
    truth = np.asarray(si)[:, :, i0:i1].sum(axis=2, dtype=np.float64)
    sums = sc.BandSums(si, block=8)
    direct = sums.band_map(i0, i1)
    monkeypatch.setattr(sc, "CHUNK_BYTES", 5 * 11 * 70 * 4)  # several row chunks
    progress = list(sums.build())
    assert sums.ready and progress[-1] == 1.0 and len(progress) == 3
    cached = sums.band_map(i0, i1)
    for got in (direct, cached):
        assert got.dtype == np.float32 and got.shape == (13, 11)
        np.testing.assert_allclose(got, truth, rtol=1e-6)
    assert isinstance(si, np.memmap)  # never loaded: the caller's array is untouched


def test_band_outside_the_channels_is_refused(si):
    sums = sc.BandSums(si)
    for i0, i1 in ((5, 5), (-1, 3), (0, 71)):
        with pytest.raises(IvaeError, match="0 <= i0 < i1 <= 70"):
            sums.band_map(i0, i1)


def test_mean_at_points_equals_numpy(si, monkeypatch):
    monkeypatch.setattr(sc, "CHUNK_BYTES", 3 * 70 * 4)  # three spectra per chunk
    arr = np.asarray(si, dtype=np.float64)
    ys, xs = np.array([0, 12, 4, 4, 7]), np.array([0, 10, 3, 3, 9])  # (4, 3) twice
    np.testing.assert_allclose(sc.mean_at(si, ys, xs), arr[ys, xs].mean(axis=0), rtol=1e-12)
    with pytest.raises(IvaeError, match="inside the 13×11 scan"):
        sc.mean_at(si, [13], [0])
    with pytest.raises(IvaeError, match="≥ 1 pixel"):
        sc.mean_at(si, [], [])


def test_snap_moves_the_band_to_stored_sums_only_once_built(si):
    sums = sc.BandSums(si, block=8)
    assert sums.snap(3, 61) == (3, 61)  # not built: unchanged
    sums.build_now()
    assert list(sums.edges) == [0, 8, 16, 24, 32, 40, 48, 56, 64, 70]
    assert sums.snap(3, 61) == (0, 64) and sums.snap(5, 69) == (8, 70)
    assert sums.snap(31, 33) == (31, 33)  # narrower than a block: left as it is
    np.testing.assert_allclose(
        sums.band_map(8, 70), np.asarray(si)[:, :, 8:70].sum(axis=2, dtype=np.float64), rtol=1e-6
    )
