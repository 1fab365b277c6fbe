"""The ``ivae detect`` command-line contract: headers, dtypes, shapes, exit codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae.cli import main
from napari_ivae.detect._metrics import match_points, wall_f1
from napari_ivae.simulate import simulate_pfm, simulate_stem


@pytest.fixture(scope="module")
def stem():
    return simulate_stem((192, 192), seed=1010)


@pytest.fixture(scope="module")
def pfm():
    return simulate_pfm((160, 160), seed=1011, noise=20.0, drift=90.0, scanline_noise=10.0)


def _multichannel_pfm(path, sample):
    """An Asylum-like ImageJ TIFF: Height, Amplitude, Phase (deg) channels with labels."""
    height = np.zeros_like(sample.amplitude) + np.linspace(0, 1, sample.amplitude.shape[1])
    data = np.stack([height, sample.amplitude, sample.phase]).astype(np.float32)
    labels = ["HeightRetrace (m)", "AmplitudeRetrace (m)", "PhaseRetrace (deg)"]
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "CYX", "Labels": labels})


def test_atoms_csv_contract(tmp_path, stem, capsys):
    src = tmp_path / "stem.npy"
    np.save(src, stem.image)
    out = tmp_path / "atoms.csv"
    assert main(["detect", "atoms", str(src), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "y,x,score,intensity,sublattice"
    table = pd.read_csv(out)
    m = match_points(table[["y", "x"]].to_numpy(), stem.atoms[["y", "x"]].to_numpy())
    assert m["f1"] >= 0.99
    assert "atoms" in capsys.readouterr().err
    assert not list(tmp_path.glob(".atoms.csv.*"))  # no temporary file left behind


def test_atoms_on_a_calibrated_file_reports_the_spacing_in_nm(tmp_path, capsys):
    """The shipped calibrated sample (pixel size in its TIFF tags): the summary line
    gives the spacing in px and nm (the (y, x) pixel size once crashed the line)."""
    from pathlib import Path

    src = Path(__file__).parents[1] / "sample_data" / "stem_graphene.tif"
    out = tmp_path / "atoms.csv"
    assert main(["detect", "atoms", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert " nm)" in err and "spacing" in err
    truth = pd.read_csv(src.with_name("stem_graphene_atoms.csv"))
    table = pd.read_csv(out)
    assert {"y_nm", "x_nm"} <= set(table.columns)
    assert match_points(table[["y", "x"]].to_numpy(), truth[["y", "x"]].to_numpy())["f1"] >= 0.95


def test_atoms_stack_has_frame_column(tmp_path, stem):
    src = tmp_path / "stack.tif"
    tifffile.imwrite(
        src, np.stack([stem.image, stem.image[::-1]]), imagej=True, metadata={"axes": "TYX"}
    )
    out = tmp_path / "atoms.csv"
    assert main(["detect", "atoms", str(src), "--method", "log", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "y,x,score,intensity,sublattice,frame"
    table = pd.read_csv(out)
    assert set(table["frame"]) == {0, 1}
    assert abs((table["frame"] == 0).sum() - (table["frame"] == 1).sum()) <= 3


def test_atoms_channel_by_name(tmp_path, stem):
    src = tmp_path / "two.tif"
    data = np.stack([np.random.default_rng(0).normal(size=stem.image.shape), stem.image])
    tifffile.imwrite(
        src,
        data.astype(np.float32),
        imagej=True,
        metadata={"axes": "CYX", "Labels": ["BF", "HAADF"]},
    )
    out = tmp_path / "a.csv"
    assert main(["detect", "atoms", str(src), "--channel", "haadf", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert (
        match_points(table[["y", "x"]].to_numpy(), stem.atoms[["y", "x"]].to_numpy())["f1"] >= 0.99
    )
    assert main(["detect", "atoms", str(src), "--channel", "nope", "-o", str(out)]) == 2


@pytest.mark.parametrize("method", ["gaussian", "canny"])
def test_walls_multichannel_contract(tmp_path, pfm, method):
    src = tmp_path / "scan.tif"
    _multichannel_pfm(src, pfm)
    out = tmp_path / "walls.tif"
    pts = tmp_path / "walls.csv"
    code = main(
        [
            "detect",
            "walls",
            str(src),
            "--method",
            method,
            "-o",
            str(out),
            "--points",
            str(pts),
            "--stride",
            "5",
        ]
    )
    assert code == 0
    mask = tifffile.imread(out)
    assert mask.dtype == np.uint8 and mask.shape == pfm.phase.shape
    assert set(np.unique(mask)) <= {0, 1}
    floor = 0.95 if method == "gaussian" else 0.85
    assert wall_f1(mask.astype(bool), pfm.walls)["f1"] >= floor
    assert pts.read_text().splitlines()[0] == "y,x,frame,orientation"
    table = pd.read_csv(pts)
    assert len(table) > 10 and (table["frame"] == 0).all()
    assert mask[table["y"].astype(int), table["x"].astype(int)].all()


def test_walls_separate_amplitude_and_domains(tmp_path, pfm):
    ph, amp = tmp_path / "phase.npy", tmp_path / "amp.npy"
    np.save(ph, pfm.phase)
    np.save(amp, pfm.amplitude)
    out, dom = tmp_path / "w.npy", tmp_path / "d.tif"
    assert (
        main(
            [
                "detect",
                "walls",
                str(ph),
                "--amplitude",
                str(amp),
                "-o",
                str(out),
                "--domains",
                str(dom),
            ]
        )
        == 0
    )
    mask = np.load(out)
    assert mask.dtype == np.uint8 and mask.shape == pfm.phase.shape
    d = tifffile.imread(dom)
    agree = (d == pfm.domains).mean()
    assert max(agree, 1 - agree) >= 0.98


def test_exit_code_2_on_user_errors(tmp_path, pfm, capsys):
    out = tmp_path / "w.tif"
    assert main(["detect", "walls", str(tmp_path / "missing.tif"), "-o", str(out)]) == 2
    assert "ivae: error:" in capsys.readouterr().err
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((64, 64), dtype=np.float32))
    assert main(["detect", "walls", str(flat), "-o", str(out)]) == 2
    assert "constant" in capsys.readouterr().err
    assert main(["detect", "atoms", str(flat), "-o", str(tmp_path / "a.csv")]) == 2
    ph, amp = tmp_path / "phase.npy", tmp_path / "amp.npy"
    np.save(ph, pfm.phase)
    np.save(amp, pfm.amplitude[:64, :64])
    assert main(["detect", "walls", str(ph), "--amplitude", str(amp), "-o", str(out)]) == 2
    assert "differs" in capsys.readouterr().err
    assert main(["detect", "walls", str(ph), "--method", "sobel", "-o", str(out)]) == 2
    assert main(["detect", "walls", str(ph), "-o", str(tmp_path / "w.png")]) == 2
    assert main(["detect", "walls", str(ph), "-o", str(tmp_path / "nodir" / "w.tif")]) == 2
    assert main(["detect", "atoms", str(ph)]) == 2  # -o is required
    assert not out.exists()
