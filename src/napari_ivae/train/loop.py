"""The training loop of :func:`~napari_ivae.train.fit`, as small named steps.

:func:`_fit` sets a run up (:func:`_setup`), reports that it is ready, then
trains epoch by epoch (:func:`_epochs`: restarts, then :func:`_epoch`: batches,
each :func:`_batch_loss` then :func:`_update`, with :func:`_report` at the end
of an epoch and every ``progress_interval``).  A non-finite loss stops the run
and restores the weights the epoch started from (a copy per epoch, not per
step).
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from napari_ivae._limits import cpu_budget
from napari_ivae.models import ModelConfig, build_model
from napari_ivae.train.checkpoint import save_model
from napari_ivae.train.config import Progress, TrainConfig, TrainResult
from napari_ivae.train.data import _device, _dist_info
from napari_ivae.train.loss import _loss, _ramp
from napari_ivae.train.seeds import _Seeds

#: step of the running mean that learns the class prior (TrainConfig.class_prior)
_PRIOR_RATE = 0.05


@dataclass
class _Run:
    """What the steps of one run share: data, configs, device, model, optimiser, history."""

    x_all: torch.Tensor
    mc: ModelConfig
    tc: TrainConfig
    device: torch.device
    world: int = 1
    rank: int = 0
    own_group: bool = False
    model: Any = None
    net: Any = None
    opt: Any = None
    gen: Any = None
    seeds: _Seeds | None = None
    history: list[dict] = field(default_factory=list)
    n_steps: int = 1
    prior_rate: float = 0.0
    t0: float = 0.0
    last_yield: float = 0.0
    c_all: torch.Tensor | None = None  # conditional kinds: the condition of every image
    #: semi-supervised kinds: the labelled rows, a few of which join every batch
    labelled: torch.Tensor | None = None

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def n_local(self) -> int:
        n = self.x_all.shape[0]
        return n // self.world if self.distributed else n

    @property
    def use_amp(self) -> bool:
        return self.tc.amp and self.device.type == "cuda"

    def save(self) -> None:
        """Write the checkpoint (when configured, on rank 0)."""
        if self.tc.checkpoint and self.rank == 0:
            save_model(
                self.tc.checkpoint, self.model, self.history, train_config=self.tc,
                optimizer=self.opt,
            )  # fmt: skip

    def teardown(self) -> None:
        self.model.eval()
        if self.own_group:
            torch.distributed.destroy_process_group()


# ---------------------------------------------------------------------- set-up
def _setup_device(tc: TrainConfig) -> tuple[torch.device, int, int, bool]:
    """(device, world size, rank, whether this run created the process group)."""
    world, rank = _dist_info()
    distributed = world > 1
    device = _device(tc.device)
    if device.type == "cpu":
        if tc.num_threads is not None:
            torch.set_num_threads(tc.num_threads)
        elif torch.get_num_threads() > cpu_budget():  # never more threads than CPUs
            torch.set_num_threads(cpu_budget())
    own_group = False
    if distributed and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
        own_group = True
    if distributed and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device, world, rank, own_group


def _setup(x_all, mc: ModelConfig, tc: TrainConfig, ckpt: dict | None, c_all=None) -> _Run:
    """Device, model (from ``ckpt`` when resuming), optimiser, sampling RNG, seeds."""
    device, world, rank, own_group = _setup_device(tc)
    run = _Run(x_all, mc, tc, device, world, rank, own_group, c_all=c_all)
    torch.manual_seed(tc.seed)
    model = build_model(mc)
    if ckpt is not None:
        model.load_state_dict(ckpt["state_dict"])
        run.history = list(ckpt.get("history") or [])
    elif getattr(model, "free_scale", False):  # the scale latent's reference size
        model.set_scale_reference(x_all[:: max(1, len(x_all) // 20_000)])
    run.model = model.to(device)
    run.opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    if ckpt is not None and "optimizer" in ckpt:
        run.opt.load_state_dict(ckpt["optimizer"])
    run.net = model
    if run.distributed:
        run.net = torch.nn.parallel.DistributedDataParallel(model)
    run.gen = torch.Generator(device=device)
    run.gen.manual_seed(tc.seed * 1000 + rank + 1)
    run.n_steps = max(1, math.ceil(run.n_local / tc.batch_size))
    run.prior_rate = _PRIOR_RATE if mc.joint and tc.class_prior == "learned" else 0.0
    known = _known(run)
    if known is not None:
        run.labelled = torch.nonzero(known >= 0)[:, 0]
    labelled = run.labelled is not None
    if any(_Seeds.wanted(model, mc, tc, labelled)) and ckpt is None and tc.init_fraction > 0:
        run.seeds = _Seeds(x_all, model, mc, tc, device, labelled)
    return run


# ---------------------------------------------------------------------- restarts
def _known(run: _Run) -> torch.Tensor | None:
    """Semi-supervised kinds: every row's class code (-1 unlabelled), their per-row data."""
    if not run.mc.joint or run.c_all is None:
        return None
    return run.c_all[:, 0].round().long()


