"""Trainer: generator protocol, determinism, checkpoints, bad input."""

from __future__ import annotations

import dataclasses
import os
import pickle

import numpy as np
import pytest
import torch

from napari_ivae import IvaeError
from napari_ivae.models import ModelConfig
from napari_ivae.models.base import IVAE
from napari_ivae.train import Progress, TrainConfig, fit, load_model, save_model


def _data(n=40, c=1, size=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, c, size, size), dtype=np.float32)


def _run(gen):
    reports = []
    try:
        while True:
            reports.append(next(gen))
    except StopIteration as stop:
        return reports, stop.value


def _small(kind="rvae", **kw):
    joint = kind in ("jvae", "jrvae")
    return ModelConfig(kind=kind, hidden=16, angle_bins=8, n_classes=3 if joint else None, **kw)


def test_yields_each_epoch_and_returns_result():
    tc = TrainConfig(epochs=3, batch_size=16, device="cpu")
    reports, result = _run(fit(_data(), _small(), tc))
    ends = [r for r in reports if r.epoch_time is not None]
    assert [r.epoch for r in ends] == [1, 2, 3]
    assert [r.phase for r in reports[:2]] == ["start", "train"]  # one "start" report first
    assert all(isinstance(r, Progress) and np.isfinite(r.loss) for r in reports[1:])
    assert ends[-1].step == ends[-1].n_steps == 3  # 40 samples / 16 -> 3 steps, last one smaller
    assert len(result.history) == 3 and result.stopped is None
    assert {"recon", "kl_z", "kl_angle", "kl_shift"} <= set(ends[0].terms)
    assert not result.model.training


def test_yields_often_within_an_epoch():
    tc = TrainConfig(epochs=1, batch_size=4, device="cpu", progress_interval=1e-6)
    reports, _ = _run(fit(_data(), _small(), tc))
    assert len(reports) == 1 + 10  # "start", then every step once the interval has passed


@pytest.mark.parametrize("kind", ["rvae", "jrvae"])
def test_first_report_comes_before_the_first_batch(kind, monkeypatch):
    # a front end can say "first batch …" while the first (slow) step runs
    calls = {"n": 0}
    orig = IVAE.forward

    def counting(self, *a, **k):
        calls["n"] += 1
        return orig(self, *a, **k)

    monkeypatch.setattr(IVAE, "forward", counting)
    tc = TrainConfig(epochs=2, batch_size=16, device="cpu")
    gen = fit(_data(), _small(kind), tc)
    first = next(gen)
    assert calls["n"] == 0  # no batch yet (the class seeds of jrvae are fitted already)
    assert first.phase == "start" and first.step == 0 and first.epoch == 1
    assert first.n_epochs == 2 and first.n_steps == 3 and np.isnan(first.loss)
    assert first.model is None
    second = next(gen)
    assert second.phase == "train" and calls["n"] >= 1 and np.isfinite(second.loss)
    gen.close()  # closing right after the "start" report is fine too
    gen = fit(_data(), _small(kind), tc)
    next(gen)
    gen.close()


@pytest.mark.parametrize("kind", ["vae", "jrvae"])
def test_deterministic_for_a_seed(kind):
    tc = TrainConfig(epochs=2, batch_size=8, device="cpu", seed=3)
    _, r1 = _run(fit(_data(), _small(kind), tc))
    _, r2 = _run(fit(_data(), _small(kind), tc))
    for (k, a), b in zip(r1.model.state_dict().items(), r2.model.state_dict().values()):
        assert torch.equal(a, b), k
    _, r3 = _run(fit(_data(), _small(kind), TrainConfig(epochs=2, batch_size=8, seed=4)))
    assert not torch.equal(r1.model.encoder.net[0].weight, r3.model.encoder.net[0].weight)


