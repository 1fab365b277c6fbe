"""Exact inference over rotation bins: lattice, smoothing and the per-bin likelihood.

Used by the rotation kinds with ``angle_inference="grid"`` (design in
docs/experiments.md, "Model"): the
decoder draws its template once, in its own frame, at :attr:`AngleBins.bin_points`;
:meth:`AngleBins.nll` resamples the input for every bin instead of decoding M
rotated outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from napari_ivae.models.nets import transform_grid

__all__ = ["AngleBins", "centroid", "gain_free_sse", "gyration", "wrapped_normal_bins"]


def gain_free_sse(xx, cross, oo, sx, so, w):
    """Squared error of ``x ≈ a·o + b_c`` at the best gain ``a ≥ 0`` and offsets ``b_c``.

    Sums over the points (weights ``m``) of one comparison: ``xx`` = Σ m|x|²
    (channels summed), ``cross`` = Σ m x·o, ``oo`` = Σ m |o|², and per channel
    ``sx`` = Σ m x_c, ``so`` = Σ m o_c (channel axis ``-1``; the others broadcast),
    ``w`` = Σ m.  One gain for all channels, one offset per channel (the
    least-squares fit of a per-crop contrast and background, as the per-particle
    intensity scale of cryo-EM 2-D classification): the error of the best fit,
    ``cxx − max(cxo, 0)² / coo`` with the weighted-centred sums ``c…``.
    """
    w = w.clamp_min(1e-12)
    cxx = xx - sx.pow(2).sum(-1) / w
    cxo = cross - (sx * so).sum(-1) / w
    coo = oo - so.pow(2).sum(-1) / w
    return (cxx - cxo.clamp_min(0).pow(2) / coo.clamp_min(1e-8)).clamp_min(0)


def wrapped_normal_bins(n_bins: int, std: float) -> torch.Tensor:
    """Log-probabilities of N(0, std²) wrapped on the circle, per angle bin."""
    centers = torch.arange(n_bins, dtype=torch.float64) * (2 * math.pi / n_bins)
    centers = (centers + math.pi) % (2 * math.pi) - math.pi
    k = torch.arange(-5, 6, dtype=torch.float64)[:, None] * 2 * math.pi
    dens = torch.exp(-0.5 * ((centers[None] + k) / std) ** 2).sum(0)
    return torch.log(dens / dens.sum()).float()


def _contrast_weights(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel weights (B, P) of :func:`centroid`: ``|x - median|`` above its noise floor."""
    v = x.flatten(2)
    dev = (v - v.median(dim=2, keepdim=True).values).abs()
    # minus 3 robust standard deviations: the noise floor of a mostly
    # flat crop would pull the centroid towards the middle
    noise = 3 * 1.4826 * dev.median(dim=2, keepdim=True).values
    w = (dev - noise).clamp_min(0).sum(1)  # (B, P)
    return w / w.sum(1, keepdim=True).clamp_min(1e-12)