def _with_labelled(run: _Run, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``idx`` plus a quarter batch (≥ 8) of labelled rows drawn at random (semi-supervised
    kinds): with a few per cent labelled, a plain batch held one or two, and the
    classification term learned from too few of them per step (the labelled and
    unlabelled batches of Kingma et al. 2014's M2, here in one batch)."""
    if run.labelled is None or not len(run.labelled):
        return idx
    k = min(len(run.labelled), max(8, run.tc.batch_size // 4))
    pick = run.labelled[torch.randint(len(run.labelled), (k,), generator=gen)]
    return torch.cat([idx, pick])


def _clone_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _mean_over_ranks(value: float, distributed: bool, device) -> float:
    if not distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return float(t) / torch.distributed.get_world_size()


def _snapshot(model, opt, history, gen) -> dict:
    """Copies of what a restart replaces (weights, optimizer, history, RNG)."""
    return {
        "model": _clone_state(model),
        "opt": copy.deepcopy(opt.state_dict()),
        "history": [dict(h) for h in history],
        "gen": gen.get_state(),
    }


def _restore(snap: dict, model, opt, gen) -> list:
    model.load_state_dict(snap["model"])
    opt.load_state_dict(snap["opt"])
    gen.set_state(snap["gen"])
    return [dict(h) for h in snap["history"]]


@dataclass
class _Starts:
    """Restarts: how many starts, this one's index, (loss, snapshot) of the best so far."""

    n: int
    index: int = 0
    best: tuple[float, dict] | None = None


def _next_start(run: _Run, starts: _Starts) -> bool:
    """After ``restart_epochs``: keep the best start so far and begin the next one
    (True: train from epoch 0 again) or, after the last start, go on with the best."""
    tc, model = run.tc, run.model
    loss_r = _mean_over_ranks(run.history[-1]["loss"], run.distributed, run.device)
    if starts.best is None or loss_r < starts.best[0]:
        starts.best = (loss_r, _snapshot(model, run.opt, run.history, run.gen))
    starts.index += 1
    if starts.index < starts.n:  # next start: fresh weights, same schedule
        torch.manual_seed(tc.seed + 1000 * starts.index)
        fresh = build_model(run.mc).to(run.device).state_dict()
        if "scale_ref" in fresh:  # measured on the data, not a weight
            fresh["scale_ref"] = model.scale_ref.clone()
        model.load_state_dict(fresh)
        run.opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
        run.history.clear()
        return True
    run.history = _restore(starts.best[1], model, run.opt, run.gen)
    starts.n = 1
    return False


# ---------------------------------------------------------------------- steps
def _targets(run: _Run, xb, frac: float) -> tuple[tuple, float]:
    """Seeded (class, angle) targets for this batch and the class mix (1 = the model's own)."""
    seeds, tc = run.seeds, run.tc
    release_end = tc.init_fraction + (tc.init_release if run.mc.discrete == "exact" else 0.0)
    if seeds is not None and frac < tc.init_fraction:
        return seeds.targets(run.model, xb), 0.0
    if seeds is not None and seeds.classes and frac < release_end:
        # the classes pass from the seeds to the model's posterior
        mix = (frac - tc.init_fraction) / tc.init_release
        return (seeds.targets(run.model, xb)[0], None), mix
    return (None, None), 1.0


def _batch_loss(run: _Run, xb, frac: float, cb=None) -> tuple[dict, torch.Tensor]:
    """The model's loss terms (float32) and the training loss for one batch
    (``cb``: its conditions, conditional kinds)."""
    tc, mc = run.tc, run.mc
    temp = _ramp(*tc.temperature, frac)
    extra = {} if cb is None else {"cond": cb}
    with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.use_amp):
        targets, mix = _targets(run, xb, frac)
        terms = run.net(xb, run.gen, temp, frac >= tc.z_warmup or not mc.rotation, *targets,
                        class_mix=mix, prior_rate=run.prior_rate, **extra)  # fmt: skip
    terms = {k: v.float() for k, v in terms.items()}
    return terms, _loss(terms, mc, tc, frac)


def _update(run: _Run, loss: torch.Tensor, frac: float) -> None:
    """One optimiser step: gradients, clipping, the learning-rate schedule."""
    tc, opt = run.tc, run.opt
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if tc.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), tc.grad_clip)
    if tc.lr_schedule == "cosine":
        for group in opt.param_groups:
            group["lr"] = tc.lr * (0.55 + 0.45 * math.cos(math.pi * frac))
    opt.step()


def _report(run: _Run, epoch: int, step: int, sums: dict, seen: int, te: float) -> Progress:
    """Progress so far in the epoch; at its last step the history record and checkpoint."""
    now = time.perf_counter()
    means = {k: v / seen for k, v in sums.items()}
    rec = None
    if step == run.n_steps - 1:
        rec = {"epoch": epoch + 1, **means, "time": now - te}
        run.history.append(rec)
        run.save()
    run.last_yield = now
    return Progress(
        epoch=epoch + 1, n_epochs=run.tc.epochs, step=step + 1, n_steps=run.n_steps,
        loss=means["loss"], terms={k: v for k, v in means.items() if k != "loss"},
        elapsed=now - run.t0, samples_per_s=seen * run.world / max(now - te, 1e-9),
        epoch_time=None if rec is None else rec["time"], model=run.model,
    )  # fmt: skip


def _epoch(run: _Run, epoch: int):
    """Train one epoch (generator of :class:`Progress`); returns ``(stopped, step)``,
    ``stopped`` None unless a loss was not finite."""
    tc = run.tc
    te = time.perf_counter()
    n = run.x_all.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(tc.seed + epoch))
    if run.distributed:
        perm = perm[run.rank :: run.world][: run.n_local]
    sums: dict[str, float] = {}
    seen = 0
    total_steps = tc.epochs * run.n_steps
    extra_gen = torch.Generator().manual_seed(tc.seed * 7919 + epoch)
    for step in range(run.n_steps):
        idx = perm[step * tc.batch_size : (step + 1) * tc.batch_size]
        idx = _with_labelled(run, idx, extra_gen)
        xb = run.x_all[idx].to(run.device, non_blocking=True)
        cb = None if run.c_all is None else run.c_all[idx].to(run.device, non_blocking=True)
        frac = (epoch * run.n_steps + step) / max(total_steps, 1)
        terms, loss = _batch_loss(run, xb, frac, cb)
        if not torch.isfinite(loss):
            return f"non-finite loss at epoch {epoch + 1} step {step + 1}", step
        _update(run, loss, frac)
        b = xb.shape[0]
        seen += b
        sums["loss"] = sums.get("loss", 0.0) + loss.item() * b
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v.item() * b
        end = step == run.n_steps - 1
        if end or time.perf_counter() - run.last_yield >= tc.progress_interval:
            yield _report(run, epoch, step, sums, seen, te)
            run.last_yield = time.perf_counter()
    return None, run.n_steps - 1


