"""read_series: frames from several files or one stack, channels by name, bad input named."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae import IvaeError
from napari_ivae.io import read_series


def _frames(n: int, shape=(32, 40)) -> np.ndarray:
    return np.random.default_rng(n).normal(size=(n, *shape)).astype(np.float32)


def _npz(path, amplitude, phase, pixel=2.5):
    np.savez(path, amplitude=amplitude, phase=phase, pixel_size=pixel, unit="nm")
    return path


def test_several_files_stack_in_order_with_channels_by_name(tmp_path):
    amp, ph = _frames(3), _frames(3) * 90
    paths = [_npz(tmp_path / f"f{k}.npz", amp[k], ph[k]) for k in range(3)]
    layers = read_series(paths, channels=["PHASE", "amp"])
    assert [la.name for la in layers] == ["phase", "amplitude"]
    np.testing.assert_array_equal(layers[0].data, ph)
    np.testing.assert_array_equal(layers[1].data, amp)
    assert layers[0].axes == "tyx" and layers[0].scale == (1.0, 2.5, 2.5)
    assert layers[0].unit == "nm" and layers[0].role == "phase"
    assert layers[1].metadata["frames_from"] == [str(p) for p in paths]
    assert [la.name for la in read_series(paths)] == ["amplitude", "phase"]  # all channels


def test_one_stack_file_is_a_series(tmp_path):
    stack = _frames(4)
    np.save(tmp_path / "stack.npy", stack)
    (layer,) = read_series(tmp_path / "stack.npy")
    np.testing.assert_array_equal(layer.data, stack)
    assert layer.shape == (4, 32, 40)


def test_single_channel_files_named_after_the_file_make_one_series(tmp_path):
    frames = _frames(3)
    paths = []
    for k in range(3):
        np.save(tmp_path / f"scan{k}.npy", frames[k])
        paths.append(tmp_path / f"scan{k}.npy")
    (layer,) = read_series(paths)
    np.testing.assert_array_equal(layer.data, frames)


def test_bad_input_names_the_file(tmp_path):
    a, b = _frames(2), _frames(2, shape=(32, 36))
    good = _npz(tmp_path / "good.npz", a[0], a[0])
    other = _npz(tmp_path / "other.npz", b[0], b[0])
    with pytest.raises(IvaeError, match=r"other\.npz.*32×36 px.*32×40 px"):
        read_series([good, other])
    np.savez(tmp_path / "nophase.npz", amplitude=a[1])
    with pytest.raises(IvaeError, match=r"nophase\.npz: channel 'phase'.*missing"):
        read_series([good, tmp_path / "nophase.npz"])
    with pytest.raises(IvaeError, match=r"'phase' matches no channel of .*nophase\.npz"):
        read_series([good, tmp_path / "nophase.npz"], channels=["phase"])
    with pytest.raises(IvaeError, match=r"good\.npz holds a single frame"):
        read_series(good)
    coarse = _npz(tmp_path / "coarse.npz", a[1], a[1], pixel=5.0)
    with pytest.raises(IvaeError, match=r"coarse\.npz: pixel size 5 nm"):
        read_series([good, coarse])
    with pytest.raises(IvaeError, match="paths is empty"):
        read_series([])


@pytest.mark.real
def test_real_pzt_series(real_data):
    paths = [real_data / f"PZT_final000{k}.tif" for k in (1, 2, 3)]
    layers = read_series(paths, channels=["amplitude", "phase"])
    assert [la.name for la in layers] == ["Amplitude Retrace", "Phase Retrace"]
    assert all(la.shape == (3, 256, 256) and la.unit == "nm" for la in layers)
    assert layers[0].scale[1:] == pytest.approx((7.843, 7.843), rel=1e-3)
    assert layers[1].metadata["frames_from"] == [str(p) for p in paths]
