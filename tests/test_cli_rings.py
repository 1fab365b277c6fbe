"""``ivae rings``: the CSV contract against the simulator's truth, and bad inputs (exit 2, nothing written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.simulate import simulate_stem


@pytest.fixture(scope="module")
def sample():
    return simulate_stem((160, 160), n_grains=1, stone_wales=2, vacancy_fraction=0.0, seed=73)


def test_rings_csv_matches_truth(tmp_path, sample, capsys):
    atoms, image, out = tmp_path / "atoms.csv", tmp_path / "image.npy", tmp_path / "rings.csv"
    sample.atoms[["y", "x", "intensity"]].to_csv(atoms, index=False)
    np.save(image, sample.image)
    assert main(["rings", str(atoms), "--image", str(image), "-o", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == [
        "y",
        "x",
        "intensity",
        "ring_sizes",
        "ring_count",
        "ring_label",
        "border",
    ]
    ok = sample.rings.ring_known & ~table.border
    assert ok.sum() > 150
    assert (table.ring_label[ok] == sample.rings.ring_label[ok]).all()
    assert (table.ring_sizes[ok].astype(str) == sample.rings.ring_sizes[ok]).all()
    assert {"5;7;7", "5;6;7"} <= set(table.ring_sizes)
    assert "ring_label" in capsys.readouterr().err
    assert not list(tmp_path.glob(".rings.csv.*"))


def test_rings_per_frame(tmp_path, sample):
    a = sample.atoms[["y", "x"]]
    both = pd.concat([a.assign(frame=0), (a + 0.1).assign(frame=1)], ignore_index=True)
    both.to_csv(tmp_path / "atoms.csv", index=False)
    assert main(["rings", str(tmp_path / "atoms.csv"), "-o", str(tmp_path / "r.csv")]) == 0
    table = pd.read_csv(tmp_path / "r.csv")
    n = len(a)
    assert np.array_equal(table.ring_label[:n].to_numpy(), table.ring_label[n:].to_numpy())


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ({"y": [1.0, 2.0], "x": [1.0, 5.0]}, [], "at least 3 atoms"),
        ({"y": [0.0, 100.0, 0.0], "x": [0.0, 0.0, 200.0]}, ["--bond-length", "8"], "no bonds"),
        ({"row": [0.0, 1.0, 2.0], "x": [0.0, 1.0, 2.0]}, [], "columns 'y' and 'x'"),
        ({"y": [0.0, 1.0, 2.0], "x": [0.0, 1.0, 2.0]}, ["--tolerance", "3"], "--tolerance"),
    ],
)
def test_bad_inputs_exit_2_and_write_nothing(tmp_path, capsys, rows, extra, message):
    pd.DataFrame(rows).to_csv(tmp_path / "atoms.csv", index=False)
    out = tmp_path / "rings.csv"
    assert main(["rings", str(tmp_path / "atoms.csv"), "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ivae: error: ") and message in err and "\n" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "atoms.csv"]
