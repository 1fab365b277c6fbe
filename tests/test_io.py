"""Readers: synthetic written-then-read files, the real files, bad input."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_ivae import IvaeError
from napari_ivae.io import ImageLayer, read
from napari_ivae.io._names import nice_length, normalize_label, phase_contrast_limits, role_for

REAL = Path(os.environ["IVAE_REAL_DATA"])  # set by tests/conftest.py


def real(name: str) -> Path:
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"real data file {path} not available")
    return path


def ramp(shape, dtype=np.float32):
    """Distinct values everywhere, so transposes and flips are caught."""
    return np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape).astype(dtype)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("label", "name", "unit"),
    [
        ("Phase1Retracece", "Phase 1 Retrace", None),
        ("Phase2Retraceace", "Phase 2 Retrace", None),
        ("Amplitude1Retrace", "Amplitude 1 Retrace", None),
        ("HeightRetrace", "Height Retrace", None),
        ("FrequencyRetrace", "Frequency Retrace", None),
        ("ZSensorTrace", "Z Sensor Trace", None),
        ("PhaseRetrace (deg)", "Phase Retrace", "deg"),
        ("NapAmplitudeRetrace (m)", "Nap Amplitude Retrace", "m"),
        ("HAADF", "HAADF", None),
        ("Height Retrace", "Height Retrace", None),
    ],
)
def test_normalize_label(label, name, unit):
    assert normalize_label(label) == (name, unit)


def test_roles_and_units():
    assert [
        role_for(n) for n in ("Phase 1 Retrace", "Nap Amplitude Retrace", "Height Retrace", "HAADF")
    ] == [
        "phase",
        "amplitude",
        "height",
        "image",
    ]
    assert nice_length(1 / 255, "um")[::2] == pytest.approx((1000 / 255, "nm"))
    assert nice_length(1 / 255, "\\u00B5m")[2] == "nm"
    assert nice_length(2.5, "Å")[::2] == pytest.approx((0.25, "nm"))
    assert nice_length(2e-6, "m")[::2] == pytest.approx((2.0, "µm"))
    assert nice_length(3.0, "pixel") == (1.0, 1.0, None)
    assert nice_length(0.02, "1/nm") == (0.02, 1.0, "1/nm")  # unknown unit kept
    assert phase_contrast_limits(-89.9, 269.9, "deg") == (-90.0, 270.0)
    assert phase_contrast_limits(-3.1, 3.1, "rad") == pytest.approx((-np.pi, np.pi))
    assert phase_contrast_limits(0.0, 500.0, "deg") is None


# --------------------------------------------------------------------------- TIFF


def test_tiff_2d_imagej_pixel_size(tmp_path):
    img = ramp((40, 60))
    path = tmp_path / "one.tif"
    tifffile.imwrite(
        path, img, imagej=True, resolution=(1 / 0.0025, 1 / 0.004), metadata={"unit": "um"}
    )
    (layer,) = read(path)
    assert isinstance(layer, ImageLayer)
    np.testing.assert_array_equal(np.asarray(layer.data), img)
    assert layer.axes == "yx" and layer.shape == (40, 60)
    assert layer.unit == "nm"
    assert layer.scale == pytest.approx((4.0, 2.5))  # (y, x): YResolution 1/0.004 µm
    assert layer.name == "one" and layer.role == "image" and layer.colormap == "gray"
    assert isinstance(layer.data, np.memmap)  # lazy
    assert layer.source == str(path)


def test_tiff_multichannel_imagej_labels(tmp_path):
    rng = np.random.default_rng(0)
    chans = np.stack(
        [rng.normal(size=(32, 48)), rng.uniform(0, 1e-9, (32, 48)), rng.uniform(-90, 270, (32, 48))]
    )
    chans = chans.astype(np.float32)
    path = tmp_path / "pfm.tif"
    tifffile.imwrite(
        path,
        chans,
        imagej=True,
        resolution=(255.0, 255.0),
        metadata={
            "axes": "CYX",
            "unit": "um",
            "Labels": ["HeightRetrace (m)", "AmplitudeRetrace (m)", "PhaseRetrace (deg)"],
        },
    )
    layers = read(path)
    assert [la.name for la in layers] == ["Height Retrace", "Amplitude Retrace", "Phase Retrace"]
    assert [la.role for la in layers] == ["height", "amplitude", "phase"]
    for la, truth in zip(layers, chans):
        np.testing.assert_array_equal(np.asarray(la.data), truth)
        assert la.scale == pytest.approx((1000 / 255, 1000 / 255))
        assert la.unit == "nm"
    phase = layers[2]
    assert phase.colormap == "twilight"
    assert phase.metadata["value_unit"] == "deg"
    assert phase.metadata["contrast_limits"] == (-90.0, 270.0)
    assert layers[0].metadata["value_unit"] == "m"


def test_tiff_stack_is_tyx(tmp_path):
    stack = ramp((5, 20, 30), np.uint16)
    path = tmp_path / "series.tif"
    tifffile.imwrite(
        path, stack, imagej=True, resolution=(2.0, 2.0), metadata={"axes": "TYX", "unit": "nm"}
    )
    (layer,) = read(path)
    assert layer.axes == "tyx" and layer.shape == (5, 20, 30) and layer.dtype == np.uint16
    assert layer.scale == pytest.approx((1.0, 0.5, 0.5)) and layer.unit == "nm"
    np.testing.assert_array_equal(np.asarray(layer.data), stack)


def test_tiff_ome_channels_and_physical_size(tmp_path):
    data = ramp((2, 16, 24))
    path = tmp_path / "stem.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={
            "axes": "CYX",
            "Channel": {"Name": ["HAADF", "BF"]},
            "PhysicalSizeX": 0.25,
            "PhysicalSizeXUnit": "Å",
            "PhysicalSizeY": 0.25,
            "PhysicalSizeYUnit": "Å",
        },
    )
    layers = read(path)
    assert [la.name for la in layers] == ["HAADF", "BF"]
    assert layers[0].scale == pytest.approx((0.025, 0.025)) and layers[0].unit == "nm"
    np.testing.assert_array_equal(np.asarray(layers[1].data), data[1])


def test_tiff_compressed_and_resolution_units(tmp_path):
    img = ramp((30, 30), np.uint8)
    cm = tmp_path / "cm.tif"
    tifffile.imwrite(
        cm, img, compression="zlib", resolution=(1e4, 1e4), resolutionunit="CENTIMETER"
    )
    (layer,) = read(cm)
    np.testing.assert_array_equal(np.asarray(layer.data), img)
    assert not isinstance(layer.data, np.memmap)
    assert layer.scale == pytest.approx((1.0, 1.0)) and layer.unit == "µm"
    inch = tmp_path / "inch.tif"
    tifffile.imwrite(inch, img, resolution=(72, 72), resolutionunit="INCH")
    (layer,) = read(inch)
    assert layer.unit is None and layer.scale == (1.0, 1.0)  # dpi is not a pixel size
    assert layer.metadata["dpi"] == 72


def test_tiff_rgb_gray_collapses_and_colour_splits(tmp_path):
    gray = ramp((20, 20), np.uint8)
    path = tmp_path / "gray_rgb.tif"
    tifffile.imwrite(path, np.stack([gray] * 3, axis=-1), photometric="rgb")
    (layer,) = read(path)
    np.testing.assert_array_equal(np.asarray(layer.data), gray)
    colour = np.stack([gray, 255 - gray, gray // 2], axis=-1)
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, colour, photometric="rgb")
    layers = read(path)
    assert [la.name for la in layers] == ["Red", "Green", "Blue"]
    np.testing.assert_array_equal(np.asarray(layers[1].data), 255 - gray)


# --------------------------------------------------------------------------- numpy, pictures


def test_npy_memmap_2d_and_3d(tmp_path):
    img = ramp((12, 17))
    np.save(tmp_path / "a.npy", img)
    (layer,) = read(tmp_path / "a.npy")
    assert isinstance(layer.data, np.memmap) and layer.axes == "yx" and layer.name == "a"
    np.testing.assert_array_equal(layer.data, img)
    assert layer.scale == (1.0, 1.0) and layer.unit is None
    np.save(tmp_path / "t.npy", ramp((3, 12, 17)))
    (layer,) = read(tmp_path / "t.npy")
    assert layer.axes == "tyx" and layer.scale == (1.0, 1.0, 1.0)


def test_npz_images_and_stack(tmp_path):
    img = ramp((10, 11))
    np.savez(
        tmp_path / "many.npz", first=img, second=2 * img, yx=np.zeros((5, 2)), note=np.array("x")
    )
    layers = read(tmp_path / "many.npz")
    assert [la.name for la in layers] == ["first", "second"]  # (5, 2) is a coordinate table
    np.testing.assert_array_equal(layers[1].data, 2 * img)
    assert layers[0].metadata["skipped"] == ["yx", "note"]
    stack = ramp((4, 2, 8, 8))
    np.savez(tmp_path / "stack.npz", images=stack, channels=np.array(["Amplitude", "Phase"]))
    layers = read(tmp_path / "stack.npz")
    assert [la.name for la in layers] == ["Amplitude", "Phase"]
    assert layers[1].shape == (4, 8, 8) and layers[1].role == "phase"
    np.testing.assert_array_equal(layers[1].data, stack[:, 1])
    np.savez(tmp_path / "cal.npz", image=img, pixel_size=np.float64(0.5), unit=np.array("nm"))
    (layer,) = read(tmp_path / "cal.npz")
    assert layer.scale == (0.5, 0.5) and layer.unit == "nm"


@pytest.mark.parametrize(
    ("suffix", "dtype"), [(".png", np.uint8), (".png", np.uint16), (".bmp", np.uint8)]
)
def test_picture_lossless_roundtrip(tmp_path, suffix, dtype):
    import imageio.v3 as iio

    img = (ramp((24, 30), np.float64) * (np.iinfo(dtype).max / 719)).astype(dtype)
    path = tmp_path / f"pic{suffix}"
    iio.imwrite(path, img)
    (layer,) = read(path)
    assert layer.dtype == dtype and layer.shape == (24, 30)
    np.testing.assert_array_equal(np.asarray(layer.data), img)
    assert layer.unit is None and layer.name == "pic"


def test_jpeg_gray_and_rgb(tmp_path):
    import imageio.v3 as iio

    yy, xx = np.mgrid[0:64, 0:64]
    gray = (yy * 2 + xx).astype(np.uint8)
    iio.imwrite(tmp_path / "g.jpg", gray, quality=95)
    (layer,) = read(tmp_path / "g.jpg")
    assert layer.shape == (64, 64)
    assert np.abs(np.asarray(layer.data, float) - gray).mean() < 2  # lossy, but close
    rgb = np.stack([gray, 255 - gray, np.zeros_like(gray)], axis=-1)
    iio.imwrite(tmp_path / "c.png", rgb)
    layers = read(tmp_path / "c.png")
    assert [la.name for la in layers] == ["Red", "Green", "Blue"]
    np.testing.assert_array_equal(layers[1].data, 255 - gray)


# --------------------------------------------------------------------------- ibw / dm (synthetic via the library's output)


def _fake_ibw(data_xyc, labels, sfa=(2e-8, 2e-8), note=b"ScanSize: 5e-06\rScanPoints: 256\r"):
    return {
        "version": 5,
        "wave": {
            "wave_header": {
                "nDim": np.array([*data_xyc.shape, 0][:4]),
                "sfA": np.array([*sfa, 1.0, 1.0]),
                "dimUnits": np.array([[b"m", b"", b"", b""]] * 2 + [[b"", b"", b"", b""]] * 2),
                "bname": b"image0001",
            },
            "wData": data_xyc,
            "note": note,
            "labels": [[], [], [b"", *labels], []],
        },
    }


def test_ibw_transposes_names_and_scales(tmp_path, monkeypatch):
    from igor2 import binarywave

    rng = np.random.default_rng(1)
    yx = [ramp((8, 12)), rng.uniform(-90, 270, (8, 12)).astype(np.float32)]
    stored = np.stack([a.T for a in yx], axis=-1)  # Igor stores [x, y, channel]
    monkeypatch.setattr(
        binarywave, "load", lambda path: _fake_ibw(stored, [b"HeightRetrace", b"Phase1Retracece"])
    )
    path = tmp_path / "fake.ibw"
    path.write_bytes(b"not used: load is patched")
    layers = read(path)
    assert [la.name for la in layers] == ["Height Retrace", "Phase 1 Retrace"]
    for la, truth in zip(layers, yx):
        assert la.shape == (8, 12)
        np.testing.assert_array_equal(la.data, truth)
        assert la.scale == pytest.approx((20.0, 20.0)) and la.unit == "nm"
    assert layers[1].colormap == "twilight" and layers[1].metadata["value_unit"] == "deg"
    assert layers[0].metadata["ScanSize"] == "5e-06"


def test_ibw_without_image_channels(tmp_path, monkeypatch):
    from igor2 import binarywave

    curve = np.linspace(0, 1, 500).astype(np.float32)
    fake = _fake_ibw(curve[:, None, None], [b"Defl"])
    fake["wave"]["wData"] = curve
    fake["wave"]["wave_header"]["nDim"] = np.array([500, 0, 0, 0])
    monkeypatch.setattr(binarywave, "load", lambda path: fake)
    path = tmp_path / "force.ibw"
    path.write_bytes(b"x")
    with pytest.raises(IvaeError, match=r"force\.ibw: no image channels"):
        read(path)
    # Asylum force curve: [points, channel] with channel labels on axis 1
    curves = np.stack([curve, 2 * curve, 3 * curve], axis=1)
    fake2 = _fake_ibw(curves[:, :, None], [])
    fake2["wave"]["wData"] = curves
    fake2["wave"]["wave_header"]["nDim"] = np.array([500, 3, 0, 0])
    fake2["wave"]["labels"] = [[], [b"", b"Raw", b"Defl", b"ZSnsr"], [], []]
    monkeypatch.setattr(binarywave, "load", lambda path: fake2)
    with pytest.raises(IvaeError, match=r"force\.ibw: no image channels .*\(500, 3\)"):
        read(path)


def test_dm_calibrated_and_spectra_skipped(tmp_path, monkeypatch):
    import rsciio.digitalmicrograph as dmmod

    img = ramp((16, 20))

    def fake_reader(path, lazy=False):
        return [
            {
                "data": img,
                "axes": [
                    {
                        "name": "y",
                        "index_in_array": 0,
                        "scale": 0.02,
                        "offset": 0,
                        "units": "nm",
                        "navigate": False,
                    },
                    {
                        "name": "x",
                        "index_in_array": 1,
                        "scale": 0.02,
                        "offset": 0,
                        "units": "nm",
                        "navigate": False,
                    },
                ],
                "metadata": {"General": {"title": "HAADF"}, "Signal": {"signal_type": ""}},
            },
            {
                "data": np.zeros(100),
                "axes": [
                    {"name": "E", "index_in_array": 0, "scale": 1, "units": "eV", "navigate": False}
                ],
                "metadata": {"General": {"title": "EELS"}},
            },
        ]

    monkeypatch.setattr(dmmod, "file_reader", fake_reader)
    path = tmp_path / "fake.dm4"
    path.write_bytes(b"x")
    (layer,) = read(path)
    assert (
        layer.name == "HAADF [0]"
        and layer.scale == pytest.approx((0.02, 0.02))
        and layer.unit == "nm"
    )
    np.testing.assert_array_equal(layer.data, img)


# --------------------------------------------------------------------------- real files


@pytest.mark.real
def test_real_ibw_six_channels():
    path = real("scan_0001.ibw")
    layers = read(path)
    assert [la.name for la in layers] == [
        "Height Retrace",
        "Amplitude 1 Retrace",
        "Amplitude 2 Retrace",
        "Phase 1 Retrace",
        "Phase 2 Retrace",
        "Frequency Retrace",
    ]
    for la in layers:
        assert la.shape == (256, 256) and la.unit == "nm" and la.axes == "yx"
        # the wave's own scaling: 5 µm between the first and last pixel centres
        assert la.scale[0] == pytest.approx(5000 / 255) and la.scale[1] == pytest.approx(5000 / 255)
        assert la.scale[1] * 255 == pytest.approx(float(la.metadata["ScanSize"]) * 1e9)
    by = {la.name: la for la in layers}
    for name in ("Phase 1 Retrace", "Phase 2 Retrace"):
        ph = by[name]
        assert (
            ph.role == "phase" and ph.colormap == "twilight" and ph.metadata["value_unit"] == "deg"
        )
        assert ph.metadata["contrast_limits"] == (-90.0, 270.0)
        p = np.asarray(ph.data, np.float64)
        assert -90.0 <= p.min() and p.max() <= 270.0
        # 180° domains: phase doubled (in degrees) is concentrated; read as radians it would not be
        assert abs(np.exp(2j * np.deg2rad(p)).mean()) > 0.85
    amp = np.asarray(by["Amplitude 1 Retrace"].data)
    assert 0 < amp.min() and amp.max() < 1e-8  # metres (nm-scale PFM amplitude)
    freq = np.asarray(by["Frequency Retrace"].data, np.float64)
    assert 3e5 < freq.min() and freq.max() < 4e5  # contact resonance in Hz (drive 374 kHz)
    # row/column order: the fast scan axis is x, so scan-line jumps lie between rows
    row_jumps = np.abs(np.diff(np.median(freq, axis=1))).mean()
    col_jumps = np.abs(np.diff(np.median(freq, axis=0))).mean()
    assert row_jumps > 3 * col_jumps


@pytest.mark.real
@pytest.mark.parametrize(
    ("name", "n", "pixel_nm"),
    [
        ("PTO_Funakubo0005.tif", 4, 1000 / 255),
        ("PTO_Funakubo0007.tif", 4, 1000 / 255),
        ("PZT_final0001.tif", 8, 2000 / 255),
        ("PMN28Pt0000.tif", 4, 4000 / 255),
    ],
)
def test_real_tiffs(name, n, pixel_nm):
    layers = read(real(name))
    assert len(layers) == n
    names = [la.name for la in layers]
    assert names[:2] == ["Height Retrace", "Amplitude Retrace"]
    assert "Phase Retrace" in names
    for la in layers:
        assert la.shape == (256, 256) and la.dtype == np.float32 and la.unit == "nm"
        assert la.scale == pytest.approx((pixel_nm, pixel_nm), rel=1e-6)
    phase = layers[names.index("Phase Retrace")]
    p = np.asarray(phase.data, np.float64)
    assert phase.metadata["value_unit"] == "deg" and phase.colormap == "twilight"
    assert -90.0 <= p.min() and p.max() <= 270.0 and p.max() - p.min() > 300  # degrees, full period
    if name in ("PTO_Funakubo0007.tif", "PZT_final0001.tif"):
        assert abs(np.exp(2j * np.deg2rad(p)).mean()) > 0.7  # two levels 180° apart
    if name == "PZT_final0001.tif":
        nap = layers[names.index("Nap Phase Retrace")]
        assert nap.role == "phase" and nap.metadata["value_unit"] == "deg"  # label says (m): wrong
        assert nap.metadata["label_unit"] == "m"
    height = np.asarray(layers[0].data)
    assert np.abs(height).max() < 1e-5  # metres


@pytest.mark.real
def test_real_dm3_uncalibrated():
    (layer,) = read(real("DMReader_Image_SI-Survey.dm3"))
    assert layer.shape == (512, 512) and layer.dtype == np.uint32
    assert layer.scale == (1.0, 1.0) and layer.unit is None
    data = np.asarray(layer.data)
    assert 2_000_000 < data.min() < data.max() < 4_000_000
    assert data.std() > 1000  # an image, not a constant


@pytest.mark.real
def test_real_corrupt_ibw_and_tif(tmp_path):
    for name in ("scan_0001.ibw", "PTO_Funakubo0005.tif"):
        src = real(name)
        bad = tmp_path / name
        bad.write_bytes(src.read_bytes()[:300])  # truncated
        with pytest.raises(IvaeError, match=name.replace(".", r"\.")):
            read(bad)


# --------------------------------------------------------------------------- bad input


def test_missing_unsupported_folder_empty(tmp_path):
    with pytest.raises(IvaeError, match=r"nope\.tif: file not found"):
        read(tmp_path / "nope.tif")
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(IvaeError, match=r"x\.xyz: unsupported file type '\.xyz'"):
        read(tmp_path / "x.xyz")
    (tmp_path / "d.tif").mkdir()
    with pytest.raises(IvaeError, match="is a folder"):
        read(tmp_path / "d.tif")
    (tmp_path / "e.npy").write_bytes(b"")
    with pytest.raises(IvaeError, match="empty"):
        read(tmp_path / "e.npy")


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".npz", ".png", ".ibw", ".dm3"])
def test_corrupt_files(tmp_path, suffix):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(IvaeError, match=rf"junk\{suffix}"):
        read(path)


def test_one_d_and_nonfinite(tmp_path):
    np.save(tmp_path / "line.npy", np.arange(10.0))
    with pytest.raises(IvaeError, match=r"line\.npy.*shape \(10,\)"):
        read(tmp_path / "line.npy")
    np.save(tmp_path / "nan.npy", np.full((8, 8), np.nan))
    with pytest.raises(IvaeError, match=r"nan\.npy.*only NaN/inf"):
        read(tmp_path / "nan.npy")
    img = ramp((8, 8))
    img[2, 3] = np.nan
    img[4, 4] = np.inf
    np.save(tmp_path / "some.npy", img)
    with pytest.warns(UserWarning, match=r"some\.npy.*2 NaN/inf"):
        (layer,) = read(tmp_path / "some.npy")
    assert layer.metadata["n_nonfinite"] == 2
    assert np.isnan(layer.data[2, 3])  # kept as is


def test_clean_file_emits_no_warning(tmp_path):
    np.save(tmp_path / "ok.npy", ramp((8, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (layer,) = read(tmp_path / "ok.npy")
    assert layer.metadata["n_nonfinite"] == 0


def test_to_layer_data(tmp_path):
    layer = ImageLayer(
        np.zeros((4, 5)),
        "Phase",
        (2.0, 2.0),
        "nm",
        "yx",
        "phase",
        "twilight",
        "/x.ibw",
        {"value_unit": "deg", "contrast_limits": (-90.0, 270.0)},
    )
    data, kwargs, kind = layer.to_layer_data()
    assert kind == "image" and data is layer.data
    assert (
        kwargs["name"] == "Phase"
        and kwargs["scale"] == (2.0, 2.0)
        and kwargs["colormap"] == "twilight"
    )
    assert kwargs["contrast_limits"] == (-90.0, 270.0)
    assert kwargs["metadata"] == {
        "value_unit": "deg",
        "unit": "nm",
        "source": "/x.ibw",
        "role": "phase",
        "axes": "yx",
        "calibrated": True,
        "pixel_size": (2.0, 2.0),
        "pixel_size_nm": (2.0, 2.0),
    }
    assert kwargs["units"] == ("nm", "nm") and kwargs["visible"] is True


def test_to_layer_data_units_and_uncalibrated():
    stack = ImageLayer(np.zeros((3, 4, 5)), "Amp", (1.0, 0.5, 0.5), "µm", "tyx", "amplitude")
    _, kw, _ = stack.to_layer_data(visible=False)
    assert kw["units"] == ("", "um", "um") and kw["visible"] is False
    assert kw["metadata"]["pixel_size_nm"] == (500.0, 500.0)
    plain = ImageLayer(np.zeros((4, 5)), "img", (1.0, 1.0), None, "yx")
    _, kw, _ = plain.to_layer_data()
    assert "units" not in kw and kw["metadata"]["calibrated"] is False
    assert kw["metadata"]["pixel_size_nm"] is None


def test_real_files_copy_not_needed_for_dispatch(tmp_path):
    """Suffix dispatch is case-insensitive."""
    np.save(tmp_path / "a.npy", ramp((4, 4)))
    shutil.copy(tmp_path / "a.npy", tmp_path / "B.NPY")
    (layer,) = read(tmp_path / "B.NPY")
    assert layer.shape == (4, 4)
