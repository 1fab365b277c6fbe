"""The pose latents of the invariant VAE: rotation, shift and scale (posterior, sampling, first guesses).

A mixin of :class:`~napari_ivae.models.base.IVAE` (its ``config``, ``encoder``
outputs, ``crop_grid`` and, with ``ModelConfig.scale="free"``, ``scale_ref``).
The shift starts from the crop's centre of contrast and the scale from its
radius of gyration (:mod:`~napari_ivae.models.bins`); the encoder corrects both.
"""

from __future__ import annotations

import math

import torch

from napari_ivae.models.bins import centroid, gyration
from napari_ivae.models.class_init import invariant_code

__all__ = ["PoseMixin", "kl_normal"]

_LOGSTD_MIN, _LOGSTD_MAX = -8.0, 4.0
_SHIFT_LOGSTD_INIT = -2.0  # initial shift posterior log-width relative to the prior
#: bound of the scale latent's log s (``ModelConfig.scale="free"``): s ∈ [2/3, 3/2]
_SCALE_LIMIT = math.log(1.5)


def kl_normal(mu: torch.Tensor, logstd: torch.Tensor, prior_std: float) -> torch.Tensor:
    """KL(N(mu, exp(logstd)²) ‖ N(0, prior_std²)) summed over the last axis."""
    var_ratio = torch.exp(2 * logstd) / prior_std**2
    kl = 0.5 * (var_ratio + mu.pow(2) / prior_std**2 - 1.0) - logstd + math.log(prior_std)
    return kl.sum(-1)


