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
configured, is written).  A non-finite loss stops training: the last good
weights are restored, a final ``Progress`` with ``stopped`` set is yielded and
the generator returns normally (``TrainResult.stopped`` says why).

Under ``torchrun`` (``WORLD_SIZE`` > 1) the same call trains with
DistributedDataParallel: each rank takes its share of a seeded permutation,
rank 0 writes the checkpoint.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import pickle
import time
import warnings
import zipfile
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from napari_ivae._atomic import atomic_write
from napari_ivae._config import DictConfig
from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae._limits import check_training, check_values, cpu_budget
from napari_ivae.models import ModelConfig, build_model

FORMAT = "napari-ivae-model"
VERSION = 3  # 2: shift in the image frame, invariant z encoder; 3: centroid_limit, shift_scale
#: versions load_model reads (2: read with centroid_limit = shift_scale = 1, their behaviour)
READ_VERSIONS = (2, 3)
#: step of the running mean that learns the class prior (TrainConfig.class_prior)
_PRIOR_RATE = 0.05

__all__ = [
    "Progress",
    "TrainConfig",
    "TrainResult",
    "fit",
    "load_model",
    "resolve_seed_options",
    "run_fit",
    "save_model",
]


@dataclass
class TrainConfig(DictConfig):
    """Optimisation settings; stored inside every checkpoint.

    Parameters
    ----------
    epochs : int
        Number of passes over the data.
    batch_size : int
        Samples per step (per process under DDP); the last batch may be smaller.
    lr : float
        Adam learning rate.
    lr_schedule : {"cosine", "constant"}
        ``"cosine"``: the learning rate falls from ``lr`` to ``lr / 10`` over
        all steps (half a cosine), which settles the angle and class
        assignments at the end of a run; ``"constant"``: ``lr`` throughout.
    seed : int
        Seed of weights, shuffling and sampling (deterministic on CPU).
    device : {"auto", "cpu", "cuda", "mps"}
        ``"auto"`` picks CUDA, then MPS, then CPU.
    amp : bool
        bfloat16 autocast (CUDA only; ignored elsewhere).
    beta : float
        Weight of the KL term for ``vae`` / ``rvae`` (1 = the ELBO).
    beta_cont, beta_disc : float
        γ weights of the capacity-controlled objective (joint kinds):
        ``recon + beta_cont·|KL_cont − C_z(t)| + beta_disc·|KL_disc − C_α(t)|``.
    capacity_cont : (float, float)
        C_z from the first to the second value (nats), linear in steps.
    capacity_disc : (float, float) or None
        C_α likewise.  ``None``: with ``discrete="exact"`` (the default) no
        capacity: the class term is the ELBO's ``KL_disc`` (weight 1), since
        with the exact class posterior a C_α below log K can only be met by
        making class templates alike, and the classes merged (docs/vae.md);
        with the other ``discrete`` modes (0, log K).
    capacity_ramp : float
        Fraction of all training steps over which both capacities ramp (0–1).
    temperature : (float, float)
        Gumbel-softmax temperature, annealed linearly (``discrete="gumbel"``).
    checkpoint : str or None
        Path written (atomically) after each epoch and when stopped.
    num_threads : int or None
        ``torch.set_num_threads`` for CPU training.  ``None``: torch's own
        choice, lowered to the CPUs the process may use (:func:`cpu_budget`:
        affinity and cgroup quota), since threads beyond them only slow it.
    progress_interval : float
        Maximum seconds of work between two yields.
    grad_clip : float or None
        Gradient-norm clip.
    capacity_terms : {"content", "all"}
        Which KL the continuous capacity controls in joint kinds: ``"content"``
        (KL_z only; the rotation/shift KL keeps weight ``beta``) or ``"all"``
        (KL_z + KL_angle + KL_shift, as in AtomAI).  With ``"all"`` the capacity
        starting at 0 forces the angle posterior onto its prior early on.
    z_warmup : float
        Fraction of all steps (0–1) during which rotation kinds decode with
        z = 0, so that orientation is learned by the angle latent first.
    class_balance : float
        Weight (≥ 0) of the KL of the batch-mean class posterior from uniform
        (joint kinds, ``discrete`` "exact" or "enumerate").  0 (default) = off;
        > 0 keeps classes from dying but assumes roughly balanced classes
        (docs/vae.md: cards jrVAE ARI 0.50 → 0.66 with 100; 0.98 with 2500
        and recon_sigma=0.2 for seed 0, 0.64 for seed 1).
    class_init : {"merged", "kmeans", "none"}
        Joint kinds: seed the classes by clustering rotation- and
        shift-invariant features (angular Fourier magnitudes of the crop about
        ``seed_centre``, on up to 20,000 images) and train with those classes
        for the first ``init_fraction`` of the steps, then with the model's own
        class posterior.  From a random start the classes and the alignment
        lock each other in (docs/vae.md).  ``"merged"``: k-means with
        max(16, 4K) clusters merged by Ward's criterion down to K, so a small
        distinct class (2 % dopants) keeps its seed; ``"kmeans"``: k-means with
        K clusters (prefers balanced classes); see
        ``models.class_init.fit_class_seeds``.
    seed_features : {"auto", "raw", "gain_free"}
        Features of the class seeds: ``"gain_free"`` divides each crop's
        features by their length (classes by shape, blind to a per-crop
        contrast); ``"raw"`` keeps the brightness (Z-contrast chemistry).
        ``"auto"``: ``"raw"`` for a :class:`~napari_ivae.crop.Stack` cropped
        with ``normalize="local"`` or ``"background"`` (the neighbourhood
        already removed the gain, and a brighter column is a heavier atom),
        ``"gain_free"`` otherwise (:func:`resolve_seed_options`).
    seed_centre : {"auto", "crop", "centroid"}
        Centre of the seed features: ``"crop"``, the crop centre (crops cut
        about detected positions); ``"centroid"``, the model's centre of
        contrast (objects anywhere in the crop).  ``"auto"``: ``"crop"`` for a
        Stack with known source positions, ``"centroid"`` for bare images.
        On 11-px atom crops the centre of contrast is pulled up to 3.5 px
        towards the neighbours, which hides the dopants from the seeds
        (docs/vae.md).
    class_prior : {"learned", "uniform"}
        Joint kinds: the class prior p(α) is ``"learned"`` as the mean class
        posterior (mixture weights: a running mean over the steps, floored at
        0.1 %), so a class holding 2 % of the crops is as probable as the data
        say; ``"uniform"``: 1/K (favours near-equal classes).
    pose_init : {"cluster", "none"}
        Rotation kinds (grid angle inference): ``"cluster"`` clusters the crops
        as above (``pose_init_clusters`` clusters; the classes themselves for
        joint kinds), aligns every cluster by hard EM over the model's angle
        bins (``models.class_init.align_clusters``, up to 512 crops each) and
        trains with those angles for the first ``init_fraction`` of the steps,
        so the templates start from aligned crops.  Off by default: on the
        cards the alignment itself is right (MRL 0.998 for every glyph) but
        the model's own posterior falls back to the symmetric modes of the
        heart and club once the warm start ends (docs/vae.md, item 17).
    pose_init_clusters : int or None
        Number of clusters for ``pose_init`` (≥ 1); ``None``: the number of
        classes for joint kinds, 4 otherwise.
    init_fraction : float
        Fraction of all steps (0–1) trained with the seeded classes / angles.
    init_release : float
        Joint kinds with ``discrete="exact"`` and seeded classes: fraction of
        all steps (0–1) after ``init_fraction`` over which the class weights
        pass linearly from the seeds to the model's own posterior
        (``(1 - t)·seed + t·posterior``) instead of at once.
    restarts : int
        Number of independent starts (≥ 1).  With more than one, each start
        (model seed ``seed + 1000·r``) trains for ``restart_epochs`` epochs and
        the one with the lowest loss in its last epoch is kept and trained on,
        like k-means' ``n_init``: the rotation models sometimes settle in a
        symmetric misalignment that the loss ranks clearly worse
        (docs/vae.md).  Progress is reported for every start.
    restart_epochs : int
        Epochs per start before the choice (≥ 1, < ``epochs``).
    """

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    amp: bool = True
    beta: float = 1.0
    beta_cont: float = 30.0
    beta_disc: float = 30.0
    capacity_cont: tuple[float, float] = (0.0, 5.0)
    capacity_disc: tuple[float, float] | None = None
    capacity_ramp: float = 0.5
    temperature: tuple[float, float] = (1.0, 0.3)
    checkpoint: str | None = None
    num_threads: int | None = None
    progress_interval: float = 0.5
    grad_clip: float | None = 100.0
    z_warmup: float = 0.0
    capacity_terms: Literal["content", "all"] = "content"
    class_balance: float = 0.0
    class_init: Literal["merged", "kmeans", "none"] = "merged"
    seed_features: Literal["auto", "raw", "gain_free"] = "auto"
    seed_centre: Literal["auto", "crop", "centroid"] = "auto"
    class_prior: Literal["learned", "uniform"] = "learned"
    pose_init: Literal["cluster", "none"] = "none"
    pose_init_clusters: int | None = None
    init_fraction: float = 0.3
    init_release: float = 0.2
    restarts: int = 1
    restart_epochs: int = 3

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise IvaeError(f"{name}={v!r} must be an integer")
        check_range("epochs", self.epochs, low=1)
        check_range("batch_size", self.batch_size, low=1)
        check_range("lr", self.lr, low=0, low_inclusive=False)
        check_choice("device", self.device, ("auto", "cpu", "cuda", "mps"))
        check_range("beta", self.beta, low=0)
        check_range("beta_cont", self.beta_cont, low=0)
        check_range("beta_disc", self.beta_disc, low=0)
        check_range("capacity_ramp", self.capacity_ramp, low=0, high=1)
        check_range("z_warmup", self.z_warmup, low=0, high=1)
        check_range("class_balance", self.class_balance, low=0)
        check_choice("capacity_terms", self.capacity_terms, ("content", "all"))
        check_choice("class_init", self.class_init, ("merged", "kmeans", "none"))
        check_choice("seed_features", self.seed_features, ("auto", "raw", "gain_free"))
        check_choice("seed_centre", self.seed_centre, ("auto", "crop", "centroid"))
        check_choice("class_prior", self.class_prior, ("learned", "uniform"))
        check_choice("lr_schedule", self.lr_schedule, ("cosine", "constant"))
        check_choice("pose_init", self.pose_init, ("cluster", "none"))
        if self.pose_init_clusters is not None:
            check_range("pose_init_clusters", self.pose_init_clusters, low=1)
        check_range("init_fraction", self.init_fraction, low=0, high=1)
        check_range("init_release", self.init_release, low=0, high=1)
        check_range("restarts", self.restarts, low=1)
        check_range("restart_epochs", self.restart_epochs, low=1)
        if self.restarts > 1 and self.restart_epochs >= self.epochs:
            raise IvaeError(
                f"restart_epochs={self.restart_epochs} must be smaller than "
                f"epochs={self.epochs} when restarts={self.restarts} > 1"
            )
        check_range("progress_interval", self.progress_interval, low=0, low_inclusive=False)
        self.capacity_cont = tuple(float(v) for v in self.capacity_cont)
        if self.capacity_disc is not None:
            self.capacity_disc = tuple(float(v) for v in self.capacity_disc)
        self.temperature = tuple(float(v) for v in self.temperature)
        for name in ("capacity_cont", "capacity_disc", "temperature"):
            v = getattr(self, name)
            if v is not None and (len(v) != 2 or min(v) < 0):
                raise IvaeError(f"{name}={v!r} must be two non-negative numbers (start, end)")
        if min(self.temperature) <= 0:
            raise IvaeError(f"temperature={self.temperature!r} must be positive")
        if self.num_threads is not None:
            check_range("num_threads", self.num_threads, low=1)
        if self.grad_clip is not None:
            check_range("grad_clip", self.grad_clip, low=0, low_inclusive=False)


