"""Configuration of the structure–property models (``im2spec``, ``spec2im``, ``dual``), torch-free.

A model links the ``window × window`` image patch around a point (the
*structure*) with the spectrum at that point (the *property*).  The
standardisation of both sides is part of the configuration, so a checkpoint
carries it and a prediction months later uses the same numbers:

- patches: per channel ``(x - patch_mean[c]) / patch_std[c]`` with the
  training stack's statistics (the ``"zscore"`` mode of
  :func:`napari_ivae.crop.crop`, frozen at training time);
- spectra: ``(s - spec_mean) / spec_scale`` with the training set's mean
  spectrum (per energy channel) and one overall scale (the RMS of the centred
  spectra), so relative peak heights keep their weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from napari_ivae._config import DictConfig
from napari_ivae._errors import IvaeError, check_choice, check_range

__all__ = ["STRUCTURE_KINDS", "StructureConfig", "build_structure_model"]

#: the structure–property model kinds
STRUCTURE_KINDS: tuple[str, ...] = ("im2spec", "spec2im", "dual")
StructureKind = Literal["im2spec", "spec2im", "dual"]


@dataclass
class StructureConfig(DictConfig):
    """What a structure–property model is and how its inputs were standardised.

    Parameters
    ----------
    kind : {"im2spec", "spec2im", "dual"}
        ``im2spec``: patch encoder → spectrum decoder; ``spec2im``: spectrum
        encoder → patch decoder; ``dual``: both VAEs with tied latents.
    window : int
        Patch side in pixels (≥ 8).
    n_energy : int
        Spectrum length (≥ 8).
    channels : int
        Patch channels.
    latent_dim : int
        Latent size (the method compares 2 and 10).
    hidden, n_layers : int
        MLP width and depth of the encoders' heads and the decoders.
    activation : {"silu", "relu", "tanh"}
    encoder : {"conv", "mlp"}
        The patch encoder: strided convolutions (default) or an MLP of the
        flattened patch (fast; enough for small windows).
    beta : float
        Weight of the KL term (per sample, summed over latent dimensions)
        against the per-element mean squared errors.
    align : float
        ``dual`` only: weight of the squared distance between the two
        encoders' latent means.
    integrate : int
        The spectrum of a point is the mean over the ``(2·integrate + 1)²``
        pixels around it (0: the pixel itself).
    patch_mean, patch_std : tuple of float
        Per-channel patch standardisation (filled by the fit).
    spec_mean : tuple of float
        Mean training spectrum (filled by the fit; empty before).
    spec_scale : float
        Overall spectrum scale (filled by the fit).
    spec_std : tuple of float
        Per-energy standard deviation of the training spectra (filled by the
        fit; empty: no per-channel rescaling in the spectrum encoder).
    energy : tuple of float
        The energy axis (for the outputs; may be empty).
    """

    kind: StructureKind = "im2spec"
    window: int = 32
    n_energy: int = 128
    channels: int = 1
    latent_dim: int = 10
    hidden: int = 256
    n_layers: int = 2
    activation: str = "silu"
    encoder: str = "conv"
    beta: float = 1e-3
    align: float = 1.0
    integrate: int = 1
    patch_mean: tuple[float, ...] = ()
    patch_std: tuple[float, ...] = ()
    spec_mean: tuple[float, ...] = ()
    spec_scale: float = 1.0
    spec_std: tuple[float, ...] = ()
    energy: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, STRUCTURE_KINDS)
        check_choice("activation", self.activation, ("silu", "relu", "tanh"))
        check_choice("encoder", self.encoder, ("conv", "mlp"))
        for name, low in (("window", 8), ("n_energy", 8), ("channels", 1), ("latent_dim", 1),
                          ("hidden", 4), ("n_layers", 1), ("integrate", 0)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value:
                raise IvaeError(f"{name} must be an integer; got {value!r}")
            check_range(name, value, low=low)
            setattr(self, name, int(value))
        check_range("beta", self.beta, low=0.0)
        check_range("align", self.align, low=0.0)
        check_range("spec_scale", self.spec_scale, low=0.0, low_inclusive=False)
        self.patch_mean = tuple(float(v) for v in self.patch_mean)
        self.patch_std = tuple(float(v) for v in self.patch_std)
        self.spec_mean = tuple(float(v) for v in self.spec_mean)
        self.spec_std = tuple(float(v) for v in self.spec_std)
        self.energy = tuple(float(v) for v in self.energy)
        for name, n in (("patch_mean", self.channels), ("patch_std", self.channels),
                        ("spec_mean", self.n_energy), ("spec_std", self.n_energy),
                        ("energy", self.n_energy)):  # fmt: skip
            got = len(getattr(self, name))
            if got not in (0, n):
                raise IvaeError(f"{name} must hold {n} values (or none); got {got}")

    @property
    def predicts_spectra(self) -> bool:
        """Whether the model maps patches to spectra (``im2spec``, ``dual``)."""
        return self.kind in ("im2spec", "dual")

    @property
    def predicts_patches(self) -> bool:
        """Whether the model maps spectra to patches (``spec2im``, ``dual``)."""
        return self.kind in ("spec2im", "dual")


def build_structure_model(config: StructureConfig):
    """The torch model of ``config.kind`` (imports torch)."""
    if config.kind == "im2spec":
        from napari_ivae.models.im2spec import Im2Spec as cls
    elif config.kind == "spec2im":
        from napari_ivae.models.spec2im import Spec2Im as cls
    else:
        from napari_ivae.models.dual import DualVAE as cls
    return cls(config)
