#!/usr/bin/env python
"""Train the DCNN detectors (atoms / walls) on the project's own simulations.

Usage::

    # domain-randomised fine-tuning of the atoms network (runs A and B in docs/detection.md)
    nice -n 15 python scripts/train_dcnn.py --task atoms --init OLD_atoms.pt --lr 1e-3 \
        --steps 100000 --minutes 30 --threads 2 --seed 1 --out /tmp/atoms_B.pt
    python scripts/train_dcnn.py --task atoms --calibrate --out /tmp/atoms_B.pt  # optional
    nice -n 5 python scripts/train_dcnn.py --task walls --minutes 18 --seed 0
    python scripts/train_dcnn.py --task atoms --eval-only   # recipe, checksum, metrics

The shipped atoms weights are still those of ``--task atoms --minutes 15 --seed 0``
with the simulate_stem-based sampler of that time (171 steps on a shared 2-core
CPU, no recipe or checksum stored): the domain-randomised runs measured so far
(a few hundred CPU steps) were worse on the real MoS2 file, see docs/detection.md.

Atoms: every training patch (128², batch 8) comes from the domain-randomised
generator ``scripts/_dcnn_domain.py`` (``domain_sample``; its ``RECIPE`` lists
every range: five lattices incl. perovskite and MoS2-like 2H, spacing 5-40 px,
sublattice ratio 0.1-1, vacancies, dopants, grain boundaries, edges, holes, probe
tails, drift, scan distortion and line jitter, amorphous carbon, contamination,
2-500 counts per host peak (from where the dimmest site keeps 6), Gaussian
readout and row offsets); the target is a Gaussian (sigma 1.25 px) at each drawn
atom only.  ``--recipe v1`` uses the simulate_stem sampler of the shipped weights
(``scripts/_dcnn_v1.py``).  Sample ``i`` of step ``s`` uses the generator seed
``10_000_000 + 1_000_000 * seed + s * batch + i`` (test sets use seeds below
10_000_000, validation 5_000_000+).  Walls: ``simulate_pfm`` with randomised
parameters, simulator seeds as above.  Both are then flipped / rotated and get
random gamma, contrast and extra noise.

Training is seeded; the learning rate warms up over 50 steps and then follows a
cosine in ``max(step / steps, elapsed / minutes)``, so a run that ends on
``--minutes`` depends on the machine's speed, while one that ends on ``--steps``
is reproducible step for step on the same machine.  ``--init`` starts from an
earlier weights file (fine-tuning; its sha256 is recorded).  The weights are
saved every ``--checkpoint-minutes`` and on SIGTERM / Ctrl-C, so a run can be
stopped at any time.  They are written atomically as a float16 ``state_dict`` +
config dict to ``src/napari_ivae/detect/weights/{task}.pt`` (or ``--out``); the
config holds the recipe, the data seeds, steps, minutes and the sha256 of the
state dict, all printed (and the checksum verified) by ``--eval-only``.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from napari_ivae.detect import dcnn
from napari_ivae.detect._unet import UNet, pick_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dcnn_calibrate import calibrate, f1_of, state_sha256, validate
from _dcnn_domain import HEAT_SIGMA, RECIPE, atom_target, domain_sample
from _dcnn_v1 import SPACING_RANGE as SPACING_RANGE_V1
from _dcnn_v1 import v1_sample

# stored as spacing_min/max: detect_atoms rescales images whose spacing lies outside into
# it.  Training covers 5-40 px (RECIPE), but at 40 px the columns outgrow the network's
# ~40 px field of view (docs/detection.md, DCNN section)
SPACING_RANGE = (5.0, 20.0)
PATCH = 128
SEED_BASE = 10_000_000  # sample i of step s: SEED_BASE + 1_000_000 * seed + s * batch + i


# --------------------------------------------------------------------------- samples
def atoms_sample(rng: np.random.Generator, sim_seed: int, size: int = PATCH):
    """One (input (1,H,W), target (1,H,W)) pair from the domain-randomised generator."""
    img, yx = domain_sample(sim_seed, size)
    return dcnn.normalize(img)[None], atom_target(img.shape, yx)[None]


def walls_sample(rng: np.random.Generator, sim_seed: int, size: int = PATCH):
    """One (input (5,H,W), target (1,H,W)) pair from simulate_pfm with random parameters."""
    from napari_ivae.simulate import simulate_pfm

    units = str(rng.choice(["deg", "rad"]))
    s = simulate_pfm(
        (size, size),
        domain_size=float(np.exp(rng.uniform(np.log(12), np.log(120)))),
        wall_width=float(rng.uniform(0.7, 8.0)),
        wall_depth=float(rng.uniform(0.3, 1.0)),
        drift=float(rng.uniform(0, 150) if rng.random() < 0.8 else 0.0),
        wrap=bool(rng.random() < 0.9),
        scanline_noise=float(rng.uniform(0, 25) if rng.random() < 0.7 else 0.0),
        noise=float(np.exp(rng.uniform(np.log(2), np.log(30)))),
        amplitude_noise=float(np.exp(rng.uniform(np.log(0.02), np.log(0.3)))),
        amplitude_gain=float(np.exp(rng.uniform(np.log(0.01), np.log(100)))),
        units=units,
        seed=sim_seed,
    )
    phase = dcnn.phase_to_radians(np.asarray(s.phase, np.float32), units)
    amp = np.asarray(s.amplitude, np.float32)
    if rng.random() < 0.35:  # patches of weak response: speckled (random) phase, low amplitude
        field = ndi.gaussian_filter(rng.standard_normal(phase.shape), rng.uniform(3, 10))
        region = field > np.quantile(field, rng.uniform(0.75, 0.95))
        speck = region & (rng.random(phase.shape) < rng.uniform(0.3, 1.0))
        phase = np.where(speck, rng.uniform(-np.pi, np.pi, phase.shape), phase).astype(np.float32)
        amp = np.where(region, amp * rng.uniform(0.2, 0.8), amp).astype(np.float32)
    drop = rng.random()  # channel dropout: 15 % amplitude only, 15 % phase only
    x = dcnn.wall_inputs(phase if drop >= 0.15 else None, amp if drop < 0.85 else None)
    walls = ndi.binary_dilation(np.asarray(s.walls, bool), iterations=1)
    return x, walls[None].astype(np.float32)


def augment(x: np.ndarray, t: np.ndarray, rng: np.random.Generator, task: str):
    """Flips / 90° rotations of both; intensity gamma, contrast and extra noise on the input."""
    k = int(rng.integers(4))
    x, t = np.rot90(x, k, axes=(1, 2)), np.rot90(t, k, axes=(1, 2))
    if rng.random() < 0.5:
        x, t = x[:, :, ::-1], t[:, :, ::-1]
    x = np.array(x, np.float32)
    chans = [0] if task == "atoms" else ([2] if x[4].any() else [])
    for c in chans:
        v = np.clip(x[c], 0, None) ** rng.uniform(0.7, 1.4)
        v = v * rng.uniform(0.7, 1.3) + rng.uniform(-0.15, 0.15)
        if rng.random() < 0.3:
            v = v + rng.normal(0, rng.uniform(0.02, 0.15), v.shape)
        x[c] = np.clip(v, -0.5, 1.5)
    return x, np.ascontiguousarray(t)


def batch(task, rng, step, bs, seed):
    make = {"atoms": atoms_sample, "atoms_v1": v1_sample, "walls": walls_sample}[task]
    xs, ts = [], []
    for i in range(bs):
        sim_seed = SEED_BASE + 1_000_000 * seed + step * bs + i
        x, t = augment(*make(rng, sim_seed), rng, "walls" if task == "walls" else "atoms")
        xs.append(x)
        ts.append(t)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts))


# --------------------------------------------------------------------------- metrics
def match_f1(pred: np.ndarray, true: np.ndarray, radius: float = 2.0):
    """Greedy one-to-one matching within ``radius``; returns precision, recall, F1, RMSE."""
    if len(pred) == 0 or len(true) == 0:
        return 0.0, 0.0, 0.0, float("nan")
    d, j = cKDTree(pred).query(true, k=4, distance_upper_bound=radius)
    pairs = sorted(
        (d[i, k], i, j[i, k]) for i in range(len(true)) for k in range(4) if np.isfinite(d[i, k])
    )
    used_t, used_p, dist = set(), set(), []
    for dd, i, jj in pairs:
        if i not in used_t and jj not in used_p:
            used_t.add(i)
            used_p.add(jj)
            dist.append(dd)
    tp = len(dist)
    p, r = tp / len(pred), tp / len(true)
    f1 = 2 * p * r / (p + r) if tp else 0.0
    return p, r, f1, float(np.sqrt(np.mean(np.square(dist)))) if dist else float("nan")


def wall_f1(pred_mask: np.ndarray, true_mask: np.ndarray, tol: float = 2.0):
    """Pixel F1 with tolerance: a predicted pixel counts if within ``tol`` of a true one and vice versa."""
    if not pred_mask.any() or not true_mask.any():
        return 0.0, 0.0, 0.0
    p = float((ndi.distance_transform_edt(~true_mask)[pred_mask] <= tol).mean())
    r = float((ndi.distance_transform_edt(~pred_mask)[true_mask] <= tol).mean())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def thin_walls(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    from skimage.morphology import skeletonize

    return skeletonize(prob > threshold)


def evaluate(task: str, weights=None, seeds=range(1000, 1005), size=512, device="auto"):
    from napari_ivae.simulate import simulate_pfm, simulate_stem

    rows = []
    if task == "atoms":
        for noise in (1.0, 2.0):
            for sd in seeds:
                s = simulate_stem((size, size), lattice="graphene", noise_scale=noise, seed=sd)
                df = dcnn.detect_atoms_dcnn(s.image, device=device, weights=weights)
                rows.append(
                    (
                        noise,
                        sd,
                        *match_f1(df[["y", "x"]].to_numpy(), s.atoms[["y", "x"]].to_numpy()),
                    )
                )
        for noise in (1.0, 2.0):
            r = np.array([x[2:] for x in rows if x[0] == noise])
            print(
                f"eval atoms graphene noise×{noise}: P={r[:, 0].mean():.4f} R={r[:, 1].mean():.4f} "
                f"F1={r[:, 2].mean():.4f} (min {r[:, 2].min():.4f}) RMSE={np.nanmean(r[:, 3]):.3f} px"
            )
    else:
        hard = {"noise": 20.0, "drift": 120.0, "scanline_noise": 12.0, "amplitude_noise": 0.2}
        for name, kw, chans in [
            ("default", {}, "both"),
            ("hard", hard, "both"),
            ("default", {}, "phase only"),
            ("default", {}, "amplitude only"),
        ]:
            res = []
            for sd in seeds:
                s = simulate_pfm((size, size), seed=sd, **kw)
                ph = None if chans == "amplitude only" else s.phase
                am = None if chans == "phase only" else s.amplitude
                prob = dcnn.wall_probability(ph, am, device=device, weights=weights)
                res.append(wall_f1(thin_walls(prob), np.asarray(s.walls, bool)))
            r = np.array(res)
            rows.append((name, chans, *r.mean(axis=0)))
            print(
                f"eval walls {name} ({chans}): P={r[:, 0].mean():.4f} R={r[:, 1].mean():.4f} "
                f"F1={r[:, 2].mean():.4f} (min {r[:, 2].min():.4f})"
            )
    return rows


# --------------------------------------------------------------------------- training
def half_state(net: UNet) -> dict:
    """The state dict as saved: floating tensors in float16, on the CPU."""
    return {
        k: (v.half() if v.is_floating_point() else v).detach().cpu().clone()
        for k, v in net.state_dict().items()
    }


def save(net: UNet, config: dict, path: Path) -> str:
    """Write float16 weights + config atomically; return the state dict's sha256."""
    sd = half_state(net)
    config = {**config, "sha256": state_sha256(sd)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"state_dict": sd, "config": config}, tmp)
    os.replace(tmp, path)
    return config["sha256"]