@dataclass
class Progress:
    """One progress report of :func:`fit`.

    ``loss`` and ``terms`` are running means over the current epoch so far;
    ``step`` counts steps within the epoch (1-based), ``epoch`` is 1-based.
    ``stopped`` is set on the last report when training stopped itself.
    ``phase`` is ``"start"`` on one report yielded before the first batch (data
    on the device, model built, class seeds fitted; ``step`` 0, ``loss`` NaN, no
    ``model``), so a front end can say what is happening; ``"train"`` afterwards.
    """

    epoch: int
    n_epochs: int
    step: int
    n_steps: int
    loss: float
    terms: dict[str, float]
    elapsed: float
    samples_per_s: float
    epoch_time: float | None = None  # set on the report that ends an epoch
    stopped: str | None = None
    model: Any = field(default=None, repr=False)
    phase: str = "train"


@dataclass
class TrainResult:
    """What :func:`fit` returns: the trained model (eval mode, on CPU) and the history."""

    model: Any
    history: list[dict]
    stopped: str | None = None


# ---------------------------------------------------------------------- data
def _as_tensor(data) -> torch.Tensor:
    """(N, C, H, W) float32 tensor sharing memory with ``data`` where possible."""
    images = getattr(data, "images", data)
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    try:
        arr = np.asarray(images)
    except Exception as err:  # pragma: no cover - exotic inputs
        raise IvaeError(f"data must be an array or a Stack, got {type(data).__name__}") from err
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise IvaeError(f"data must have shape (N, H, W) or (N, C, H, W), got {arr.shape}")
    n, _, h, w = arr.shape
    if h != w:
        raise IvaeError(f"images must be square, got {h}×{w}")
    if h < 4:
        raise IvaeError(f"images must be at least 4×4 pixels, got {h}×{w}")
    if n < 2:
        raise IvaeError(f"data has {n} sample(s); training needs at least 2")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise IvaeError(f"data must be real numbers, got dtype {arr.dtype}")
    check_values(arr)  # NaN / inf, and values far beyond normalised crops
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise IvaeError("device='cuda' but CUDA is not available; use device='auto' or 'cpu'")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise IvaeError("device='mps' but MPS is not available; use device='auto' or 'cpu'")
    return torch.device(name)


