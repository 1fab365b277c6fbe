"""HDF5 spectrum images (.hspy, .emd) stay on disk: memory-mapped when contiguous, else chunked.

Ground truth: the array written; every reading (pixel spectra, band maps,
means, band caches, structure spectra, decompositions) equals the same
reading of that array in memory.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from napari_ivae import _spectrum_cache as sc
from napari_ivae.cli import main
from napari_ivae.spectra import (
    SpectrumImage,
    _lazy,
    decompose,
    is_spectrum_image_file,
    read_spectrum_image,
)
from napari_ivae.structure import spectra_at

h5py = pytest.importorskip("h5py")


def _cube(h=6, w=6, e=40, seed=0):
    """Counts whose every pixel differs (a swapped or reversed axis would show)."""
    rng = np.random.default_rng(seed)
    data = rng.poisson(40, (h, w, e)) + np.arange(h * w).reshape(h, w, 1)
    return data.astype(np.float32), 1.0 + 0.05 * np.arange(e)


def _signal(data, energy):
    axes = [
        {"name": n, "size": data.shape[i], "scale": 0.5, "offset": 0.0, "units": "nm",
         "navigate": True, "index_in_array": i} for i, n in enumerate("yx")
    ] + [{"name": "Energy loss", "size": data.shape[2], "scale": float(energy[1] - energy[0]),
          "offset": float(energy[0]), "units": "eV", "navigate": False, "index_in_array": 2}]  # fmt: skip
    return {
        "data": data, "axes": axes, "original_metadata": {}, "tmp_parameters": {},
        "metadata": {"General": {"title": "h5 SI"}, "Signal": {"signal_type": "EELS"}},
        "attributes": {"_lazy": False}, "package_info": {"name": "napari-ivae", "version": "0"},
        "learning_results": {}, "models": {},
    }  # fmt: skip


def _contiguous(path, dtype=None):
    """Rewrite the file's one 3-D dataset as a plain (contiguous, unfiltered) block."""
    with h5py.File(path, "a") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if getattr(o, "ndim", 0) == 3 else None)
        (name,) = names
        old = f[name]
        values, attrs = old[()], dict(old.attrs)
        del f[name]
        new = f.create_dataset(name, data=values.astype(dtype or values.dtype))
        assert new.chunks is None
        new.attrs.update(attrs)


def _write(tmp_path, kind, data, energy, layout="chunked", dtype=None):
    from rsciio.emd import file_writer as write_emd
    from rsciio.hspy import file_writer as write_hspy

    path = tmp_path / f"si_{layout}.{kind}"
    (write_hspy if kind == "hspy" else write_emd)(str(path), _signal(data, energy))
    if layout == "contiguous":
        _contiguous(path, dtype)
    return path


@pytest.mark.parametrize("kind", ["hspy", "emd"])
@pytest.mark.parametrize("dtype", [None, ">f4", "<u2"])
def test_contiguous_datasets_are_memory_mapped(tmp_path, kind, dtype):
    data, energy = _cube()  # a square scan: y and x could be swapped, and EMD stores (E, X, Y)
    path = _write(tmp_path, kind, data, energy, "contiguous", dtype)
    si = read_spectrum_image(path)
    assert isinstance(si.data, np.memmap)
    assert si.metadata["storage"] == "memmap" and si.metadata["memmap"]
    assert np.array_equal(si.data, data) and np.allclose(si.energy, energy)
    assert si.data.dtype == np.dtype(dtype or np.float32)
    assert np.array_equal(si.spectrum(1, 4), data[1, 4]) and is_spectrum_image_file(path)


