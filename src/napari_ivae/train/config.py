"""Training configuration and the records :func:`~napari_ivae.train.fit` yields and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from napari_ivae._config import DictConfig
from napari_ivae._errors import IvaeError, check_choice, check_range

__all__ = ["Progress", "TrainConfig", "TrainResult"]


#: content capacity C_z (start, end) in nats of joint kinds when the data decide
#: (``TrainConfig.capacity_cont=None``): crops normalised against their
#: neighbourhood (the classes are the chemistry) and everything else (shapes)
CAPACITY_CHEMISTRY: tuple[float, float] = (0.0, 0.5)
CAPACITY_SHAPE: tuple[float, float] = (0.0, 5.0)


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
    capacity_cont : (float, float) or None
        C_z from the first to the second value (nats), linear in steps.
        ``None`` (default) is decided from the data by :func:`fit`
        (``resolve_seed_options``): ``(0, 0.5)`` for a Stack whose crops were
        normalised against their neighbourhood (``local`` / ``background``:
        atom columns, where the classes are the chemistry and a content z of
        5 nats would take the brightness from them), else ``(0, 5)``.
    capacity_disc : (float, float) or None
        C_α likewise.  ``None``: with ``discrete="exact"`` (the default) no
        capacity: the class term is the ELBO's ``KL_disc`` (weight 1), since
        with the exact class posterior a C_α below log K can only be met by
        making class templates alike, and the classes merged
        (docs/experiments.md, "What was tried"); with the other ``discrete``
        modes (0, log K).
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
        > 0 keeps classes from dying but assumes roughly balanced classes, and
        on the cards it did not make the classes robust across seeds
        (docs/experiments.md, "What was tried").
    class_init : {"merged", "kmeans", "none"}
        Joint kinds: seed the classes by clustering rotation- and
        shift-invariant features (angular Fourier magnitudes of the crop about
        ``seed_centre``, on up to 20,000 images) and train with those classes
        for the first ``init_fraction`` of the steps, then with the model's own
        class posterior.  From a random start the classes and the alignment
        lock each other in (docs/experiments.md, "What was tried").  ``"merged"``: k-means with
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
        On small atom crops the centre of contrast is pulled towards the
        neighbours, which hides the dopants from the seeds
        (docs/experiments.md, "What was tried").
    class_prior : {"learned", "uniform"}
        Joint kinds: the class prior p(α) is ``"learned"`` as the mean class
        posterior (mixture weights: a running mean over the steps, shrunk
        half-way to 1/K, floored at 0.1 %), so a class holding 2 % of the crops
        can exist, while a class that grows a little does not feed its own
        growth; ``"uniform"``: 1/K (favours near-equal classes).
    pose_init : {"cluster", "none"}
        Rotation kinds (grid angle inference): ``"cluster"`` clusters the crops
        as above (``pose_init_clusters`` clusters; the classes themselves for
        joint kinds), aligns every cluster by hard EM over the model's angle
        bins (``models.class_init.align_clusters``, up to 512 crops each) and
        trains with those angles for the first ``init_fraction`` of the steps,
        so the templates start from aligned crops.  Off by default: on the
        cards the alignment itself was right, but the model's own posterior
        fell back to the symmetric modes of the heart and club once the warm
        start ended (docs/experiments.md, "What was tried").
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
        (docs/experiments.md, "What was tried").  Progress is reported for every start.
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
    capacity_cont: tuple[float, float] | None = None
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
        if self.capacity_cont is not None:
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
