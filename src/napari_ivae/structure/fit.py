"""Training of the structure–property models: a generator of :class:`~napari_ivae.train.Progress`.

Like :func:`napari_ivae.train.fit`, so a GUI worker can drive either::

    gen = fit_structure(patches, spectra, StructureConfig(kind="im2spec", ...), TrainConfig())
    for p in gen: ...                     # Progress, at least every ``progress_interval``
    # StopIteration.value: TrainResult(model, history)

Of :class:`~napari_ivae.train.TrainConfig` it uses ``epochs``, ``batch_size``,
``lr``, ``lr_schedule``, ``seed``, ``device``, ``num_threads``,
``progress_interval`` and ``grad_clip``.  The standardisation statistics are
taken from the training data and written into the model's configuration.  A
non-finite loss stops training with the weights of the start of that epoch.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Generator

import numpy as np
import torch

from napari_ivae._device import torch_device
from napari_ivae._errors import IvaeError
from napari_ivae.models.structure_config import StructureConfig, build_structure_model
from napari_ivae.train.config import Progress, TrainConfig, TrainResult

__all__ = ["fit_structure", "standardize_patches", "standardize_spectra", "with_statistics"]


def with_statistics(config: StructureConfig, patches, spectra) -> StructureConfig:
    """``config`` with the shapes and standardisation statistics of the training data."""
    patches, spectra = np.asarray(patches), np.asarray(spectra)
    if patches.ndim != 4 or patches.shape[2] != patches.shape[3]:
        raise IvaeError(f"patches must be (N, C, w, w); got shape {patches.shape}")
    if spectra.ndim != 2 or len(spectra) != len(patches):
        raise IvaeError(
            f"spectra must be (N, E) with N = {len(patches)} (one per patch); got {spectra.shape}"
        )
    if len(patches) < 2:
        raise IvaeError(f"need at least 2 points to train; got {len(patches)}")
    if not (np.isfinite(patches).all() and np.isfinite(spectra).all()):
        raise IvaeError("patches and spectra must be finite; NaN or inf found")
    p_mean = patches.mean(axis=(0, 2, 3))
    p_std = np.maximum(patches.std(axis=(0, 2, 3)), 1e-8)
    s_mean = spectra.mean(0)
    s_scale = max(float(np.sqrt(((spectra - s_mean) ** 2).mean())), 1e-8)
    return dataclasses.replace(
        config, window=int(patches.shape[-1]), channels=int(patches.shape[1]),
        n_energy=int(spectra.shape[1]), patch_mean=tuple(p_mean), patch_std=tuple(p_std),
        spec_mean=tuple(s_mean), spec_scale=s_scale,
        spec_std=tuple(np.maximum(spectra.std(0), 1e-8 * s_scale)),
        energy=config.energy if len(config.energy) == spectra.shape[1] else (),
    )  # fmt: skip


def standardize_patches(config: StructureConfig, patches) -> np.ndarray:
    """Patches in the model's units (per-channel training mean and std)."""
    p = np.asarray(patches, dtype=np.float32)
    mean = np.asarray(config.patch_mean, np.float32)[None, :, None, None]
    std = np.asarray(config.patch_std, np.float32)[None, :, None, None]
    return (p - mean) / std


def standardize_spectra(config: StructureConfig, spectra) -> np.ndarray:
    """Spectra in the model's units (training mean spectrum, overall scale)."""
    s = np.asarray(spectra, dtype=np.float32)
    return (s - np.asarray(config.spec_mean, np.float32)) / np.float32(config.spec_scale)


def _progress(tc, epoch, step, n_steps, sums, seen, t0, te, model, rec=None) -> Progress:
    means = {k: v / max(seen, 1) for k, v in sums.items()}
    now = time.perf_counter()
    return Progress(
        epoch=epoch + 1, n_epochs=tc.epochs, step=step + 1, n_steps=n_steps,
        loss=means.pop("loss", float("nan")), terms=means, elapsed=now - t0,
        samples_per_s=seen / max(now - te, 1e-9),
        epoch_time=None if rec is None else rec["time"], model=model,
    )  # fmt: skip


