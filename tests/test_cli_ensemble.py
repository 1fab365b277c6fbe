"""``ivae ensemble``: a valid RUN folder end to end; bad input writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.crop import Stack

N, W = 32, 16


def _images(seed: int = 0) -> np.ndarray:
    """Discs (even rows) and rings (odd rows) with noise: (N, 1, W, W) float32."""
    rng = np.random.default_rng(seed)
    r2 = np.sum((np.mgrid[:W, :W] - (W - 1) / 2) ** 2, axis=0)
    disc, ring = np.exp(-r2 / 10), np.exp(-((np.sqrt(r2) - 5) ** 2) / 2)
    out = np.stack([disc if i % 2 == 0 else ring for i in range(N)])[:, None]
    return (out + 0.05 * rng.normal(size=out.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def stack_path(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli_ens")
    rng = np.random.default_rng(1)
    Stack(images=_images(), yx=rng.uniform(0, 60, (N, 2)), frame=np.zeros(N, np.int64),
          index=np.arange(N) * 2, channels=("HAADF",)).save(d / "stack.npz")  # fmt: skip
    np.save(d / "image.npy", rng.normal(size=(64, 64)).astype(np.float32))
    return d / "stack.npz"


_FAST = ["--latent-dim", "2", "--epochs", "1", "--batch-size", "16", "-q"]


def test_ensemble_writes_a_valid_run(stack_path, tmp_path):
    run = tmp_path / "run"
    code = main(["ensemble", str(stack_path), "--model", "jvae", "--classes", "2",
                 "--members", "2", "--seed", "4", "--image", str(stack_path.with_name("image.npy")),
                 *_FAST, "-o", str(run)])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in run.iterdir()) == [
        "ensemble.json", "history.csv", "latent.csv", "member_0.ivae", "member_1.ivae",
        "uncertainty_map.png"]  # fmt: skip
    info = json.loads((run / "ensemble.json").read_text())
    assert (info["kind"], info["n_classes"], info["n_images"]) == ("jvae", 2, N)
    assert [m["seed"] for m in info["members"]] == [4, 5]
    assert all(sorted(p) == [0, 1] for p in info["permutations"]) and info["permutations"][0] == [
        0,
        1,
    ]
    lat = pd.read_csv(run / "latent.csv")
    assert len(lat) == N and (lat["index"] == np.arange(N) * 2).all()
    np.testing.assert_allclose(lat["p0"] + lat["p1"], 1, atol=1e-5)
    assert ((lat["class_uncertainty"] >= 0) & (lat["class_uncertainty"] <= 0.5 + 1e-6)).all()
    assert set(lat["class_agreement"].round(6)) <= {0.5, 1.0}
    np.testing.assert_allclose(lat["class_uncertainty"].mean(), info["mean_class_uncertainty"],
                               rtol=1e-4)  # fmt: skip
    assert set(pd.read_csv(run / "history.csv")["member"]) == {0, 1}
    from napari_ivae._ensemble_files import load_ensemble

    models, again = load_ensemble(run)
    assert len(models) == 2 and again == info
    assert models[0].config.n_classes == 2


def test_ensemble_k_range(stack_path, tmp_path):
    run = tmp_path / "sweep"
    code = main(["ensemble", str(stack_path), "--model", "jvae", "--classes", "2:3",
                 "--members", "2", *_FAST, "-o", str(run)])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in run.iterdir()) == [
        "k2", "k3", "uncertainty_by_k.csv", "uncertainty_by_k.png"]  # fmt: skip
    summary = pd.read_csv(run / "uncertainty_by_k.csv")
    assert summary["n_classes"].tolist() == [2, 3]
    for k, row in summary.set_index("n_classes").iterrows():
        info = json.loads((run / f"k{k}" / "ensemble.json").read_text())
        assert info["n_classes"] == k
        assert row["mean_class_uncertainty"] == pytest.approx(
            info["mean_class_uncertainty"], rel=1e-4
        )


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--model", "rvae", "--classes", "2", "--members", "2"], "joint model"),
        (["--model", "jvae", "--classes", "2", "--members", "1"], "--members"),
        (["--model", "jvae", "--classes", "5:3", "--members", "2"], "--classes"),
        (["--model", "jvae", "--classes", "1:3", "--members", "2"], "--classes"),
        (["--model", "jvae", "--classes", "two", "--members", "2"], "--classes"),
        (["--model", "jvae", "--classes", "2", "--members", "2", "--image", "x.npy"], "not found"),
    ],
)
def test_bad_input_writes_nothing(stack_path, tmp_path, capsys, args, word):
    run = tmp_path / "bad"
    code = main(["ensemble", str(stack_path), *args, *_FAST, "-o", str(run)])
    err = capsys.readouterr().err
    assert code == 2, err
    if "--image" in args:  # a bad --image is found before any training
        assert "member" not in err
    assert err.startswith("ivae: error: ") and err.count("\n") == 1 and word in err.lower()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_run_leaves_old_run(stack_path, tmp_path, monkeypatch):
    """Ctrl-C after the members trained (while encoding): RUN as it was, no temp folder."""
    import napari_ivae.ensemble as ens

    run = tmp_path / "run"
    run.mkdir()
    (run / "old.txt").write_text("old")

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ens, "ensemble_table", interrupted)
    code = main(["ensemble", str(stack_path), "--model", "jvae", "--classes", "2",
                 "--members", "2", *_FAST, "-o", str(run)])  # fmt: skip
    assert code == 130
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in run.iterdir()] == ["old.txt"]