class PoseMixin:
    """Posterior, sampling and first guesses of the pose latents (angle, shift, scale)."""

    def _pose_posterior(self, x, h, i, out) -> int:
        """Add the pose posterior of the batch ``x`` to ``out`` from the encoder outputs
        ``h`` starting at column ``i`` (and z from invariant features where the model
        has an invariant z encoder); returns the next unread column."""
        c = self.config
        k = c.latent_dim
        if self.grid_angles:
            out["angle_offset"] = torch.tanh(h[:, i]) * (math.pi / c.angle_bins)
            i += 1
        else:
            out["angle"] = torch.atan2(h[:, i + 1], h[:, i])
            out["angle_logstd"] = h[:, i + 2].clamp(_LOGSTD_MIN, _LOGSTD_MAX)
            i += 3
        # bounded to ±3 s_Δr: otherwise a large shift lets the decoder pick
        # another part of the template canvas, a back door around the angle
        lim = 3.0 * c.sigma_shift
        # an untrained encoder's outputs (±0.3–0.5 on z-scored crops) gave
        # corrections near the bound from the first step: shift_scale
        # (0.1) starts them at a tenth of that (docs/experiments.md, "What was tried")
        shift = lim * torch.tanh(c.shift_scale * h[:, i : i + 2] / lim)
        centre = self.centroid(x) if c.shift_init == "centroid" or self.invariant_z else None
        if c.shift_init == "centroid":
            # the centroid is trusted up to centroid_limit (half) of the bound: on lattice
            # crops contamination or neighbours pulled it past the bound,
            # where the clamp below gave the encoder no gradient to bring
            # it back: on real crops most of those stayed pinned
            # (docs/experiments.md, "What was tried")
            trust = c.centroid_limit * lim
            shift = (centre.clamp(-trust, trust) + shift).clamp(-lim, lim)
        out["shift"] = shift
        # never wider than the prior, and an untrained encoder starts at
        # e^-2 of it (0.3 px at the defaults: about the centroid's error).
        # Starting at the prior width (2.4 px) blurred the template so much
        # that the likelihood hardly depended on Δ, so the width never
        # shrank: heart and club stayed misaligned (docs/experiments.md, "What was tried")
        log_s = math.log(c.sigma_shift)
        out["shift_logstd"] = (h[:, i + 2 : i + 4] + log_s + _SHIFT_LOGSTD_INIT).clamp(
            _LOGSTD_MIN, log_s
        )
        i += 4
        size0 = None
        if self.free_scale:
            # log s: the radius of gyration's estimate plus an encoder
            # correction, as the shift is the centroid plus one
            init = self.log_scale_init(x)
            lim = _SCALE_LIMIT
            corr = lim * torch.tanh(c.shift_scale * h[:, i] / lim)
            out["log_scale"] = (init + corr).clamp(-lim, lim)
            log_p = math.log(c.sigma_scale)
            out["log_scale_logstd"] = (h[:, i + 1] + log_p + _SHIFT_LOGSTD_INIT).clamp(
                _LOGSTD_MIN, log_p
            )
            out["scale"] = out["log_scale"].exp()
            size0 = init.exp()
            i += 2
        if self.invariant_z:
            # about the centre of contrast (equivariant), not the learned
            # shift: z is then exactly invariant to rotations of the crop
            hz = self.z_encoder(invariant_code(x, centre, size0))
            out["z_mu"], out["z_logstd"] = hz[:, :k], hz[:, k:]
        return i

    def _sample_pose(self, p, sample, terms):
        """(angles, shift, decoder shift, scale) drawn from the posterior ``p``;
        adds the pose KLs (``kl_scale`` is counted with the shift's)."""
        c = self.config
        if not c.rotation:
            return None, None, None, None
        lim = 3.0 * c.sigma_shift
        shift = sample(p["shift"], p["shift_logstd"]).clamp(-lim, lim)
        terms["kl_shift"] = kl_normal(p["shift"], p["shift_logstd"], c.sigma_shift)
        scale = None
        if self.free_scale:
            log_s = sample(p["log_scale"], p["log_scale_logstd"]).clamp(-_SCALE_LIMIT, _SCALE_LIMIT)
            scale = log_s.exp()
            terms["kl_shift"] = terms["kl_shift"] + kl_normal(
                p["log_scale"][:, None], p["log_scale_logstd"][:, None], c.sigma_scale
            )
        if self.grid_angles:
            # the decoder draws the template in its own frame (sub-bin offset
            # only); AngleBins.nll moves the input instead
            return p["angle_offset"], shift, None, scale
        angles = sample(p["angle"], p["angle_logstd"])
        terms["kl_angle"] = kl_normal(p["angle"][:, None], p["angle_logstd"][:, None],
                                      c.sigma_angle)  # fmt: skip
        return angles, shift, shift, None

    def centroid(self, x: torch.Tensor) -> torch.Tensor:
        """Centre of contrast (dy, dx), grid units: :func:`~.bins.centroid`."""
        return centroid(x, self.crop_grid)

    def log_scale_init(self, x: torch.Tensor) -> torch.Tensor:
        """log s of every crop from its radius of gyration over :attr:`scale_ref`
        (bounded a little inside the scale latent's bound; 0 while unset)."""
        if not self.free_scale or float(self.scale_ref) <= 0:
            return torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        rg = gyration(x, self.crop_grid).to(x.dtype).clamp_min(1e-6)
        lim = 0.9 * _SCALE_LIMIT
        return torch.log(rg / self.scale_ref.to(x.dtype)).clamp(-lim, lim)

    def scale_estimate(self, x: torch.Tensor) -> torch.Tensor | None:
        """The scale's first guess (B,) (``scale="free"``), else None: for the
        class seeds, which must compare crops at the template size too."""
        return self.log_scale_init(x).exp() if self.free_scale else None

    def set_scale_reference(self, x: torch.Tensor) -> None:
        """:attr:`scale_ref` = the median radius of gyration of the crops ``x``."""
        if self.free_scale:
            with torch.no_grad():
                rg = torch.cat([gyration(x[i : i + 1024].float(), self.crop_grid.float())
                                for i in range(0, len(x), 1024)])  # fmt: skip
                self.scale_ref.fill_(float(rg.quantile(0.5)))
