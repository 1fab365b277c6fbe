"""spec2im: the image patch around a point from the spectrum at it.

A variational encoder of the spectrum and a decoder of the patch:
``loss = MSE(patch) + β · KL(q(z | spectrum) ‖ N(0, 1))``.  A spectrum cannot
tell the orientation of the arrangement around the point, so the decoded
patch is (at best) the average of the arrangements that give that spectrum:
compare rotation-invariant summaries of it (its ring-averaged profile).
"""

from __future__ import annotations

from napari_ivae.models.structure_base import StructureModel
from napari_ivae.models.structure_config import StructureConfig

__all__ = ["Spec2Im"]


class Spec2Im(StructureModel):
    """Spectrum encoder → patch decoder (see :class:`StructureModel`)."""

    def __init__(self, config: StructureConfig) -> None:
        super().__init__(
            config, patch_encoder=False, spec_encoder=True, patch_decoder=True, spec_decoder=False
        )

    def loss(self, patches, spectra):
        """MSE of the decoded patch plus β·KL."""
        mu, logvar = self.encode_spectra(spectra)
        rec = self.mse(self.patch_dec(self.sample(mu, logvar)), patches)
        kl = self.kl(mu, logvar)
        return rec + self.config.beta * kl, {"patch": rec.item(), "kl": kl.item()}

    def latent(self, spectra):
        """Latent means (N, L) of standardised spectra."""
        return self.encode_spectra(spectra)[0]