def _epochs(run: _Run, n_starts: int):
    """Train until ``tc.epochs`` epochs (generator of :class:`Progress`).

    Returns ``(stopped, epoch, step)``.  Each epoch starts with a copy of the
    weights, restored when a loss is not finite.
    """
    starts = _Starts(n_starts)
    epoch = len(run.history) - 1
    stopped, step = None, 0
    while epoch + 1 < run.tc.epochs:
        epoch += 1
        if starts.n > 1 and epoch == run.tc.restart_epochs and _next_start(run, starts):
            epoch = -1
            continue
        good = _clone_state(run.model)  # the weights to restore if this epoch diverges
        stopped, step = yield from _epoch(run, epoch)
        if stopped:
            run.model.load_state_dict(good)
            break
    return stopped, epoch, step


# ---------------------------------------------------------------------- the run
def _fit(x_all, mc, tc, ckpt, c_all=None):
    """The generator behind :func:`~napari_ivae.train.fit` (arguments already checked;
    ``c_all``: the condition of every image, conditional kinds)."""
    run = _setup(x_all, mc, tc, ckpt, c_all)
    try:  # ready: say so before the first batch (which may take a while to come)
        yield Progress(
            epoch=len(run.history) + 1, n_epochs=tc.epochs, step=0, n_steps=run.n_steps,
            loss=float("nan"), terms={}, elapsed=0.0, samples_per_s=0.0, phase="start",
        )  # fmt: skip
    except GeneratorExit:  # closed before any step: nothing to save
        run.teardown()
        raise
    run.t0 = run.last_yield = time.perf_counter()
    run.model.train()
    try:
        stopped, epoch, step = yield from _epochs(run, tc.restarts if ckpt is None else 1)
        if stopped:
            run.save()
            yield Progress(
                epoch=epoch + 1, n_epochs=tc.epochs, step=step + 1, n_steps=run.n_steps,
                loss=float("nan"), terms={}, elapsed=time.perf_counter() - run.t0,
                samples_per_s=0.0, model=run.model,
                stopped=f"{stopped}; restored the last good weights (from the start of "
                f"epoch {epoch + 1})",
            )  # fmt: skip
    except GeneratorExit:
        run.save()
        raise
    finally:
        run.teardown()
    run.model.to("cpu")
    return TrainResult(model=run.model, history=run.history, stopped=stopped)
