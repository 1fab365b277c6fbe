"""crop / Stack: ground-truth slices, borders, bookkeeping, normalisation, errors, CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae import IvaeError
from napari_ivae.cli import main
from napari_ivae.crop import Stack, crop
from napari_ivae.io import ImageLayer

REAL = Path(os.environ["IVAE_REAL_DATA"])  # set by tests/conftest.py


def ramp(shape):
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


@pytest.mark.parametrize("window", [5, 8])
def test_crop_equals_slice(window):
    img = ramp((50, 60))
    pts = pd.DataFrame({"y": [10, 25, 40], "x": [12, 30, 50]})
    st = crop(img, pts, window=window, normalize="none")
    assert st.images.shape == (3, 1, window, window) and st.images.dtype == np.float32
    assert st.images.flags.c_contiguous
    h = window // 2
    for i, (y, x) in enumerate(zip(pts.y, pts.x)):
        np.testing.assert_array_equal(
            st.images[i, 0], img[y - h : y - h + window, x - h : x - h + window]
        )
        assert st.images[i, 0, h, h] == img[y, x]  # the point sits at (w//2, w//2)
    np.testing.assert_array_equal(st.index, [0, 1, 2])
    np.testing.assert_array_equal(st.frame, [0, 0, 0])
    np.testing.assert_array_equal(st.yx, pts[["y", "x"]].to_numpy(float))
    assert st.channels == ("ch0",) and len(st) == 3 and st.window == window


def test_subpixel_positions_snap_to_nearest_centre():
    img = ramp((30, 30))
    pts = pd.DataFrame({"y": [10.4, 10.5, 10.6, 9.5], "x": [10.49, 10.0, 9.51, 10.0]})
    st = crop(img, pts, window=3, normalize="none")
    centres = st.images[:, 0, 1, 1]
    np.testing.assert_array_equal(centres, [img[10, 10], img[11, 10], img[11, 10], img[10, 10]])
    np.testing.assert_array_equal(st.yx, pts.to_numpy())  # original coordinates kept


def test_drop_border_bookkeeping_and_frames():
    stack = ramp((3, 40, 40))
    pts = pd.DataFrame(
        {
            "y": [20, 1, 20, 38, 15, 20],
            "x": [20, 20, 2, 20, 15, 45],  # rows 1, 2, 3 cross the border; row 5 is outside
            "frame": [0, 1, 2, 0, 2, 1],
            "score": np.arange(6.0),
        }
    )
    st = crop(stack, pts, window=8, normalize="none")
    np.testing.assert_array_equal(st.index, [0, 4])
    np.testing.assert_array_equal(st.frame, [0, 2])
    np.testing.assert_array_equal(st.images[1, 0], stack[2, 11:19, 11:19])
    # row order in the table is kept, a joined table maps back by index
    assert pts.iloc[st.index]["score"].tolist() == [0.0, 4.0]


@pytest.mark.parametrize("border", ["reflect", "edge"])
def test_pad_modes_match_numpy_pad(border):
    img = np.random.default_rng(0).normal(size=(20, 24)).astype(np.float32)
    window = 9
    pts = np.array([[0, 0], [19, 23], [3, 12], [10, 1], [10, 10], [19, 0]], float)
    st = crop(img, pts, window=window, border=border, normalize="none")
    padded = np.pad(img, window, mode=border)
    h = window // 2
    assert len(st) == len(pts)
    for i, (y, x) in enumerate(pts.astype(int)):
        ref = padded[
            y + window - h : y + window - h + window, x + window - h : x + window - h + window
        ]
        np.testing.assert_array_equal(st.images[i, 0], ref)


def test_constant_border_zero_after_normalisation():
    img = np.random.default_rng(1).normal(5.0, 2.0, size=(20, 20)).astype(np.float32)
    pts = np.array([[0.0, 0.0], [10.0, 10.0]])
    raw = crop(img, pts, window=6, border="constant", normalize="none")
    np.testing.assert_array_equal(raw.images[0, 0, :3, :], 0)  # rows -3..-1 outside
    np.testing.assert_array_equal(raw.images[0, 0, 3:, 3:], img[0:3, 0:3])
    z = crop(img, pts, window=6, border="constant", normalize="zscore")
    inside = np.concatenate([z.images[0, 0, 3:, 3:].ravel(), z.images[1, 0].ravel()])
    assert inside.mean() == pytest.approx(0.0, abs=1e-5) and inside.std() == pytest.approx(
        1.0, abs=1e-4
    )
    np.testing.assert_array_equal(z.images[0, 0, :3, :], 0)


def test_constant_border_minmax_uses_in_image_pixels():
    img = np.random.default_rng(5).uniform(10.0, 20.0, size=(20, 20)).astype(np.float32)
    st = crop(
        img, np.array([[19.0, 19.0], [8.0, 8.0]]), window=8, border="constant", normalize="minmax"
    )
    inside = st.images[0, 0, :5, :5]  # rows/cols 15..19 are in the image
    assert inside.min() == 0.0 and inside.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(st.images[0, 0, 5:, :], 0.0)
    assert st.images[1, 0].min() == 0.0 and st.images[1, 0].max() == pytest.approx(1.0)


def test_points_with_centre_outside_are_dropped_in_pad_modes():
    img = ramp((20, 20))
    st = crop(img, np.array([[-3.0, 5.0], [5.0, 5.0], [5.0, 19.6]]), window=4, border="edge")
    np.testing.assert_array_equal(st.index, [1])


def test_multichannel_and_names():
    rng = np.random.default_rng(2)
    amp, phase = rng.normal(size=(2, 32, 32)).astype(np.float32)
    layers = [
        ImageLayer(amp, "Amplitude", (1.0, 1.0), None, "yx"),
        ImageLayer(phase, "Phase", (1.0, 1.0), None, "yx"),
    ]
    st = crop(layers, np.array([[16.0, 16.0]]), window=4, normalize="none")
    assert st.channels == ("Amplitude", "Phase") and st.images.shape == (1, 2, 4, 4)
    np.testing.assert_array_equal(st.images[0, 1], phase[14:18, 14:18])
    st = crop([amp, phase], np.array([[16.0, 16.0]]), window=4, channels=["a", "p"])
    assert st.channels == ("a", "p")


def test_points_as_napari_array_frame_y_x():
    stack = ramp((2, 16, 16))
    st = crop(stack, np.array([[1, 8, 8], [0, 5, 6]]), window=4, normalize="none")
    np.testing.assert_array_equal(st.frame, [1, 0])
    np.testing.assert_array_equal(st.images[0, 0], stack[1, 6:10, 6:10])


def test_normalisation():
    rng = np.random.default_rng(3)
    a = rng.normal(100.0, 10.0, size=(64, 64)).astype(np.float32)
    b = rng.normal(-1e-9, 1e-10, size=(64, 64)).astype(np.float32)
    pts = rng.uniform(8, 56, size=(50, 2))
    z = crop([a, b], pts, window=8, normalize="zscore")
    for c in range(2):
        vals = z.images[:, c].astype(np.float64)
        assert vals.mean() == pytest.approx(0.0, abs=1e-4) and vals.std() == pytest.approx(
            1.0, abs=1e-3
        )
    raw = crop([a, b], pts, window=8, normalize="none")
    expected = (raw.images[:, 0] - raw.images[:, 0].mean(dtype=np.float64)) / raw.images[:, 0].std(
        dtype=np.float64
    )
    np.testing.assert_allclose(z.images[:, 0], expected, atol=1e-4)
    m = crop([a, b], pts, window=8, normalize="minmax")
    np.testing.assert_allclose(m.images.min(axis=(2, 3)), 0.0, atol=1e-6)
    np.testing.assert_allclose(m.images.max(axis=(2, 3)), 1.0, atol=1e-6)
    flat = crop(np.ones((16, 16), np.float32), np.array([[8.0, 8.0]]), window=4, normalize="minmax")
    np.testing.assert_array_equal(flat.images, 0.0)  # constant crop: no division by zero
    flat = crop(np.ones((16, 16), np.float32), np.array([[8.0, 8.0]]), window=4, normalize="zscore")
    np.testing.assert_array_equal(flat.images, 0.0)


def _lattice(n=128, d=8.0, seed=0):
    """Square lattice of Gaussian columns, one 1.8× brighter column, noise; positions."""
    rng = np.random.default_rng(seed)
    c = np.arange(d / 2, n, d)
    pts = np.array([(y, x) for y in c for x in c])
    yy, xx = np.mgrid[:n, :n]
    amp = np.ones(len(pts))
    dopant = int(np.argmin(np.abs(pts - [n * 0.7, n * 0.7]).sum(1)))
    amp[dopant] = 1.8
    img = np.zeros((n, n))
    for (y, x), a in zip(pts, amp):
        img += a * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5**2))
    return img + rng.normal(0, 0.05, img.shape), pts, dopant, yy, xx


def test_local_normalisation_removes_background_keeps_dopant():
    img, pts, dopant, yy, xx = _lattice()
    n = img.shape[0]
    gain = 1.0 + 0.8 * xx / n  # contrast changes across the scan
    blob = np.exp(-((yy - 30) ** 2 + (xx - 30) ** 2) / (2 * 20.0**2))  # contamination
    dirty = img * gain + 3.0 * yy / n + 2.0 * blob
    sep = {}  # dopant above the median host, in host standard deviations
    for mode in ("local", "background", "zscore"):
        nb = None if mode == "zscore" else 24
        got = crop(dirty, pts, window=9, normalize=mode, neighborhood=nb)
        assert np.all(np.isfinite(got.images))
        peak = got.images[:, 0, 4, 4]
        i = int(np.flatnonzero(got.index == dopant)[0])
        host = np.delete(peak, i)
        sep[mode] = (peak[i] - np.median(host)) / host.std()
        if mode == "local":  # gain, ramp and blob gone: hosts about as uniform as without them
            clean = crop(img, pts, window=9, normalize=mode, neighborhood=24)
            ref = np.delete(clean.images[:, 0, 4, 4], i)
            assert host.std() / host.mean() < 2 * ref.std() / ref.mean()
            assert peak[i] > host.max()
    assert sep["local"] > 5 and sep["local"] > 2.5 * sep["zscore"]
    assert sep["background"] > 1.5 * sep["zscore"]


def test_local_background_is_the_plane_and_the_noise():
    from napari_ivae.crop import local_background

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:96, :80]
    plane = 5.0 + 0.03 * yy - 0.02 * xx
    bg, spread = local_background(plane + rng.normal(0, 0.5, plane.shape), 24)
    assert bg.shape == plane.shape and bg.dtype == np.float32
    assert np.abs(bg - plane)[12:-12, 12:-12].max() < 0.25
    assert np.median(spread) == pytest.approx(0.5, rel=0.1)
    bg, spread = local_background(np.full((20, 30), 7.0), 100)  # one tile, flat
    np.testing.assert_allclose(bg, 7.0)
    np.testing.assert_allclose(spread, 1.0)  # flat: never a division by ~0


def test_local_normalisation_options_checked():
    img = np.zeros((64, 64), np.float32)
    pts = np.array([[32.0, 32.0]])
    with pytest.raises(IvaeError, match=r"normalize='l2' is not one of .*'local', 'background'"):
        crop(img, pts, window=8, normalize="l2")
    with pytest.raises(IvaeError, match="neighborhood=20 is only used by normalize='local'"):
        crop(img, pts, window=8, neighborhood=20)
    with pytest.raises(IvaeError, match=r"neighborhood=2 is out of range; expected 3 ≤"):
        crop(img, pts, window=8, normalize="local", neighborhood=2)
    with pytest.raises(IvaeError, match=r"neighborhood=9\.5 must be an integer"):
        crop(img, pts, window=8, normalize="local", neighborhood=9.5)
    st = crop(np.stack([img, img + 1]), np.array([[1, 32, 32]]), window=8, normalize="local")
    np.testing.assert_array_equal(st.images, 0.0)  # flat frames: zero, finite


def test_memmap_input_is_read_lazily(tmp_path):
    img = ramp((64, 64))
    np.save(tmp_path / "img.npy", img)
    mm = np.load(tmp_path / "img.npy", mmap_mode="r")
    st = crop(mm, np.array([[32.0, 32.0]]), window=6, normalize="none")
    np.testing.assert_array_equal(st.images[0, 0], img[29:35, 29:35])


def test_errors():
    img = np.zeros((64, 64), np.float32)
    pts = np.array([[32.0, 32.0]])
    with pytest.raises(IvaeError, match=r"^window=80 is larger than the image \(64×64\)$"):
        crop(img, pts, window=80)
    with pytest.raises(IvaeError, match="window=1 is too small"):
        crop(img, pts, window=1)
    with pytest.raises(IvaeError, match=r"window=8\.5 must be an integer"):
        crop(img, pts, window=8.5)
    with pytest.raises(IvaeError, match="no points"):
        crop(img, pd.DataFrame({"y": [], "x": []}), window=8)
    with pytest.raises(IvaeError, match="needs columns 'y' and 'x'"):
        crop(img, pd.DataFrame({"row": [1.0]}), window=8)
    with pytest.raises(IvaeError, match="NaN/inf y or x"):
        crop(img, np.array([[np.nan, 3.0]]), window=8)
    with pytest.raises(IvaeError, match="border='wrap' is not one of"):
        crop(img, pts, window=8, border="wrap")
    with pytest.raises(IvaeError, match="normalize='l2' is not one of"):
        crop(img, pts, window=8, normalize="l2")
    stack = np.zeros((3, 32, 32), np.float32)
    with pytest.raises(IvaeError, match=r"frame outside 0…2 \(row 1 has frame=3"):
        crop(stack, pd.DataFrame({"y": [5, 5], "x": [5, 5], "frame": [0, 3]}), window=4)
    with pytest.raises(IvaeError, match="no 'frame' column, but the images have 3 frames"):
        crop(stack, pts / 2, window=4)
    with pytest.raises(
        IvaeError, match=r"channels differ in shape \(ch0 \(1, 64, 64\), ch1 \(1, 32, 32\)\)"
    ):
        crop([img, np.zeros((32, 32))], pts, window=8)
    with pytest.raises(IvaeError, match="none of the 1 points can be cropped"):
        crop(img, np.array([[1.0, 1.0]]), window=8)
    with pytest.raises(IvaeError, match="3 names given for 1 images"):
        crop(img, pts, window=8, channels=["a", "b", "c"])


def test_nan_inside_crop_is_an_error_outside_is_fine():
    img = np.ones((40, 40), np.float32)
    img[5, 5] = np.nan
    st = crop(img, np.array([[30.0, 30.0]]), window=8)  # NaN far away: fine
    assert len(st) == 1
    with pytest.raises(
        IvaeError, match=r"NaN/inf pixels inside 1 of 2 crops \(first: point at row 1, y=6, x=6\)"
    ):
        crop(img, np.array([[30.0, 30.0], [6.0, 6.0]]), window=8)


def test_stack_save_load_roundtrip(tmp_path):
    img = ramp((2, 30, 30))
    st = crop(
        [img, -img],
        pd.DataFrame({"y": [10, 20], "x": [10.2, 15], "frame": [1, 0]}),
        window=6,
        channels=["a", "b"],
    )
    path = st.save(tmp_path / "sub" / "stack.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["stack.npz"]  # no temp file left
    with np.load(path) as npz:
        assert sorted(npz.files) == ["channels", "frame", "images", "index", "normalize", "yx"]
        assert npz["images"].dtype == np.float32 and npz["images"].shape == (2, 2, 6, 6)
    back = Stack.load(path)
    np.testing.assert_array_equal(back.images, st.images)
    np.testing.assert_array_equal(back.yx, st.yx)
    np.testing.assert_array_equal(back.frame, [1, 0])
    np.testing.assert_array_equal(back.index, [0, 1])
    assert back.channels == ("a", "b")
    assert st.normalize == back.normalize == "zscore"  # how the crops were normalised
    bare = Stack(st.images, st.yx, st.frame, st.index, st.channels)  # unknown: not written
    with np.load(bare.save(tmp_path / "bare.npz")) as npz:
        assert "normalize" not in npz.files
    assert Stack.load(tmp_path / "bare.npz").normalize is None


def test_stack_load_images_only_and_bad(tmp_path):
    np.savez(tmp_path / "n.npz", images=np.zeros((5, 8, 8)))
    st = Stack.load(tmp_path / "n.npz")
    assert st.images.shape == (5, 1, 8, 8) and st.images.dtype == np.float32
    np.testing.assert_array_equal(st.index, np.arange(5))
    assert st.channels == ("ch0",) and np.isnan(st.yx).all()
    np.savez(tmp_path / "c.npz", images=np.zeros((4, 3, 8, 8), np.float64))
    assert Stack.load(tmp_path / "c.npz").channels == ("ch0", "ch1", "ch2")
    np.savez(tmp_path / "none.npz", data=np.zeros((4, 8, 8)))
    with pytest.raises(IvaeError, match=r"none\.npz: no 'images' array"):
        Stack.load(tmp_path / "none.npz")
    np.savez(tmp_path / "flat.npz", images=np.zeros(10))
    with pytest.raises(IvaeError, match="expected \\(N, H, W\\) or \\(N, C, H, W\\)"):
        Stack.load(tmp_path / "flat.npz")
    np.savez(tmp_path / "mismatch.npz", images=np.zeros((4, 8, 8)), index=np.arange(3))
    with pytest.raises(IvaeError, match="index has 3 rows; images has 4"):
        Stack.load(tmp_path / "mismatch.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(IvaeError, match=r"junk\.npz: cannot read"):
        Stack.load(tmp_path / "junk.npz")
    with pytest.raises(IvaeError, match="not found"):
        Stack.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def pfm_files(tmp_path):
    rng = np.random.default_rng(4)
    data = np.stack(
        [rng.normal(size=(48, 48)), rng.uniform(0, 1e-9, (48, 48)), rng.uniform(-90, 270, (48, 48))]
    ).astype(np.float32)
    image = tmp_path / "pfm.tif"
    tifffile.imwrite(
        image,
        data,
        imagej=True,
        resolution=(100.0, 100.0),
        metadata={
            "axes": "CYX",
            "unit": "um",
            "Labels": ["HeightRetrace (m)", "AmplitudeRetrace (m)", "PhaseRetrace (deg)"],
        },
    )
    points = tmp_path / "points.csv"
    pd.DataFrame({"y": [24.0, 2.0, 30.2, 10.0], "x": [24.0, 24.0, 11.7, 40.0]}).to_csv(
        points, index=False
    )
    return data, image, points


def test_cli_crop_contract(pfm_files, tmp_path, capsys):
    data, image, points = pfm_files
    out = tmp_path / "stack.npz"
    code = main(
        [
            "crop",
            str(image),
            "--points",
            str(points),
            "--window",
            "8",
            "--channels",
            "amplitude",
            "--channels",
            "PHASE",
            "--normalize",
            "none",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "kept 3 of 4 points, dropped 1" in text and "Amplitude Retrace, Phase Retrace" in text
    with np.load(out) as npz:
        assert npz["images"].shape == (3, 2, 8, 8) and npz["images"].dtype == np.float32
        assert (
            npz["yx"].shape == (3, 2) and npz["frame"].shape == (3,) and npz["index"].shape == (3,)
        )
        np.testing.assert_array_equal(npz["index"], [0, 2, 3])
        np.testing.assert_array_equal(
            npz["images"][1, 1], data[2, 26:34, 8:16]
        )  # (30.2, 11.7) -> (30, 12)
        assert list(npz["channels"]) == ["Amplitude Retrace", "Phase Retrace"]


def test_cli_crop_default_amplitude_phase_by_role_and_napari_csv(pfm_files, tmp_path, capsys):
    _, image, _ = pfm_files
    points = tmp_path / "napari.csv"
    pd.DataFrame({"index": [0, 1], "axis-0": [20.0, 30.0], "axis-1": [20.0, 25.0]}).to_csv(
        points, index=False
    )
    out = tmp_path / "all.npz"
    assert main(["crop", str(image), "--points", str(points), "--window", "6", "-o", str(out)]) == 0
    st = Stack.load(out)
    assert st.channels == ("Amplitude Retrace", "Phase Retrace")  # height left out
    assert st.images.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(st.images[:, 1].mean(), 0.0, atol=1e-5)  # zscore default
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "note: channels 'Amplitude Retrace', 'Phase Retrace' chosen by role "
        "(choose others with --channels)",
        "note: --normalize zscore chosen for amplitude, phase channels "
        "(choose another with --normalize)",
    ]
    # --channels still overrides
    argv = ["crop", str(image), "--points", str(points), "--window", "6", "-o", str(out)]
    assert main([*argv, "--channels", "height,phase"]) == 0
    assert Stack.load(out).channels == ("Height Retrace", "Phase Retrace")


def test_cli_crop_auto_local_for_intensity_images(tmp_path, capsys):
    img, pts, _, yy, xx = _lattice()
    image = tmp_path / "haadf.npy"
    np.save(image, (img * (1 + xx / 128) + 3 * yy / 128).astype(np.float32))
    points = tmp_path / "atoms.csv"
    pd.DataFrame({"y": pts[:, 0], "x": pts[:, 1]}).to_csv(points, index=False)
    out = tmp_path / "s.npz"
    argv = ["crop", str(image), "--points", str(points), "--window", "9", "-o", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "note: --normalize local chosen for image channels" in err
    st = Stack.load(out)
    ref = crop(np.load(image), pts, window=9, normalize="local")
    np.testing.assert_allclose(st.images, ref.images)
    assert main([*argv, "--neighborhood", "24"]) == 0
    ref = crop(np.load(image), pts, window=9, normalize="local", neighborhood=24)
    np.testing.assert_allclose(Stack.load(out).images, ref.images)
    capsys.readouterr()
    assert main([*argv, "--normalize", "zscore", "--neighborhood", "24"]) == 2
    assert (
        "--neighborhood is only used by --normalize local or background" in capsys.readouterr().err
    )
    assert main([*argv, "--neighborhood", "2"]) == 2
    assert "--neighborhood=2 is too small" in capsys.readouterr().err
    assert main([*argv, "--neighborhood", "500"]) == 2
    assert "--neighborhood=500 is out of range" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "80"], "--window=80 is larger than the image (48×48)"),
        (
            ["--window", "8", "--channels", "deflection"],
            "--channels 'deflection' matches no channel",
        ),
        (["--window", "1"], "--window=1 is too small"),
    ],
)
def test_cli_crop_errors_exit_2(pfm_files, tmp_path, capsys, args, message):
    _, image, points = pfm_files
    out = tmp_path / "x.npz"
    assert main(["crop", str(image), "--points", str(points), *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_cli_crop_bad_points_file(pfm_files, tmp_path, capsys):
    _, image, _ = pfm_files
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert (
        main(
            [
                "crop",
                str(image),
                "--points",
                str(bad),
                "--window",
                "8",
                "-o",
                str(tmp_path / "o.npz"),
            ]
        )
        == 2
    )
    assert "needs columns 'y' and 'x' (found: a, b)" in capsys.readouterr().err


@pytest.mark.real
def test_cli_crop_real_ibw(tmp_path, capsys):
    path = REAL / "scan_0001.ibw"
    if not path.is_file():
        pytest.skip("real data not available")
    points = tmp_path / "p.csv"
    pd.DataFrame({"y": [128.0, 64.0, 3.0], "x": [128.0, 200.0, 3.0]}).to_csv(points, index=False)
    out = tmp_path / "s.npz"
    assert (
        main(
            [
                "crop",
                str(path),
                "--points",
                str(points),
                "--window",
                "32",
                "--channels",
                "amplitude 1,phase 1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    st = Stack.load(out)
    assert st.channels == ("Amplitude 1 Retrace", "Phase 1 Retrace") and st.images.shape == (
        2,
        2,
        32,
        32,
    )


def test_stack_take_keeps_rows_with_their_origin():
    img = np.arange(40 * 40, dtype=np.float32).reshape(40, 40)
    pts = pd.DataFrame({"y": [1.0, 10.0, 20.0, 30.0, 20.0], "x": [1.0, 10.0, 12.0, 30.0, 25.0]})
    stack = crop(img, pts, window=8, normalize="none")  # the first point is dropped
    part = stack.take(np.array([True, False, True, True]))
    np.testing.assert_array_equal(part.index, [1, 3, 4])
    np.testing.assert_array_equal(part.yx, pts.to_numpy()[[1, 3, 4]])
    for row, i in enumerate(part.index):  # each crop is still centred on its own point
        y, x = pts.loc[i, ["y", "x"]].astype(int)
        assert part.images[row, 0, 4, 4] == img[y, x]
    assert part.channels == stack.channels and part.normalize == stack.normalize
    np.testing.assert_array_equal(stack.take([3, 0]).index, [4, 1])
