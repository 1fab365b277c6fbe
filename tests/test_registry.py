"""The model registry: names, unknown kinds, the fronts that read it, a new family
plugged in from the worked example of docs/architecture.md, old checkpoints."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_ivae import IvaeError
from napari_ivae.models import ModelConfig, build_model, registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
FIXTURE = Path(__file__).parent / "data" / "model_v3_jrvae.ivae"
KNOWN = "known kinds: vae, rvae, jvae, jrvae, cvae, crvae, ssvae, ssrvae"


def test_built_in_families_and_their_classes():
    assert registry.names()[:4] == ("vae", "rvae", "jvae", "jrvae")
    for name, rotation, joint in [("vae", 0, 0), ("rvae", 1, 0), ("jvae", 0, 1), ("jrvae", 1, 1)]:
        cfg = ModelConfig(kind=name, in_channels=1, size=8, hidden=4, angle_bins=4)
        assert (cfg.rotation, cfg.joint) == (bool(rotation), bool(joint))
        model = build_model(cfg)
        assert type(model) is registry.get(name).model_class()
        assert type(model).__name__ == name.upper()


def test_unknown_kind_is_one_sentence_listing_the_known_ones(tmp_path):
    message = f"unknown model kind 'bvae'; {KNOWN}"
    with pytest.raises(IvaeError) as err:
        ModelConfig(kind="bvae")
    assert str(err.value) == message
    with pytest.raises(IvaeError, match=re.escape(message)):
        registry.get("bvae")
    # a checkpoint of a family this installation does not know
    from napari_ivae.train import load_model

    obj = torch.load(FIXTURE, weights_only=True)
    obj["model_config"]["kind"] = "bvae"
    path = tmp_path / "other.ivae"
    torch.save(obj, path)
    with pytest.raises(IvaeError) as err:
        load_model(path)
    assert str(err.value).endswith(message) and "other.ivae" in str(err.value)
    assert "\n" not in str(err.value)


def test_the_cli_choices_read_the_registry():
    from napari_ivae.cli._vae import JOINT_KINDS, MODEL_KINDS, train

    assert MODEL_KINDS == registry.names()
    assert JOINT_KINDS == ("jvae", "jrvae", "ssvae", "ssrvae")
    option = next(p for p in train.params if p.name == "kind")
    assert tuple(option.type.choices) == registry.names()
    assert all(registry.get(k).summary.rstrip(".") in option.help for k in MODEL_KINDS)


def test_a_name_is_registered_once_and_built_ins_stay():
    with pytest.raises(IvaeError, match="already registered"):
        registry.register(registry.Family("vae", "x:Y", "again"))
    with pytest.raises(IvaeError, match="built in"):
        registry.unregister("rvae")


def test_format_3_checkpoint_written_before_the_registry_loads_unchanged():
    """``model_v3_jrvae.ivae`` was written by the code before the registry (seeded,
    untrained jrvae); its posterior on a fixed input is the one computed then."""
    from napari_ivae.train import load_model

    model, history = load_model(FIXTURE)
    assert model.config.kind == "jrvae" and history == [{"epoch": 1, "loss": 1.5, "time": 0.1}]
    x = torch.from_numpy(np.random.default_rng(0).random((3, 1, 12, 12), dtype=np.float32))
    with torch.no_grad():
        p = model.posterior(x)
    z = [[0.28589412569999695, -0.08577393740415573], [0.11643439531326294, -0.30588170886039734],
         [0.16170507669448853, -0.1686287522315979]]  # fmt: skip
    np.testing.assert_allclose(p["z_mu"].numpy(), z, atol=1e-6)
    np.testing.assert_allclose(p["angle"].numpy(), [2.35893297, 1.69703269, 2.38457513], atol=1e-5)
    p0 = p["logits"].softmax(1)[:, 0].numpy()
    np.testing.assert_allclose(p0, [0.5915097, 0.56796491, 0.58809608], atol=1e-5)


def _doc_block(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {re.escape(marker)} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"docs/architecture.md has no example block {marker!r}"
    return found.group(1)


@pytest.fixture
def lvae(tmp_path, monkeypatch):
    """The worked example of docs/architecture.md, as a module, registered."""
    (tmp_path / "lvae_example.py").write_text(_doc_block("lvae.py"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = _doc_block("registry line").strip().rstrip(",")
    family = eval(line, {"Family": registry.Family})  # the line exactly as documented
    family = registry.Family(family.name, "lvae_example:LinearVAE", family.summary)
    registry.register(family)
    yield family
    registry.unregister(family.name)


def test_the_documented_family_plugs_in_trains_saves_and_loads(lvae, tmp_path):
    from napari_ivae.analysis import decode, encode
    from napari_ivae.train import TrainConfig, fit, load_model, run_fit

    assert "lvae" in registry.names() and registry.get("lvae").summary.startswith("VAE")
    with pytest.raises(IvaeError, match="n_classes"):  # shared options keep their checks
        ModelConfig(kind="lvae", n_classes=2)
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 1, 8, 8)).astype(np.float32)
    x = np.einsum("nk,kchw->nchw", rng.normal(size=(64, 2)).astype(np.float32), basis)
    ck = tmp_path / "lvae.ivae"
    tc = TrainConfig(epochs=20, batch_size=16, lr=3e-2, device="cpu", checkpoint=str(ck))
    res = run_fit(fit(x, ModelConfig(kind="lvae", latent_dim=2, hidden=16), tc))
    losses = [h["loss"] for h in res.history]
    assert type(res.model).__name__ == "LinearVAE" and losses[-1] < 0.5 * losses[0]
    model, history = load_model(ck)
    assert model.config.kind == "lvae" and history == res.history
    for a, b in zip(res.model.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    table = encode(model, x)
    assert list(table.columns) == ["z1", "z2", "z1_std", "z2_std"]
    assert decode(model, np.zeros((3, 2))).shape == (3, 1, 8, 8)
