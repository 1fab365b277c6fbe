"""The headless demo pipeline (``ivae demo`` / ``run_demo``) on the shipped samples."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from napari_ivae.cli import main
from napari_ivae.pipeline import run_demo

FIGURES = {
    "sample_stem", "sample_pfm", "sample_switching", "stem_latent", "stem_classes",
    "stem_manifold", "pfm_walls", "pfm_latent", "pfm_walls_latent", "switching",
}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result = run_demo(out, quick=True, seed=0, progress=lines.append)
    return out, result, lines


@pytest.mark.slow
def test_demo_writes_every_figure(demo):
    out, result, lines = demo
    assert set(result["figures"]) == FIGURES
    for name, path in result["figures"].items():
        assert path.parent == out and path.suffix == ".png", name
        img = iio.imread(path)
        assert img.ndim == 3 and min(img.shape[:2]) > 200, name
        assert img[..., :3].std() > 10, f"{name} looks blank"
    # every written file is listed, nothing else (no temp files) is left behind
    written = {p.name for p in result["files"].values()}
    assert {p.name for p in out.iterdir()} == written
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert lines and lines[-1].startswith("done in")


@pytest.mark.slow
def test_demo_summary_against_ground_truth(demo):
    out, _result, _ = demo
    summary = json.loads((out / "summary.json").read_text())
    assert summary["quick"] is True
    stem, pfm, sw = summary["stem"], summary["pfm"], summary["switching"]
    # the shipped graphene sample has 3095 atoms; detection must find them
    assert stem["atoms_true"] == 3095
    assert stem["detect_f1"] >= 0.98 and stem["detect_rmse_px"] <= 0.5
    # every detected atom is in the table; those the crop dropped have no latents
    atoms = pd.read_csv(out / "stem_atoms.csv")
    assert len(atoms) == stem["atoms_detected"] > stem["crops"]
    assert atoms["class"].notna().sum() == stem["crops"] == sum(stem["class_sizes"])
    assert atoms["z1"].isna().equals(atoms["class"].isna()) and atoms["true_kind"].notna().all()
    assert {"y", "x", "z1", "z2", "angle", "class", "p0", "p1", "true_kind"} <= set(atoms.columns)
    # the STEM stage reports how the dopant class matches the truth (chemistry crops)
    assert (
        stem["normalize"] == "local"
        and stem["window_px"] == 2 * round(0.6 * stem["spacing_px"]) + 1
    )
    assert -1 <= stem["dopant_class_ari"] <= 1 and 0 <= stem["dopant_recall"] <= 1
    # walls: the classical methods on the easy sample, F1 against the true mask
    assert pfm["walls"]["gaussian"]["f1"] >= 0.9
    assert pfm["walls"]["canny"]["f1"] >= 0.8
    walls = pd.read_csv(out / "pfm_wall_points.csv")
    assert len(walls) == pfm["walls"]["gaussian"]["points"]
    assert walls["angle"].notna().sum() == pfm["crops"] > 50
    assert walls["angle"].dropna().between(-np.pi, np.pi).all()
    # switching: detected switched fraction follows the truth frame by frame
    frac, truth = np.array(sw["switched_fraction"]), np.array(sw["switched_fraction_true"])
    assert len(frac) == sw["frames"] == 6
    assert np.abs(frac - truth).max() < 0.05
    assert summary["elapsed_seconds"] > 0


@pytest.mark.slow
def test_demo_models_load(demo):
    from napari_ivae.train import load_model

    out, _, _ = demo
    model, history = load_model(out / "stem_jrvae.ivae")
    assert model.config.kind == "jrvae" and len(history) >= 1
    model, _ = load_model(out / "pfm_rvae.ivae")
    assert model.config.kind == "rvae" and model.config.in_channels == 2


@pytest.mark.slow
def test_demo_models_say_how_they_were_trained(demo):
    from napari_ivae.pipeline import DemoSettings
    from napari_ivae.train import _read_checkpoint

    out, _, _ = demo
    st = DemoSettings.choose(True)
    for name, epochs in (("stem_jrvae.ivae", st.stem_epochs), ("pfm_rvae.ivae", st.pfm_epochs)):
        trained = _read_checkpoint(out / name)["train_config"]
        assert (trained["epochs"], trained["seed"], trained["device"]) == (epochs, 0, "cpu"), name
        assert trained["batch_size"] == st.batch_size, name


def test_demo_cli_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "results"
    f.write_text("x")
    assert main(["demo", "--out", str(f), "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ivae: error:") and "--out" in err
