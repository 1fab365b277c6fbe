"""Never lose work, never crash on the user: ``ivae train / encode / manifold`` (issue 10, §3).

Every case runs the failing command through ``napari_ivae.cli.main`` (or a real
process where a signal is needed), checks the exit code and the one-line
message, and that nothing was lost: the files of the run folder that existed
before hash the same afterwards, and no hidden temp file or folder is left.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from napari_ivae import IvaeError
from napari_ivae._atomic import StagedFolder, clean_stale
from napari_ivae.cli import main
from napari_ivae.crop import Stack

N, W = 16, 12
TRAIN = ["--model", "vae", "--latent-dim", "2", "--epochs", "1", "--batch-size", "16"]


def _images(n: int = N, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:W, :W] - (W - 1) / 2
    disc = np.exp(-(yy**2 + xx**2) / 8)
    return (disc[None, None] * rng.uniform(0.5, 1.5, (n, 1, 1, 1))
            + 0.05 * rng.normal(size=(n, 1, W, W))).astype(np.float32)  # fmt: skip


def _stack(images: np.ndarray) -> Stack:
    n = len(images)
    return Stack(images=images, yx=np.zeros((n, 2)), frame=np.zeros(n, np.int64),
                 index=np.arange(n), channels=("HAADF",))  # fmt: skip


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _run(args: list, capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("ivae: error:"), err
    assert "Traceback" not in err and "weights_only" not in err
    return err


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """A stack and a good run folder (trained once), copied by each test."""
    d = tmp_path_factory.mktemp("reliability")
    _stack(_images()).save(d / "stack.npz")
    assert main(["train", str(d / "stack.npz"), *TRAIN, "-q", "-o", str(d / "good")]) == 0
    return {"stack": d / "stack.npz", "good": d / "good"}


@pytest.fixture
def run(made, tmp_path) -> SimpleNamespace:
    """A copy of the good run (plus a user's note) and its hashes."""
    folder = tmp_path / "run"
    shutil.copytree(made["good"], folder)
    (folder / "notes.txt").write_text("my notes")
    return SimpleNamespace(dir=folder, hashes=_hashes(folder), stack=made["stack"], tmp=tmp_path)


def _intact(run: SimpleNamespace) -> None:
    assert _hashes(run.dir) == run.hashes
    assert _hidden(run.tmp) == []


def _nan_loss_from_call(monkeypatch, k: int) -> None:
    """Make the training loss NaN from its k-th evaluation on (a diverging run)."""
    import napari_ivae.train.loop as train_mod

    loss, calls = train_mod._loss, [0]

    def nan_after(*a, **kw):
        calls[0] += 1
        out = loss(*a, **kw)
        return out * float("nan") if calls[0] >= k else out

    monkeypatch.setattr(train_mod, "_loss", nan_after)


# ----------------------------------------------------------------------------- 1. failed retrain
def test_failed_retrain_keeps_the_run_and_says_where_the_weights_went(run, monkeypatch, capsys):
    _nan_loss_from_call(monkeypatch, 2)  # epoch 1 fine, epoch 2 diverges
    code, err = _run(["train", run.stack, *TRAIN, "--epochs", "3", "-o", run.dir], capsys)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("ivae: error: training failed: non-finite loss at epoch 2")
    assert f"{run.dir} is unchanged" in line
    _intact(run)
    failed = [p for p in run.tmp.iterdir() if p.name.startswith("run.failed-")]
    assert len(failed) == 1 and str(failed[0]) in line and "1 epoch(s)" in line
    assert sorted(p.name for p in failed[0].iterdir()) == ["history.csv", "model.ivae"]
    from napari_ivae.train import load_model

    _model, history = load_model(failed[0] / "model.ivae")
    assert [h["epoch"] for h in history] == [1]
    assert list(pd.read_csv(failed[0] / "history.csv")["epoch"]) == [1]


def test_failed_first_step_keeps_nothing(run, monkeypatch, capsys):
    _nan_loss_from_call(monkeypatch, 1)
    code, err = _run(["train", run.stack, *TRAIN, "-q", "-o", run.dir], capsys)
    assert code == 2
    assert "no weights were kept" in _one_line(err) and f"{run.dir} is unchanged" in err
    _intact(run)
    assert sorted(p.name for p in run.tmp.iterdir()) == ["run"]
    # a new run folder that fails is not created at all
    code, err = _run(["train", run.stack, *TRAIN, "-q", "-o", run.tmp / "a" / "b" / "new"], capsys)
    assert code == 2 and "was not created" in _one_line(err)
    assert sorted(p.name for p in run.tmp.iterdir()) == ["run"]


def test_absurd_lr_and_huge_values_are_refused_up_front(run, capsys):
    code, err = _run(["train", run.stack, *TRAIN, "--lr", "1e30", "-o", run.dir], capsys)
    assert code == 2 and "--lr=1e+30" in _one_line(err) and "≤ 1.0" in err
    huge = run.tmp / "huge.npz"
    images = _images()
    images[3] *= 1e30  # finite, but far from normalised crops
    np.savez(huge, images=images)
    code, err = _run(["train", huge, *TRAIN, "-o", run.dir], capsys)
    assert code == 2 and "huge.npz holds values up to" in _one_line(err)
    assert "(image 3)" in err and "normalize" in err
    huge.unlink()
    _intact(run)


def test_successful_retrain_replaces_the_run_at_once_and_keeps_other_files(run, capsys):
    os.chmod(run.dir, 0o750)
    code, err = _run(["train", run.stack, *TRAIN, "--seed", "5", "-q", "-o", run.dir], capsys)
    assert code == 0, err
    now = _hashes(run.dir)
    assert sorted(now) == ["history.csv", "latent.csv", "model.ivae", "notes.txt"]
    assert now["notes.txt"] == run.hashes["notes.txt"]
    assert now["model.ivae"] != run.hashes["model.ivae"]  # another seed, other weights
    assert (run.dir.stat().st_mode & 0o777) == 0o750  # the folder keeps its permissions
    assert _hidden(run.tmp) == []


def test_retrain_through_a_symlink_replaces_the_target(run, capsys):
    link = run.tmp / "link"
    link.symlink_to(run.dir)
    code, err = _run(["train", run.stack, *TRAIN, "--seed", "7", "-q", "-o", link], capsys)
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == run.dir
    assert _hashes(run.dir)["model.ivae"] != run.hashes["model.ivae"]
    assert _hidden(run.tmp) == []


def test_staged_folder_restores_the_old_folder_when_the_swap_fails(tmp_path, monkeypatch):
    old = tmp_path / "run"
    old.mkdir()
    (old / "model.ivae").write_text("good")
    staged = StagedFolder(old)
    (staged.tmp / "model.ivae").write_text("new")
    real_rename, calls = os.rename, []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new folder into place
            raise OSError(errno.EIO, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="cannot write"):
        with staged:
            staged.commit()
    monkeypatch.undo()
    assert (old / "model.ivae").read_text() == "good"
    assert _hidden(tmp_path) == []


# ----------------------------------------------------------------------------- 2. signals, stale temps
@pytest.mark.slow
def test_sigterm_mid_training_cleans_up(run):
    """A real process, killed by SIGTERM while training: exit 143, one line, run intact."""
    log = run.tmp / "stderr.txt"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "napari_ivae.cli", "train", str(run.stack), *TRAIN,
             "--epochs", "5000", "-o", str(run.dir)],
            stderr=fh, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            staged = [p for p in run.tmp.iterdir() if p.name.startswith(".run.")]
            if staged and "epoch 1/5000" in log.read_text():
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        else:
            pytest.fail("training did not start in 60 s")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    err = log.read_text()
    assert err.strip().splitlines()[-1] == "ivae: terminated" and "Traceback" not in err
    log.unlink()
    _intact(run)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temps_of_killed_runs_are_removed_next_time(run, capsys):
    dead = _dead_pid()
    parent = run.tmp
    staged = parent / f".run.{dead}.abcd1234.tmp"  # a run folder being written when killed
    staged.mkdir()
    (staged / "model.ivae").write_bytes(b"partial")
    backup = parent / f".run.{dead}.efgh5678.old"  # killed after the swap, before the clean-up
    backup.mkdir()
    (backup / "model.ivae").write_bytes(b"old")
    mine = parent / f".run.{os.getpid()}.ijkl9012.tmp"  # a live writer's: kept
    mine.mkdir()
    code, err = _run(["train", run.stack, *TRAIN, "-q", "-o", run.dir], capsys)
    assert code == 0, err
    assert _hidden(parent) == [mine.name]
    mine.rmdir()
    # single files: a killed atomic_write (pid-tagged) and an old untagged temp of an earlier version
    tagged = parent / f".stack.npz.{dead}.a1b2c3d4.npz"
    legacy = parent / ".stack.npz.zz9y8x7w.npz"
    for p in (tagged, legacy):
        p.write_bytes(b"x" * 1000)
    two_hours_ago = time.time() - 7200
    os.utime(legacy, (two_hours_ago, two_hours_ago))
    _stack(_images()).save(parent / "stack.npz")
    assert _hidden(parent) == []


