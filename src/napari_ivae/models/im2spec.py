"""im2spec: the spectrum at a point from the image patch around it.

A variational encoder of the ``window × window`` patch and a decoder of the
spectrum: ``loss = MSE(spectrum) + β · KL(q(z | patch) ‖ N(0, 1))``.
"""

from __future__ import annotations

from napari_ivae.models.structure_base import StructureModel
from napari_ivae.models.structure_config import StructureConfig

__all__ = ["Im2Spec"]


class Im2Spec(StructureModel):
    """Patch encoder → spectrum decoder (see :class:`StructureModel`)."""

    def __init__(self, config: StructureConfig) -> None:
        super().__init__(
            config, patch_encoder=True, spec_encoder=False, patch_decoder=False, spec_decoder=True
        )

    def loss(self, patches, spectra):
        """MSE of the decoded spectrum plus β·KL."""
        mu, logvar = self.encode_patches(patches)
        rec = self.mse(self.spec_dec(self.sample(mu, logvar)), spectra)
        kl = self.kl(mu, logvar)
        return rec + self.config.beta * kl, {"spectrum": rec.item(), "kl": kl.item()}

    def latent(self, patches):
        """Latent means (N, L) of standardised patches."""
        return self.encode_patches(patches)[0]