def _ramp(a: float, b: float, frac: float) -> float:
    return a + (b - a) * min(max(frac, 0.0), 1.0)


def _loss(terms, mc: ModelConfig, tc: TrainConfig, frac: float):
    kl_cont = sum(v for k, v in terms.items() if k in ("kl_z", "kl_angle", "kl_shift"))
    if not mc.joint:
        return terms["recon"] + tc.beta * kl_cont
    kl_pose = 0.0
    if tc.capacity_terms == "content":
        kl_pose = kl_cont - terms["kl_z"]
        kl_cont = terms["kl_z"]
    ramp = frac / tc.capacity_ramp if tc.capacity_ramp > 0 else 1.0
    c_z = _ramp(*tc.capacity_cont, ramp)
    if tc.capacity_disc is None and mc.discrete == "exact":
        # the exact class posterior: recon + KL_disc = -log Σ_k p(k) p(x|k), the
        # ELBO.  A capacity C_α < log K can only be met by making the class
        # templates alike: the classes merged (docs/vae.md, item 21)
        disc = terms["kl_disc"]
    else:
        c_a = _ramp(*(tc.capacity_disc or (0.0, math.log(mc.n_classes))), ramp)
        disc = tc.beta_disc * (terms["kl_disc"] - c_a).abs()
    return (
        terms["recon"]
        + tc.class_balance * terms.get("kl_marg", 0.0)
        + tc.beta * kl_pose
        + tc.beta_cont * (kl_cont - c_z).abs()
        + disc
    )


