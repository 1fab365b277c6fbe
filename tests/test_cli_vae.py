"""The stable CLI contract of ``ivae train``, ``ivae encode`` and ``ivae manifold``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.crop import Stack

N, W = 48, 16


def _images(n: int = N, c: int = 1, seed: int = 0) -> np.ndarray:
    """Rotated bars (even rows) and discs (odd rows): (n, c, W, W) float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:W, :W] - (W - 1) / 2
    out = np.empty((n, c, W, W), np.float32)
    for i in range(n):
        a = rng.uniform(0, np.pi)
        bar = np.exp(-((yy * np.cos(a) + xx * np.sin(a)) ** 2) / 3) * (
            np.abs(yy * np.sin(a) - xx * np.cos(a)) < 6
        )
        disc = np.exp(-(yy**2 + xx**2) / 10)
        img = bar if i % 2 == 0 else disc
        for ch in range(c):
            out[i, ch] = img * (1 + ch) + 0.05 * rng.normal(size=(W, W))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli_vae")
    rng = np.random.default_rng(1)
    stack = Stack(
        images=_images(),
        yx=rng.uniform(0, 100, (N, 2)),
        frame=np.zeros(N, np.int64),
        index=np.arange(N) * 3 + 1,  # rows of a points table where some points were dropped
        channels=("HAADF",),
    )
    stack.save(d / "stack.npz")
    np.savez(d / "images3d.npz", images=_images()[:, 0])  # (N, H, W) only
    np.savez(d / "images4d.npz", images=_images(c=2))  # (N, C, H, W) only
    return {"dir": d, "stack": d / "stack.npz", "images3d": d / "images3d.npz",
            "images4d": d / "images4d.npz", "stack_obj": stack}  # fmt: skip


def _run(args: list, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def rvae_run(files) -> Path:
    run = files["dir"] / "run_rvae"
    code = main(["train", str(files["stack"]), "--model", "rvae", "--latent-dim", "2",
                 "--epochs", "2", "--batch-size", "16", "--seed", "3", "-q", "-o", str(run)])  # fmt: skip
    assert code == 0
    return run


@pytest.fixture(scope="module")
def jrvae_run(files) -> Path:
    run = files["dir"] / "run_jrvae"
    code = main(["train", str(files["images3d"]), "--model", "jrvae", "--latent-dim", "2",
                 "--classes", "3", "--epochs", "2", "--batch-size", "16", "-q", "-o", str(run)])  # fmt: skip
    assert code == 0
    return run


def test_train_stack_writes_run(files, rvae_run):
    assert sorted(p.name for p in rvae_run.iterdir()) == ["history.csv", "latent.csv", "model.ivae"]
    lat = pd.read_csv(rvae_run / "latent.csv")
    stack = files["stack_obj"]
    assert len(lat) == N
    # bookkeeping first (joins back into the points table), then the latent columns in order
    assert list(lat.columns[:4]) == ["y", "x", "frame", "index"]
    latent_cols = [c for c in lat.columns if c not in ("y", "x", "frame", "index", "angle_std")]
    assert latent_cols == ["z1", "z2", "z1_std", "z2_std", "angle", "dy", "dx"]
    np.testing.assert_array_equal(lat["index"], stack.index)
    np.testing.assert_allclose(lat[["y", "x"]], stack.yx, rtol=1e-5)
    assert (lat[["z1_std", "z2_std"]] > 0).all().all()
    assert lat["angle"].between(-np.pi, np.pi).all()

    hist = pd.read_csv(rvae_run / "history.csv")
    assert list(hist["epoch"]) == [1, 2]
    for col in ("loss", "recon", "kl_z", "kl_angle", "kl_shift"):
        assert col in hist.columns and np.isfinite(hist[col]).all()


def test_train_images_only_3d_joint(jrvae_run):
    lat = pd.read_csv(jrvae_run / "latent.csv")
    assert list(lat.columns) == ["z1", "z2", "z1_std", "z2_std", "angle", "angle_std", "dy", "dx",
                                 "class", "p0", "p1", "p2"]  # fmt: skip
    p = lat[["p0", "p1", "p2"]].to_numpy()
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-4)
    np.testing.assert_array_equal(lat["class"], p.argmax(1))
    hist = pd.read_csv(jrvae_run / "history.csv")
    assert "kl_disc" in hist.columns and len(hist) == 2


def test_train_images_only_4d_vae(files, capsys):
    run = files["dir"] / "run_vae"
    code, _out, err = _run(["train", files["images4d"], "--model", "vae", "--latent-dim", "3",
                           "--epochs", "1", "--batch-size", "48", "-o", run], capsys)  # fmt: skip
    assert code == 0, err
    lat = pd.read_csv(run / "latent.csv")
    # a plain VAE has no rotation/shift latents
    assert list(lat.columns) == ["z1", "z2", "z3", "z1_std", "z2_std", "z3_std"]
    assert len(lat) == N
    # not a terminal: no progress bar; a start line, one plain line per epoch, a summary
    assert "\r" not in err and "it/s" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("training vae on 48 images 2×16×16: 1 epochs")
    assert lines[1].startswith("epoch 1/1  loss ") and "eta" not in lines[1]
    assert lines[2].startswith("trained vae on 48 images 2×16×16") and len(lines) == 3


