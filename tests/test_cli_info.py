"""``ivae info``: output and exit codes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_ivae.cli import main

REAL = Path(os.environ["IVAE_REAL_DATA"])  # set by tests/conftest.py


def test_info_synthetic_tiff(tmp_path, capsys):
    data = np.stack([np.full((20, 30), 1.5), np.linspace(-90, 270, 600).reshape(20, 30)]).astype(
        np.float32
    )
    path = tmp_path / "pfm.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(200.0, 200.0),
        metadata={
            "axes": "CYX",
            "unit": "um",
            "Labels": ["AmplitudeRetrace (m)", "PhaseRetrace (deg)"],
        },
    )
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 2 layers (TIFF)" in out
    assert "[0] Amplitude Retrace" in out and "[1] Phase Retrace" in out
    assert "20×30 (yx), float32" in out
    assert "pixel size: 5 nm" in out
    assert "values:     1.5 … 1.5 m" in out
    assert "-90 … 270 deg" in out
    assert "phase, colormap twilight" in out


def test_info_uncalibrated_npy(tmp_path, capsys):
    np.save(tmp_path / "img.npy", np.arange(12, dtype=np.uint16).reshape(3, 4))
    assert main(["info", str(tmp_path / "img.npy")]) == 0
    out = capsys.readouterr().out
    assert "3×4 (yx), uint16" in out and "uncalibrated" in out and "0 … 11" in out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.tif", None, "missing.tif: file not found"),
        ("corrupt.tif", b"garbage" * 50, "corrupt.tif: cannot read this TIFF file"),
        ("table.csv", b"y,x\n1,2\n", "unsupported file type '.csv'"),
        ("line.npy", "1d", "line.npy: array 'line' has shape (5,)"),
    ],
)
def test_info_bad_input_one_line_exit_2(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content == "1d":
        np.save(path, np.arange(5.0))
    elif content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    err_lines = captured.err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("ivae: error: ")
    assert message in err_lines[0]
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.real
def test_info_real_ibw(capsys):
    path = REAL / "scan_0001.ibw"
    if not path.is_file():
        pytest.skip("real data not available")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "6 layers" in out
    for name in (
        "Height Retrace",
        "Amplitude 1 Retrace",
        "Amplitude 2 Retrace",
        "Phase 1 Retrace",
        "Phase 2 Retrace",
        "Frequency Retrace",
    ):
        assert f"] {name}\n" in out
    assert out.count("pixel size: 19.61 nm") == 6
    assert "Retracece" not in out and "label" not in out  # clean names only by default
    assert main(["info", "--raw", str(path)]) == 0
    out = capsys.readouterr().out
    assert "raw label:  'Phase1Retracece'" in out and "] Phase 1 Retrace\n" in out


def test_info_partial_nan_warns_on_one_line(tmp_path, capsys):
    img = np.ones((6, 6), np.float32)
    img[0, 0] = np.nan
    np.save(tmp_path / "holes.npy", img)
    assert main(["info", str(tmp_path / "holes.npy")]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"ivae: warning: {tmp_path / 'holes.npy'}: layer 'holes' has 1 NaN/inf values of 36 (2.8%); kept as is"
    ]
    assert "NaN/inf:    1" in captured.out and "1 … 1" in captured.out