def _config(args, in_ch: int, step: int, seconds: float, init_sha: str | None) -> dict:
    config = {
        "task": args.task,
        "in_channels": in_ch,
        "out_channels": 1,
        "base": args.base,
        "depth": args.depth,
        "tile": 768,
        "margin": 32,
        "seed": args.seed,
        "steps": step,
        "batch": args.batch,
        "patch": PATCH,
        "lr": args.lr,
        "minutes": round(seconds / 60, 2),
        "threads": args.threads,
        "torch": str(torch.__version__),
        "version": 1,
    }
    if args.task == "atoms" and args.recipe == "v1":
        config.update(
            {
                "heat_sigma": HEAT_SIGMA,
                "spacing_min": SPACING_RANGE_V1[0],
                "spacing_max": SPACING_RANGE_V1[1],
                "generator": "scripts/_dcnn_v1.py v1_sample",
            }
        )
    elif args.task == "atoms":
        config.update(
            {
                "heat_sigma": HEAT_SIGMA,
                "spacing_min": SPACING_RANGE[0],
                "spacing_max": SPACING_RANGE[1],
                "generator": "scripts/_dcnn_domain.py domain_sample",
                "recipe": RECIPE,
                "data_seeds": f"{SEED_BASE} + 1000000 * seed + step * batch + i",
                "init_sha256": init_sha or "",
                "version": 2,
            }
        )
    return config


