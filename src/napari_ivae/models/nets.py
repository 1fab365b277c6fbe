"""Shared networks: encoders (MLP, conv) and the spatial decoders.

Coordinates follow ``torch.nn.functional.grid_sample``: a pixel grid spans
[-1, 1] along each axis with ``align_corners=True`` and the last axis of a grid
holds (x, y).  One pixel is ``2 / (size - 1)`` grid units.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

_ACT = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}


def mlp(n_in: int, hidden: int, n_layers: int, n_out: int, activation: str) -> nn.Sequential:
    """``n_layers`` hidden layers of width ``hidden`` then a linear output."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(n_layers):
        layers += [nn.Linear(width, hidden), _ACT[activation]()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Flatten (N, C, H, W) and map it through an MLP to ``n_out`` numbers."""

    def __init__(self, in_channels, size, hidden, n_layers, n_out, activation):
        super().__init__()
        self.net = mlp(in_channels * size * size, hidden, n_layers, n_out, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class ConvEncoder(nn.Module):
    """Strided 3×3 convolutions (32, 64, 64 channels), global pooling, then an MLP."""

    def __init__(self, in_channels, size, hidden, n_layers, n_out, activation):
        super().__init__()
        act = _ACT[activation]
        chans = [in_channels, 32, 64, 64]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), act()]
        self.conv = nn.Sequential(*layers)
        side = size
        for _ in range(3):
            side = (side + 1) // 2
        self.pool = nn.AdaptiveAvgPool2d(min(side, 4))
        self.head = mlp(64 * min(side, 4) ** 2, hidden, max(n_layers - 1, 1), n_out, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.conv(x)).flatten(1))


def base_grid(size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(size*size, 2) grid of (x, y) in [-1, 1], row-major over (y, x)."""
    t = torch.linspace(-1.0, 1.0, size, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def transform_grid(
    grid: torch.Tensor,
    angle: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None = None,
):
    """Map the (P, 2) grid r to ``R(angle) (r - shift) / scale``.

    ``angle`` is (B, M) radians, ``shift`` (B, 2) = (dy, dx) in grid units: the
    position of the template's origin in the crop, so a decoder evaluated on the
    returned grid draws the object rotated by ``angle`` about its own centre and
    centred at ``shift`` (and ``scale`` (B,) times its template size, if given).  Returns a (B, M, P, 2) grid of (x, y) (``(1, 1, P, 2)``
    when both are ``None``).
    """
    g = grid[None, None]
    if shift is not None:
        g = g - shift.flip(-1)[:, None, None, :]  # (dy, dx) -> (dx, dy)
    if angle is not None:
        c, s = torch.cos(angle)[..., None], torch.sin(angle)[..., None]  # (B, M, 1)
        x, y = g[..., 0], g[..., 1]
        g = torch.stack([c * x - s * y, s * x + c * y], dim=-1)
    if scale is not None:
        g = g / scale[:, None, None, None]
    return g


class CoordDecoder(nn.Module):
    """Pixel value(s) as an MLP of the transformed coordinate and the latents.

    The first layer is split, ``W_c · (x', y') + W_z · z + b``: the latent part is
    computed once per sample and broadcast over the pixels, so a decode is a few
    batched matrix products over (B · M · H · W) rows.
    """

    def __init__(self, n_latent, out_channels, size, hidden, n_layers, activation):
        super().__init__()
        self.size, self.out_channels = size, out_channels
        self.coord = nn.Linear(2, hidden, bias=False)
        self.latent = nn.Linear(n_latent, hidden)
        self.act = _ACT[activation]()
        self.rest = mlp(hidden, hidden, n_layers - 1, out_channels, activation)
        self.register_buffer("grid", base_grid(size), persistent=False)

    def forward(self, code, angle=None, shift=None, points=None, scale=None) -> torch.Tensor:
        """(B, M, C, H, W) for ``angle`` (B, M) (M = 1 without angle); with
        ``points`` (P, 2) (x, y) instead of the crop grid, (B, M, C, P);
        ``scale`` (B,): the object's size (:func:`transform_grid`)."""
        b = code.shape[0]
        grid = self.grid if points is None else points
        g = transform_grid(grid.to(code.dtype), angle, shift, scale)  # (B|1, M, P, 2)
        h = self.act(self.coord(g) + self.latent(code)[:, None, None, :])  # (B, M, P, hidden)
        out = self.rest(h).transpose(2, 3)  # (B, M, C, P)
        if points is not None:
            return out
        return out.reshape(b, out.shape[1], self.out_channels, self.size, self.size)


class TemplateDecoder(nn.Module):
    """Canonical image from the latents, sampled at the transformed coordinate grid.

    An MLP maps the latents to a C-channel template on a canvas of side
    ``ceil(√2 · size) + 8`` (so a crop rotated by any angle and shifted by a few
    pixels stays inside it); the output pixel at coordinate r is the bilinear
    interpolation of the template at ``R(γ) (r - Δr)``: the decoded image is a
    function of the transformed spatial coordinate, like :class:`CoordDecoder`.
    With ``enlarge=False`` (models without rotation) the canvas is the crop.
    Several angles per sample reuse one template (one ``grid_sample`` call).
    """

    def __init__(self, n_latent, out_channels, size, hidden, n_layers, activation, enlarge=True):
        super().__init__()
        self.size, self.out_channels = size, out_channels
        canvas = math.ceil(math.sqrt(2) * size) + 8 if enlarge else size
        canvas += (canvas - size) % 2  # centred: same parity as size
        self.canvas = canvas
        self.half = (canvas - 1) / (size - 1)  # canvas half-width in crop grid units
        self.net = mlp(n_latent, hidden, n_layers, out_channels * canvas * canvas, activation)
        self.register_buffer("grid", base_grid(size), persistent=False)

    def forward(self, code, angle=None, shift=None, points=None, scale=None) -> torch.Tensor:
        """(B, M, C, H, W) for ``angle`` (B, M) (M = 1 without angle); with
        ``points`` (P, 2) (x, y) instead of the crop grid, (B, M, C, P);
        ``scale`` (B,): the object's size (:func:`transform_grid`)."""
        b, h = code.shape[0], self.size
        tmpl = self.net(code).view(b, self.out_channels, self.canvas, self.canvas)
        if points is None and angle is None and shift is None and self.canvas == h:
            return tmpl[:, None]
        grid = self.grid if points is None else points
        g = transform_grid(grid.to(code.dtype), angle, shift, scale) / self.half
        g = g.expand(b, g.shape[1], -1, -1)
        out = F.grid_sample(tmpl, g, mode="bilinear", padding_mode="border", align_corners=True)
        out = out.transpose(1, 2)  # (B, M, C, P)
        return out if points is not None else out.reshape(b, out.shape[1], -1, h, h)