@pytest.mark.parametrize("kind", ["hspy", "emd"])
def test_chunked_datasets_read_exactly_without_loading(tmp_path, kind):
    data, energy = _cube(h=7, w=5)
    path = _write(tmp_path, kind, data, energy)
    si = read_spectrum_image(path)
    assert isinstance(si.data, _lazy.ChunkedArray)
    assert si.metadata["storage"] == "chunked" and not si.metadata["memmap"]
    assert np.array_equal(np.asarray(si.data), data) and si.data.nbytes == data.nbytes
    ref = SpectrumImage(data, energy)
    assert np.array_equal(si.spectrum(6, 2), data[6, 2])
    for key in (np.s_[-1, ::2], np.s_[2], np.s_[1:3, 4, 5:9], np.s_[..., 3], np.s_[5:2]):
        assert np.array_equal(si.data[key], data[key])  # h5py reads, or dask's
    assert np.array_equal(si.band_map(1.19, 1.61), ref.band_map(1.19, 1.61))
    assert np.array_equal(si.total_map(), ref.total_map())
    mask = np.zeros((7, 5), bool)
    mask[2:5, 1:4] = True
    assert np.array_equal(si.mean_spectrum(mask), ref.mean_spectrum(mask))
    ys, xs = np.array([0, 6, 3, 3]), np.array([4, 0, 2, 2])
    assert np.allclose(sc.mean_at(si.data, ys, xs), sc.mean_at(data, ys, xs), rtol=1e-12)
    lazy, mem = sc.BandSums(si.data, block=8), sc.BandSums(data, block=8)
    for i0, i1 in ((3, 5), (0, 40), (5, 31)):  # before the cache, then through it
        assert np.array_equal(lazy.band_map(i0, i1), mem.band_map(i0, i1))
    lazy.build_now(), mem.build_now()
    for i0, i1 in ((0, 40), (5, 31), (9, 12)):
        assert np.array_equal(lazy.band_map(i0, i1), mem.band_map(i0, i1))
    pts = np.array([[0.0, 0.0], [3.0, 2.0], [6.0, 4.0]])
    assert np.array_equal(spectra_at(si, pts, 1), spectra_at(data, pts, 1))


def test_decomposition_of_a_chunked_file_matches_the_in_memory_one(tmp_path):
    data, energy = _cube(h=9, w=8, e=30, seed=3)
    si = read_spectrum_image(_write(tmp_path, "hspy", data, energy))
    ref = SpectrumImage(data, energy)
    assert si.metadata["storage"] == "chunked"
    ref64 = SpectrumImage(data.astype(np.float64), energy)  # scikit-learn's PCA in float64
    pca, pca_ref = decompose(si, "pca", 3), decompose(ref64, "pca", 3)
    np.testing.assert_allclose(pca.components, pca_ref.components, atol=1e-9)
    np.testing.assert_allclose(pca.maps, pca_ref.maps, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        pca.scores["explained_variance_ratio"], pca_ref.scores["explained_variance_ratio"],
        rtol=1e-9,
    )  # fmt: skip
    nmf, nmf_ref = decompose(si, "nmf", 2, max_iter=50), decompose(ref, "nmf", 2, max_iter=50)
    assert np.array_equal(nmf.maps, nmf_ref.maps)
    assert np.array_equal(nmf.components, nmf_ref.components)


def test_chunked_reads_allocate_a_block_not_the_file(tmp_path, monkeypatch):
    """A pixel, points and a band map of an 8 MiB chunked SI, and a memmap's read: < 2 MiB."""
    rng = np.random.default_rng(1)
    data = rng.poisson(3, (64, 64, 512)).astype(np.float32)
    energy = np.arange(512.0)
    path = _write(tmp_path, "hspy", data, energy)
    plain = _write(tmp_path, "hspy", data, energy, "contiguous")
    monkeypatch.setattr(_lazy, "BLOCK_BYTES", 2**20)
    tracemalloc.start()
    try:
        si = read_spectrum_image(path)
        spectrum = si.spectrum(40, 17)
        mean = sc.mean_at(si.data, np.array([3, 60]), np.array([5, 9]))
        band = si.band_map(100, 140)
        mapped = read_spectrum_image(plain)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert mapped.metadata["storage"] == "memmap" and np.array_equal(mapped.data[40, 17], spectrum)
    assert si.metadata["storage"] == "chunked" and data.nbytes == 8 * 2**20
    assert np.array_equal(spectrum, data[40, 17])
    assert np.allclose(mean, (data[3, 5] + data[60, 9]) / 2)
    assert np.array_equal(band, data[:, :, 100:141].sum(-1, dtype=np.float32))


def test_info_says_how_the_counts_are_stored(tmp_path, capsys):
    data, energy = _cube()
    chunked = _write(tmp_path, "hspy", data, energy)
    plain = _write(tmp_path, "hspy", data, energy, "contiguous")
    assert main(["info", str(chunked)]) == 0
    out = capsys.readouterr().out
    assert "storage:    on disk, chunked (read in blocks)" in out
    assert "6×6×40 (y, x, energy), float32" in out and "values:" in out
    assert main(["info", str(plain)]) == 0
    assert "storage:    memory-mapped" in capsys.readouterr().out
