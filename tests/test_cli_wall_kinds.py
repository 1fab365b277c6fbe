"""``ivae detect walls --kind ... --maps``: masks, kind column, maps TIFF, exit codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from napari_ivae.cli import main
from napari_ivae.detect._metrics import wall_f1
from napari_ivae.io import read
from napari_ivae.simulate import simulate_ferroelastic


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("kinds")
    s = simulate_ferroelastic((128, 128), seed=31)
    tifffile.imwrite(d / "phase.tif", s.phase)
    tifffile.imwrite(d / "amp.tif", s.amplitude)
    return d, s


def _walls(d, *extra):
    return ["detect", "walls", str(d / "phase.tif"), "--amplitude", str(d / "amp.tif"), *extra]


def test_non180_mask_points_and_maps(files):
    d, s = files
    out, pts, maps = d / "non.tif", d / "non.csv", d / "maps.tif"
    argv = _walls(d, "--kind", "non180", "-o", str(out), "--points", str(pts), "--maps", str(maps),
                  "--map-channels", "180,all,amplitude")  # fmt: skip
    assert main(argv) == 0
    mask = tifffile.imread(out)
    assert mask.dtype == np.uint8 and mask.shape == (128, 128)
    assert wall_f1(mask > 0, s.walls_non180)["f1"] >= 0.85
    table = pd.read_csv(pts)
    assert list(table.columns) == ["y", "x", "frame", "orientation", "kind"]
    assert set(table["kind"]) == {"non180"}
    layers = read(str(maps))
    assert [ly.name for ly in layers] == ["180 walls", "all walls", "amplitude"]
    np.testing.assert_allclose(np.asarray(layers[2].data), s.amplitude)
    # cropped as one stack, the channels come along
    stack = d / "stack.npz"
    argv = ["crop", str(maps), "--points", str(pts), "--window", "16", "--normalize", "none",
            "--channels", "180 walls,all walls", "-o", str(stack)]  # fmt: skip
    assert main(argv) == 0
    with np.load(stack) as z:
        assert z["images"].shape[1] == 2


def test_kind_180_csv_unchanged(files):
    d, _ = files
    pts = d / "p180.csv"
    assert main(_walls(d, "-o", str(d / "m180.tif"), "--points", str(pts))) == 0
    assert list(pd.read_csv(pts).columns) == ["y", "x", "frame", "orientation"]


def test_bad_kind_input_exits_2_and_writes_nothing(files, capsys):
    d, _ = files
    out = d / "bad.tif"
    argv = ["detect", "walls", str(d / "phase.tif"), "--kind", "all", "-o", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ivae: error: --kind all needs an amplitude image" in err and not out.exists()
    argv = _walls(d, "-o", str(out), "--maps", str(d / "m.tif"))
    assert main(argv) == 2
    assert "--maps needs the walls of every kind" in capsys.readouterr().err
    argv = _walls(d, "--kind", "all", "-o", str(out), "--maps", str(d / "m.tif"),
                  "--map-channels", "180,height")  # fmt: skip
    assert main(argv) == 2
    assert "--map-channels='180,height' is not valid" in capsys.readouterr().err
    assert not out.exists()
