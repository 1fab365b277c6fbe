"""Common part of the structure–property models: Gaussian encoders, decoders, prediction.

A model holds up to four nets (``None`` where its kind has none): a patch
encoder and a spectrum encoder (each giving the mean and log-variance of a
Gaussian latent of ``latent_dim``), a spectrum decoder and a patch decoder.
Everything works on standardised data (see
:class:`~napari_ivae.models.structure_config.StructureConfig`).

Prediction decodes the latent mean.  Its uncertainty is the spread of the
decoded output over ``n_samples`` draws from the encoder's posterior
``q(z | input)`` (decoder sampling): large where the input is unlike the
training inputs or ambiguous about the output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_ivae.models.nets import MLPEncoder
from napari_ivae.models.spec_nets import (
    PatchDecoder,
    PatchEncoder,
    SpecDecoder,
    SpecEncoder,
    gaussian_head,
)
from napari_ivae.models.structure_config import StructureConfig

__all__ = ["StructureModel"]


class StructureModel(nn.Module):
    """Base class; subclasses choose the nets and define :meth:`loss`."""

    def __init__(
        self,
        config: StructureConfig,
        *,
        patch_encoder: bool,
        spec_encoder: bool,
        patch_decoder: bool,
        spec_decoder: bool,
    ) -> None:
        super().__init__()
        self.config = c = config
        n_out, hid, nl, act = 2 * c.latent_dim, c.hidden, c.n_layers, c.activation
        enc = PatchEncoder if c.encoder == "conv" else MLPEncoder
        self.patch_enc = enc(c.channels, c.window, hid, nl, n_out, act) if patch_encoder else None
        self.spec_enc = SpecEncoder(c.n_energy, hid, nl, n_out, act) if spec_encoder else None
        self.patch_dec = (
            PatchDecoder(c.latent_dim, c.channels, c.window, hid, nl, act)
            if patch_decoder
            else None
        )
        self.spec_dec = (
            SpecDecoder(c.latent_dim, c.n_energy, hid, nl, act) if spec_decoder else None
        )
        gain = torch.ones(c.n_energy)
        if c.spec_std:  # unit variance per energy channel for the spectrum encoder
            gain = c.spec_scale / torch.tensor(c.spec_std, dtype=torch.float32).clamp_min(1e-8)
        self.register_buffer("spec_gain", gain, persistent=False)

    # -- pieces ---------------------------------------------------------------------------
    def encode_patches(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-variance of (N, C, w, w) standardised patches."""
        return gaussian_head(self.patch_enc(patches))

    def encode_spectra(self, spectra: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-variance of (N, E) standardised spectra."""
        return gaussian_head(self.spec_enc(spectra * self.spec_gain))

    def sample(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A reparameterised draw while training, the mean otherwise."""
        if not self.training:
            return mu
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q ‖ N(0, 1)) summed over latent dimensions, mean over the batch."""
        return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()

    @staticmethod
    def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared error per element."""
        return F.mse_loss(pred, target)

    def loss(self, patches: torch.Tensor, spectra: torch.Tensor):
        """``(loss, terms)`` of one batch; terms are floats for the progress reports.

        Every model (im2spec, spec2im, dual) defines its own objective."""
        raise NotImplementedError(f"{type(self).__name__} must define loss")

    # -- prediction (standardised units) --------------------------------------------------
    def _decode_spread(self, mu, logvar, decode, n_samples: int):
        mean = decode(mu)
        if n_samples <= 0:
            return mean, None
        std = torch.exp(0.5 * logvar)
        draws = torch.stack([decode(mu + torch.randn_like(mu) * std) for _ in range(n_samples)])
        return mean, draws.std(0)

    @torch.no_grad()
    def predict_spectra(self, patches: torch.Tensor, n_samples: int = 0):
        """Standardised spectra (N, E) from standardised patches, and their spread (or None)."""
        if self.patch_enc is None or self.spec_dec is None:
            raise TypeError(f"a {self.config.kind} model does not predict spectra")
        mu, logvar = self.encode_patches(patches)
        return self._decode_spread(mu, logvar, self.spec_dec, n_samples)

    @torch.no_grad()
    def predict_patches(self, spectra: torch.Tensor, n_samples: int = 0):
        """Standardised patches (N, C, w, w) from standardised spectra, and their spread."""
        if self.spec_enc is None or self.patch_dec is None:
            raise TypeError(f"a {self.config.kind} model does not predict patches")
        mu, logvar = self.encode_spectra(spectra)
        return self._decode_spread(mu, logvar, self.patch_dec, n_samples)
