"""Reliability of the reader, ``ivae info``, ``ivae detect`` and ``ivae crop`` (issue 10).

Each case runs the failing command and checks the exit code, that the message
is one plain line naming the parameter/limit/file (no traceback, no source
path), and that existing outputs are untouched (no partial or temp file).
"""

from __future__ import annotations

import errno
import hashlib
import logging

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae._errors import IvaeError
from napari_ivae._reader import read_layer_data
from napari_ivae.cli import main
from napari_ivae.io import (
    ImageLayer,
    add_physical_columns,
    default_channels,
    layer_data,
    pixel_size_nm,
    read,
)
from napari_ivae.simulate import simulate_pfm

PFM_LABELS = [
    "HeightRetrace (m)",
    "AmplitudeRetrace (m)",
    "DeflectionRetrace (m)",
    "PhaseRetrace (deg)",
]


@pytest.fixture(scope="module")
def pfm():
    return simulate_pfm((64, 64), seed=2024, noise=5.0, drift=20.0)


def _pfm_tiff(path, sample, labels=PFM_LABELS, pixel_nm=3.92):
    """An Asylum-like ImageJ TIFF, channels as ``labels`` (height ramp, amplitude, deflection, phase)."""
    ramp = np.zeros_like(sample.amplitude) + np.linspace(0, 1, sample.amplitude.shape[1])
    by_role = {
        "Height": ramp,
        "Amplitude": sample.amplitude,
        "Deflection": ramp[::-1],
        "Phase": sample.phase,
        "Frequency": ramp.T,
    }
    planes = [next(v for k, v in by_role.items() if label.startswith(k)) for label in labels]
    data = np.stack(planes).astype(np.float32)
    res = 1.0 / pixel_nm
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(res, res),
        metadata={"axes": "CYX", "unit": "nm", "Labels": list(labels)},
    )
    return path


