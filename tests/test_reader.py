"""npe2 reader adapter: LayerData with name, scale, colormap and metadata."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_ivae import IvaeError
from napari_ivae._reader import get_reader, read_layer_data

REAL = Path(os.environ["IVAE_REAL_DATA"])  # set by tests/conftest.py


def test_get_reader_accepts_supported_suffixes_only(tmp_path):
    for name in ("a.ibw", "a.DM3", "a.dm4", "a.tif", "a.tiff", "a.npy", "a.npz", "a.png"):
        assert get_reader(str(tmp_path / name)) is read_layer_data
    assert get_reader(str(tmp_path / "a.txt")) is None
    assert get_reader([str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) is None


def test_layer_data_from_multichannel_tiff(tmp_path):
    data = np.random.default_rng(0).uniform(-90, 270, (2, 16, 16)).astype(np.float32)
    path = tmp_path / "pfm.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(100.0, 100.0),
        metadata={
            "axes": "CYX",
            "unit": "um",
            "Labels": ["AmplitudeRetrace (m)", "PhaseRetrace (deg)"],
        },
    )
    reader = get_reader(str(path))
    out = reader(str(path))
    assert len(out) == 2
    (_, amp_kw, kind), (phase, phase_kw, _) = out
    assert kind == "image"
    np.testing.assert_array_equal(np.asarray(phase), data[1])
    assert amp_kw["name"] == "Amplitude Retrace" and phase_kw["name"] == "Phase Retrace"
    assert amp_kw["scale"] == pytest.approx((10.0, 10.0))  # 1/100 µm = 10 nm
    assert amp_kw["metadata"]["unit"] == "nm" and amp_kw["metadata"]["source"] == str(path)
    assert amp_kw["metadata"]["role"] == "amplitude" and amp_kw["colormap"] == "gray"
    assert phase_kw["colormap"] == "twilight" and phase_kw["contrast_limits"] == (-90.0, 270.0)
    assert phase_kw["metadata"]["value_unit"] == "deg"
    assert "contrast_limits" not in phase_kw["metadata"]


def test_reader_raises_plain_ivae_error(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"not a tiff at all" * 10)
    with pytest.raises(IvaeError, match=r"broken\.tif: cannot read this TIFF file"):
        get_reader(str(path))(str(path))


@pytest.mark.real
def test_real_ibw_layer_data():
    path = REAL / "scan_0001.ibw"
    if not path.is_file():
        pytest.skip("real data not available")
    out = get_reader(str(path))(str(path))
    names = [kw["name"] for _, kw, _ in out]
    # napari puts the last layer on top: phase 1, then phase 2, amplitudes; height/frequency hidden
    assert names == [
        "Frequency Retrace",
        "Height Retrace",
        "Amplitude 2 Retrace",
        "Amplitude 1 Retrace",
        "Phase 2 Retrace",
        "Phase 1 Retrace",
    ]
    assert [kw["visible"] for _, kw, _ in out] == [False, False, True, True, True, True]
    for data, kw, kind in out:
        assert kind == "image" and data.shape == (256, 256)
        assert (
            kw["scale"] == pytest.approx((5000 / 255, 5000 / 255))
            and kw["metadata"]["unit"] == "nm"
        )
        assert kw["units"] == ("nm", "nm") and kw["metadata"]["calibrated"] is True
    assert [kw["colormap"] for _, kw, _ in out].count("twilight") == 2


def test_reader_module_does_not_import_napari():
    import subprocess
    import sys

    code = (
        "import sys, napari_ivae._reader as r, numpy as np, tempfile, os\n"
        "d = tempfile.mkdtemp(); p = os.path.join(d, 'a.npy'); np.save(p, np.ones((4, 4)))\n"
        "r.get_reader(p)(p)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'torch')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