def test_train_checkpoint_says_how_it_was_trained(files, capsys):
    from napari_ivae.train import _read_checkpoint

    run = files["dir"] / "run_settings"
    code, _out, err = _run(["train", files["images4d"], "--model", "vae", "--latent-dim", "2",
                           "--epochs", "1", "--batch-size", "24", "--lr", "0.002", "--seed", "3",
                           "-o", run], capsys)  # fmt: skip
    assert code == 0, err
    trained = _read_checkpoint(run / "model.ivae")["train_config"]
    assert (trained["epochs"], trained["batch_size"], trained["lr"], trained["seed"]) == (
        1,
        24,
        0.002,
        3,
    )


def test_train_says_and_stores_how_the_classes_are_seeded(files, tmp_path, capsys):
    """A stack cropped with local normalisation: raw seed features about the crop
    centre, said on stderr and stored in the checkpoint; bare images: gain-free
    features about the centre of contrast."""
    from napari_ivae.train import _read_checkpoint

    st = files["stack_obj"]
    local = Stack(st.images, st.yx, st.frame, st.index, st.channels, normalize="local")
    local.save(tmp_path / "local.npz")
    for data, decided in ((tmp_path / "local.npz", ("raw", "crop", "--normalize local")),
                          (files["images3d"], ("gain_free", "centroid", "does not say"))):  # fmt: skip
        run = tmp_path / f"run_{decided[0]}"
        code, _out, err = _run(["train", data, "--model", "jrvae", "--latent-dim", "2",
                               "--classes", "2", "--epochs", "1", "--batch-size", "48",
                               "-o", run], capsys)  # fmt: skip
        assert code == 0, err
        note = err.splitlines()[1]
        assert note.startswith("class seeds: merged clustering of") and decided[2] in note, note
        trained = _read_checkpoint(run / "model.ivae")["train_config"]
        assert (trained["seed_features"], trained["seed_centre"]) == decided[:2]
        assert trained["class_prior"] == "learned"


def test_encode_matches_train(files, rvae_run, tmp_path, capsys):
    out = tmp_path / "sub" / "latent.csv"
    code, _, err = _run(["encode", rvae_run / "model.ivae", files["stack"], "-o", out], capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(rvae_run / "latent.csv"))
    assert [p.name for p in out.parent.iterdir()] == ["latent.csv"]  # no temp file left


def test_encode_wrong_shape(files, rvae_run, tmp_path, capsys):
    out = tmp_path / "latent.csv"
    code, _, err = _run(["encode", rvae_run / "model.ivae", files["images4d"], "-o", out], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ivae: error:") and "expects" in err
    assert not out.exists()


def test_manifold_png(jrvae_run, rvae_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, _, err = _run(["manifold", jrvae_run / "model.ivae", "--n", "5", "--class", "2",
                         "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    img = iio.imread(out)
    assert img.shape == (5 * W, 5 * W) and img.dtype == np.uint8
    assert img.max() > img.min()  # not blank
    # the grid is the decoder's output at those latents
    from napari_ivae.analysis import manifold
    from napari_ivae.train import load_model

    model, _ = load_model(jrvae_run / "model.ivae")
    grid = manifold(model, dims=(0, 1), n=5, cls=2)[0]
    assert np.corrcoef(grid.ravel(), img.ravel().astype(float))[0, 1] > 0.95

    code, _, err = _run(["manifold", rvae_run / "model.ivae", "--class", "0", "-o", out], capsys)
    assert code == 2 and "joint" in err and err.count("\n") == 1
    code, _, err = _run(["manifold", rvae_run / "model.ivae", "--dims", "1,3", "-o", out], capsys)
    assert code == 2 and "--dims" in err


BAD = [
    (["--model", "vae", "--latent-dim", "2", "--classes", "3"], "--classes"),
    (["--model", "rvae", "--latent-dim", "0"], "--latent-dim"),
    (["--model", "rvae", "--latent-dim", "2", "--batch-size", "64"], "fewer than one batch"),
    (["--model", "jrvae", "--latent-dim", "2", "--classes", "1"], "--classes"),
    (["--model", "qvae", "--latent-dim", "2"], "--model"),
]


@pytest.mark.parametrize(("args", "word"), BAD)
def test_train_bad_options(files, tmp_path, capsys, args, word):
    run = tmp_path / "run"
    code, _out, err = _run(["train", files["stack"], *args, "-o", run], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ivae: error:") and word in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no RUN_DIR, no temp folder


def test_train_bad_files(tmp_path, capsys):
    bad = _images()
    bad[7, 0, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", images=bad)
    np.savez(tmp_path / "noimages.npz", points=np.zeros((3, 2)))
    (tmp_path / "junk.npz").write_text("not a zip")
    cases = {
        "nan.npz": "NaN",
        "noimages.npz": "images",
        "junk.npz": "npz",
        "missing.npz": "not found",
    }
    before = sorted(tmp_path.iterdir())
    for name, word in cases.items():
        code, _, err = _run(["train", tmp_path / name, "--model", "rvae", "--latent-dim", "2",
                             "-o", tmp_path / "run"], capsys)  # fmt: skip
        assert code == 2, name
        assert err.count("\n") == 1 and err.startswith("ivae: error:") and word in err, err
        assert name in err
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.slow
def test_train_into_existing_dir_and_exit_code(files, tmp_path):
    """A real process: exit code 0, files replaced inside an existing RUN_DIR."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "napari_ivae.cli", "train", str(files["images3d"]), "--model",
         "vae", "--latent-dim", "2", "--epochs", "1", "-o", str(run)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in run.iterdir()) == ["history.csv", "latent.csv", "model.ivae",
                                                     "notes.txt"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "napari_ivae.cli", "train", str(files["images3d"]), "--model",
         "vae", "--latent-dim", "0", "-o", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--latent-dim" in proc.stderr
    assert not (tmp_path / "other").exists()
