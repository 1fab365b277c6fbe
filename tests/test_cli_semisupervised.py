"""``ivae train/encode/manifold`` with the semi-supervised kinds (ssvae, ssrvae)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.crop import Stack

N, W = 48, 16
TRUTH = np.where(np.arange(N) % 2 == 0, "bar", "disc")


def _images(seed: int = 0) -> np.ndarray:
    """Rotated bars (even rows) and discs (odd rows): (N, 1, W, W) float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:W, :W] - (W - 1) / 2
    out = np.empty((N, 1, W, W), np.float32)
    for i in range(N):
        a = rng.uniform(0, np.pi)
        along, across = yy * np.cos(a) + xx * np.sin(a), yy * np.sin(a) - xx * np.cos(a)
        bar = np.exp(-(along**2) / 3) * (np.abs(across) < 6)
        img = bar if i % 2 == 0 else np.exp(-(yy**2 + xx**2) / 10)
        out[i, 0] = img + 0.05 * rng.normal(size=(W, W))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_ss")
    index = np.arange(N) * 2 + 5  # the stack's rows in a points table
    Stack(images=_images(), yx=np.zeros((N, 2)), frame=np.zeros(N, np.int64), index=index,
          channels=("HAADF",)).save(d / "stack.npz")  # fmt: skip
    named = np.arange(0, N, 3)  # a third of the rows labelled, named by index
    pd.DataFrame({"index": index[named], "label": TRUTH[named]}).to_csv(d / "few.csv", index=False)
    return d


def _run(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_train_encode_and_manifold(files, capsys):
    out = files / "run"
    code, _, err = _run(["train", files / "stack.npz", "--model", "ssrvae", "--latent-dim", "2",
                         "--labels", files / "few.csv", "--epochs", "3", "--batch-size", "16",
                         "-q", "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    latent = pd.read_csv(out / "latent.csv", keep_default_na=False)
    assert set(latent["class"]) <= {"bar", "disc"} and {"p_bar", "p_disc"} <= set(latent.columns)
    given = np.arange(N) % 3 == 0
    assert (latent["label"][given] == TRUTH[given]).all() and (latent["label"][~given] == "").all()
    # encode needs no labels; manifold draws a named class
    code, _, err = _run(["encode", out / "model.ivae", files / "stack.npz", "-o",
                         files / "enc.csv"], capsys)  # fmt: skip
    assert code == 0, err
    assert (pd.read_csv(files / "enc.csv")["class"] == latent["class"]).all()
    code, _, err = _run(["manifold", out / "model.ivae", "--class", "disc", "-o",
                         files / "disc.png"], capsys)  # fmt: skip
    assert code == 0 and (files / "disc.png").exists(), err


def _table(files, name, df):
    path = files / f"{name}.csv"
    df.to_csv(path, index=False)
    return path


BAD = [
    ("one", pd.DataFrame({"label": ["bar"] + [""] * (N - 1)}), [], "one class only"),
    ("none", pd.DataFrame({"label": [""] * N}), [], "labels no row"),
    ("classes", pd.DataFrame({"label": list(TRUTH[:4]) + [""] * (N - 4)}), ["--classes", "3"],
     "--classes 3: the labels name 2 classes"),
    ("cond", pd.DataFrame({"label": TRUTH, "t": 1.0}), ["--condition", "t"], "--condition is for"),
    ("unknown", pd.DataFrame({"index": [999], "label": ["bar"]}), [], "index 999 names no stack"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "df", "extra", "message"), BAD)
def test_bad_labels_exit_2_and_write_nothing(files, capsys, name, df, extra, message):
    labels = _table(files, name, df)
    out = files / f"bad-{name}"
    code, _, err = _run(["train", files / "stack.npz", "--model", "ssvae", "--latent-dim", "2",
                         "--labels", labels, *extra, "-o", out], capsys)  # fmt: skip
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_ss_needs_labels(files, capsys):
    code, _, err = _run(["train", files / "stack.npz", "--model", "ssrvae", "--latent-dim", "2",
                         "-o", files / "nolabels"], capsys)  # fmt: skip
    assert code == 2 and "needs --labels" in err and not (files / "nolabels").exists()