def _init_net(args, in_ch: int, device) -> tuple[UNet, str | None]:
    net = UNet(in_ch, 1, args.base, args.depth)
    init_sha = None
    if args.init is not None:  # fine-tune: start from an earlier weights file
        blob = torch.load(args.init, map_location="cpu", weights_only=True)
        init_sha = state_sha256(blob["state_dict"])
        net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
        print(f"init from {args.init} (sha256 {init_sha})", flush=True)
    return net.to(device), init_sha


def train(args) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    device = pick_device(args.device)
    in_ch = 1 if args.task == "atoms" else 5
    net, init_sha = _init_net(args, in_ch, device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    # walls are thin: weight the positive class so recall does not collapse
    pos_weight = torch.tensor([1.0 if args.task == "atoms" else 3.0], device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    stop = []  # SIGTERM / SIGINT: finish the step, save, evaluate
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    t0, step, avg, last_ckpt = time.time(), 0, None, time.time()
    print(
        f"training {args.task}: device={device} threads={args.threads} steps<={args.steps} "
        f"minutes<={args.minutes} params={sum(p.numel() for p in net.parameters())}",
        flush=True,
    )
    while not stop:
        progress = max(step / args.steps, (time.time() - t0) / (60 * args.minutes))
        if progress >= 1:
            break
        lr = args.lr * (min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        kind = "atoms_v1" if args.task == "atoms" and args.recipe == "v1" else args.task
        x, t = batch(kind, rng, step, args.batch, args.seed)
        loss = loss_fn(net(x.to(device)), t.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
        step += 1
        if step % 25 == 0:
            print(
                f"step {step:5d}  {time.time() - t0:7.1f}s  lr {lr:.2e}  loss {avg:.4f}", flush=True
            )
        if time.time() - last_ckpt > 60 * args.checkpoint_minutes:
            net.eval()
            save(net, _config(args, in_ch, step, time.time() - t0, init_sha), args.out)
            net.train()
            last_ckpt = time.time()
            print(f"checkpoint {args.out} at step {step}", flush=True)
    net.eval()
    sha = save(net, _config(args, in_ch, step, time.time() - t0, init_sha), args.out)
    print(
        f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) after {step} steps, "
        f"{(time.time() - t0) / 60:.1f} min, sha256 {sha}",
        flush=True,
    )
    dcnn._load.cache_clear()
    evaluate(args.task, weights=args.out, device=args.device)


def describe(path: Path) -> None:
    """Print the config stored with a weights file and check its checksum."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    cfg = dict(blob["config"])
    sha = state_sha256(blob["state_dict"])
    stored = cfg.pop("sha256", None)
    recipe = cfg.pop("recipe", None)
    print(f"weights {path}: " + ", ".join(f"{k}={v}" for k, v in cfg.items()))
    if recipe is not None:
        print("recipe: " + ", ".join(f"{k}={v}" for k, v in recipe.items()))
    ok = "matches" if stored == sha else f"stored {stored}: MISMATCH" if stored else "none stored"
    print(f"sha256 of the state dict: {sha} ({ok})", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["atoms", "walls"], required=True)
    ap.add_argument("--minutes", type=float, default=14.0, help="wall-time budget")
    ap.add_argument("--steps", type=int, default=3000, help="step budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--recipe",
        choices=["domain", "v1"],
        default="domain",
        help="atoms training data: domain-randomised, or v1 (the shipped weights' sampler)",
    )
    ap.add_argument("--init", type=Path, default=None, help="weights file to start from")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0, help="save --out this often")
    ap.add_argument(
        "--eval-only", action="store_true", help="only evaluate the weights (seeds 1000-1004)"
    )
    ap.add_argument(
        "--calibrate",
        action="store_true",
        help="atoms: fold the F1-best validation threshold into --out's output bias, then exit",
    )
    args = ap.parse_args(argv)
    args.out = args.out or dcnn.WEIGHTS_DIR / f"{args.task}.pt"
    if args.calibrate:
        torch.set_num_threads(args.threads)
        calibrate(args.out)
    elif args.eval_only:
        torch.set_num_threads(args.threads)
        describe(args.out)
        evaluate(args.task, weights=args.out, device=args.device)
        if args.task == "atoms":
            c = validate(args.out)[0.5]
            print(
                f"validation (96 domain patches 256², seeds 5000000+): F1 {f1_of(*c):.4f} "
                f"at 0.5, (tp, fp, fn) = {c}",
                flush=True,
            )
    else:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