def test_backup_of_a_swap_cut_short_is_restored(tmp_path):
    dead = _dead_pid()
    backup = tmp_path / f".run.{dead}.abcdefgh.old"
    backup.mkdir()
    (backup / "model.ivae").write_text("the only copy")
    assert clean_stale(tmp_path, "run") == [tmp_path / "run"]
    assert (tmp_path / "run" / "model.ivae").read_text() == "the only copy"
    assert _hidden(tmp_path) == []


# ----------------------------------------------------------------------------- 3. one line, not a traceback
@pytest.mark.parametrize("victim", ["model.ivae", "latent.csv"])
def test_full_disk_is_one_line_and_loses_nothing(run, monkeypatch, capsys, victim):
    def no_space(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    if victim == "model.ivae":
        monkeypatch.setattr(Path, "write_bytes", no_space)  # the checkpoint writer
    else:
        monkeypatch.setattr(pd.DataFrame, "to_csv", no_space)
    code, err = _run(["train", run.stack, *TRAIN, "-q", "-o", run.dir], capsys)
    assert code == 2
    assert _one_line(err) == (
        f"ivae: error: cannot write {run.dir / victim}: No space left on device; "
        f"{run.dir} is unchanged\n"
    )
    _intact(run)
    # a single file (encode) names the file the user asked for
    monkeypatch.setattr(pd.DataFrame, "to_csv", no_space)
    out = run.tmp / "lat.csv"
    code, err = _run(["encode", run.dir / "model.ivae", run.stack, "-o", out], capsys)
    assert code == 2
    assert _one_line(err) == f"ivae: error: cannot write {out}: No space left on device\n"
    _intact(run)


def test_bare_os_error_is_one_line(monkeypatch, capsys):
    import napari_ivae.cli._vae as vae

    def broken(path):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out.csv")

    monkeypatch.setattr(vae, "load_stack_npz", broken)
    code, err = _run(["encode", "m.ivae", "s.npz", "-o", "/tmp/x.csv"], capsys)
    assert code == 2 and err == "ivae: error: cannot write /data/out.csv: No space left on device\n"


def test_empty_and_cut_model_files(run, capsys):
    empty = run.tmp / "empty.ivae"
    empty.touch()
    cut = run.tmp / "cut.ivae"
    data = (run.dir / "model.ivae").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    for model, word in ((empty, "empty (0 bytes)"), (cut, "not a napari-ivae model file")):
        code, err = _run(["encode", model, run.stack, "-o", run.tmp / "l.csv"], capsys)
        assert code == 2 and word in _one_line(err) and str(model) in err
        code, err = _run(["manifold", model, "-o", run.tmp / "g.png"], capsys)
        assert code == 2 and word in _one_line(err)
    empty.unlink()
    cut.unlink()
    _intact(run)


# ----------------------------------------------------------------------------- 4. upper bounds
BOUNDS = [
    (["--latent-dim", "1000000000"], "--latent-dim=1000000000 is out of range", "≤ 256"),
    (["--latent-dim", "100000"], "--latent-dim=100000", "≤ 256"),
    (["--latent-dim", "200"], "--latent-dim=200", "≤ 144 (at most the 144 values of one 1×12×12"),
    (["--model", "jvae", "--classes", "1000000"], "--classes=1000000", "≤ 100"),
    (["--model", "jvae", "--classes", "9"], "--classes=9", "≤ 8 (at least 2 images per class"),
    (["--epochs", "1000000"], "--epochs=1000000", "≤ 10000"),
]


@pytest.mark.parametrize(("args", "given", "limit"), BOUNDS)
def test_upper_bounds_name_the_limit(run, capsys, args, given, limit):
    t0 = time.perf_counter()
    code, err = _run(["train", run.stack, *TRAIN, *args, "-o", run.dir], capsys)
    assert code == 2 and given in _one_line(err) and limit in err
    assert time.perf_counter() - t0 < 2  # refused up front, nothing trained
    _intact(run)


def test_bounds_hold_for_the_api_too():
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit

    x = _images()
    with pytest.raises(IvaeError, match=r"n_classes=9 is out of range; expected 2 ≤ n_classes ≤ 8"):
        fit(x, ModelConfig(kind="jvae", n_classes=9), TrainConfig(epochs=1))
    with pytest.raises(IvaeError, match=r"latent_dim=300 .* ≤ 144"):
        fit(x, ModelConfig(kind="vae", latent_dim=300), TrainConfig(epochs=1))
    with pytest.raises(IvaeError, match=r"lr=10\.0 is out of range"):
        fit(x, ModelConfig(kind="vae"), TrainConfig(epochs=1, lr=10.0))


# ----------------------------------------------------------------------------- 5. NaN with exit 0
def test_nan_weights_are_refused_by_load_encode_and_manifold(run, capsys):
    from napari_ivae.analysis import encode
    from napari_ivae.train import load_model, save_model

    model, history = load_model(run.dir / "model.ivae")
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(IvaeError, match="NaN or inf"):
        encode(model, _images())
    bad = run.tmp / "nan.ivae"
    save_model(bad, model, history)
    with pytest.raises(IvaeError, match=r"nan\.ivae: the model's weights hold NaN or inf"):
        load_model(bad)
    code, err = _run(["encode", bad, run.stack, "-o", run.tmp / "l.csv"], capsys)
    assert code == 2 and "weights hold NaN or inf" in _one_line(err)
    code, err = _run(["manifold", bad, "-o", run.tmp / "g.png"], capsys)
    assert code == 2 and "weights hold NaN or inf" in _one_line(err)
    bad.unlink()
    _intact(run)


def test_encode_refuses_nan_and_huge_inputs_like_the_cli(run, capsys):
    from napari_ivae.analysis import encode
    from napari_ivae.train import load_model

    model, _ = load_model(run.dir / "model.ivae")
    x = _images()
    x[2, 0, 1, 1] = np.nan
    with pytest.raises(IvaeError, match=r"NaN or inf \(first in image 2\)"):
        encode(model, x)
    x = _images() * 1e30
    with pytest.raises(IvaeError, match=r"values up to .*e\+30 \(image 0\).*normalize"):
        encode(model, x)
    huge = run.tmp / "huge.npz"
    np.savez(huge, images=x)
    code, err = _run(["encode", run.dir / "model.ivae", huge, "-o", run.tmp / "l.csv"], capsys)
    assert code == 2 and "values up to" in _one_line(err)
    huge.unlink()
    _intact(run)


# ----------------------------------------------------------------------------- 6. unwritable output
def test_unwritable_output_fails_before_any_training(run, monkeypatch, capsys):
    import tempfile

    import napari_ivae.train as train_mod

    def no_training(*_a, **_k):  # a generator, like the real one
        raise AssertionError("trained although the output cannot be written")
        yield

    def denied(*_a, dir=None, **_k):
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    monkeypatch.setattr(train_mod, "_fit", no_training)
    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code, err = _run(["train", run.stack, *TRAIN, "-o", run.dir], capsys)
    assert (
        code == 2 and _one_line(err) == f"ivae: error: cannot write {run.dir}: Permission denied\n"
    )
    out = run.tmp / "l.csv"
    code, err = _run(["encode", run.dir / "model.ivae", run.stack, "-o", out], capsys)
    assert code == 2 and err == f"ivae: error: cannot write {out}: Permission denied\n"
    monkeypatch.undo()
    _intact(run)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only folders")
def test_read_only_folder_for_real(run, capsys):  # pragma: no cover - CI runs as a user
    ro = run.tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, err = _run(["train", run.stack, *TRAIN, "-o", ro / "run"], capsys)
        assert code == 2 and "cannot write" in _one_line(err) and "Permission denied" in err
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []


def test_not_enough_disk_space_is_said_before_training(run, monkeypatch, capsys):
    import napari_ivae._atomic as atomic

    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda _p: SimpleNamespace(free=1000))
    code, err = _run(["train", run.stack, *TRAIN, "-o", run.dir], capsys)
    assert code == 2 and "not enough free space for -o" in _one_line(err) and "MB needed" in err
    monkeypatch.undo()
    _intact(run)


