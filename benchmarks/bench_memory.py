"""Peak memory of training on a large stack: 1,000,000 sub-images of 32×32.

Target (issue 4): peak RSS ≤ 8 GB.  The stack itself is 1e6 × 32 × 32 × 4 B =
4.1 GB of float32, so training may add at most ~3.9 GB on top of the data.

Each measurement runs in a fresh child process and reads its own
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end, so nothing of the
parent (or of writing the test file) is counted.

Modes
-----
``array``  the stack is built in memory (float32, (N, 1, 32, 32)) and handed
           to ``napari_ivae.train.fit`` (the library / napari path).
``npz``    the stack is first written to an ``.npz`` by another child, then
           the training child loads it the way ``ivae train`` does
           (``napari_ivae.cli._vae.load_stack_npz``: ``Stack.load`` + the
           NaN/inf check) and trains (the CLI path, without the final encode).

Training runs for ``--steps`` optimisation steps (a capped epoch: the seeded
permutation of one epoch runs over the whole stack, so the batches are drawn
from all of it) and is then stopped by closing the generator.

Usage::

    nice -n 5 python benchmarks/bench_memory.py [--n 1000000] [--steps 300]
        [--mode array|npz|both] [--model rvae] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = 32


def _rss_gb() -> float:
    """Current RSS from /proc (GB)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def _make_stack(n: int, seed: int = 0) -> np.ndarray:
    """(n, 1, 32, 32) float32: Gaussian blobs at random offsets plus noise, built in chunks."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 1, SIZE, SIZE), np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32) - (SIZE - 1) / 2
    chunk = 20_000
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        cy, cx = (rng.uniform(-4, 4, (2, m, 1, 1))).astype(np.float32)
        block = out[i : i + m, 0]
        np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0, out=block)
        block += 0.1 * rng.standard_normal(block.shape, dtype=np.float32)
    return out


def child_write(n: int, path: str) -> None:
    np.savez(path, images=_make_stack(n))


def child_train(
    mode: str, n: int, steps: int, model: str, batch_size: int, path: str | None
) -> dict:
    import torch

    torch.set_num_threads(2)
    from napari_ivae.models import ModelConfig
    from napari_ivae.train import TrainConfig, fit

    t0 = time.perf_counter()
    if mode == "array":
        data = _make_stack(n)
    else:
        from napari_ivae.cli._vae import load_stack_npz

        data = load_stack_npz(path)
    t_data = time.perf_counter() - t0
    rss_data = _rss_gb()
    peak_data = _peak_gb()
    mc = ModelConfig(kind=model, latent_dim=2, n_classes=2 if model in ("jvae", "jrvae") else None)
    tc = TrainConfig(epochs=1, batch_size=batch_size, device="cpu", seed=0)
    gen = fit(data, mc, tc)
    t1 = time.perf_counter()
    done = 0
    for p in gen:
        done = p.step
        if done >= steps:
            break
    gen.close()
    t_train = time.perf_counter() - t1
    return {
        "mode": mode,
        "n": n,
        "shape": [n, 1, SIZE, SIZE],
        "stack_gb": n * SIZE * SIZE * 4 / 1e9,
        "model": model,
        "batch_size": batch_size,
        "steps": done,
        "n_steps_epoch": int(np.ceil(n / batch_size)),
        "data_seconds": round(t_data, 1),
        "train_seconds": round(t_train, 1),
        "samples_per_s": round(done * batch_size / max(t_train, 1e-9), 1),
        "rss_after_data_gb": round(rss_data, 3),
        "peak_after_data_gb": round(peak_data, 3),
        "rss_end_gb": round(_rss_gb(), 3),
        "peak_rss_gb": round(_peak_gb(), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--mode", choices=("array", "npz", "both"), default="array")
    ap.add_argument("--model", default="rvae")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--child", choices=("train", "write"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "write":
        child_write(args.n, args.path)
        return
    if args.child == "train":
        res = child_train(args.mode, args.n, args.steps, args.model, args.batch_size, args.path)
        print("RESULT " + json.dumps(res), flush=True)
        return

    modes = ("array", "npz") if args.mode == "both" else (args.mode,)
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--n", str(args.n), "--steps", str(args.steps), "--model", args.model,
              "--batch-size", str(args.batch_size)]  # fmt: skip
    for mode in modes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            path = str(Path(tmp) / "stack.npz")
            if mode == "npz":
                subprocess.run([*me, *common, "--child", "write", "--path", path], check=True)
            out = subprocess.run(
                [*me, *common, "--mode", mode, "--child", "train", "--path", path],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
        res = json.loads(line[len("RESULT ") :])
        ok = "PASS" if res["peak_rss_gb"] <= 8.0 else "FAIL"
        print(
            f"{mode:5s}  N={res['n']:,} ×1×{SIZE}×{SIZE} ({res['stack_gb']:.2f} GB float32)  "
            f"{res['model']} batch {res['batch_size']}: {res['steps']} steps "
            f"({res['samples_per_s']:.0f} samples/s)  RSS with data {res['rss_after_data_gb']:.2f} GB, "
            f"peak RSS {res['peak_rss_gb']:.2f} GB  [{ok}: target ≤ 8 GB]"
        )
        print(json.dumps(res))


if __name__ == "__main__":
    main()
