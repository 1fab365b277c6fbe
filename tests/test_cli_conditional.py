"""``ivae train/encode/manifold`` with the conditional kinds (cvae, crvae) and ``--labels``."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.crop import Stack

N, W = 48, 16
TRUTH = np.where(np.arange(N) % 2 == 0, "bar", "disc")  # what _images draws


def _images(seed: int = 0) -> np.ndarray:
    """Rotated bars (even rows) and discs (odd rows): (N, 1, W, W) float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:W, :W] - (W - 1) / 2
    out = np.empty((N, 1, W, W), np.float32)
    for i in range(N):
        a = rng.uniform(0, np.pi)
        bar = np.exp(-((yy * np.cos(a) + xx * np.sin(a)) ** 2) / 3) * (
            np.abs(yy * np.sin(a) - xx * np.cos(a)) < 6
        )
        out[i, 0] = (bar if i % 2 == 0 else np.exp(-(yy**2 + xx**2) / 10)) + 0.05 * rng.normal(
            size=(W, W)
        )
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_cond")
    rng = np.random.default_rng(1)
    index = np.arange(N) * 3 + 1  # rows of a points table where some points were dropped
    Stack(images=_images(), yx=rng.uniform(0, 100, (N, 2)), frame=np.zeros(N, np.int64),
          index=index, channels=("HAADF",)).save(d / "stack.npz")  # fmt: skip
    order = rng.permutation(N)  # the table names the stack's rows by index, in any order
    table = pd.DataFrame({"index": index[order], "label": TRUTH[order],
                          "dose": np.linspace(0, 2, N)[order]})  # fmt: skip
    table.to_csv(d / "labels.csv", index=False)
    return d


def _run(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def run(files):
    out = files / "run"
    code = main([str(a) for a in ["train", files / "stack.npz", "--model", "crvae",
                 "--latent-dim", "2", "--labels", files / "labels.csv", "--condition", "dose",
                 "--epochs", "3", "--batch-size", "16", "-q", "-o", out]])  # fmt: skip
    assert code == 0
    return out


def test_train_writes_the_labels_and_keeps_the_vocabulary(run):
    from napari_ivae.train import load_model

    latent = pd.read_csv(run / "latent.csv")
    # rows follow the stack, the user's names come back in the stack's order
    assert latent["label"].tolist() == TRUTH.tolist()
    assert latent["index"].tolist() == (np.arange(N) * 3 + 1).tolist()
    model, _ = load_model(run / "model.ivae")
    assert model.config.classes == ("bar", "disc") and model.config.conditions == ("dose",)
    assert model.config.condition_mean[0] == pytest.approx(1.0)


def test_encode_needs_the_labels_of_a_conditional_model(run, files, capsys):
    out = files / "enc.csv"
    code, _, err = _run(["encode", run / "model.ivae", files / "stack.npz", "-o", out], capsys)
    assert code == 2 and "--labels" in err and err.count("\n") == 1 and not out.exists()
    code, _, err = _run(["encode", run / "model.ivae", files / "stack.npz", "--labels",
                         files / "labels.csv", "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    again = pd.read_csv(out)
    assert np.allclose(again["z1"], pd.read_csv(run / "latent.csv")["z1"], atol=1e-5)


def test_labels_may_be_the_points_table_the_stack_was_cropped_from(run, files, capsys):
    """``ivae rings`` output as --labels: one row per point, the dropped crops' rows skipped."""
    stack = Stack.load(files / "stack.npz")
    labels = pd.read_csv(files / "labels.csv").set_index("index")
    n_points = int(stack.index.max()) + 2
    points = pd.DataFrame({"y": np.full(n_points, -1.0), "x": -1.0, "label": "disc", "dose": 9.0})
    points.loc[stack.index, ["y", "x"]] = stack.yx
    points.loc[stack.index, ["label", "dose"]] = labels.loc[stack.index].to_numpy()
    points.to_csv(files / "points.csv", index=False)
    out = files / "enc_points.csv"
    code, _, err = _run(["encode", run / "model.ivae", files / "stack.npz", "--labels",
                         files / "points.csv", "-o", out], capsys)  # fmt: skip
    assert code == 0, err
    assert np.allclose(pd.read_csv(out)["z1"], pd.read_csv(run / "latent.csv")["z1"], atol=1e-5)
    # a table whose rows are not at the crops' points is refused, nothing written
    points.loc[stack.index[3], "x"] += 1.0
    points.to_csv(files / "points.csv", index=False)
    out.unlink()
    code, _, err = _run(["encode", run / "model.ivae", files / "stack.npz", "--labels",
                         files / "points.csv", "-o", out], capsys)  # fmt: skip
    assert code == 2 and "the points table the stack was cropped from" in err
    assert not out.exists()


def test_manifold_of_a_class(run, files, capsys):
    from napari_ivae.analysis import manifold
    from napari_ivae.train import load_model

    model, _ = load_model(run / "model.ivae")
    grids = {}
    for label in ("bar", "disc"):
        out = files / f"{label}.png"
        code, _, err = _run(["manifold", run / "model.ivae", "--n", "3", "--class", label,
                             "-o", out], capsys)  # fmt: skip
        assert code == 0, err
        grids[label] = iio.imread(out).astype(float)
        want = manifold(model, n=3, cls=label)[0]
        assert np.corrcoef(want.ravel(), grids[label].ravel())[0, 1] > 0.95
    assert np.abs(grids["bar"] - grids["disc"]).max() > 10  # another class, another image
    for extra, message in ([["--class", "card"], "not a class"], [[], "--class is needed"]):
        code, _, err = _run(["manifold", run / "model.ivae", *extra, "-o", files / "x.png"],
                            capsys)  # fmt: skip
        assert code == 2 and message in err and err.count("\n") == 1


def _table(files, name, df):
    path = files / name
    df.to_csv(path, index=False)
    return path


BAD = [
    ("short", lambda: pd.DataFrame({"label": TRUTH[:10]}), [], "has 10 rows but the stack has 48"),
    ("unknown", lambda: pd.DataFrame({"index": np.arange(N), "label": TRUTH}), [],
     "index 0 names no stack row"),
    ("one", lambda: pd.DataFrame({"label": ["bar"] * N}), [], "one class only"),
    ("nan", lambda: pd.DataFrame({"label": TRUTH, "t": [np.nan] + [1.0] * (N - 1)}),
     ["--condition", "t"], "--condition 't': 1 row(s)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "extra", "message"), BAD)
def test_bad_labels_exit_2_and_write_nothing(files, capsys, name, make, extra, message):
    labels = _table(files, f"{name}.csv", make())
    out = files / f"bad-{name}"
    code, _, err = _run(["train", files / "stack.npz", "--model", "cvae", "--latent-dim", "2",
                         "--labels", labels, *extra, "-o", out], capsys)  # fmt: skip
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_labels_and_conditional_kinds_go_together(files, capsys):
    out = files / "bad"
    code, _, err = _run(["train", files / "stack.npz", "--model", "crvae", "--latent-dim", "2",
                         "-o", out], capsys)  # fmt: skip
    assert code == 2 and "needs --labels" in err
    code, _, err = _run(["train", files / "stack.npz", "--model", "rvae", "--latent-dim", "2",
                         "--labels", files / "labels.csv", "-o", out], capsys)  # fmt: skip
    assert code == 2 and "conditional or semi-supervised model" in err and not out.exists()