# ---------------------------------------------------------------------- checkpoints
def _atomic_save(obj: dict, path: str | os.PathLike) -> None:
    # serialised in memory first: torch's zip writer reports a full disk as a
    # RuntimeError; a plain write raises the OSError (ENOSPC ...) the fronts name
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getbuffer()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def save_model(path, model, history, *, train_config=None, optimizer=None) -> None:
    """Write a checkpoint atomically (temp file + ``os.replace``).

    Parameters
    ----------
    path : str or Path
        Destination (e.g. ``run/model.ivae``).
    model : IVAE
        The model (``model.config`` is stored with it).
    history : list of dict
        Per-epoch records.
    train_config : TrainConfig, optional
        Stored for reference and resuming.
    optimizer : torch.optim.Optimizer, optional
        Its state is stored for resuming.
    """
    model = getattr(model, "module", model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "train_config": None if train_config is None else train_config.to_dict(),
        "history": [dict(h) for h in history],
        "state_dict": state,
    }
    if optimizer is not None:
        obj["optimizer"] = optimizer.state_dict()
    _atomic_save(obj, path)


def _read_checkpoint(path) -> dict:
    """The checkpoint's dict, or an :class:`IvaeError` naming the file and the problem.

    Only plain data is unpickled (``weights_only=True``), and only from a zip
    archive (what ``torch.save`` writes): a raw pickle is never unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise IvaeError(f"model file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise IvaeError(
            f"{path}: the model file is empty (0 bytes); it was never written completely"
        )
    if not zipfile.is_zipfile(path):
        raise IvaeError(
            f"{path}: not a napari-ivae model file (not a PyTorch checkpoint, or cut short)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise IvaeError(
            f"{path}: refused to load: the file holds Python objects that are not plain data "
            "(possibly unsafe); only checkpoints written by napari-ivae load"
        ) from err
    except Exception as err:
        raise IvaeError(f"{path}: not a readable napari-ivae model (damaged)") from err
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise IvaeError(f"{str(path)!r} is not a napari-ivae model file")
    if obj.get("version") not in READ_VERSIONS:
        raise IvaeError(
            f"{str(path)!r} has model format version {obj.get('version')!r}; "
            f"this napari-ivae reads versions {', '.join(map(str, READ_VERSIONS))}"
        )
    if obj["version"] == 2 and isinstance(obj.get("model_config"), dict):
        # version 2 had no centroid limit and the full-size shift correction
        obj["model_config"] = {"centroid_limit": 1.0, "shift_scale": 1.0, **obj["model_config"]}
    return obj


def _check_finite_weights(state: dict, where: str) -> None:
    for name, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
            raise IvaeError(
                f"{where}: the model's weights hold NaN or inf values (in {name!r}); "
                "the file is damaged or its training diverged"
            )


def load_model(path):
    """Load a checkpoint safely (``weights_only=True``).

    Refuses (with :class:`IvaeError`) files that are missing, empty, damaged,
    of another format or version, that hold Python objects other than plain
    data, or whose weights hold NaN or inf values.

    Returns
    -------
    model : IVAE
        In eval mode, on CPU.
    history : list of dict
    """
    obj = _read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(obj["model_config"])
        state = obj["state_dict"]
        _check_finite_weights(state, str(path))
        model = build_model(config)
        model.load_state_dict(state)
    except IvaeError as err:
        if str(err).startswith(str(path)):
            raise
        raise IvaeError(f"{str(path)!r} holds an incompatible model: {err}") from err
    except (KeyError, TypeError, RuntimeError, AttributeError) as err:
        raise IvaeError(f"{str(path)!r} holds an incompatible model: {err}") from err
    model.eval()
    return model, list(obj.get("history") or [])


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


# ---------------------------------------------------------------------- fit
def _dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return world, rank


def fit(
    data,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    resume: str | os.PathLike | None = None,
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
    """
    tc = train_config or TrainConfig()
    x_all = _as_tensor(data)
    _n, ch, size, _ = x_all.shape
    ckpt = None
    if resume is not None:
        ckpt = _read_checkpoint(resume)
        saved = ModelConfig.from_dict(ckpt["model_config"])
        if model_config is not None:
            mc = dataclasses.replace(
                model_config,
                in_channels=model_config.in_channels or saved.in_channels,
                size=model_config.size or saved.size,
            )
            if mc != saved:
                raise IvaeError(
                    f"model_config differs from the one in {str(resume)!r}; pass None to resume"
                )
        mc = saved
    else:
        mc = model_config or ModelConfig()
        mc = dataclasses.replace(mc, in_channels=mc.in_channels or ch, size=mc.size or size)
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
    return _fit(x_all, mc, resolve_seed_options(tc, data), ckpt)


