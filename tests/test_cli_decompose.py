"""``ivae decompose`` and ``ivae info`` on spectrum images; the napari reader's SI layer; the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae._reader import get_reader, read_layer_data
from napari_ivae.cli import main
from napari_ivae.simulate import simulate_nanoparticle_si
from napari_ivae.spectra import SpectrumImage


@pytest.fixture(scope="module")
def si_file(tmp_path_factory):
    sim = simulate_nanoparticle_si((40, 40), 64, radius=3.0, seed=2)
    path = tmp_path_factory.mktemp("si") / "np_si.npz"
    np.savez(path, data=sim.si.data, energy=sim.si.energy, unit="eV")
    return path, sim


def test_info_shows_the_energy_axis(si_file, capsys):
    path, sim = si_file
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    step = (sim.si.energy[-1] - sim.si.energy[0]) / 63
    assert "spectrum image" in out and "40×40×64 (y, x, energy), float32" in out
    assert f"start 1 eV, step {step:.6g} eV/channel, end 4 eV, 64 channels" in out


def test_info_spectrum_flag_reads_npy_as_a_spectrum_image(tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.ones((4, 5, 6), np.float32))
    assert main(["info", "--spectrum", str(tmp_path / "c.npy")]) == 0
    out = capsys.readouterr().out
    assert "start 0 channel, step 1 channel/channel" in out and "memory-mapped" in out


def test_decompose_writes_maps_and_components(si_file, tmp_path, capsys):
    path, sim = si_file
    out = tmp_path / "nmf"
    assert main(["decompose", str(path), "--method", "nmf", "--components", "3",
                 "-o", str(out)]) == 0  # fmt: skip
    maps = tifffile.imread(out / "maps.tif")
    table = pd.read_csv(out / "components.csv")
    assert maps.shape == (3, 40, 40) and list(table.columns) == ["energy", "c0", "c1", "c2"]
    assert np.allclose(table.energy, sim.si.energy)
    assert "NMF of 40×40×64 into 3 components" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--components", "0"], "--components=0 is out of range"),
        (["--components", "65"], "n_components=65 is out of range"),
        (["--method", "ica"], "Invalid value for '--method'"),
    ],
)
def test_decompose_bad_options_exit_2_and_write_nothing(si_file, tmp_path, capsys, args, message):
    path, _ = si_file
    assert main(["decompose", str(path), *args, "-o", str(tmp_path / "d")]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_decompose_bad_files_exit_2(tmp_path, capsys):
    np.savez(tmp_path / "img.npz", image=np.zeros((4, 4)))
    assert main(["decompose", str(tmp_path / "img.npz"), "-o", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ivae: error:") and "missing 'data', 'energy'" in err
    neg = np.full((4, 4, 8), -1.0, np.float32)
    np.savez(tmp_path / "neg.npz", data=neg, energy=np.arange(8.0))
    assert main(["decompose", str(tmp_path / "neg.npz"), "-o", str(tmp_path / "d")]) == 2
    assert "128 negative counts" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.npz", "neg.npz"]


def test_reader_gives_a_layer_that_holds_the_spectrum_image(si_file):
    path, sim = si_file
    assert get_reader(str(path)) is read_layer_data
    assert get_reader(str(path.with_suffix(".hspy"))) is read_layer_data
    (data, kwargs, kind), = read_layer_data(str(path))  # fmt: skip
    si = kwargs["metadata"]["spectrum_image"]
    assert kind == "image" and isinstance(si, SpectrumImage)
    assert data.shape == (40, 40) and np.array_equal(data, sim.si.data.sum(-1, dtype=np.float32))
    assert kwargs["metadata"]["energy_band"] == (1.0, 4.0)
    assert si.shape == (40, 40, 64) and np.array_equal(si.data, sim.si.data)


def test_open_sample_makes_a_nanoparticle_si_quickly():
    import time

    from napari_ivae.sample_data import NANOPARTICLE_SAMPLE, nanoparticle_sample

    t0 = time.perf_counter()
    (image, ik, _), (total, sk, _) = nanoparticle_sample()
    assert time.perf_counter() - t0 < 10
    si = sk["metadata"]["spectrum_image"]
    assert si.shape == (*NANOPARTICLE_SAMPLE["shape"], NANOPARTICLE_SAMPLE["n_energy"])
    assert image.shape == si.shape[:2] and np.array_equal(total, si.total_map())
    assert len(ik["metadata"]["centers"]) == len(ik["metadata"]["arrangement"]) > 5