def _one_error_line(err: str, *must: str) -> str:
    """The one ``ivae: error:`` line, last on stderr (after any progress notes); no traceback."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert not [line for line in lines if "Traceback" in line or ".py:" in line], lines
    line = errors[0]
    assert line.startswith("ivae: error: ") and len(line) < 400
    for text in must:
        assert text in line, (text, line)
    return line


def _digest(folder) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


# --------------------------------------------------------------------------- units


def test_units_reach_napari_layer_data(tmp_path, pfm):
    path = _pfm_tiff(tmp_path / "pfm.tif", pfm)
    out = read_layer_data(str(path))
    for _, kw, _ in out:
        assert kw["units"] == ("nm", "nm") and kw["metadata"]["calibrated"] is True
        assert kw["metadata"]["pixel_size_nm"] == pytest.approx((3.92, 3.92), rel=1e-4)
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(
        stack,
        (np.zeros((3, 8, 8)) + np.arange(8)).astype(np.float32),
        imagej=True,
        resolution=(0.5, 0.5),  # 2 um per pixel
        metadata={"axes": "TYX", "unit": "um"},
    )
    ((_, kw, _),) = read_layer_data(str(stack))
    assert kw["units"] == ("", "um", "um")  # frames carry no length unit
    assert kw["metadata"]["pixel_size_nm"] == pytest.approx((2000.0, 2000.0))


def test_units_accepted_by_napari(tmp_path, pfm):
    components = pytest.importorskip("napari.components")
    path = _pfm_tiff(tmp_path / "pfm.tif", pfm)
    viewer = components.ViewerModel()
    for data, kw, _ in read_layer_data(str(path)):
        viewer.add_image(data, **kw)
    assert [str(u) for u in viewer.layers.units] == ["nanometer", "nanometer"]
    assert viewer.layers[-1].name == "Phase Retrace"  # phase on top
    assert [ly.visible for ly in viewer.layers] == [False, False, True, True]


def test_uncalibrated_says_so(tmp_path, capsys):
    np.save(tmp_path / "plain.npy", np.arange(64, dtype=np.float32).reshape(8, 8))
    ((_, kw, _),) = read_layer_data(str(tmp_path / "plain.npy"))
    assert "units" not in kw and kw["metadata"]["calibrated"] is False
    assert pixel_size_nm(kw["metadata"]) is None
    assert main(["info", str(tmp_path / "plain.npy")]) == 0
    assert "pixel size: uncalibrated (pixels)" in capsys.readouterr().out


def test_pixel_size_helpers():
    layer = ImageLayer(np.zeros((4, 4)), "a", (0.02, 0.02), "µm", "yx")
    assert pixel_size_nm(layer) == pytest.approx((20.0, 20.0))
    _, kw, _ = layer.to_layer_data()
    assert pixel_size_nm(kw["metadata"]) == pytest.approx((20.0, 20.0))
    table = pd.DataFrame({"y": [1.0, 2.0], "x": [3.0, 4.0], "score": [1.0, 1.0]})
    out = add_physical_columns(table, pixel_size_nm(layer))
    assert list(out.columns) == ["y", "x", "y_nm", "x_nm", "score"]
    np.testing.assert_allclose(out["x_nm"], [60.0, 80.0])
    assert add_physical_columns(table, None) is table


def test_detect_points_csv_has_nm_columns(tmp_path, pfm):
    path = _pfm_tiff(tmp_path / "pfm.tif", pfm)
    pts = tmp_path / "walls.csv"
    argv = ["detect", "walls", str(path), "-o", str(tmp_path / "m.tif"), "--points", str(pts)]
    assert main(argv) == 0
    table = pd.read_csv(pts)
    assert list(table.columns) == ["y", "x", "y_nm", "x_nm", "frame", "orientation"]
    assert len(table) > 0
    np.testing.assert_allclose(table["y_nm"], table["y"] * 3.92, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(table["x_nm"], table["x"] * 3.92, rtol=1e-4, atol=1e-3)


# --------------------------------------------------------------------------- roles


def _fake_asylum(monkeypatch, tmp_path):
    """A 6-channel Asylum .ibw as scan_0001 (Height, Amp 1/2, Phase 1/2, Frequency), via a patched igor2."""
    from igor2 import binarywave

    rng = np.random.default_rng(0)
    labels = [
        b"HeightRetrace",
        b"Amplitude1Retrace",
        b"Amplitude2Retrace",
        b"Phase1Retracece",
        b"Phase2Retraceace",
        b"FrequencyRetrace",
    ]
    data = rng.uniform(0, 1, (16, 16, 6)).astype(np.float32)
    fake = {
        "version": 5,
        "wave": {
            "wave_header": {
                "nDim": np.array([16, 16, 6, 0]),
                "sfA": np.array([2e-8, 2e-8, 1.0, 1.0]),
                "dimUnits": np.array([[b"m", b"", b"", b""]] * 2 + [[b"", b"", b"", b""]] * 2),
                "bname": b"scan",
            },
            "wData": data,
            "note": b"ScanSize: 3.2e-07\r",
            "labels": [[], [], [b"", *labels], []],
        },
    }
    monkeypatch.setattr(binarywave, "load", lambda path: fake)
    path = tmp_path / "scan.ibw"
    path.write_bytes(b"patched")
    return path


def test_ibw_opens_with_phase_on_top_and_aux_hidden(monkeypatch, tmp_path):
    path = _fake_asylum(monkeypatch, tmp_path)
    out = read_layer_data(str(path))
    assert [kw["name"] for _, kw, _ in out][-1] == "Phase 1 Retrace"
    hidden = {kw["name"] for _, kw, _ in out if not kw["visible"]}
    assert hidden == {"Height Retrace", "Frequency Retrace"}
    layers = read(path)
    assert [ly.name for ly in default_channels(layers, "crop")] == [
        "Amplitude 1 Retrace",
        "Phase 1 Retrace",
    ]
    assert [ly.name for ly in default_channels(layers, "walls")] == [
        "Phase 1 Retrace",
        "Amplitude 1 Retrace",
    ]


def test_crop_ibw_defaults_to_amplitude_and_phase(monkeypatch, tmp_path, capsys):
    path = _fake_asylum(monkeypatch, tmp_path)
    points = tmp_path / "p.csv"
    pd.DataFrame({"y": [8.0, 7.0], "x": [8.0, 9.0]}).to_csv(points, index=False)
    out = tmp_path / "s.npz"
    argv = ["crop", str(path), "--points", str(points), "--window", "6", "-o", str(out)]
    assert main(argv) == 0
    with np.load(out) as npz:
        assert list(npz["channels"]) == ["Amplitude 1 Retrace", "Phase 1 Retrace"]
    err = capsys.readouterr().err
    assert "note: channels 'Amplitude 1 Retrace', 'Phase 1 Retrace' chosen by role" in err


def test_detect_walls_picks_phase_and_amplitude_by_role(tmp_path, pfm, capsys):
    labels = [
        "HeightRetrace (m)",
        "FrequencyRetrace (Hz)",
        "AmplitudeRetrace (m)",
        "PhaseRetrace (deg)",
    ]
    path = _pfm_tiff(tmp_path / "pfm.tif", pfm, labels=labels)
    assert main(["detect", "walls", str(path), "-o", str(tmp_path / "m.npy")]) == 0
    err = capsys.readouterr().err
    assert "phase channel 'Phase Retrace'" in err and "amplitude channel 'Amplitude Retrace'" in err


def test_info_clean_names_raw_only_on_request(monkeypatch, tmp_path, capsys):
    path = _fake_asylum(monkeypatch, tmp_path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "] Phase 1 Retrace\n" in out and "Retracece" not in out
    assert main(["info", "--raw", str(path)]) == 0
    assert "raw label:  'Phase1Retracece'" in capsys.readouterr().out


# --------------------------------------------------------------------------- truncated files


def test_truncated_four_channel_tiff_is_an_error(tmp_path, pfm, capsys):
    path = _pfm_tiff(tmp_path / "cut.tif", pfm)
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * 0.6)])
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    _one_error_line(captured.err, "cut.tif", "truncated", "4 images")
    assert captured.out == ""
    with pytest.raises(IvaeError, match=r"cut\.tif: the TIFF is truncated"):
        read_layer_data(str(path))  # the napari reader refuses it too


def test_truncated_real_ibw_short_error(real_data, tmp_path, capsys, caplog):
    blob = (real_data / "scan_0001.ibw").read_bytes()
    path = tmp_path / "cut.ibw"
    path.write_bytes(blob[: int(len(blob) * 0.6)])
    with caplog.at_level(logging.DEBUG):
        assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    _one_error_line(captured.err, "cut.ibw", "truncated")
    assert len(captured.out) + len(captured.err) < 400
    assert not [r for r in caplog.records if r.name.startswith("igor2")]


def test_ibw_library_noise_is_cut(monkeypatch, tmp_path, capsys, caplog):
    """igor2 cannot write .ibw files: simulate its failure (megabytes logged and in the error)."""
    from igor2 import binarywave

    def noisy(path):
        raw = bytes(range(256)) * 8000
        logging.getLogger("igor2.binarywave").error("could not reshape data from %s", raw)
        raise ValueError(f"buffer is too small for requested array {raw!r}")

    monkeypatch.setattr(binarywave, "load", noisy)
    path = tmp_path / "bad.ibw"
    path.write_bytes(b"\x05\x00" * 100)
    with caplog.at_level(logging.DEBUG):
        assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err, "bad.ibw", "buffer is too small")
    assert len(line) < 300 and not caplog.records


# --------------------------------------------------------------------------- detect options


def test_detect_warnings_are_one_clean_line_each(tmp_path, pfm, capsys):
    phase = pfm.phase.astype(np.float32).copy()
    phase[:3, :3] = np.nan
    src = tmp_path / "holes.npy"
    np.save(src, phase)
    assert main(["detect", "walls", str(src), "-o", str(tmp_path / "m.npy")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warns = [line for line in err if "warning:" in line.lower()]
    assert warns and all(line.startswith("ivae: warning: ") for line in warns)
    assert len(warns) == len(set(warns))
    assert not [line for line in err if ".py:" in line or "Warning:" in line]


def test_canny_domains_refused_before_any_work(tmp_path, monkeypatch, capsys):
    import napari_ivae.detect as det

    def boom(*a, **k):
        raise AssertionError("detect_walls ran")

    monkeypatch.setattr(det, "detect_walls", boom)
    missing = tmp_path / "not-read.tif"  # never opened: the options fail first
    argv = ["detect", "walls", str(missing), "--method", "canny", "-o", str(tmp_path / "m.tif")]
    assert main([*argv, "--domains", str(tmp_path / "d.tif")]) == 2
    _one_error_line(capsys.readouterr().err, "--domains", "--method canny", "gaussian")
    assert list(tmp_path.iterdir()) == []


def test_stride_bounded_by_the_image(tmp_path, pfm, capsys):
    src = tmp_path / "phase.npy"
    np.save(src, pfm.phase.astype(np.float32))
    old = tmp_path / "m.npy"
    old.write_bytes(b"previous result")
    before = _digest(tmp_path)
    argv = ["detect", "walls", str(src), "-o", str(old), "--stride", "100000"]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "--stride=100000", "stride ≤ 64")
    assert _digest(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "must"),
    [
        (["walls", "--sigma", "1000"], ("--sigma=1000.0", "≤ 50")),
        (["walls", "--sigma", "40"], ("--sigma=40.0", "≤ 16")),
        (["walls", "-o", "{d}/mask.png"], ("mask.png", ".tif, .tiff, .npy")),
        (["walls", "--points", "{d}/m.tif"], ("-o", "--points", "same file")),
        (["walls", "-o", "{d}/nope/m.tif"], ("nope", "does not exist")),
        (["atoms", "--spacing", "1000"], ("--spacing=1000.0", "spacing ≤ 32")),
        (["atoms", "--spacing", "0"], ("--spacing=0.0", "spacing ≥ 2")),
        (["atoms", "--threshold", "-1"], ("--threshold=-1.0", "threshold ≥ 0")),
        (
            ["atoms", "--method", "dcnn", "--threshold", "2"],
            ("--threshold=2.0", "0 < threshold < 1"),
        ),
    ],
)
def test_detect_options_bounded(tmp_path, pfm, capsys, args, must):
    src = tmp_path / "phase.npy"
    np.save(src, pfm.phase.astype(np.float32))
    (tmp_path / "m.tif").write_bytes(b"previous result")
    before = _digest(tmp_path)
    args = [a.replace("{d}", str(tmp_path)) for a in args]
    default_out = str(tmp_path / ("m.tif" if args[0] == "walls" else "a.csv"))
    out = [] if "-o" in args else ["-o", default_out]
    assert main(["detect", args[0], str(src), *args[1:], *out]) == 2
    _one_error_line(capsys.readouterr().err, *must)
    assert _digest(tmp_path) == before


# --------------------------------------------------------------------------- full disk


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_detect_full_disk_one_line_nothing_lost(tmp_path, pfm, capsys, monkeypatch):
    src = tmp_path / "phase.npy"
    np.save(src, pfm.phase.astype(np.float32))
    mask, pts = tmp_path / "m.npy", tmp_path / "p.csv"
    mask.write_bytes(b"old mask")
    pts.write_text("old points\n")
    before = _digest(tmp_path)

    def partial_csv(self, path, *a, **k):  # writes some bytes, then the disk is full
        with open(path, "w") as fh:
            fh.write("y,x\n1,")
        _enospc()

    monkeypatch.setattr(pd.DataFrame, "to_csv", partial_csv)
    argv = ["detect", "walls", str(src), "-o", str(mask), "--points", str(pts)]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "p.csv", "No space left on device")
    assert _digest(tmp_path) == before  # the mask was not replaced either: all or nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy", "p.csv", "phase.npy"]


def test_crop_full_disk_one_line_nothing_lost(tmp_path, pfm, capsys, monkeypatch):
    path = _pfm_tiff(tmp_path / "pfm.tif", pfm)
    points = tmp_path / "p.csv"
    pd.DataFrame({"y": [20.0, 30.0], "x": [20.0, 30.0]}).to_csv(points, index=False)
    out = tmp_path / "s.npz"
    out.write_bytes(b"old stack")
    before = _digest(tmp_path)

    def partial_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        _enospc()

    monkeypatch.setattr(np, "savez", partial_savez)
    argv = ["crop", str(path), "--points", str(points), "--window", "8", "-o", str(out)]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "s.npz", "No space left on device")
    assert _digest(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "pfm.tif", "s.npz"]


# --------------------------------------------------------------------------- crop options


def test_crop_output_folder_checked_before_reading(tmp_path, capsys):
    argv = ["crop", str(tmp_path / "never-read.tif"), "--points", str(tmp_path / "p.csv")]
    assert main([*argv, "--window", "8", "-o", str(tmp_path / "no" / "s.npz")]) == 2
    _one_error_line(capsys.readouterr().err, "does not exist", "'" + str(tmp_path / "no") + "'")


def test_crop_larger_than_free_memory_refused(tmp_path, pfm, capsys, monkeypatch):
    import napari_ivae._crop_gather as gather

    monkeypatch.setattr(gather, "_free_memory", lambda: 1000)
    path = _pfm_tiff(tmp_path / "pfm.tif", pfm)
    points = tmp_path / "p.csv"
    pd.DataFrame({"y": [20.0, 30.0], "x": [20.0, 30.0]}).to_csv(points, index=False)
    out = tmp_path / "s.npz"
    argv = ["crop", str(path), "--points", str(points), "--window", "16", "-o", str(out)]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "GiB", "memory is free", "smaller window")
    assert not out.exists()


def test_layer_data_keeps_file_order_without_pfm_roles():
    a = ImageLayer(np.zeros((4, 4)), "HAADF", (1.0, 1.0), None, "yx")
    b = ImageLayer(np.zeros((4, 4)), "BF", (1.0, 1.0), None, "yx")
    out = layer_data([a, b])
    assert [kw["name"] for _, kw, _ in out] == ["HAADF", "BF"]
    assert all(kw["visible"] for _, kw, _ in out)


def test_real_pfm_tiff_roles(real_data):
    out = read_layer_data(str(real_data / "PZT_final0001.tif"))
    names = [kw["name"] for _, kw, _ in out]
    assert names[-1] == "Phase Retrace"
    visible = {kw["name"] for _, kw, _ in out if kw["visible"]}
    assert visible == {
        "Phase Retrace",
        "Nap Phase Retrace",
        "Amplitude Retrace",
        "Nap Amplitude Retrace",
    }
    assert all(kw["units"] == ("nm", "nm") for _, kw, _ in out)
