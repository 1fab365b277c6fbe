"""The conditional kinds ``cvae`` and ``crvae`` (see :mod:`napari_ivae.models.base`).

Encoder and decoder are those of the ``vae`` / ``rvae`` kinds, conditioned on
a vector ``c`` per image (:func:`~napari_ivae.models.cond_config.condition_matrix`:
the one-hot class, then the standardised continuous factors):

* the decoder draws the template from ``[z, c]``: with a one-hot class it is one
  decoder per class sharing its weights, so every class has its own latent
  space (the same z decodes to another object in another class), and "decode
  this z as class k" is ``decode_mean(z, onehot=c_k)``;
* the encoders (the image encoder and, for ``crvae``, the rotation-invariant z
  encoder) add a learned linear map of ``c`` to their outputs, so q(z | x, c)
  describes what is left once the class is known.

The condition reaches the nets as :attr:`CondIVAE.cond`, set by
:meth:`CondIVAE.forward` and :meth:`CondIVAE.posterior` for the call (the shared
code of :class:`~napari_ivae.models.base.IVAE` then runs unchanged).
"""

from __future__ import annotations

import torch
from torch import nn

from napari_ivae._errors import IvaeError
from napari_ivae.models.base import IVAE

__all__ = ["CRVAE", "CVAE", "CondIVAE"]


def _n_out(net: nn.Module) -> int:
    """Output width of a net (its last linear layer)."""
    return [m for m in net.modules() if isinstance(m, nn.Linear)][-1].out_features


class _Conditioned(nn.Module):
    """``net(x) + W c``: a net whose output is shifted by a linear map of the condition."""

    def __init__(self, net: nn.Module, n_cond: int):
        super().__init__()
        self.net = net
        self.cond_map = nn.Linear(n_cond, _n_out(net), bias=False)
        nn.init.zeros_(self.cond_map.weight)  # starts as the unconditioned net
        self.cond: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cond is None:
            raise IvaeError("this conditional model needs the condition of every image")
        return self.net(x) + self.cond_map(self.cond.to(x.dtype))


class CondIVAE(IVAE):
    """An :class:`IVAE` whose encoders and decoder see a condition vector per image.

    ``config`` is a :class:`~napari_ivae.models.cond_config.CondConfig` with its
    vocabulary and statistics set (``config.ready``).
    """

    kind = "cvae"

    def __init__(self, config):
        if not getattr(config, "ready", False):
            raise IvaeError(
                f"kind={config.kind!r} needs classes and/or conditions with their statistics "
                "(train it with labels or conditions)"
            )
        super().__init__(config)
        c, n_cond = config, config.n_cond
        self.n_cond = n_cond
        self.encoder = _Conditioned(self.encoder, n_cond)
        if self.invariant_z:
            self.z_encoder = _Conditioned(self.z_encoder, n_cond)
        self.decoder = self._make_decoder(c.latent_dim + n_cond)

    # ------------------------------------------------------------ the condition
    @property
    def cond(self) -> torch.Tensor | None:
        """The condition (B, n_cond) of the batch in hand (None between calls)."""
        return self.encoder.cond

    def _set_cond(self, cond: torch.Tensor | None, x: torch.Tensor | None = None) -> None:
        if cond is not None:
            if cond.dim() != 2 or cond.shape[1] != self.n_cond:
                raise IvaeError(f"cond must have shape (N, {self.n_cond}), got {tuple(cond.shape)}")
            if x is not None and cond.shape[0] != x.shape[0]:
                raise IvaeError(f"cond has {cond.shape[0]} rows for {x.shape[0]} images")
            cond = cond.to(device=x.device if x is not None else cond.device)
        self.encoder.cond = cond
        if self.invariant_z:
            self.z_encoder.cond = cond

    def posterior(self, x, exact: bool = True, cond=None):
        """:meth:`IVAE.posterior` given the condition ``cond`` (N, n_cond) of every image."""
        if cond is None:  # inside forward: the batch's condition is set
            return super().posterior(x, exact)
        self._set_cond(cond, x)
        try:
            return super().posterior(x, exact)
        finally:
            self._set_cond(None)

    def forward(self, x, *args, cond=None, **kwargs):
        """:meth:`IVAE.forward` given the condition ``cond`` (B, n_cond) of every image."""
        if cond is None:
            raise IvaeError("this conditional model needs cond, the condition of every image")
        self._set_cond(cond, x)
        try:
            return super().forward(x, *args, **kwargs)
        finally:
            self._set_cond(None)

    # ------------------------------------------------------------ the decoder
    def _code_cond(self, z, onehot):
        """The condition to decode ``z`` with: ``onehot`` if given, else the batch's
        (repeated when the shared code decodes several rows per image)."""
        if onehot is not None:
            return onehot
        cond = self.cond
        if cond is None:
            raise IvaeError("decoding a conditional model needs the condition (onehot=...)")
        return cond.repeat_interleave(z.shape[0] // cond.shape[0], 0)

    def decode_raw(self, z, angle=None, shift=None, onehot=None, scale=None):
        """:meth:`IVAE.decode_raw`; ``onehot`` is the condition vector (N, n_cond)."""
        return super().decode_raw(z, angle, shift, self._code_cond(z, onehot), scale)

    def _decode_bins(self, z, offset, onehot=None, jitter=None):
        return super()._decode_bins(z, offset, self._code_cond(z, onehot), jitter)


class CVAE(CondIVAE):
    """Conditional VAE (no rotation latents): ``kind="cvae"``."""

    kind = "cvae"


class CRVAE(CondIVAE):
    """Conditional rotation-invariant VAE: ``kind="crvae"``."""

    kind = "crvae"
