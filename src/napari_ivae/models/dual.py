"""Dual VAE: a structure VAE and a property VAE with tied latents.

Two encoders (patch, spectrum) and two decoders (patch, spectrum) share one
latent space.  Each batch trains

- the two VAEs on their own data (patch → patch, spectrum → spectrum),
- the cross reconstructions (patch → spectrum, spectrum → patch), which tie
  the latents to what the other side needs,
- ``align · ‖μ_patch − μ_spectrum‖²`` (mean over latent dimensions), which
  makes the two encoders put a point at the same place,

plus ``β`` times the two KL terms.  It predicts both directions (patch →
latent → spectrum and spectrum → latent → patch), and both latents can be
shown side by side (:meth:`DualVAE.latents`).
"""

from __future__ import annotations

import torch

from napari_ivae.models.structure_base import StructureModel
from napari_ivae.models.structure_config import StructureConfig

__all__ = ["DualVAE"]


class DualVAE(StructureModel):
    """Structure VAE + property VAE, latents tied (see the module docstring)."""

    def __init__(self, config: StructureConfig) -> None:
        super().__init__(
            config, patch_encoder=True, spec_encoder=True, patch_decoder=True, spec_decoder=True
        )

    def loss(self, patches, spectra):
        """Self and cross reconstructions, latent alignment and β·KL."""
        c = self.config
        mu_i, lv_i = self.encode_patches(patches)
        mu_s, lv_s = self.encode_spectra(spectra)
        z_i, z_s = self.sample(mu_i, lv_i), self.sample(mu_s, lv_s)
        terms = {
            "patch": self.mse(self.patch_dec(z_i), patches),
            "spectrum": self.mse(self.spec_dec(z_s), spectra),
            "im2spec": self.mse(self.spec_dec(z_i), spectra),
            "spec2im": self.mse(self.patch_dec(z_s), patches),
        }
        align = (mu_i - mu_s).pow(2).mean()
        kl = self.kl(mu_i, lv_i) + self.kl(mu_s, lv_s)
        total = sum(terms.values()) + c.align * align + c.beta * kl
        out = {k: v.item() for k, v in terms.items()}
        out.update(align=align.item(), kl=kl.item())
        return total, out

    @torch.no_grad()
    def latents(self, patches, spectra):
        """Latent means of the patches and of the spectra, each (N, L)."""
        return self.encode_patches(patches)[0], self.encode_spectra(spectra)[0]