def resolve_seed_options(train_config: TrainConfig, data) -> TrainConfig:
    """``train_config`` with ``seed_features`` / ``seed_centre`` "auto" decided for ``data``.

    What is known about the data decides: a :class:`~napari_ivae.crop.Stack`
    cropped with ``normalize="local"`` or ``"background"`` gets raw seed
    features (its crops are measured against their neighbourhood: the gain is
    gone and brightness is chemistry), anything else gain-free ones; a Stack
    with source positions gets features about the crop centre (crops cut
    about detected points), bare images about their centre of contrast.

    Parameters
    ----------
    train_config : TrainConfig
    data : Stack or array
        What :func:`fit` is given.

    Returns
    -------
    TrainConfig
        A copy with the two options decided (the same object when nothing was "auto").
    """
    tc = train_config
    changes = {}
    if tc.seed_features == "auto":
        local = getattr(data, "normalize", None) in ("local", "background")
        changes["seed_features"] = "raw" if local else "gain_free"
    if tc.seed_centre == "auto":
        yx = getattr(data, "yx", None)
        known = yx is not None and len(yx) > 0 and bool(np.isfinite(yx).all())
        changes["seed_centre"] = "crop" if known else "centroid"
    return dataclasses.replace(tc, **changes) if changes else tc


class _Seeds:
    """Warm start of a run: k-means class seeds and per-cluster aligned templates."""

    @staticmethod
    def wanted(model, mc, tc) -> tuple[bool, bool]:
        """(seed the classes, seed the angles) for this configuration."""
        return (
            mc.joint and tc.class_init != "none",
            model.grid_angles and tc.pose_init == "cluster",
        )

    def __init__(self, x_all, model, mc, tc, device):
        from napari_ivae.models.class_init import (
            align_clusters,
            fit_class_seeds,
            invariant_features,
        )

        self.classes, self.poses = self.wanted(model, mc, tc)
        if self.classes:  # the pose clusters are then the classes
            k = mc.n_classes
        else:
            k = tc.pose_init_clusters or (mc.n_classes if mc.joint else 4)
        n = x_all.shape[0]
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(tc.seed))[:20_000]
        pick = pick.sort().values
        self.at_crop = tc.seed_centre == "crop"
        feats = []
        with torch.no_grad():
            for i in range(0, len(pick), 1024):
                xb = x_all[pick[i : i + 1024]].float().to(device)
                feats.append(invariant_features(xb, self.centre(model, xb)).cpu())
        method = "kmeans" if tc.class_init == "kmeans" else "merged"
        features = "raw" if tc.seed_features == "raw" else "gain_free"
        self.seeds = fit_class_seeds(
            torch.cat(feats).numpy(), k, seed=tc.seed, method=method, features=features
        )
        self.templates = None
        if self.poses:
            xs = x_all[pick].float().to(device)
            labels = self.seeds.labels(xs, self.centre(model, xs))
            self.templates = align_clusters(model, xs, labels, k).to(device)
        self.seeds = self.seeds.to(device)

    def centre(self, model, xb):
        """Centre of the seed features: the crop centre or the centre of contrast."""
        return torch.zeros(len(xb), 2, device=xb.device) if self.at_crop else model.centroid(xb)

    def targets(self, model, xb):
        """(class_target, angle_target) for a batch (None where not seeded)."""
        with torch.no_grad():
            labels = self.seeds.labels(xb, self.centre(model, xb))
            centre = model.centroid(xb)
            angles = None
            if self.templates is not None:
                nll = model.bins.nll(xb, self.templates[labels][:, None], centre)[:, 0]
                angles = nll.argmin(1)
        return (labels if self.classes else None), angles