def centroid(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Centre of contrast (dy, dx) in grid units of a batch (B, C, H, W).

    The centroid of ``|x - median|`` above its noise floor (channels summed),
    over ``grid`` (H·W, 2) (x, y).  A translation- and rotation-equivariant
    first guess of the object position that the encoder only corrects
    (``shift_init="centroid"``); about 0 for crops of a lattice or of a wall
    centred by detection.
    """
    with torch.no_grad():
        w = _contrast_weights(x)
        return (w @ grid.to(w.dtype)).flip(-1)  # (x, y) -> (dy, dx)


def gyration(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Radius of gyration (B,) of the contrast of a batch (B, C, H, W), grid units.

    The root-mean-square distance of the :func:`centroid`'s weights from the
    centroid: rotation- and translation-invariant and proportional to the size
    of an isolated object, the first guess of the scale latent
    (``ModelConfig.scale="free"``) as the centroid is of the shift.
    """
    with torch.no_grad():
        w = _contrast_weights(x)
        g = grid.to(w.dtype)
        c = w @ g  # (B, 2) (x, y)
        d2 = (g.pow(2).sum(1)[None] - 2 * c @ g.T + c.pow(2).sum(1, keepdim=True)).clamp_min(0)
        return (w * d2).sum(1).sqrt()


class AngleBins(nn.Module):
    """Bin centres and prior, the template-frame lattice, and the bin likelihood.

    Parameters
    ----------
    size : int
        Crop side H = W.
    n_bins : int
        Number M of rotation bins.
    sigma_angle, sigma_shift : float
        Prior widths of the angle (radians) and of the shift (half-widths).
    likelihood : {"gaussian", "bernoulli"}
    recon_sigma : float
        Gaussian likelihood scale.
    gain_free : bool
        Gaussian likelihood at the best per-crop gain and offset of the template
        (:func:`gain_free_sse`; ``ModelConfig.gain="free"``).
    min_scale : float
        Smallest object scale s the likelihood is asked for (1 without a scale
        latent): the template-frame lattice reaches 1/s farther.
    """

    def __init__(self, size, n_bins, sigma_angle, sigma_shift, likelihood, recon_sigma,
                 gain_free=False, min_scale=1.0):  # fmt: skip
        super().__init__()
        self.size, self.likelihood, self.recon_sigma = size, likelihood, recon_sigma
        self.gain_free = bool(gain_free) and likelihood == "gaussian"
        m = n_bins
        centers = torch.arange(m) * (2 * math.pi / m)
        self.register_buffer("bin_centers", (centers + math.pi) % (2 * math.pi) - math.pi)
        self.register_buffer("log_prior_bins", wrapped_normal_bins(m, sigma_angle))
        # template-frame points u that the fixed crop disk |r| ≤ 1 can reach
        # through r = R(-θ) u + Δ with |Δ| ≤ 3 s_Δr (pixel spacing, centred)
        step = 2.0 / (size - 1)
        # (+2 px: the bilinear window reaches about one pixel past the circle)
        reach = (1.0 + 3.0 * math.sqrt(2) * sigma_shift + 2 * step) / min_scale
        pad = math.ceil((reach - 1.0) / step)
        t = (torch.arange(size + 2 * pad, dtype=torch.float32) - (size - 1) / 2 - pad) * step
        pts = torch.stack(torch.meshgrid(t, t, indexing="xy"), dim=-1).reshape(-1, 2)
        if size >= 24:
            # quincunx lattice (every other point, spacing √2 px): the input
            # is smoothed (σ = 1.5 px) first, so this halves the cost of all
            # M bins at a small loss; each point then stands for 2 pixels
            ij = torch.arange(len(t))
            keep = ((ij[:, None] + ij[None, :]) % 2 == 0).reshape(-1)
            pts = pts[keep]
        self.lattice_weight = 2.0 if size >= 24 else 1.0
        rad = pts.norm(dim=1)
        order = torch.argsort(rad[rad <= reach + 1e-6], stable=True)
        pts, rad = pts[rad <= reach + 1e-6][order], rad[rad <= reach + 1e-6][order]
        self.register_buffer("bin_points", pts, persistent=False)  # (Pd, 2) (x, y)
        self.register_buffer("bin_radius", rad, persistent=False)  # sorted
        rot = transform_grid(pts, -self.bin_centers[None], None)[0]  # (M, Pd, 2)
        self.register_buffer("rot_points", rot, persistent=False)
        t = torch.arange(-4, 5, dtype=torch.float32)
        kern = torch.exp(-0.5 * (t / 1.5) ** 2)
        self.register_buffer("blur_kernel", kern / kern.sum(), persistent=False)
        yy, xx = torch.meshgrid(
            torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij"
        )
        edge = 2 * step  # 2 px
        window = ((1.0 - (xx**2 + yy**2)) / (2 * edge)).clamp(0.0, 1.0)  # ≈ (1 - |r|) / edge
        self.register_buffer("window", window[None, None], persistent=False)

    def smooth(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian blur (σ = 1.5 px) applied to the input before it is rotated.

        Without it, the bins at multiples of 90° (no interpolation) fit sharp
        images better than the others, and every image is sent to them.
        """
        b, ch, h, w = x.shape
        k = self.blur_kernel.to(x.dtype)
        y = x.reshape(b * ch, 1, h, w)
        y = F.conv2d(F.pad(y, (4, 4, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
        y = F.conv2d(F.pad(y, (0, 0, 4, 4), mode="replicate"), k.view(1, 1, -1, 1))
        return y.view(b, ch, h, w)

    def nll(
        self,
        x: torch.Tensor,
        out: torch.Tensor,
        shift: torch.Tensor,
        jitter: torch.Tensor | None = None,
        scale: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """NLL of ``x`` on the crop disk under the template rotated by each bin angle.

        ``x`` (B, C, H, W); ``out`` (B, K, C, Pd): the template (sub-bin offset
        applied) at :attr:`bin_points`; ``shift`` (B, 2) (dy, dx) grid units
        -> (B, K, M); ``jitter`` (2,) (x, y) grid units: the lattice moved by
        that offset (``out`` must be drawn at the moved points).  The model is
        ``x(r) = T(R(θ_m + δ)(r - Δ))``.  With ``u = R(θ_m)(r - Δ)`` this reads ``x(R(-θ_m) u + Δ) = T(R(δ) u)``: instead
        of decoding M rotated and shifted outputs, the smoothed input
        (:meth:`smooth`) is resampled at ``R(-θ_m) u + Δ`` (differentiable in Δ)
        and compared with the one template where that point lies on the fixed
        crop disk ``|r| ≤ 1``.  The shift lives in the image frame, so the
        encoder predicts it without knowing the angle (a shift in the rotated
        frame couples the two and left near-symmetric glyphs misaligned, see
        docs/experiments.md, "What was tried").  The NLL is linear in the data
        given the output, so all M bins cost batched products.

        ``scale`` (B,): the object's size s relative to the template
        (``ModelConfig.scale="free"``): ``x(r) = T(R(θ)(r - Δ) / s)``, so the
        input is resampled at ``s·R(-θ_m) u + Δ`` and every template point
        stands for s² times the area (the NLL is multiplied by s², an
        approximation of the same sum over the crop's pixels whatever s).
        """
        ch = x.shape[1]
        pd = self.rot_points.shape[1]
        with torch.no_grad():
            x = self.smooth(x)
        # only the points that can reach the crop disk for this batch's shifts
        # (bin_points are sorted by radius)
        reach = 1.0 + float(shift.detach().norm(dim=1).max()) + 4.0 / (self.size - 1) + 1e-4
        if scale is not None:
            reach /= float(scale.detach().min())
        pd = min(pd, int(torch.searchsorted(self.bin_radius, reach)))
        rot = self.rot_points[:, :pd].to(x.dtype)
        if jitter is not None:  # R(-θ_m)(u + δ) = R(-θ_m) u + R(-θ_m) δ
            rot = rot + transform_grid(jitter[None].to(x.dtype), -self.bin_centers[None], None)[0]
        d = shift.to(x.dtype).flip(-1)  # (B, 2) (x, y)
        if scale is None:
            g = rot[None] + d[:, None, None, :]  # (B, M, Pd, 2)
        else:
            g = rot[None] * scale.to(x.dtype)[:, None, None, None] + d[:, None, None, :]
        # The window w is fixed in the image frame (1 inside |r| ≤ 1 - 2 px,
        # linear to 0 at the crop's inscribed circle), so w·x, w·|x|² and w
        # are images: one resampling of those C + 2 channels at g gives every
        # term of the windowed NLL, differentiable in Δ through the grid (a
        # window that moved with Δ, or a hard disk, pushed Δ outwards).
        with torch.no_grad():
            win = self.window.to(x.dtype).expand(x.shape[0], 1, -1, -1)
            stack = torch.cat([x * win, x.pow(2).sum(1, keepdim=True) * win, win], dim=1)
        samp = F.grid_sample(stack, g, mode="bilinear", padding_mode="zeros", align_corners=True)
        xw, xx, mask = samp.split([ch, 1, 1], dim=1)  # split: its backward is one cat
        xx, mask = xx[:, 0].sum(2)[:, None, :], mask[:, 0]
        o = out[..., :pd]  # (B, K, C, Pd)
        cross = sum(o[:, :, j] @ xw[:, j].transpose(1, 2) for j in range(ch))  # (B, K, M)
        mask_t = mask.transpose(1, 2).to(o.dtype)
        w = self.lattice_weight
        if scale is not None:  # the area element: (B, 1, 1)
            w = w * scale.to(o.dtype).pow(2)[:, None, None]
        if self.likelihood == "bernoulli":
            return w * (F.softplus(o).sum(2) @ mask_t - cross)
        s2 = self.recon_sigma**2
        oo = o.pow(2).sum(2) @ mask_t
        if self.gain_free:
            sx = xw.sum(3).transpose(1, 2)[:, None]  # (B, 1, M, C)
            so = torch.stack([o[:, :, j] @ mask_t for j in range(ch)], dim=-1)  # (B, K, M, C)
            sse = gain_free_sse(xx, cross, oo, sx, so, mask.sum(2)[:, None])
            return (0.5 * w / s2) * sse
        return (0.5 * w / s2) * (xx - 2 * cross + oo)
