"""crop(time_delay=K): channels [frame t, frame t+K] against a series whose pixels encode t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae._errors import IvaeError
from napari_ivae.crop import Stack, crop, domain_series

T, N = 5, 48


def _series():
    """Frame t, channel c: pixel value 100·c + t + (y·N + x)/10⁴ (frame, channel and place readable)."""
    yy, xx = np.mgrid[:N, :N]
    place = (yy * N + xx) / 1e4
    frames = np.arange(T)[:, None, None] + place
    return [frames.astype(np.float64), (100.0 + frames).astype(np.float64)]


def _points():
    rows = [(t, 20.0 + t, 22.0) for t in range(T)] + [(2, 1.0, 1.0)]  # last: crosses the border
    return pd.DataFrame(rows, columns=["frame", "y", "x"])


@pytest.mark.parametrize("k", [1, 2, -1, -3])
def test_channels_pair_frame_t_with_t_plus_k(k):
    pts = _points()
    stack = crop(_series(), pts, window=8, normalize="none", channels=("a", "b"), time_delay=k)
    later = f"t{k:+d}"
    assert stack.channels == ("a@t", f"a@{later}", "b@t", f"b@{later}")
    paired = [i for i, t in enumerate(pts["frame"]) if 0 <= t + k < T]
    inside = [i for i in paired if i != len(pts) - 1]
    np.testing.assert_array_equal(stack.index, inside)
    np.testing.assert_array_equal(stack.frame, pts["frame"].to_numpy()[inside])
    assert stack.unpaired == len(pts) - len(paired) and stack.time_delay == k
    for row, i in enumerate(stack.index):
        t, y, x = (int(v) for v in pts.loc[i, ["frame", "y", "x"]])
        centre = stack.images[row, :, 4, 4]  # the point's pixel (w//2)
        place = (y * N + x) / 1e4
        np.testing.assert_allclose(
            centre, [t + place, t + k + place, 100 + t + place, 100 + t + k + place], atol=1e-4
        )


def test_saved_stack_keeps_the_delay_and_the_count(tmp_path):
    stack = crop(_series()[0], _points(), window=8, time_delay=-1)
    back = Stack.load(stack.save(tmp_path / "td.npz"))
    assert back.time_delay == -1 and back.unpaired == 1 and back.channels == stack.channels
    plain = Stack.load(crop(_series()[0], _points(), window=8).save(tmp_path / "p.npz"))
    assert plain.time_delay is None and plain.unpaired == 0


@pytest.mark.parametrize(
    ("images", "k", "words"),
    [
        (_series()[0], 0, "time_delay=0 is out of range"),
        (_series()[0], T, f"time_delay={T} is out of range"),
        (_series()[0], -T, f"time_delay={-T} is out of range"),
        (_series()[0][:1], 1, "at least 2 frames"),
        (_series()[0], 1.5, "whole number"),
    ],
)
def test_bad_time_delay_is_one_sentence(images, k, words):
    pts = _points() if len(images) > 1 else pd.DataFrame({"y": [20.0], "x": [20.0]})
    with pytest.raises(IvaeError, match=words):
        crop(images, pts, window=8, time_delay=k)


def test_domain_phase_is_the_aligned_domain_field():
    """phase='domain' gives ±1 by polarity (sign aligned across frames), whatever the offset and wrap."""
    from napari_ivae.simulate import simulate_switching

    s = simulate_switching((64, 64), n_frames=3, seed=3, drift=60.0)
    field = domain_series(s.phase)
    inner = np.zeros(s.domains.shape, bool)
    inner[:, 6:-6, 6:-6] = True
    agree = np.array(
        [np.mean(np.sign(field[t][inner[t]]) == s.domains[t][inner[t]]) for t in range(3)]
    )
    assert np.all(agree > 0.95) or np.all(agree < 0.05)  # one sign for the whole series
    pts = pd.DataFrame({"frame": [0, 1], "y": [32.0, 32.0], "x": [32.0, 32.0]})
    stack = crop(
        [s.amplitude, s.phase],
        pts,
        window=16,
        time_delay=1,
        channels=("amp", "phase"),
        phase="domain",
    )
    np.testing.assert_allclose(
        stack.images[:, 2:], field[[[0, 1], [1, 2]], 24:40, 24:40], atol=1e-6
    )
    assert np.abs(stack.images[:, 2:]).max() <= 1.0
    with pytest.raises(IvaeError, match="phase='domain' needs a phase channel"):
        crop(s.amplitude, pts, window=16, phase="domain")