def _mean_over_ranks(value: float, distributed: bool, device) -> float:
    if not distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return float(t) / torch.distributed.get_world_size()


def _clone_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _snapshot(model, opt, history, gen) -> dict:
    """Copies of what a restart replaces (weights, optimizer, history, RNG)."""
    import copy

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


def _fit(x_all, mc, tc, ckpt):
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

    torch.manual_seed(tc.seed)
    model = build_model(mc)
    history: list[dict] = []
    if ckpt is not None:
        model.load_state_dict(ckpt["state_dict"])
        history = list(ckpt.get("history") or [])
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    if ckpt is not None and "optimizer" in ckpt:
        opt.load_state_dict(ckpt["optimizer"])
    net = model
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(model)
    gen = torch.Generator(device=device)
    gen.manual_seed(tc.seed * 1000 + rank + 1)
    use_amp = tc.amp and device.type == "cuda"

    n = x_all.shape[0]
    n_local = n // world if distributed else n
    n_steps = max(1, math.ceil(n_local / tc.batch_size))
    start_epoch = len(history)
    total_steps = tc.epochs * n_steps
    release_end = tc.init_fraction + (tc.init_release if mc.discrete == "exact" else 0.0)
    prior_rate = _PRIOR_RATE if mc.joint and tc.class_prior == "learned" else 0.0
    seeds = None
    if any(_Seeds.wanted(model, mc, tc)) and ckpt is None and tc.init_fraction > 0:
        seeds = _Seeds(x_all, model, mc, tc, device)
    try:  # ready: say so before the first batch (which may take a while to come)
        yield Progress(
            epoch=start_epoch + 1, n_epochs=tc.epochs, step=0, n_steps=n_steps,
            loss=float("nan"), terms={}, elapsed=0.0, samples_per_s=0.0, phase="start",
        )  # fmt: skip
    except GeneratorExit:  # closed before any step: nothing to save
        model.eval()
        if own_group:
            torch.distributed.destroy_process_group()
        raise
    t0 = time.perf_counter()
    last_yield = t0
    stopped = None
    good_state = None
    model.train()
    n_starts = tc.restarts if ckpt is None else 1
    start, best = 0, None  # restarts: index of this start, (loss, state) of the best
    epoch = start_epoch - 1
    try:
        while epoch + 1 < tc.epochs:
            epoch += 1
            if n_starts > 1 and epoch == tc.restart_epochs:
                loss_r = _mean_over_ranks(history[-1]["loss"], distributed, device)
                if best is None or loss_r < best[0]:
                    best = (loss_r, _snapshot(model, opt, history, gen))
                start += 1
                if start < n_starts:  # next start: fresh weights, same schedule
                    torch.manual_seed(tc.seed + 1000 * start)
                    model.load_state_dict(build_model(mc).to(device).state_dict())
                    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
                    history.clear()
                    epoch = -1
                    continue
                history = _restore(best[1], model, opt, gen)
                n_starts = 1
            te = time.perf_counter()
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(tc.seed + epoch))
            if distributed:
                perm = perm[rank::world][:n_local]
            sums: dict[str, float] = {}
            seen = 0
            for step in range(n_steps):
                idx = perm[step * tc.batch_size : (step + 1) * tc.batch_size]
                xb = x_all[idx].to(device, non_blocking=True)
                frac = (epoch * n_steps + step) / max(total_steps, 1)
                temp = _ramp(*tc.temperature, frac)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    targets, mix = (None, None), 1.0
                    if seeds is not None and frac < tc.init_fraction:
                        targets, mix = seeds.targets(model, xb), 0.0
                    elif seeds is not None and seeds.classes and frac < release_end:
                        # the classes pass from the seeds to the model's posterior
                        mix = (frac - tc.init_fraction) / tc.init_release
                        targets = (seeds.targets(model, xb)[0], None)
                    terms = net(xb, gen, temp, frac >= tc.z_warmup or not mc.rotation, *targets,
                                class_mix=mix, prior_rate=prior_rate)  # fmt: skip
                terms = {k: v.float() for k, v in terms.items()}
                loss = _loss(terms, mc, tc, frac)
                if not torch.isfinite(loss):
                    stopped = f"non-finite loss at epoch {epoch + 1} step {step + 1}"
                    break
                good_state = _clone_state(model)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if tc.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                if tc.lr_schedule == "cosine":
                    for group in opt.param_groups:
                        group["lr"] = tc.lr * (0.55 + 0.45 * math.cos(math.pi * frac))
                opt.step()
                b = xb.shape[0]
                seen += b
                sums["loss"] = sums.get("loss", 0.0) + loss.item() * b
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.item() * b
                now = time.perf_counter()
                end = step == n_steps - 1
                if end or now - last_yield >= tc.progress_interval:
                    means = {k: v / seen for k, v in sums.items()}
                    rec = None
                    if end:
                        rec = {"epoch": epoch + 1, **means, "time": now - te}
                        history.append(rec)
                        if tc.checkpoint and rank == 0:
                            save_model(
                                tc.checkpoint, model, history, train_config=tc, optimizer=opt
                            )
                    last_yield = now
                    yield Progress(
                        epoch=epoch + 1, n_epochs=tc.epochs, step=step + 1, n_steps=n_steps,
                        loss=means["loss"], terms={k: v for k, v in means.items() if k != "loss"},
                        elapsed=now - t0, samples_per_s=seen * world / max(now - te, 1e-9),
                        epoch_time=None if rec is None else rec["time"], model=model,
                    )  # fmt: skip
                    last_yield = time.perf_counter()
            if stopped:
                break
        if stopped:
            if good_state is not None:
                model.load_state_dict(good_state)
            if tc.checkpoint and rank == 0:
                save_model(tc.checkpoint, model, history, train_config=tc, optimizer=opt)
            now = time.perf_counter()
            yield Progress(
                epoch=epoch + 1, n_epochs=tc.epochs, step=step + 1, n_steps=n_steps,
                loss=float("nan"), terms={}, elapsed=now - t0, samples_per_s=0.0,
                stopped=stopped + "; restored the last good weights", model=model,
            )  # fmt: skip
    except GeneratorExit:
        if tc.checkpoint and rank == 0:
            save_model(tc.checkpoint, model, history, train_config=tc, optimizer=opt)
        raise
    finally:
        model.eval()
        if own_group:
            torch.distributed.destroy_process_group()
    model.to("cpu")
    return TrainResult(model=model, history=history, stopped=stopped)
