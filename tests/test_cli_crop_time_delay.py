"""``ivae crop --time-delay K``: the npz pairs frames t and t+K, counts the dropped points, exit 2 on bad K."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae.cli import main
from napari_ivae.crop import Stack

T, N = 4, 48


def _write_series(path, frames: int = T):
    """An ImageJ TCYX TIFF with amplitude and phase channels; amplitude pixel = 10·t + 1."""
    amp = np.ones((frames, N, N), np.float32) * (10 * np.arange(frames) + 1)[:, None, None]
    phase = np.where(np.arange(N)[None, None, :] < N // 2, -90.0, 90.0) * np.ones((frames, N, N))
    data = np.stack([amp, phase], axis=1).astype(np.float32)
    labels = ["AmplitudeRetrace (m)", "PhaseRetrace (deg)"] * frames
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TCYX", "Labels": labels})


def _points(path, frames=(0, 1, 2, 3, 3)):
    pd.DataFrame({"y": 24.0, "x": 24.0, "frame": list(frames)}).to_csv(path, index=False)


def test_time_delay_stack(tmp_path, capsys):
    src, pts, out = tmp_path / "s.tif", tmp_path / "walls.csv", tmp_path / "td.npz"
    _write_series(src)
    _points(pts)
    args = ["crop", str(src), "--points", str(pts), "--window", "16", "--time-delay", "-1"]
    assert main([*args, "--normalize", "none", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "kept 4 of 5 points, dropped 1 without frame t-1" in captured.out
    assert "--phase domain chosen" in captured.err
    stack = Stack.load(out)
    assert stack.channels == (
        "Amplitude Retrace@t",
        "Amplitude Retrace@t-1",
        "Phase Retrace@t",
        "Phase Retrace@t-1",
    )
    assert stack.time_delay == -1 and stack.unpaired == 1
    np.testing.assert_array_equal(stack.frame, [1, 2, 3, 3])
    np.testing.assert_array_equal(stack.index, [1, 2, 3, 4])
    amp = stack.images[:, :2, 8, 8]
    np.testing.assert_allclose(amp, np.c_[10 * stack.frame + 1, 10 * (stack.frame - 1) + 1])
    # the phase as its domain field: ±1 on the two sides of the wall, the same in both frames
    phase = stack.images[:, 2:]
    assert np.all(np.abs(np.abs(phase[..., 2]) - 1) < 0.05)
    np.testing.assert_allclose(phase[:, 0], phase[:, 1], atol=1e-5)
    assert np.all(np.sign(phase[..., 2]) == -np.sign(phase[..., 13]))


@pytest.mark.parametrize(
    ("frames", "delay", "words"),
    [
        (T, "0", "--time-delay=0"),
        (T, str(T), f"--time-delay={T} is out of range"),
        (T, str(-T - 2), f"--time-delay={-T - 2} is out of range"),
        (1, "1", "at least 2 frames"),
    ],
)
def test_bad_time_delay_exits_2_and_writes_nothing(tmp_path, capsys, frames, delay, words):
    src, pts, out = tmp_path / "s.tif", tmp_path / "walls.csv", tmp_path / "td.npz"
    _write_series(src, frames)
    _points(pts, [0] * 3)
    code = main(
        [
            "crop",
            str(src),
            "--points",
            str(pts),
            "--window",
            "16",
            "--time-delay",
            delay,
            "-o",
            str(out),
        ]
    )
    assert code == 2
    assert words in capsys.readouterr().err
    assert set(tmp_path.iterdir()) == {src, pts}  # no npz, no temporary file
