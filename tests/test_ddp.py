"""The same ``fit`` under torchrun: 2 CPU processes, gloo, identical weights at the end."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    import torch.distributed as dist
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit

    torch.set_num_threads(1)
    out = sys.argv[1]
    x = np.random.default_rng(0).random((48, 1, 12, 12), dtype=np.float32)
    mc = ModelConfig(kind="jrvae", n_classes=2, hidden=16, angle_bins=8)
    tc = TrainConfig(epochs=2, batch_size=8, device="cpu", checkpoint=out + "/model.ivae")
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    reports = list(fit(x, mc, tc))
    model = reports[-1].model
    assert [r.epoch for r in reports if r.epoch_time] == [1, 2]
    assert reports[-1].n_steps == 3  # 48 samples / 2 ranks / batch 8
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()
    """
)


@pytest.mark.slow
def test_ddp_two_processes_identical_weights(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           str(script), str(tmp_path)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    assert (tmp_path / "model.ivae").is_file()  # rank 0 saved the checkpoint
    from napari_ivae.train import load_model

    model, history = load_model(tmp_path / "model.ivae")
    assert len(history) == 2
    for k, v in model.state_dict().items():
        assert torch.equal(v, w0[k]), k