# ----------------------------------------------------------------------------- 7-8. unsafe checkpoints
class _Payload:
    """Unpickling this creates a folder: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_unsafe_checkpoint_is_refused_without_running_its_code(run, capsys):
    from napari_ivae.train import load_model

    good = torch.load(run.dir / "model.ivae", weights_only=True)  # format, version, real weights
    marker = run.tmp / "payload_ran"
    evil = run.tmp / "evil.ivae"
    torch.save({**good, "history": [{"epoch": 1, "loss": _Payload(marker)}]}, evil)
    clean = run.tmp / "clean.ivae"
    torch.save({**good, "history": [{"epoch": 1, "loss": 1.0}]}, clean)
    load_model(clean)  # the same file without the payload passes every check

    with pytest.raises(IvaeError) as info:
        load_model(evil)
    msg = str(info.value)
    assert msg == (
        f"{evil}: refused to load: the file holds Python objects that are not plain data "
        "(possibly unsafe); only checkpoints written by napari-ivae load"
    )
    code, err = _run(["encode", evil, run.stack, "-o", run.tmp / "l.csv"], capsys)
    assert code == 2 and "refused to load" in _one_line(err)
    code, err = _run(["manifold", evil, "-o", run.tmp / "g.png"], capsys)
    assert code == 2 and "refused to load" in _one_line(err)
    assert not marker.exists()
    # the payload is live: an unsafe load would have run it
    torch.load(evil, weights_only=False)
    assert marker.is_dir()
    marker.rmdir()
    for p in (evil, clean):
        p.unlink()
    _intact(run)


# ----------------------------------------------------------------------------- 9. progress
def test_plain_progress_lines_one_per_epoch(made, tmp_path, capsys):
    code, err = _run(["train", made["stack"], *TRAIN, "--epochs", "3", "-o", tmp_path / "r"],
                     capsys)  # fmt: skip
    assert code == 0, err
    lines = err.strip().splitlines()
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in epochs] == ["1/3", "2/3", "3/3"]
    assert "eta" not in epochs[2]
    assert lines[-1].startswith("trained vae on 16 images") and len(lines) == 5


def test_progress_lines_show_time_and_eta(capsys):
    from napari_ivae.cli._vae import _Reporter
    from napari_ivae.train import Progress

    def p(epoch, step, elapsed, end=True, phase="train"):
        return Progress(epoch=epoch, n_epochs=3, step=step, n_steps=4, loss=123.44, terms={},
                        elapsed=elapsed, samples_per_s=0.0, epoch_time=1.0 if end else None,
                        phase=phase)  # fmt: skip

    report = _Reporter("vae", quiet=False, every=30.0)
    for prog in (p(1, 0, 0.0, False, "start"), p(1, 2, 5.0, False), p(1, 4, 40.0),
                 p(2, 1, 45.0, False), p(2, 4, 80.0), p(3, 4, 120.0)):  # fmt: skip
        report(prog)
    assert capsys.readouterr().err.splitlines() == [
        "epoch 1/3  loss 123.4  40.0 s  eta 80 s",
        "epoch 2/3  loss 123.4  80.0 s  eta 40 s",
        "epoch 3/3  loss 123.4  120.0 s",
    ]
    quiet = _Reporter("vae", quiet=True)
    quiet(p(1, 4, 40.0))
    assert capsys.readouterr().err == ""


def test_demo_training_prints_every_epoch_once():
    from napari_ivae.pipeline import DemoSettings, _train

    lines: list[str] = []
    _train(SimpleNamespace(images=_images()), "vae", latent_dim=2, n_classes=None, epochs=3,
           settings=DemoSettings.choose(True), seed=0, say=lines.append, label="VAE")  # fmt: skip
    assert [ln.split(",")[0] for ln in lines] == [f"  VAE: epoch {e}/3" for e in (1, 2, 3)]


def test_demo_cli_prints_its_last_line_once(tmp_path, monkeypatch, capsys):
    import napari_ivae.pipeline as pipeline

    def fake_demo(out, *, quick, seed, progress):
        progress("samples loaded")
        progress(f"done in 1 s: 1 figures in {out}")
        return {"figures": {"a": Path(out) / "a.png"}, "files": {}, "summary": {}}

    monkeypatch.setattr(pipeline, "run_demo", fake_demo)
    assert main(["demo", "--out", str(tmp_path), "--quick"]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == ["samples loaded", f"done in 1 s: 1 figures in {tmp_path}"]
    assert cap.out == ""
    assert main(["demo", "--out", str(tmp_path), "--quick", "--quiet"]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [f"done in 1 s: 1 figures in {tmp_path}"] and cap.out == ""


@pytest.mark.slow
def test_sigkill_leftovers_are_removed_by_the_next_run(run, capsys):
    """A real process killed outright leaves its temp folder; the next run removes it."""
    log = run.tmp / "stderr.txt"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "napari_ivae.cli", "train", str(run.stack), *TRAIN,
             "--epochs", "5000", "-o", str(run.dir)],
            stderr=fh, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "epoch 1/5000" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log.unlink()
    left = _hidden(run.tmp)  # the killed writer's temp folder, tagged with its pid
    assert len(left) == 1 and left[0].startswith(f".run.{proc.pid}.") and left[0].endswith(".tmp")
    assert _hashes(run.dir) == run.hashes  # the old run is intact
    before = signal.getsignal(signal.SIGTERM)
    code, err = _run(["train", run.stack, *TRAIN, "-q", "-o", run.dir], capsys)
    assert code == 0, err
    assert _hidden(run.tmp) == []
    assert signal.getsignal(signal.SIGTERM) is before  # main restores the handler