def test_stack_input_and_2d_images():
    class FakeStack:
        images = _data(20, c=2)

    _, res = _run(fit(FakeStack(), _small("vae"), TrainConfig(epochs=1, device="cpu")))
    assert res.model.config.in_channels == 2
    _, res = _run(fit(_data(20)[:, 0], _small("vae"), TrainConfig(epochs=1, device="cpu")))
    assert res.model.config.in_channels == 1 and res.model.config.size == 12


def test_bad_data_raises():
    x = _data()
    x[5, 0, 3, 3] = np.nan
    with pytest.raises(IvaeError, match="NaN"):
        fit(x, _small())
    x[5, 0, 3, 3] = np.inf
    with pytest.raises(IvaeError, match="inf"):
        next(fit(x, _small()))
    with pytest.raises(IvaeError, match="at least 2"):
        fit(_data(1), _small())
    with pytest.raises(IvaeError, match="shape"):
        fit(np.zeros((4, 1, 1, 8, 8), np.float32), _small())
    with pytest.raises(IvaeError, match="channel"):
        fit(_data(c=2), _small(in_channels=1))
    with pytest.raises(IvaeError, match="bernoulli"):
        fit(_data() * 3, _small(likelihood="bernoulli"))
    with pytest.raises(IvaeError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(IvaeError, match="device"):
        TrainConfig(device="tpu")


def test_close_keeps_finite_weights_and_writes_checkpoint(tmp_path):
    ck = tmp_path / "run" / "model.ivae"
    tc = TrainConfig(
        epochs=50, batch_size=4, device="cpu", progress_interval=1e-6, checkpoint=str(ck)
    )
    gen = fit(_data(), _small(), tc)
    for _ in range(15):
        p = next(gen)
    gen.close()
    model = p.model
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    loaded, history = load_model(ck)
    assert len(history) == 1  # 10 steps per epoch: stopped in epoch 2
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    assert not list(ck.parent.glob("*.tmp"))


def test_non_finite_loss_stops_and_restores(monkeypatch):
    calls = {"n": 0}
    orig = IVAE.forward

    def flaky(self, *a, **k):
        calls["n"] += 1
        terms = orig(self, *a, **k)
        if calls["n"] == 4:
            terms["recon"] = terms["recon"] * float("nan")
        return terms

    monkeypatch.setattr(IVAE, "forward", flaky)
    reports, res = _run(fit(_data(), _small(), TrainConfig(epochs=3, batch_size=16, device="cpu")))
    assert res.stopped == "non-finite loss at epoch 2 step 1"
    assert "non-finite loss at epoch 2 step 1" in reports[-1].stopped
    assert len(res.history) == 1
    assert all(torch.isfinite(v).all() for v in res.model.state_dict().values())


def test_non_finite_loss_restores_the_weights_the_epoch_started_from(monkeypatch):
    """Stopped in epoch 2 after updates in it: the weights are those at the end of
    epoch 1 (one copy per epoch is taken, not one per step)."""
    import napari_ivae.train.loop as loop

    calls, copies = {"n": 0}, {"n": 0}
    orig, clone = IVAE.forward, loop._clone_state

    def flaky(self, *a, **k):
        calls["n"] += 1
        terms = orig(self, *a, **k)
        if calls["n"] == 6:  # 3 steps per epoch: epoch 2, step 3
            terms["recon"] = terms["recon"] * float("nan")
        return terms

    def counted(model):
        copies["n"] += 1
        return clone(model)

    monkeypatch.setattr(IVAE, "forward", flaky)
    monkeypatch.setattr(loop, "_clone_state", counted)
    gen = fit(_data(), _small(), TrainConfig(epochs=3, batch_size=16, device="cpu"))
    after_epoch_1 = None
    reports = []
    for p in gen:
        reports.append(p)
        if p.epoch == 1 and p.epoch_time is not None:
            after_epoch_1 = {k: v.clone() for k, v in p.model.state_dict().items()}
    assert reports[-1].stopped == (
        "non-finite loss at epoch 2 step 3; restored the last good weights "
        "(from the start of epoch 2)"
    )
    restored = reports[-1].model.state_dict()
    assert all(torch.equal(restored[k], v) for k, v in after_epoch_1.items())
    assert copies["n"] == 2  # at the start of epochs 1 and 2


def test_checkpoint_roundtrip_and_resume(tmp_path):
    from napari_ivae.analysis import encode

    ck = tmp_path / "m.ivae"
    x = _data()
    tc = TrainConfig(epochs=2, batch_size=16, device="cpu", checkpoint=str(ck))
    _, res = _run(fit(x, _small("jrvae"), tc))
    model, history = load_model(ck)
    assert history == res.history
    assert model.config == res.model.config
    np.testing.assert_array_equal(encode(model, x).to_numpy(), encode(res.model, x).to_numpy())
    save_model(tmp_path / "again.ivae", model, history)
    assert load_model(tmp_path / "again.ivae")[1] == history
    # resume to 3 epochs in total: one more epoch, history continues
    tc3 = TrainConfig(epochs=3, batch_size=16, device="cpu", checkpoint=str(ck))
    reports, res3 = _run(fit(x, None, tc3, resume=ck))
    assert [r.epoch for r in reports if r.epoch_time] == [3]
    assert [h["epoch"] for h in res3.history] == [1, 2, 3]
    with pytest.raises(IvaeError, match="differs"):
        fit(x, _small("rvae"), tc3, resume=ck)


class _Evil:
    """Unpickling this creates the folder ``marker``: proof that loading ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_unsafe_and_corrupt_files_are_refused(tmp_path):
    # a file that passes every other check (format, version, real weights) is
    # in tests/test_reliability_train.py::test_unsafe_checkpoint_is_refused_without_running_its_code
    from napari_ivae.train import VERSION

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.ivae"
    torch.save({"format": "napari-ivae-model", "version": VERSION, "payload": _Evil(marker)}, evil)
    with pytest.raises(IvaeError, match=r"evil\.ivae: refused to load"):
        load_model(evil)
    raw = tmp_path / "raw.ivae"
    raw.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(IvaeError, match=r"raw\.ivae"):
        load_model(raw)
    assert not marker.exists()
    junk = tmp_path / "junk.ivae"
    junk.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(IvaeError, match=r"junk\.ivae"):
        load_model(junk)
    other = tmp_path / "other.ivae"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(IvaeError, match="not a napari-ivae model"):
        load_model(other)
    future = tmp_path / "future.ivae"
    torch.save({"format": "napari-ivae-model", "version": 99}, future)
    with pytest.raises(IvaeError, match="version"):
        load_model(future)
    with pytest.raises(IvaeError, match="does not exist"):
        load_model(tmp_path / "missing.ivae")


def test_class_balance_validated_and_weighted():
    """class_balance < 0 is refused; the balance term is a KL in [0, log K] added
    to the joint loss with weight ``class_balance``."""
    import math

    from napari_ivae.models import build_model
    from napari_ivae.train import _loss

    with pytest.raises(IvaeError, match="class_balance"):
        TrainConfig(class_balance=-1.0)
    torch.manual_seed(0)
    mc = ModelConfig(kind="jvae", n_classes=3, in_channels=1, size=8)
    terms = build_model(mc)(torch.rand(16, 1, 8, 8))
    kl = float(terms["kl_marg"].detach())
    assert 0.0 <= kl <= math.log(3) + 1e-6
    off = float(_loss(terms, mc, TrainConfig(), 0.5).detach())
    on = float(_loss(terms, mc, TrainConfig(class_balance=10.0), 0.5).detach())
    assert math.isclose(on - off, 10.0 * kl, rel_tol=1e-4, abs_tol=1e-5)


@pytest.mark.parametrize("kind", ["rvae", "jrvae"])
def test_warm_starts_train_with_the_seeded_targets(kind, monkeypatch):
    """k-means class seeds (joint) and the opt-in pose warm start feed their
    targets to the model for the first ``init_fraction`` of the steps; then, for
    ``init_release`` of the steps, the class seeds are mixed into the model's
    posterior with a weight falling linearly to 0 (joint, ``discrete="exact"``)."""
    from napari_ivae.models.base import IVAE

    seen = []
    orig = IVAE.forward

    def spy(self, x, *args, class_mix=1.0, **kw):
        seen.append((args[3] is not None if len(args) > 3 else False,
                     args[4] is not None if len(args) > 4 else False, class_mix))  # fmt: skip
        return orig(self, x, *args, class_mix=class_mix, **kw)

    monkeypatch.setattr(IVAE, "forward", spy)
    tc = TrainConfig(epochs=4, batch_size=10, device="cpu", pose_init="cluster",
                     init_fraction=0.5, init_release=0.25)  # fmt: skip
    _, result = _run(fit(_data(), _small(kind), tc))
    assert result.stopped is None and len(seen) == 16
    joint = kind == "jrvae"
    assert seen[:8] == [(joint, True, 0.0)] * 8  # 4 steps per epoch, half of 16 steps seeded
    if joint:  # steps 8-11: the seed's weight 1 - (frac - 0.5) / 0.25
        assert [s[:2] for s in seen[8:12]] == [(True, False)] * 4
        assert [s[2] for s in seen[8:12]] == pytest.approx([0.0, 0.25, 0.5, 0.75])
        assert seen[12:] == [(False, False, 1.0)] * 4
    else:
        assert seen[8:] == [(False, False, 1.0)] * 8


def test_restarts_keep_the_start_with_the_lowest_loss():
    """restarts=3: three starts of restart_epochs each, then the best one goes on."""
    tc = TrainConfig(epochs=3, batch_size=10, device="cpu", restarts=3, restart_epochs=1)
    reports, result = _run(fit(_data(), _small("rvae"), tc))
    ends = [r for r in reports if r.epoch_time is not None]
    assert [r.epoch for r in ends] == [1, 1, 1, 2, 3]
    first_losses = [r.loss for r in ends[:3]]
    assert len(set(first_losses)) == 3  # the starts differ
    assert len(result.history) == 3
    assert result.history[0]["loss"] == pytest.approx(min(first_losses))
    # deterministic
    _, again = _run(fit(_data(), _small("rvae"), tc))
    assert [h["loss"] for h in again.history] == [h["loss"] for h in result.history]


def test_restart_epochs_must_leave_epochs_to_train():
    with pytest.raises(IvaeError, match="restart_epochs=3 must be smaller than epochs=3"):
        TrainConfig(epochs=3, restarts=2, restart_epochs=3)


def test_exact_class_term_is_the_elbo_not_a_capacity():
    """discrete="exact" with capacity_disc=None: the class term is KL_disc itself.
    A capacity C_α < log K could only be met by making class templates alike (the
    classes merged, docs/experiments.md); an explicit capacity_disc keeps its meaning."""
    from napari_ivae.train import _loss

    mc = ModelConfig(kind="jrvae", n_classes=4)
    terms = {k: torch.tensor(v) for k, v in
             {"recon": 10.0, "kl_z": 5.0, "kl_angle": 1.0, "kl_shift": 2.0, "kl_disc": 1.3}.items()}  # fmt: skip
    tc = TrainConfig()
    want = 10.0 + tc.beta * 3.0 + tc.beta_cont * abs(5.0 - 5.0) + 1.3
    assert float(_loss(terms, mc, tc, 0.9)) == pytest.approx(want)
    tc = TrainConfig(capacity_disc=(0.0, 0.0))
    want = 10.0 + tc.beta * 3.0 + tc.beta_cont * abs(5.0 - 5.0) + 30 * 1.3
    assert float(_loss(terms, mc, tc, 0.9)) == pytest.approx(want)


def test_seeded_classes_are_handed_over_gradually():
    """class_mix: 0 = the seed class, 1 = the model's own posterior, between: a mixture."""
    from napari_ivae.models import build_model

    torch.manual_seed(0)
    model = build_model(_small("jrvae", in_channels=1, size=12))
    x = torch.from_numpy(_data(8))
    target = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    hard = model(x, g(), class_target=target, class_mix=0.0)["kl_disc"]
    own = model(x, g())["kl_disc"]
    half = model(x, g(), class_target=target, class_mix=0.5)["kl_disc"]
    assert float(hard) == pytest.approx(np.log(3), abs=1e-4)  # one-hot: KL = log K
    assert float(own) < float(half) < float(hard)
    with pytest.raises(IvaeError, match="init_release"):
        TrainConfig(init_release=1.5)


def test_cpu_threads_never_exceed_the_cpus_the_process_may_use(monkeypatch):
    """fit lowers torch's thread count to the affinity / cgroup quota (a 2-CPU
    container on a large host otherwise runs one thread per host core)."""
    import napari_ivae.train.loop as train_mod  # where fit calls it

    budget = train_mod.cpu_budget()
    assert 1 <= budget <= (os.cpu_count() or 1)
    before = torch.get_num_threads()
    monkeypatch.setattr(train_mod, "cpu_budget", lambda: 1)
    try:
        torch.set_num_threads(2)
        _run(
            fit(_data(4, size=8), _small("vae"), TrainConfig(epochs=1, batch_size=4, device="cpu"))
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_version_2_checkpoints_load_with_their_shift_behaviour(tmp_path):
    """Format 3 added centroid_limit and shift_scale; a version-2 file loads with
    the values that reproduce it (1.0, 1.0), a new one with the new defaults."""
    from napari_ivae.models import build_model

    torch.manual_seed(0)
    model = build_model(_small("rvae", in_channels=1, size=12))
    path = tmp_path / "m.ivae"
    save_model(path, model, [])
    assert load_model(path)[0].config.shift_scale == 0.1
    obj = torch.load(path, weights_only=True)
    obj["version"] = 2
    for key in ("centroid_limit", "shift_scale"):
        del obj["model_config"][key]
    torch.save(obj, path)
    old, _ = load_model(path)
    assert (old.config.centroid_limit, old.config.shift_scale) == (1.0, 1.0)
    with pytest.raises(IvaeError, match="shift_scale"):
        ModelConfig(kind="rvae", shift_scale=0.0)


def test_seed_options_follow_what_is_known_about_the_stack():
    """ "auto": raw seed features for crops normalised against their neighbourhood
    (brightness is chemistry there), gain-free otherwise; features about the crop
    centre for crops cut about known points, about the centre of contrast for bare
    images.  Explicit choices are kept."""
    from napari_ivae.crop import Stack
    from napari_ivae.train import resolve_seed_options

    images = _data(4)
    n = len(images)
    auto = TrainConfig()

    def stack(normalize, yx=None):
        yx = np.zeros((n, 2)) if yx is None else yx
        return Stack(images, yx, np.zeros(n), np.arange(n), ("ch0",), normalize=normalize)

    def decided(data, tc=auto):
        got = resolve_seed_options(tc, data)
        return got.seed_features, got.seed_centre

    assert decided(stack("local")) == decided(stack("background")) == ("raw", "crop")
    assert decided(stack("zscore")) == decided(stack(None)) == ("gain_free", "crop")
    assert decided(stack("local", np.full((n, 2), np.nan))) == ("raw", "centroid")
    assert decided(images) == ("gain_free", "centroid")
    explicit = TrainConfig(seed_features="gain_free", seed_centre="centroid")
    assert decided(stack("local"), explicit) == ("gain_free", "centroid")
    for name in ("seed_features", "seed_centre", "class_prior", "class_init"):
        with pytest.raises(IvaeError, match=name):
            TrainConfig(**{name: "bogus"})


def test_content_capacity_follows_the_normalisation():
    """capacity_cont None: small for neighbourhood-normalised crops (the classes are
    the chemistry), 5 nats otherwise; an explicit value is kept; the loss of an
    undecided config uses the shape capacity."""
    from napari_ivae.crop import Stack
    from napari_ivae.train import _loss, resolve_seed_options
    from napari_ivae.train.config import CAPACITY_CHEMISTRY, CAPACITY_SHAPE

    images = _data(4)
    n = len(images)

    def capacity(normalize, tc=None):
        data = Stack(images, np.zeros((n, 2)), np.zeros(n), np.arange(n), ("ch0",),
                     normalize=normalize)  # fmt: skip
        return resolve_seed_options(tc or TrainConfig(), data).capacity_cont

    assert capacity("local") == capacity("background") == CAPACITY_CHEMISTRY == (0.0, 0.5)
    assert capacity("zscore") == capacity(None) == CAPACITY_SHAPE == (0.0, 5.0)
    assert resolve_seed_options(TrainConfig(), images).capacity_cont == CAPACITY_SHAPE
    assert capacity("local", TrainConfig(capacity_cont=(0, 2))) == (0.0, 2.0)
    mc = ModelConfig(kind="jrvae", n_classes=4)
    terms = {k: torch.tensor(v) for k, v in
             {"recon": 1.0, "kl_z": 0.0, "kl_angle": 0.0, "kl_shift": 0.0, "kl_disc": 0.0}.items()}  # fmt: skip
    undecided = float(_loss(terms, mc, TrainConfig(), 1.0))
    assert undecided == pytest.approx(
        float(_loss(terms, mc, TrainConfig(capacity_cont=(0, 5)), 1.0))
    )


def test_class_prior_learns_the_class_shares():
    """The learned prior moves to the mean class weights (here the seeds: 3 of 12 in
    class 1), shrunk half-way to uniform, and enters the class posterior; "uniform"
    leaves it at 1/K."""
    from napari_ivae.models import build_model

    torch.manual_seed(0)
    model = build_model(dataclasses.replace(_small("jrvae", in_channels=1, size=12), n_classes=2))
    x = torch.from_numpy(_data(12))
    target = torch.tensor([1, 0, 0, 0] * 3)
    model.train()
    model(x, class_target=target, class_mix=0.0, prior_rate=0.0)
    torch.testing.assert_close(model.class_log_prior.exp(), torch.full((2,), 0.5))
    for _ in range(60):
        model(x, class_target=target, class_mix=0.0, prior_rate=0.1)
    torch.testing.assert_close(model.class_log_prior.exp(), torch.tensor([0.625, 0.375]), atol=1e-3,
                               rtol=0)  # fmt: skip
    model.eval()
    with torch.no_grad():
        logits = model.posterior(x)["logits"]
        learned = model.class_log_prior.clone()
        model.class_log_prior.fill_(-np.log(2.0))
        uniform = model.posterior(x)["logits"]
    torch.testing.assert_close(logits - uniform, (learned + np.log(2.0)).expand(12, 2),
                               atol=1e-4, rtol=0)  # fmt: skip


def test_checkpoints_without_a_class_prior_load_uniform(tmp_path):
    """Checkpoints written before the learned prior load with the uniform prior they
    were trained with; a new checkpoint keeps the learned one."""
    from napari_ivae.models import build_model

    torch.manual_seed(0)
    model = build_model(_small("jrvae", in_channels=1, size=12))
    model.class_log_prior.copy_(torch.log(torch.tensor([0.9, 0.05, 0.05])))
    path = tmp_path / "m.ivae"
    save_model(path, model, [])
    torch.testing.assert_close(load_model(path)[0].class_log_prior, model.class_log_prior)
    obj = torch.load(path, weights_only=True)
    del obj["state_dict"]["class_log_prior"]
    torch.save(obj, path)
    old, _ = load_model(path)
    torch.testing.assert_close(old.class_log_prior.exp(), torch.full((3,), 1 / 3))