def fit_structure(
    patches, spectra, config: StructureConfig, train: TrainConfig | None = None
) -> Generator[Progress, None, TrainResult]:
    """Train a structure–property model on raw patches (N, C, w, w) and spectra (N, E).

    Parameters
    ----------
    patches, spectra : array-like
        One patch and one spectrum per point (see :mod:`napari_ivae.structure.data`).
    config : StructureConfig
        The model; its statistics fields are filled here.
    train : TrainConfig, optional
        Epochs, batch size, learning rate, seed, device, threads.

    Yields
    ------
    Progress
        One ``phase="start"`` report, then at least one per epoch.

    Returns
    -------
    TrainResult
        The model (eval mode, CPU; ``model.config`` holds the statistics) and
        one history record per epoch (``loss``, the terms, ``time``).
    """
    tc = train or TrainConfig()
    config = with_statistics(config, patches, spectra)
    if tc.num_threads:
        torch.set_num_threads(int(tc.num_threads))
    torch.manual_seed(tc.seed)
    device = torch_device(tc.device)
    x = torch.from_numpy(standardize_patches(config, patches)).to(device)
    s = torch.from_numpy(standardize_spectra(config, spectra)).to(device)
    model = build_structure_model(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    n = len(x)
    bs = max(1, min(tc.batch_size, n))
    n_steps = math.ceil(n / bs)
    total = tc.epochs * n_steps
    gen = torch.Generator().manual_seed(tc.seed)
    history: list[dict] = []
    yield Progress(epoch=1, n_epochs=tc.epochs, step=0, n_steps=n_steps, loss=float("nan"),
                   terms={}, elapsed=0.0, samples_per_s=0.0, phase="start")  # fmt: skip
    t0 = last = time.perf_counter()
    model.train()
    try:
        for epoch in range(tc.epochs):
            good = copy.deepcopy(model.state_dict())
            te, sums, seen = time.perf_counter(), {}, 0
            order = torch.randperm(n, generator=gen).to(device)
            for step in range(n_steps):
                idx = order[step * bs : (step + 1) * bs]
                if tc.lr_schedule == "cosine":
                    k = epoch * n_steps + step
                    for g in opt.param_groups:
                        g["lr"] = tc.lr * 0.5 * (1 + math.cos(math.pi * k / total))
                loss, terms = model.loss(x[idx], s[idx])
                if not torch.isfinite(loss):
                    model.load_state_dict(good)
                    why = (f"the loss became {loss.item()} at epoch {epoch + 1}; restored the "
                           f"weights of the start of epoch {epoch + 1}")  # fmt: skip
                    yield Progress(
                        epoch=epoch + 1, n_epochs=tc.epochs, step=step + 1, n_steps=n_steps,
                        loss=float("nan"), terms={}, elapsed=time.perf_counter() - t0,
                        samples_per_s=0.0, model=model, stopped=why,
                    )  # fmt: skip
                    return _finish(model, history, why)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if tc.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                opt.step()
                m = len(idx)
                seen += m
                for key, v in {"loss": loss.item(), **terms}.items():
                    sums[key] = sums.get(key, 0.0) + v * m
                now = time.perf_counter()
                if step == n_steps - 1:
                    rec = {"epoch": epoch + 1, "time": now - te}
                    rec.update({k: v / seen for k, v in sums.items()})
                    history.append(rec)
                    yield _progress(tc, epoch, step, n_steps, sums, seen, t0, te, model, rec)
                    last = now
                elif now - last >= tc.progress_interval:
                    yield _progress(tc, epoch, step, n_steps, sums, seen, t0, te, model)
                    last = now
    finally:
        model.eval()
    return _finish(model, history)


def _finish(model, history, stopped: str | None = None) -> TrainResult:
    model.eval()
    model.to("cpu")
    return TrainResult(model=model, history=history, stopped=stopped)
