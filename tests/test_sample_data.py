"""The shipped sample data: files = seeded regeneration, ground truth consistent, npe2 adapters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae import IvaeError
from napari_ivae.sample_data import (
    SAMPLE_DIR,
    SAMPLE_NAMES,
    SAMPLE_SPECS,
    load_sample,
    pfm_sample,
    sample_files_present,
    simulate_sample,
    stem_sample,
    switching_sample,
)

REPO = Path(__file__).resolve().parents[1]
shipped = pytest.mark.skipif(
    not all(sample_files_present(n) for n in SAMPLE_NAMES), reason="sample_data/ not present"
)


def boundary_pixels(d: np.ndarray) -> np.ndarray:
    out = np.zeros(d.shape, dtype=bool)
    dy = d[..., 1:, :] != d[..., :-1, :]
    dx = d[..., :, 1:] != d[..., :, :-1]
    out[..., 1:, :] |= dy
    out[..., :-1, :] |= dy
    out[..., :, 1:] |= dx
    out[..., :, :-1] |= dx
    return out


def assert_same_sample(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and np.array_equal(va, vb), key
        elif isinstance(va, pd.DataFrame):
            pd.testing.assert_frame_equal(va, vb, check_exact=True)
        elif key != "source":
            assert va == vb, key


@shipped
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_shipped_files_equal_fresh_regeneration(name):
    from_file = load_sample(name)
    assert from_file["source"] == "file"
    fresh = simulate_sample(name)
    assert fresh["source"] == "simulated"
    assert_same_sample(from_file, fresh)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_regenerates_without_the_folder(tmp_path, name):
    s = load_sample(name, folder=tmp_path)
    assert s["source"] == "simulated"
    assert_same_sample(s, simulate_sample(name))


@shipped
def test_stem_sample_ground_truth():
    s = load_sample("stem")
    img, atoms, vac = s["image"], s["atoms"], s["vacancies"]
    assert img.shape == (512, 512) and img.dtype == np.float32
    assert list(atoms.columns) == ["y", "x", "kind", "grain", "intensity"]
    h, w = img.shape
    assert ((atoms.y >= 0) & (atoms.y <= h - 1) & (atoms.x >= 0) & (atoms.x <= w - 1)).all()
    assert set(atoms.kind) == {"host", "dopant"} and atoms.grain.nunique() == 3
    assert 2500 <= len(atoms) <= 4000 and len(vac) > 10
    # dopants are brighter than hosts at their positions on the noisy image
    yy, xx = np.rint(atoms.y).astype(int), np.rint(atoms.x).astype(int)
    val = img[yy, xx]
    assert np.median(val[atoms.kind == "dopant"]) > 1.4 * np.median(val[atoms.kind == "host"])
    vy, vx = np.rint(vac.y).astype(int), np.rint(vac.x).astype(int)
    assert np.median(img[vy, vx]) < 0.6 * np.median(val[atoms.kind == "host"])
    # 12 Stone–Wales defects: each rotated bond's two atoms sit in one pentagon and two
    # heptagons (a few may touch a grain boundary, which changes their pattern)
    from napari_ivae.rings import ring_statistics

    rings = ring_statistics(atoms, shape=img.shape)
    assert 20 <= (rings.ring_sizes[~rings.border] == "5;7;7").sum() <= 24


@shipped
def test_pfm_samples_ground_truth():
    p = load_sample("pfm")
    assert p["amplitude"].shape == p["phase"].shape == p["domains"].shape == (256, 256)
    assert p["phase"].min() >= -180 and p["phase"].max() < 180
    assert np.array_equal(p["walls"], boundary_pixels(p["domains"]))
    s = load_sample("switching")
    assert s["domains"].shape == (6, 192, 192)
    assert np.all(np.diff(s["switched_fraction"]) > 0)
    assert np.allclose(s["switched_fraction"], (s["domains"] == 1).mean(axis=(1, 2)))
    assert np.array_equal(s["walls"], boundary_pixels(s["domains"]))


@shipped
def test_switching_sample_has_pinning_defects_that_pin_walls():
    """The 8 defects never switch; by the last frame every one is an island in switched
    domain, ringed by a wall that stays at the same place in the frames after it is engulfed."""
    from scipy import ndimage

    s = load_sample("switching")
    pin, d, walls = s["pinning"], s["domains"], s["walls"]
    assert pin.dtype == bool and pin.shape == (192, 192)
    assert (d[:, pin] == -1).all()  # never switch
    lab, n = ndimage.label(pin)
    assert n == SAMPLE_SPECS["switching"]["kwargs"]["n_pins"] == 8
    ring = ndimage.binary_dilation(pin, iterations=1) & ~pin
    for i in range(1, n + 1):
        around = ndimage.binary_dilation(lab == i, iterations=1) & ~pin
        engulfed = [t for t in range(d.shape[0]) if (d[t][around] == 1).all()]
        assert engulfed and engulfed[-1] == d.shape[0] - 1
        for t in engulfed:
            assert walls[t][around & ring].all()  # the pinned wall ring is there
    assert s["params"]["n_pins"] == 8 and len(s["params"]["pin_sites"]) == 8


@shipped
def test_shipped_files_small_and_calibrated():
    total = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir() if p.is_file())
    assert total < 4e6  # 3.56 MB with the switching series' pinning mask
    assert (SAMPLE_DIR / "README.md").is_file()
    with tifffile.TiffFile(SAMPLE_DIR / "pfm_switching.tif") as tif:
        assert tif.series[0].axes == "TCYX" and tif.series[0].shape == (6, 2, 192, 192)
        assert tif.imagej_metadata["Labels"][:2] == ["Amplitude", "Phase"]
        num, den = tif.pages[0].tags["XResolution"].value
        assert den / num == pytest.approx(SAMPLE_SPECS["switching"]["pixel_size"])
    with tifffile.TiffFile(SAMPLE_DIR / "stem_graphene.tif") as tif:
        assert tif.imagej_metadata["unit"] == "nm"
        num, den = tif.pages[0].tags["XResolution"].value
        assert den / num == pytest.approx(SAMPLE_SPECS["stem"]["pixel_size"], rel=1e-6)
    params = json.loads((SAMPLE_DIR / "params.json").read_text())
    assert params["stem"]["seed"] == SAMPLE_SPECS["stem"]["kwargs"]["seed"]


def test_script_rewrites_identical_files(tmp_path):
    script = REPO / "scripts" / "make_sample_data.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True
    )
    for name in SAMPLE_NAMES:
        s = load_sample(name, folder=tmp_path)
        assert s["source"] == "file"
        assert_same_sample(s, simulate_sample(name))


def test_npe2_adapters_layer_data():
    layers = stem_sample()
    assert len(layers) == 1
    data, kw, kind = layers[0]
    assert kind == "image" and data.shape == (512, 512)
    assert kw["name"] == "STEM (simulated graphene)" and len(kw["scale"]) == 2
    assert kw["metadata"]["unit"] == "nm"
    (amp, akw, ak), (ph, pkw, pk) = pfm_sample()
    assert (akw["name"], pkw["name"]) == ("Amplitude", "Phase") and ak == pk == "image"
    assert pkw["colormap"] == "twilight" and akw["colormap"] == "gray"
    assert amp.shape == ph.shape == (256, 256) and ph.min() >= -180 and ph.max() < 180
    (samp, skw, _), (sph, spkw, _) = switching_sample()
    assert samp.shape == sph.shape == (6, 192, 192) and len(skw["scale"]) == 3
    assert spkw["colormap"] == "twilight"


def test_npe2_layer_data_builds_napari_layers():
    layers = pytest.importorskip("napari.layers")
    for data, kwargs, kind in stem_sample() + pfm_sample() + switching_sample():
        layer = layers.Layer.create(data, kwargs, kind)
        assert layer.name == kwargs["name"]
        assert np.allclose(layer.scale, kwargs["scale"])


def test_sample_data_does_not_import_napari_or_torch():
    code = (
        "import sys; from napari_ivae import sample_data as s; s.stem_sample(); s.pfm_sample(); "
        "bad = [m for m in ('napari', 'torch', 'qtpy', 'PyQt6') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_sample_name():
    with pytest.raises(IvaeError, match="name"):
        load_sample("tem")
