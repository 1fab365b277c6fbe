"""Drift correction against known shifts: simulated frames, scan drift, a real PZT frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from napari_ivae import IvaeError
from napari_ivae.dynamics.register import (
    Registration,
    apply_shifts,
    reference_channels,
    register_series,
)
from napari_ivae.simulate import simulate_switching


def _scene(seed: int, size: int = 176) -> tuple[np.ndarray, np.ndarray]:
    """A large topography (smooth hills + grains) and a simulated PFM amplitude."""
    rng = np.random.default_rng(seed)
    topo = ndimage.gaussian_filter(rng.normal(size=(size, size)), 6) * 40
    topo += ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.5) * 3
    amp = simulate_switching((size, size), n_frames=2, amplitude_variation=0.3, seed=seed)
    return topo, amp.amplitude[0]


def _shifted(img: np.ndarray, shifts, crop: int, noise: float, seed: int) -> np.ndarray:
    """Frames ``img`` moved by ``shifts`` (exact Fourier shift), the centre cropped, noise added."""
    rng = np.random.default_rng(seed)
    out = []
    for s in shifts:
        moved = np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(img), np.asarray(s))).real
        part = moved[crop:-crop, crop:-crop]
        out.append(part + rng.normal(0, noise * img.std(), part.shape))
    return np.stack(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_known_subpixel_shifts_are_found_within_0_2_px(seed):
    topo, amp = _scene(seed)
    truth = np.array([[0, 0], [2.33, -1.71], [-4.62, 3.18], [0.41, 6.87]])
    # frame t shows the scene moved by -truth[t]; shifting it by +truth[t] registers it
    topo_s = _shifted(topo, -truth, 24, 0.05, seed)
    amp_s = _shifted(amp, -truth, 24, 0.05, seed + 10)
    tilt = np.linspace(0, 30, topo_s.shape[1])[None, :, None]  # slow-axis tilt and line offsets
    lines = np.random.default_rng(seed).normal(0, 5, topo_s.shape[:2])[:, :, None]
    for drift in ("rigid", "scan"):
        reg = register_series([topo_s + tilt + lines, amp_s], drift=drift)
        err = np.abs(reg.row_shifts - truth[:, None, :]).max(axis=(1, 2))
        assert err.max() <= 0.2, (drift, err)
        assert isinstance(reg, Registration) and reg.valid.shape == topo_s.shape


def test_scan_drift_is_followed_row_by_row():
    """Drift during the scan: the shift grows along the rows; 'rigid' cannot follow it."""
    topo, _ = _scene(3, size=200)
    ny = 160
    dx = np.linspace(0.5, 4.5, ny)  # x shift of every row of frame 1
    rows = np.stack([np.zeros(ny), dx], axis=1)
    frame1 = apply_shifts(topo[None, 20:-20, 20:-20], -rows[None], fill=0.0)[0]
    series = np.stack([topo[20:-20, 20:-20], frame1])[:, 16:-16, 16:-16]  # no empty border
    truth = rows[16:-16]
    scan = register_series(series, drift="scan", band=24)
    err = np.abs(scan.row_shifts[1] - truth)[12:-12]  # the outer half bands are extrapolated
    assert np.median(err) <= 0.2 and err.max() <= 0.6, err.max()
    rigid = register_series(series, drift="rigid")
    assert np.abs(rigid.row_shifts[1] - truth).max() > 1.5
    assert scan.error[1] < rigid.error[1]


def test_apply_shifts_moves_content_and_marks_missing_pixels():
    img = np.zeros((2, 20, 20), dtype=np.float32)
    img[:, 5, 5] = 1
    out = apply_shifts(img, [[0, 0], [3, -2]], fill=np.nan, order=0)
    assert out[1, 8, 3] == 1 and np.isnan(out[1, :3]).all() and np.isnan(out[1, :, -2:]).all()
    per_row = apply_shifts(img, np.zeros((2, 20, 2)))
    np.testing.assert_array_equal(per_row, img)


def test_bad_input_is_named():
    a = np.random.default_rng(0).normal(size=(3, 64, 64))
    with pytest.raises(IvaeError, match="at least 2"):
        register_series(a[:1])
    with pytest.raises(IvaeError, match="valid has shape"):
        register_series(a, valid=np.ones((3, 64, 60), bool))
    with pytest.raises(IvaeError, match="drift="):
        register_series(a, drift="affine")
    with pytest.raises(IvaeError, match="band=4"):
        register_series(a, band=4)
    with pytest.raises(IvaeError, match="differ in shape"):
        register_series([a, a[:, :32]])
    with pytest.raises(IvaeError, match="shifts has shape"):
        apply_shifts(a, np.zeros((2, 2)))


def _pzt(real_data: Path, k: int):
    from napari_ivae.io import read

    return read(real_data / f"PZT_final000{k}.tif")


@pytest.mark.real
def test_a_real_pzt_frame_shifted_by_a_known_amount_is_registered(real_data):
    """Frame 1 of the PZT series and a copy moved by (2.4, -3.7) px (+ noise)."""
    layers = reference_channels(_pzt(real_data, 1))
    assert [la.role for la in layers] == ["deflection", "amplitude"]
    truth = np.array([2.4, -3.7])
    rng = np.random.default_rng(0)
    chans = []
    for la in layers:
        img = np.asarray(la.data, dtype=np.float64)
        moved = ndimage.shift(img, -truth, order=3, mode="nearest")
        chans.append(np.stack([img, moved + rng.normal(0, 0.05 * img.std(), img.shape)]))
    reg = register_series(chans)
    assert np.abs(reg.row_shifts[1][20:-20] - truth).max() <= 0.2
    assert np.abs(reg.shifts[1] - truth).max() <= 0.2


@pytest.mark.real
def test_real_pzt_series_shifts_are_consistent(real_data):
    """Shift 1→3 ≈ 1→2 + 2→3 on the rows all three frames trust (rows < 100)."""
    from napari_ivae.dynamics.artefacts import trust_mask

    frames = [_pzt(real_data, k) for k in (1, 2, 3)]
    stack = {i: np.stack([np.asarray(f[i].data) for f in frames]) for i in (1, 3, 4)}
    good = trust_mask(stack[4], stack[1])
    pair = {}
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        pair[a, b] = register_series(
            [stack[3][[a, b]], stack[1][[a, b]]], valid=good[[a, b]]
        ).row_shifts[1]
    closure = pair[0, 1] + pair[1, 2] - pair[0, 2]
    assert np.hypot(*closure[:100].T).mean() <= 0.7
    # the same from the series' layers: the reference channels are picked by role
    from napari_ivae.io import read_series

    layers = read_series([real_data / f"PZT_final000{k}.tif" for k in (1, 2, 3)])
    reg = register_series(layers, valid=good)
    assert reg.channels == ("Deflection Retrace", "Amplitude Retrace")
    np.testing.assert_allclose(reg.row_shifts[1], pair[0, 1], atol=1e-6)
    np.testing.assert_allclose(reg.row_shifts[2], pair[0, 2], atol=1e-6)
