"""Invariant VAEs: VAE, rVAE, jVAE and jrVAE built from shared nets.

This subpackage imports torch; :mod:`napari_ivae` never imports it at package
import time.  Build a model from a :class:`ModelConfig` with :func:`build_model`.

The model families are listed in :mod:`napari_ivae.models.registry` (name →
configuration class + model class); the four built-in kinds share one
implementation (:class:`~napari_ivae.models.base.IVAE`):

========  =================  ==============================
kind      rotation + shift   discrete class latent
========  =================  ==============================
``vae``   no                 no
``rvae``  yes                no
``jvae``  no                 yes (``n_classes``)
``jrvae`` yes                yes (``n_classes``)
========  =================  ==============================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from napari_ivae._config import DictConfig
from napari_ivae._errors import IvaeError, check_choice, check_range
from napari_ivae.models import registry

#: the built-in kinds (``registry.names()`` also holds families registered at run time)
KINDS: tuple[str, ...] = tuple(f.name for f in registry.FAMILIES)
JOINT_KINDS: tuple[str, ...] = tuple(f.name for f in registry.FAMILIES if f.joint)
ROTATION_KINDS: tuple[str, ...] = tuple(f.name for f in registry.FAMILIES if f.rotation)
Kind = Literal[KINDS]  # type: ignore[valid-type]  # the registry's built-in names


def _kinds_with(flag: str) -> str:
    """``'jvae' or 'jrvae'``: the registered kinds with ``flag`` set, for messages."""
    found = [repr(n) for n in registry.names() if getattr(registry.get(n), flag)]
    return " or ".join([", ".join(found[:-1]), found[-1]] if len(found) > 1 else found)


__all__ = [
    "JOINT_KINDS",
    "KINDS",
    "ROTATION_KINDS",
    "ModelConfig",
    "build_model",
    "config_from_dict",
    "registry",
]


@dataclass
class ModelConfig(DictConfig):
    """Architecture of an (invariant) VAE; stored inside every checkpoint.

    Parameters
    ----------
    kind : {"vae", "rvae", "jvae", "jrvae"} or another registered name
        Model family (:mod:`napari_ivae.models.registry`).  ``r`` adds the
        rotation and shift latents acting on the decoder's coordinate grid;
        ``j`` adds a discrete class latent.
    in_channels : int or None
        Number of image channels C; ``None`` = take it from the data in ``fit``.
    size : int or None
        Side H = W of the square sub-images; ``None`` = take it from the data.
    latent_dim : int
        Number of continuous content latents z (≥ 1).
    n_classes : int or None
        Number of classes K of the discrete latent (joint kinds only; default 2).
    encoder : {"mlp", "conv"}
        Encoder network.
    decoder : {"template", "coord"}
        ``"coord"``: an MLP of the transformed pixel coordinate (and z) gives each
        pixel, as in the rVAE paper.  ``"template"``: an MLP of z gives a canonical
        image on a canvas √2 larger than the crop, sampled (bilinear,
        differentiable) at the same rotated and shifted coordinate grid; the same
        invariance, far cheaper on CPU (timings: docs/experiments.md, "Model").
    hidden : int
        Width of the MLP layers (AtomAI default 128).
    n_layers : int
        Number of hidden layers in encoder and decoder MLPs.
    activation : {"tanh", "relu", "silu"}
        Hidden activation.
    likelihood : {"gaussian", "bernoulli"}
        Gaussian (data any real value; ``recon_sigma`` its scale) or Bernoulli
        (data in [0, 1]).
    recon_sigma : float
        Standard deviation of the Gaussian likelihood (in data units).
    sigma_angle : float
        Prior standard deviation s_γ of the rotation latent, radians.  The
        default π lets the angle cover 0–360° without a large KL cost.
    sigma_shift : float
        Prior standard deviation s_Δr of the shift latents, in units of the
        half-width of the crop (0.1 ≈ 2.4 px on a 48 px crop).
    discrete : {"exact", "enumerate", "gumbel"}
        How the class latent is handled: exact marginalisation over the K
        classes with the encoder's q(α|x), a Gumbel-softmax relaxation (one
        decode per sample), or ``"exact"``: marginalise over the classes with
        the exact posterior q(α|x) ∝ p(x|α, z, γ, Δ) (EM-like; the encoder's
        class head is not used).
    angle_inference : {"grid", "encoder"}
        ``"grid"``: q(γ|x) is a categorical over ``angle_bins`` rotations of the
        grid (plus an encoder-predicted sub-bin offset), the reconstruction is
        marginalised exactly over them and the prior is N(0, s_γ²) wrapped on
        the circle and integrated per bin.  ``"encoder"``: q(γ|x) =
        N(μ(x), σ(x)²) reparameterised, as in the rVAE paper; it often leaves γ
        stuck in a local optimum for 0–360° rotations (docs/experiments.md, "What was tried").
    angle_bins : int
        Number M of rotation bins for ``angle_inference="grid"``.
    shift_init : {"centroid", "none"}
        ``"centroid"``: the shift latent is the centre of contrast of the crop
        (centroid of ``|x - median|``) plus an encoder correction, so the object
        position needs no learning from scratch (an amortised shift learned from
        scratch often converged to a wrong, even anti-correlated, solution and
        misaligned the angles; docs/experiments.md, "What was tried").
        ``"none"``: encoder only.  Used by ``angle_inference="grid"``.
    centroid_limit : float
        ``shift_init="centroid"``: the centroid start is clamped to this
        fraction (0–1] of the shift bound ±3·``sigma_shift``.  Beyond the bound
        the clamp left the encoder no gradient, and on real lattice crops
        contamination pulled the centroid there (docs/experiments.md, "What was tried").
    shift_scale : float
        Scale (0–1] of the encoder's shift correction
        ``3s·tanh(shift_scale·h / 3s)``: an untrained encoder's outputs
        (±0.3–0.5 on z-scored crops) otherwise start it near the bound.
        Checkpoints of format version 2 load with 1.0 and ``centroid_limit``
        1.0 (their behaviour).
    z_encoder : {"auto", "invariant", "image"}
        What the content latent z is computed from.  ``"invariant"``: an MLP of
        rotation- and shift-invariant features of the crop (angular Fourier
        magnitudes per ring about the shift estimate and the products of
        neighbouring rings, which keep their relative orientation), so z cannot
        encode the orientation and the angle latent must (rotation kinds
        only).  ``"image"``: the shared encoder of the raw crop, as in the rVAE
        paper; z then often absorbs part of the orientation (docs/experiments.md, "What was tried").
        ``"auto"``: ``"invariant"`` for ``rvae``, ``"image"`` otherwise (in a
        ``jrvae`` an invariant z competes with the class latent for the same
        information and, under the capacity objective, takes it over: the classes
        then sort the crops less well; docs/experiments.md, "What was tried").
    gain : {"auto", "fixed", "free"}
        Gaussian likelihood only.  ``"free"``: every comparison of a crop with a
        template (each class and angle bin) is made at the least-squares
        gain ``a ≥ 0`` of the template and offset per channel
        (``x ≈ a·template + b``; :func:`~napari_ivae.models.bins.gain_free_sse`,
        the per-particle intensity scale of cryo-EM 2-D classification): the
        classes are then blind to a per-crop contrast and background (detector
        gain, thickness), which otherwise dominated the pixel variance and took
        the classes (subtle cards, contrast 0.5–1.5: classes by contrast, glyph
        ARI ≈ 0; docs/experiments.md, "What was tried").  The encoder then sees
        every crop standardised (minus its mean, over its standard deviation),
        so z does not spend its capacity on the contrast either.  Templates and
        decoded images carry no absolute intensity.  ``"fixed"``: ``x ≈ template``
        (brightness is part of the class: Z-contrast chemistry).  ``"auto"``
        is decided by :func:`~napari_ivae.train.fit` from the data:
        ``"free"`` for joint kinds unless the data are a
        :class:`~napari_ivae.crop.Stack` normalised against the neighbourhood
        (``local`` / ``background``, as for ``TrainConfig.seed_features``),
        ``"fixed"`` otherwise; a model built directly (or a checkpoint written
        before the option) with ``"auto"`` behaves as ``"fixed"``.
    scale : {"fixed", "free"}
        ``"free"`` (rotation kinds with ``angle_inference="grid"``): a fourth
        pose latent, the object's size s relative to its template
        (``x(r) = T(R(θ)(r - Δ) / s)``), for objects whose size varies
        (particles, glyphs, precipitates) where the size would otherwise take
        the classes and z (subtle cards, scale 0.75–1.25: the joint classes
        split the hearts by size; docs/experiments.md, "What was tried").
        log s starts from the crop's radius of gyration over the training
        set's median (:func:`~napari_ivae.models.bins.gyration`, set by
        :func:`~napari_ivae.train.fit`), as the shift starts from the centroid,
        plus an encoder correction; prior N(0, ``sigma_scale``²), bounded to
        s ∈ [2/3, 3/2].  ``encode`` then reports ``scale``.  ``"fixed"``
        (default): s = 1, for lattices and walls whose size is the physics.
    sigma_scale : float
        Prior standard deviation of log s (``scale="free"``).
    """

    kind: Kind = "rvae"
    in_channels: int | None = None
    size: int | None = None
    latent_dim: int = 2
    n_classes: int | None = None
    encoder: Literal["mlp", "conv"] = "mlp"
    decoder: Literal["template", "coord"] = "template"
    hidden: int = 128
    n_layers: int = 2
    activation: Literal["tanh", "relu", "silu"] = "tanh"
    likelihood: Literal["gaussian", "bernoulli"] = "gaussian"
    recon_sigma: float = 1.0
    sigma_angle: float = math.pi
    sigma_shift: float = 0.1
    discrete: Literal["enumerate", "gumbel", "exact"] = "exact"
    angle_inference: Literal["grid", "encoder"] = "grid"
    angle_bins: int = 36
    shift_init: Literal["centroid", "none"] = "centroid"
    centroid_limit: float = 0.5
    shift_scale: float = 0.1
    z_encoder: Literal["auto", "invariant", "image"] = "auto"
    gain: Literal["auto", "fixed", "free"] = "auto"
    scale: Literal["fixed", "free"] = "fixed"
    sigma_scale: float = 0.2

    def __post_init__(self) -> None:
        registry.get(self.kind)  # unknown kinds: an error listing the known ones
        for name in ("latent_dim", "hidden", "n_layers", "angle_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise IvaeError(f"{name}={value!r} must be an integer")
        check_range("latent_dim", self.latent_dim, low=1)
        check_range("hidden", self.hidden, low=1)
        check_range("n_layers", self.n_layers, low=1)
        if self.in_channels is not None:
            check_range("in_channels", self.in_channels, low=1)
        if self.size is not None:
            check_range("size", self.size, low=4)
        if self.joint:
            if self.n_classes is None:
                self.n_classes = 2
            check_range("n_classes", self.n_classes, low=2)
        elif self.n_classes is not None:
            raise IvaeError(
                f"n_classes={self.n_classes!r} needs a joint model "
                f"(kind {_kinds_with('joint')}), got kind={self.kind!r}"
            )
        check_choice("encoder", self.encoder, ("mlp", "conv"))
        check_choice("decoder", self.decoder, ("template", "coord"))
        check_choice("activation", self.activation, ("tanh", "relu", "silu"))
        check_choice("likelihood", self.likelihood, ("gaussian", "bernoulli"))
        check_choice("discrete", self.discrete, ("enumerate", "gumbel", "exact"))
        check_choice("angle_inference", self.angle_inference, ("grid", "encoder"))
        check_choice("shift_init", self.shift_init, ("centroid", "none"))
        check_choice("z_encoder", self.z_encoder, ("auto", "invariant", "image"))
        check_choice("gain", self.gain, ("auto", "fixed", "free"))
        if self.gain == "free" and self.likelihood != "gaussian":
            raise IvaeError(
                f"gain='free' needs likelihood='gaussian', got likelihood={self.likelihood!r}"
            )
        if self.z_encoder == "invariant" and not self.rotation:
            raise IvaeError(
                f"z_encoder='invariant' needs a rotation model "
                f"(kind {_kinds_with('rotation')}), got kind={self.kind!r}"
            )
        check_range("angle_bins", self.angle_bins, low=2)
        check_range("recon_sigma", self.recon_sigma, low=0, low_inclusive=False)
        check_range("sigma_angle", self.sigma_angle, low=0, low_inclusive=False)
        check_range("sigma_shift", self.sigma_shift, low=0, low_inclusive=False)
        check_range("centroid_limit", self.centroid_limit, low=0, low_inclusive=False, high=1)
        check_range("shift_scale", self.shift_scale, low=0, low_inclusive=False, high=1)
        check_choice("scale", self.scale, ("fixed", "free"))
        check_range("sigma_scale", self.sigma_scale, low=0, low_inclusive=False, high=1)
        if self.scale == "free" and not (self.rotation and self.angle_inference == "grid"):
            raise IvaeError(
                f"scale='free' needs a rotation model (kind {_kinds_with('rotation')}) with "
                f"angle_inference='grid', got kind={self.kind!r}, "
                f"angle_inference={self.angle_inference!r}"
            )

    @property
    def rotation(self) -> bool:
        """Whether the model has the rotation and shift latents."""
        return registry.get(self.kind).rotation

    @property
    def joint(self) -> bool:
        """Whether the model has a discrete class latent."""
        return registry.get(self.kind).joint


def build_model(config: ModelConfig):
    """Build the torch module described by ``config``.

    Parameters
    ----------
    config : ModelConfig
        With ``in_channels`` and ``size`` set.

    Returns
    -------
    torch.nn.Module
        An instance of the model class registered for ``config.kind``
        (:class:`~napari_ivae.models.base.IVAE` for the built-in kinds).
    """
    if config.in_channels is None or config.size is None:
        raise IvaeError(
            "in_channels and size must be set to build a model "
            f"(got in_channels={config.in_channels!r}, size={config.size!r})"
        )
    return registry.get(config.kind).model_class()(config)


def config_from_dict(d: dict) -> ModelConfig:
    """The configuration stored in a checkpoint, as its family's configuration class.

    An unknown ``kind`` raises :class:`IvaeError` listing the known ones.
    """
    if not isinstance(d, dict):
        raise IvaeError(f"model_config must be a dict, got {type(d).__name__}")
    return registry.get(d.get("kind", ModelConfig.kind)).config_class().from_dict(d)
