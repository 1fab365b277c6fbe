"""Training: ``fit`` generator, configs, checkpoints, DDP.

``fit`` is a plain generator so a GUI thread can show progress and stop it::

    gen = fit(stack, ModelConfig(kind="rvae"), TrainConfig(epochs=20))
    try:
        while True:
            p = next(gen)          # Progress, at least every ~0.5 s
    except StopIteration as stop:
        result = stop.value        # TrainResult(model, history)

``gen.close()`` stops it early; ``Progress.model`` is the model being trained
and keeps the weights of the last finished step (and the checkpoint, when
configured, is written).  A non-finite loss stops training: the weights the
epoch started from are restored, a final ``Progress`` with ``stopped`` set is
yielded and the generator returns normally (``TrainResult.stopped`` says why).

Under ``torchrun`` (``WORLD_SIZE`` > 1) the same call trains with
DistributedDataParallel: each rank takes its share of a seeded permutation,
rank 0 writes the checkpoint.

The package: :mod:`~napari_ivae.train.config` (:class:`TrainConfig`,
:class:`Progress`, :class:`TrainResult`), :mod:`~napari_ivae.train.loop` (the
loop in small steps), :mod:`~napari_ivae.train.loss` (the objective),
:mod:`~napari_ivae.train.seeds` (warm start), :mod:`~napari_ivae.train.checkpoint`
(save / load) and :mod:`~napari_ivae.train.data` (inputs, device).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator
from typing import TYPE_CHECKING

from napari_ivae._errors import IvaeError
from napari_ivae._limits import check_training, cpu_budget
from napari_ivae.models import ModelConfig, config_from_dict
from napari_ivae.train.config import Progress, TrainConfig, TrainResult

if TYPE_CHECKING:  # pragma: no cover
    from napari_ivae.train.checkpoint import (
        FORMAT,
        READ_VERSIONS,
        VERSION,
        load_model,
        save_model,
    )
    from napari_ivae.train.seeds import resolve_seed_options

#: names imported on first use (their modules import torch): ``import
#: napari_ivae.train`` for the configs stays cheap, so a dock can show them
#: without loading torch in the GUI thread
_LAZY: dict[str, str] = {
    "FORMAT": "checkpoint",
    "READ_VERSIONS": "checkpoint",
    "VERSION": "checkpoint",
    "load_model": "checkpoint",
    "save_model": "checkpoint",
    "_read_checkpoint": "checkpoint",
    "_check_finite_weights": "checkpoint",
    "resolve_seed_options": "seeds",
    "_Seeds": "seeds",
    "_loss": "loss",
    "_as_tensor": "data",
    "_fit": "loop",
}


def __getattr__(name: str):
    """Import the torch-side names of :data:`_LAZY` on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FORMAT",
    "READ_VERSIONS",
    "VERSION",
    "Progress",
    "TrainConfig",
    "TrainResult",
    "cpu_budget",
    "fit",
    "load_model",
    "resolve_seed_options",
    "run_fit",
    "save_model",
]


def run_fit(gen, on_progress=None) -> TrainResult:
    """Drive a :func:`fit` generator to its end; the loop the CLI and the demo share.

    Parameters
    ----------
    gen : generator
        What :func:`fit` returned.
    on_progress : callable, optional
        Called with every :class:`Progress`.

    Returns
    -------
    TrainResult
        The generator's return value.  The generator is closed on any exit
        (an exception in ``on_progress``, ``KeyboardInterrupt``, SIGTERM).
    """
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_progress is not None:
                on_progress(p)
    finally:
        gen.close()


def _model_config(model_config, ckpt, resume, ch: int, size: int) -> ModelConfig:
    """The configuration to train: the checkpoint's when resuming (``model_config``
    must then be None or match it), else ``model_config`` completed from the data."""
    if ckpt is None:
        mc = model_config or ModelConfig()
        return dataclasses.replace(mc, in_channels=mc.in_channels or ch, size=mc.size or size)
    saved = config_from_dict(ckpt["model_config"])
    if model_config is not None:
        mc = dataclasses.replace(
            model_config,
            in_channels=model_config.in_channels or saved.in_channels,
            size=model_config.size or saved.size,
        )
        if getattr(mc, "gain", None) == "auto":  # decided when the checkpoint was trained
            mc = dataclasses.replace(mc, gain=saved.gain)
        if mc != saved:
            raise IvaeError(
                f"model_config differs from the one in {str(resume)!r}; pass None to resume"
            )
    return saved


def fit(
    data,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    resume: str | os.PathLike | None = None,
    labels=None,
    conditions=None,
) -> Generator[Progress, None, TrainResult]:
    """Train a model; a generator of :class:`Progress`, returning :class:`TrainResult`.

    Parameters
    ----------
    data : ndarray (N, C, H, W) or (N, H, W), or Stack
        Square sub-images, finite values, N ≥ 2.
    model_config : ModelConfig, optional
        ``in_channels`` / ``size`` left ``None`` are taken from the data.
        Default: ``ModelConfig()`` (rVAE).  With ``resume`` it may be ``None``
        (the checkpoint's configuration is used) or must match it.
    train_config : TrainConfig, optional
        Default ``TrainConfig()``.
    resume : path, optional
        Checkpoint to continue from: weights, optimizer state and history are
        restored and training runs until ``train_config.epochs`` epochs in total.
    labels : LabelTable or array-like (N,), optional
        Conditional kinds (``cvae``, ``crvae``): the class of every image (names
        or integers; :func:`~napari_ivae.train.conditions.read_label_table` reads
        them from a CSV).  The vocabulary is stored in the model's configuration
        (``CondConfig.classes``).
    conditions : DataFrame or array-like (N, m), optional
        Conditional kinds: continuous factors of every image (columns named by
        the DataFrame, else ``c1..cm``), standardised with statistics stored in
        the configuration.
    """
    import torch

    from napari_ivae.train.checkpoint import _read_checkpoint
    from napari_ivae.train.data import _as_tensor
    from napari_ivae.train.loop import _fit
    from napari_ivae.train.seeds import resolve_gain, resolve_seed_options

    tc = train_config or TrainConfig()
    x_all = _as_tensor(data)
    _n, ch, size, _ = x_all.shape
    ckpt = None if resume is None else _read_checkpoint(resume)
    if ckpt is None:
        model_config = resolve_gain(model_config, data)
    mc = _model_config(model_config, ckpt, resume, ch, size)
    if (mc.in_channels, mc.size) != (ch, size):
        raise IvaeError(
            f"the model expects {mc.in_channels} channel(s) of {mc.size}×{mc.size} pixels, "
            f"the data has {ch} channel(s) of {size}×{size}"
        )
    check_training(
        n_images=_n, image_shape=(ch, size, size), latent_dim=mc.latent_dim,
        n_classes=mc.n_classes if mc.joint else None, epochs=tc.epochs, lr=tc.lr,
    )  # fmt: skip
    if mc.likelihood == "bernoulli" and (x_all.min() < 0 or x_all.max() > 1):
        raise IvaeError(
            "likelihood='bernoulli' needs data in [0, 1]; use normalize='minmax' or 'gaussian'"
        )
    from napari_ivae.train.conditions import prepare_conditions

    mc, cond = prepare_conditions(mc, _n, labels, conditions)
    c_all = None if cond is None else torch.from_numpy(cond)
    return _fit(x_all, mc, resolve_seed_options(tc, data), ckpt, c_all)
