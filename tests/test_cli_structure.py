"""``ivae structure train|predict`` on a small simulated nanoparticle scan: the RUN folder,
predictions with uncertainty, and bad inputs (one line, exit 2, nothing written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.simulate import simulate_nanoparticle_si


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    sim = simulate_nanoparticle_si((48, 48), 32, seed=3)
    d = tmp_path_factory.mktemp("structure")
    np.save(d / "image.npy", sim.image)
    np.savez(d / "si.npz", data=sim.si.data, energy=sim.si.energy)
    yy, xx = np.mgrid[4:44:4, 4:44:4]
    pd.DataFrame({"y": yy.ravel(), "x": xx.ravel()}).to_csv(d / "p.csv", index=False)
    run = d / "run"
    args = ["structure", "train", str(d / "image.npy"), str(d / "si.npz"), "--model", "dual",
            "--points", str(d / "p.csv"), "--window", "12", "--epochs", "2", "--latent-dim",
            "2", "--device", "cpu", "-q", "-o", str(run)]  # fmt: skip
    assert main(args) == 0
    return d, sim


def test_train_writes_the_run_folder(files):
    d, _ = files
    assert sorted(p.name for p in (d / "run").iterdir()) == [
        "history.csv",
        "latent.csv",
        "model.ivae",
    ]
    latent = pd.read_csv(d / "run" / "latent.csv")
    assert list(latent.columns) == ["y", "x", "zi0", "zi1", "zs0", "zs1"] and len(latent) == 100
    assert len(pd.read_csv(d / "run" / "history.csv")) == 2


def test_predict_both_directions_with_uncertainty(files):
    d, _ = files
    common = ["structure", "predict", str(d / "run"), "--points", str(d / "p.csv")]
    assert main([*common, "--image", str(d / "image.npy"), "--uncertainty", "--samples", "4",
                 "-o", str(d / "spectra.npy")]) == 0  # fmt: skip
    spectra, std = np.load(d / "spectra.npy"), np.load(d / "spectra_std.npy")
    assert spectra.shape == std.shape == (100, 32) and np.isfinite(spectra).all()
    assert (std > 0).any()
    assert main([*common, "--spectra", str(d / "si.npz"), "-o", str(d / "patches.npy")]) == 0
    assert np.load(d / "patches.npy").shape == (100, 12, 12)
    assert not (d / "patches_std.npy").exists()


def _bad_si(d):
    sim = simulate_nanoparticle_si((40, 48), 32, seed=3)
    np.savez(d / "bad_si.npz", data=sim.si.data, energy=sim.si.energy)
    return str(d / "bad_si.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"points": [[10, 60]]}, "outside the 48×48 scan"),
        ({"window": "64"}, "window must be between 8 and the image's smaller side 48"),
        ({"si": _bad_si}, "differs from the image shape"),
    ],
)
def test_bad_inputs_exit_2_and_write_nothing(files, tmp_path, capsys, change, message):
    d, _ = files
    points = d / "p.csv"
    if "points" in change:
        points = tmp_path / "bad.csv"
        pd.DataFrame(change["points"], columns=["y", "x"]).to_csv(points, index=False)
    si = change["si"](tmp_path) if "si" in change else str(d / "si.npz")
    out = tmp_path / "run"
    args = ["structure", "train", str(d / "image.npy"), si, "--model", "im2spec", "--points",
            str(points), "--window", change.get("window", "12"), "--epochs", "1", "-q",
            "-o", str(out)]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert not out.exists()


def test_predict_refuses_the_wrong_direction(files, tmp_path, capsys):
    d, _ = files
    run = tmp_path / "run"
    assert main(["structure", "train", str(d / "image.npy"), str(d / "si.npz"), "--model",
                 "spec2im", "--points", str(d / "p.csv"), "--window", "12", "--epochs", "1",
                 "-q", "-o", str(run)]) == 0  # fmt: skip
    out = tmp_path / "s.npy"
    assert main(["structure", "predict", str(run), "--image", str(d / "image.npy"), "--points",
                 str(d / "p.csv"), "-o", str(out)]) == 2  # fmt: skip
    assert "predicts image patches, not spectra" in capsys.readouterr().err
    assert not out.exists()
