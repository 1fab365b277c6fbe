"""Spectrum images: reader round trips with their energy axis, exact band maps, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ivae._errors import IvaeError
from napari_ivae.spectra import (
    SpectrumImage,
    is_spectrum_image_file,
    read_spectrum_image,
    write_spectrum_image,
)


def _cube(h=5, w=7, e=11, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(50, (h, w, e)).astype(np.float32), 1.0 + 0.05 * np.arange(e)


def test_npz_round_trip(tmp_path):
    data, energy = _cube()
    np.savez(tmp_path / "si.npz", data=data, energy=energy, unit="eV")
    si = read_spectrum_image(tmp_path / "si.npz")
    assert np.array_equal(si.data, data) and np.array_equal(si.energy, energy)
    assert (si.unit, si.name, si.shape, si.n_energy) == ("eV", "si", (5, 7, 11), 11)
    assert si.energy.dtype == np.float64
    assert si.dispersion == pytest.approx(0.05)
    assert isinstance(si.data, np.memmap) and si.metadata["memmap"]  # np.savez stores it plain
    big = np.arange(3 * 4 * 70000, dtype=np.float64).reshape(3, 4, 70000)  # data after energy
    np.savez(tmp_path / "big.npz", energy=np.arange(70000.0), data=big)
    assert np.array_equal(read_spectrum_image(tmp_path / "big.npz").data, big)
    np.savez_compressed(tmp_path / "z.npz", data=data, energy=energy)
    si_z = read_spectrum_image(tmp_path / "z.npz")
    assert not si_z.metadata["memmap"] and np.array_equal(si_z.data, data)
    fortran = np.asfortranarray(data)
    np.savez(tmp_path / "f.npz", data=fortran, energy=energy)
    si_f = read_spectrum_image(tmp_path / "f.npz")
    assert not si_f.metadata["memmap"] and np.array_equal(si_f.data, data)
    assert is_spectrum_image_file(tmp_path / "si.npz")
    np.savez(tmp_path / "img.npz", image=data[..., 0])
    assert not is_spectrum_image_file(tmp_path / "img.npz")


def test_npy_is_memory_mapped(tmp_path):
    data, _ = _cube()
    np.save(tmp_path / "si.npy", data)
    si = read_spectrum_image(tmp_path / "si.npy")
    assert isinstance(si.data, np.memmap) and si.metadata["memmap"]
    assert si.unit == "channel" and np.array_equal(si.energy, np.arange(11))
    assert np.array_equal(si.spectrum(2, 3), data[2, 3])


def _hspy_signal(data, energy):
    axes = [
        {"name": "y", "size": data.shape[0], "scale": 0.5, "offset": 0.0, "units": "nm",
         "navigate": True, "index_in_array": 0},
        {"name": "x", "size": data.shape[1], "scale": 0.5, "offset": 0.0, "units": "nm",
         "navigate": True, "index_in_array": 1},
        {"name": "Energy loss", "size": data.shape[2], "scale": float(energy[1] - energy[0]),
         "offset": float(energy[0]), "units": "eV", "navigate": False, "index_in_array": 2},
    ]  # fmt: skip
    return {
        "data": data,
        "axes": axes,
        "metadata": {"General": {"title": "test SI"}, "Signal": {"signal_type": "EELS"}},
        "original_metadata": {},
        "attributes": {"_lazy": False},
        "tmp_parameters": {},
        "package_info": {"name": "napari-ivae", "version": "0"},
        "learning_results": {},
        "models": {},
    }


def test_hspy_and_emd_round_trip(tmp_path):
    pytest.importorskip("h5py")
    from rsciio.emd import file_writer as write_emd
    from rsciio.hspy import file_writer as write_hspy

    data, energy = _cube()
    write_hspy(str(tmp_path / "si.hspy"), _hspy_signal(data, energy))
    si = read_spectrum_image(tmp_path / "si.hspy")
    assert np.array_equal(si.data, data) and np.allclose(si.energy, energy)
    assert (si.unit, si.name, si.metadata["signal_type"]) == ("eV", "test SI", "EELS")
    assert si.metadata["pixel_size"] == (0.5, 0.5) and si.metadata["pixel_unit"] == "nm"
    assert is_spectrum_image_file(tmp_path / "si.hspy")
    write_emd(str(tmp_path / "si.emd"), _hspy_signal(data, energy))
    si = read_spectrum_image(tmp_path / "si.emd")
    assert np.array_equal(si.data, data) and np.allclose(si.energy, energy)


def test_band_map_is_the_numpy_sum_over_the_band():
    data, energy = _cube(e=40)
    si = SpectrumImage(data, energy)
    i0, i1 = si.band_indices(1.2, 1.5)
    assert (i0, i1) == (4, 11)  # 1.20 … 1.50 inclusive
    assert np.all((energy[i0:i1] >= 1.2 - 1e-12) & (energy[i0:i1] <= 1.5 + 1e-12))
    expected = data[:, :, 4:11].astype(np.float64).sum(axis=-1)
    band = si.band_map(1.5, 1.2)  # either order
    assert band.dtype == np.float32 and band.shape == (5, 7)
    assert np.array_equal(band, expected.astype(np.float32))
    assert np.array_equal(si.total_map(), data.astype(np.float64).sum(-1).astype(np.float32))
    floats = np.random.default_rng(1).random((6, 4, 40))  # float64: summed in float64
    fsi = SpectrumImage(floats, energy)
    assert np.allclose(fsi.band_map(1.2, 1.5), floats[:, :, 4:11].sum(-1), rtol=1e-6, atol=0)
    counts = SpectrumImage(data.astype(np.uint16), energy)  # converted block by block
    assert np.array_equal(counts.band_map(1.2, 1.5), expected.astype(np.float32))
    energy_slowest = np.moveaxis(np.ascontiguousarray(np.moveaxis(data, -1, 0)), 0, -1)
    dm_like = SpectrumImage(energy_slowest, energy)  # (E, Y, X) on disk, as DM stores an SI
    assert np.array_equal(dm_like.band_map(1.2, 1.5), expected.astype(np.float32))
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:6] = True
    assert np.allclose(si.mean_spectrum(mask), data[mask].astype(np.float64).mean(axis=0))


@pytest.mark.parametrize(
    ("data", "energy", "message"),
    [
        (np.zeros((4, 5)), np.arange(5.0), "must be 3-D"),
        (np.zeros((3, 4, 5)), np.arange(6.0), "expected (5,)"),
        (np.zeros((3, 4, 5)), np.array([0, 1, 1, 2, 3.0]), "strictly increasing"),
        (np.zeros((3, 4, 5)), np.array([0, 1, np.nan, 2, 3.0]), "NaN"),
    ],
)
def test_bad_spectrum_image(data, energy, message):
    with pytest.raises(IvaeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SpectrumImage(data, energy)


def test_bad_requests_name_the_value():
    si = SpectrumImage(*_cube())
    with pytest.raises(IvaeError, match="holds no channel"):
        si.band_map(9.0, 10.0)
    with pytest.raises(IvaeError, match=r"\(9, 1\) is outside the scan \(5×7\)"):
        si.spectrum(9, 1)
    with pytest.raises(IvaeError, match="selects no pixel"):
        si.mean_spectrum(np.zeros((5, 7), bool))
    with pytest.raises(IvaeError, match="expected the scan shape"):
        si.mean_spectrum(np.ones((7, 5), bool))


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"data": np.zeros((3, 4, 5))}, "missing 'energy'"),
        ({"data": np.zeros((3, 4)), "energy": np.arange(4.0)}, "must be 3-D"),
        ({"data": np.zeros((3, 4, 5)), "energy": np.arange(4.0)}, "energy axis has shape"),
    ],
)
def test_bad_files_name_the_file(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(IvaeError, match=message) as err:
        read_spectrum_image(path)
    assert "bad.npz" in str(err.value)


def test_bad_paths(tmp_path):
    with pytest.raises(IvaeError, match="no such file"):
        read_spectrum_image(tmp_path / "nope.npz")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(IvaeError, match=r"cannot read spectrum images from '\.txt'"):
        read_spectrum_image(tmp_path / "a.txt")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(IvaeError, match=r"flat\.npy: a spectrum image must be 3-D"):
        read_spectrum_image(tmp_path / "flat.npy")
    (tmp_path / "junk.hspy").write_bytes(b"not hdf5")
    with pytest.raises(IvaeError, match=r"junk\.hspy: cannot read it as a spectrum image"):
        read_spectrum_image(tmp_path / "junk.hspy")


def test_write_spectrum_image_round_trip(tmp_path):
    data, energy = _cube()
    si = SpectrumImage(data, energy, "eV", "my SI")
    write_spectrum_image(tmp_path / "out.npz", si)
    back = read_spectrum_image(tmp_path / "out.npz")
    assert isinstance(back.data, np.memmap) and np.array_equal(back.data, data)
    assert np.array_equal(back.energy, energy) and (back.unit, back.name) == ("eV", "my SI")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temp file left
    with pytest.raises(IvaeError, match=r"must end in \.npz"):
        write_spectrum_image(tmp_path / "out.npy", si)
