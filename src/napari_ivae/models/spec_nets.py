"""Shared networks for spectra (1-D signals): a convolutional encoder and an MLP decoder.

Used by the structure–property models (:mod:`~napari_ivae.models.im2spec`,
:mod:`~napari_ivae.models.spec2im`, :mod:`~napari_ivae.models.dual`), next to
the image nets of :mod:`~napari_ivae.models.nets`.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from napari_ivae.models.nets import _ACT, ConvEncoder, TemplateDecoder, mlp

__all__ = ["PatchDecoder", "PatchEncoder", "SpecDecoder", "SpecEncoder", "gaussian_head"]


class SpecEncoder(nn.Module):
    """(N, E) spectra → ``n_out`` numbers: strided 1-D convolutions, pooling, then an MLP.

    Two convolutions (16, 32 channels, stride 2) see the peak shapes; the
    pooled map (at most 32 positions) goes through an MLP.
    """

    def __init__(self, n_energy, hidden, n_layers, n_out, activation):
        super().__init__()
        act = _ACT[activation]
        chans = [1, 16, 32]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [nn.Conv1d(a, b, 5, stride=2, padding=2), act()]
        self.conv = nn.Sequential(*layers)
        side = n_energy
        for _ in range(2):
            side = (side + 1) // 2
        self.pool = nn.AdaptiveAvgPool1d(min(side, 32))
        self.head = mlp(32 * min(side, 32), hidden, n_layers, n_out, activation)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.conv(s[:, None])).flatten(1))


class SpecDecoder(nn.Module):
    """Latent → (N, E) spectrum through an MLP."""

    def __init__(self, n_latent, n_energy, hidden, n_layers, activation):
        super().__init__()
        self.net = mlp(n_latent, hidden, n_layers, n_energy, activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class PatchEncoder(ConvEncoder):
    """(N, C, w, w) patches → ``n_out`` numbers (:class:`~napari_ivae.models.nets.ConvEncoder`)."""


class PatchDecoder(nn.Module):
    """Latent → (N, C, w, w) patch: the un-transformed :class:`TemplateDecoder` (an MLP)."""

    def __init__(self, n_latent, channels, window, hidden, n_layers, activation):
        super().__init__()
        self.net = TemplateDecoder(n_latent, channels, window, hidden, n_layers, activation, False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)[:, 0]


def gaussian_head(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split an encoder output (N, 2L) into mean and log-variance (clamped to [-10, 5])."""
    mu, logvar = h.chunk(2, dim=1)
    return mu, logvar.clamp(-10.0, 5.0)
