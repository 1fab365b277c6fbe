"""HDF5 spectrum images on disk: read times and peak memory, chunked (gzip) vs memory-mapped.

Writes one (H, W, E) float32 Poisson SI twice into a temporary folder — as
HyperSpy writes it (rosettasciio: gzip chunks) and as one contiguous HDF5
block — reads each with ``read_spectrum_image`` and times what the Spectrum
dock and the CLI do: a pixel spectrum (median of 50), a band map (30
channels), the total map, the mean of 1000 points, the band cache build and
a 3-component PCA, with the peak Python-traced memory (``tracemalloc``:
NumPy buffers) of each.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_spectra_hdf5.py \
        [--shape 256 256 512]

Measured (busy shared 2-core machine, default 256×256×512 = 128 MiB; the
chunked file is 20 MiB, rosettasciio's default 22×22×512 gzip chunks):

================== chunked (gzip)  memmap (contiguous)
read               93 ms, 0.2 MiB   41 ms, 0.0 MiB
spectrum(y, x)     5.4 ms           0.01 ms
band map (30 ch)   0.90 s, 3.6 MiB  11 ms, 0.5 MiB
total map          0.93 s, 55 MiB   23 ms, 0.5 MiB
mean of 1000 pts   1.4 s, 4.9 MiB   2.7 ms, 2.0 MiB
band cache build   1.5 s, 225 MiB   0.37 s, 193 MiB
PCA (3)            3.7 s, 132 MiB   10.2 s, 198 MiB (scikit-learn on the map)

(peak = tracemalloc's, NumPy buffers; the band cache itself is 33 MiB.)  Every
band map, mean or cache build of a chunked file decompresses all the chunks it
touches: an energy band touches all of them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def _write(folder: Path, data: np.ndarray) -> tuple[Path, Path]:
    import h5py
    from rsciio.hspy import file_writer

    energy_axis = {"name": "E", "size": data.shape[2], "scale": 0.1, "offset": 0.0,
                   "units": "eV", "navigate": False, "index_in_array": 2}  # fmt: skip
    axes = [{"name": n, "size": data.shape[i], "scale": 1.0, "offset": 0.0, "units": "nm",
             "navigate": True, "index_in_array": i} for i, n in enumerate("yx")]  # fmt: skip
    signal = {"data": data, "axes": [*axes, energy_axis], "metadata": {"General": {"title": "b"}},
              "original_metadata": {}, "attributes": {"_lazy": False}, "tmp_parameters": {},
              "package_info": {"name": "bench", "version": "0"}, "learning_results": {},
              "models": {}}  # fmt: skip
    chunked, plain = folder / "chunked.hspy", folder / "plain.hspy"
    file_writer(str(chunked), signal, show_progressbar=False)
    file_writer(str(plain), signal, show_progressbar=False)
    with h5py.File(plain, "a") as f:
        name = "Experiments/b/data"
        attrs = dict(f[name].attrs)
        del f[name]
        f.create_dataset(name, data=data).attrs.update(attrs)
    return chunked, plain


def _measure(label: str, fn) -> float:
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label:<22} {1000 * dt:9.1f} ms   peak {peak / 2**20:7.1f} MiB")
    return dt


def main() -> None:
    from napari_ivae._spectrum_cache import BandSums, mean_at
    from napari_ivae.spectra import decompose, read_spectrum_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(256, 256, 512))
    args = parser.parse_args()
    h, w, e = args.shape
    data = np.random.default_rng(0).poisson(5.0, (h, w, e)).astype(np.float32)
    print(f"SI {h}×{w}×{e} float32, {data.nbytes / 2**20:.0f} MiB")
    rng = np.random.default_rng(1)
    ys, xs = rng.integers(0, h, 1000), rng.integers(0, w, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = _write(Path(tmp), data)
        print(f"written in {time.perf_counter() - t0:.1f} s: "
              + ", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MiB" for p in paths))  # fmt: skip
        for path in paths:
            si = read_spectrum_image(path)
            print(f"{path.name}: storage {si.metadata['storage']}")
            _measure("read", lambda p=path: read_spectrum_image(p))
            times = []
            for y, x in zip(ys[:50], xs[:50], strict=True):
                t0 = time.perf_counter()
                si.spectrum(y, x)
                times.append(time.perf_counter() - t0)
            print(f"  {'spectrum(y, x)':<22} {1000 * np.median(times):9.2f} ms (median of 50)")
            _measure("band map, 30 channels", lambda s=si: s.band_map(10.0, 12.9))
            _measure("total map", si.total_map)
            _measure("mean of 1000 points", lambda s=si: mean_at(s.data, ys, xs))
            _measure("band cache build", lambda s=si: BandSums(s.data).build_now())
            _measure("PCA, 3 components", lambda s=si: decompose(s, "pca", 3))


if __name__ == "__main__":
    main()
