"""The shared invariant VAE: content z, optional rotation/shift and class latents."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from napari_ivae.models.nets import (
    ConvEncoder,
    CoordDecoder,
    MLPEncoder,
    TemplateDecoder,
    base_grid,
    transform_grid,
)

_LOGSTD_MIN, _LOGSTD_MAX = -8.0, 4.0


def kl_normal(mu: torch.Tensor, logstd: torch.Tensor, prior_std: float) -> torch.Tensor:
    """KL(N(mu, exp(logstd)²) ‖ N(0, prior_std²)) summed over the last axis."""
    var_ratio = torch.exp(2 * logstd) / prior_std**2
    kl = 0.5 * (var_ratio + mu.pow(2) / prior_std**2 - 1.0) - logstd + math.log(prior_std)
    return kl.sum(-1)


def wrapped_normal_bins(n_bins: int, std: float) -> torch.Tensor:
    """Log-probabilities of N(0, std²) wrapped on the circle, per angle bin."""
    centers = torch.arange(n_bins, dtype=torch.float64) * (2 * math.pi / n_bins)
    centers = (centers + math.pi) % (2 * math.pi) - math.pi
    k = torch.arange(-5, 6, dtype=torch.float64)[:, None] * 2 * math.pi
    dens = torch.exp(-0.5 * ((centers[None] + k) / std) ** 2).sum(0)
    return torch.log(dens / dens.sum()).float()


class IVAE(nn.Module):
    """(Invariant, joint) VAE.  Subclasses only pin the ``kind``.

    Encoder outputs per image: mean and log-std of z; for rotation kinds the
    angle posterior (``angle_inference="grid"``: M bin logits and a sub-bin
    offset; ``"encoder"``: a 2-vector whose direction is the mean angle and a
    log-std) and the mean and log-std of the shift (dy, dx); for joint kinds
    the class logits.  ``forward(x)`` returns per-sample averages of the loss
    terms; the trainer combines them (β weighting or capacity control).
    """

    kind = "vae"

    def __init__(self, config):
        super().__init__()
        if config.kind != self.kind:
            raise ValueError(f"{type(self).__name__} needs kind={self.kind!r}")
        self.config = config
        c, k = config, config.latent_dim
        self.n_classes = c.n_classes if c.joint else 0
        self.grid_angles = c.rotation and c.angle_inference == "grid"
        n_rot = (1 if self.grid_angles else 3) + 4 if c.rotation else 0
        n_out = 2 * k + n_rot + self.n_classes
        enc = MLPEncoder if c.encoder == "mlp" else ConvEncoder
        self.encoder = enc(c.in_channels, c.size, c.hidden, c.n_layers, n_out, c.activation)
        n_code = k + self.n_classes
        if c.decoder == "coord":
            self.decoder = CoordDecoder(
                n_code, c.in_channels, c.size, c.hidden, c.n_layers, c.activation
            )
        else:
            self.decoder = TemplateDecoder(
                n_code, c.in_channels, c.size, c.hidden, c.n_layers, c.activation,
                enlarge=c.rotation,
            )  # fmt: skip
        if self.grid_angles:
            m = c.angle_bins
            centers = torch.arange(m) * (2 * math.pi / m)
            self.register_buffer("bin_centers", (centers + math.pi) % (2 * math.pi) - math.pi)
            self.register_buffer("log_prior_bins", wrapped_normal_bins(m, c.sigma_angle))
            # x_m(u) = x(R(-θ_m) u): the input seen in the frame of bin m
            rot = transform_grid(base_grid(c.size), -self.bin_centers[None], None)[0]  # (M, P, 2)
            self.register_buffer("rot_grid", rot, persistent=False)
            self.register_buffer("disk", base_grid(c.size).norm(dim=1) <= 1.0, persistent=False)
            t = torch.arange(-4, 5, dtype=torch.float32)
            kern = torch.exp(-0.5 * (t / 1.5) ** 2)
            self.register_buffer("blur_kernel", kern / kern.sum(), persistent=False)

    # ----------------------------------------------------------------- encoder
    def posterior(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Posterior parameters for a batch (N, C, H, W).

        Returns a dict with ``z_mu``, ``z_logstd`` (N, k); for rotation kinds
        ``angle`` (N,) radians (the posterior mode), ``angle_logstd`` (N,),
        ``shift``, ``shift_logstd`` (N, 2) = (dy, dx) in grid units, and with
        grid inference ``angle_logits`` (N, M) and ``angle_offset`` (N,); for
        joint kinds ``logits`` (N, K).
        """
        c = self.config
        h = self.encoder(x)
        k = c.latent_dim
        out = {"z_mu": h[:, :k], "z_logstd": h[:, k : 2 * k].clamp(_LOGSTD_MIN, _LOGSTD_MAX)}
        i = 2 * k
        if c.rotation:
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
            out["shift"] = lim * torch.tanh(h[:, i : i + 2] / lim)
            out["shift_logstd"] = h[:, i + 2 : i + 4].clamp(_LOGSTD_MIN, _LOGSTD_MAX)
            i += 4
        if self.n_classes:
            out["logits"] = h[:, i : i + self.n_classes]
        if self.n_classes and c.discrete == "exact":
            out["logits"] = self._class_posterior(x, out)
        if self.grid_angles:
            out.update(self._angle_posterior(x, out))
        return out

    def _class_posterior(self, x, p) -> torch.Tensor:
        """Exact class log-posterior (up to a constant) at the posterior means."""
        b, kk = x.shape[0], self.n_classes
        onehot = torch.eye(kk, device=x.device, dtype=x.dtype).repeat(b, 1)
        rep = lambda t: None if t is None else t.repeat_interleave(kk, 0)  # noqa: E731
        angle = p.get("angle_offset", p.get("angle"))
        out = self.decode_raw(rep(p["z_mu"]), rep(angle), rep(p.get("shift")), onehot)
        out = out.view(b, kk, *out.shape[1:])
        if self.grid_angles:
            nll = self._nll_bins(x, out).float()
            return torch.logsumexp(self.log_prior_bins - nll, dim=2)
        return -self._nll(x, out)

    def _angle_posterior(self, x, p) -> dict[str, torch.Tensor]:
        """Exact posterior over the angle bins at the posterior means of z and Δr
        (most probable class for joint kinds)."""
        onehot = None
        if self.n_classes:
            onehot = F.one_hot(p["logits"].argmax(1), self.n_classes).to(x.dtype)
        out = self.decode_raw(p["z_mu"], p["angle_offset"], p["shift"], onehot)
        logits = self.log_prior_bins - self._nll_bins(x, out[:, None])[:, 0]
        q = F.softmax(logits.float(), dim=1)
        r = (q * torch.exp(1j * self.bin_centers)).sum(1).abs().clamp(1e-6, 1.0)
        return {
            "angle_logits": logits,
            "angle": self.bin_centers[q.argmax(1)] + p["angle_offset"],
            "angle_logstd": 0.5 * torch.log(-2 * torch.log(r) + 1e-12),  # circular std
        }

    # ----------------------------------------------------------------- decoder
    def decode_raw(self, z, angle=None, shift=None, onehot=None) -> torch.Tensor:
        """Decoder output (Gaussian mean or Bernoulli logits).

        ``angle`` (N,) gives (N, C, H, W); ``angle`` (N, M) gives (N, M, C, H, W).
        """
        code = z if onehot is None else torch.cat([z, onehot.to(z.dtype)], dim=1)
        if angle is not None and angle.dim() == 1:
            return self.decoder(code, angle[:, None], shift)[:, 0]
        out = self.decoder(code, angle, shift)
        return out if angle is not None else out[:, 0]

    def decode_mean(self, z, angle=None, shift=None, onehot=None) -> torch.Tensor:
        """Expected image under the likelihood, (N, C, H, W)."""
        out = self.decode_raw(z, angle, shift, onehot)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out

    def _nll(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood summed over (C, H, W) (constants dropped).

        ``x`` (B, C, H, W), ``out`` (B, M, C, H, W) -> (B, M).
        """
        x = x[:, None].expand_as(out)
        if self.config.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        else:
            nll = 0.5 * (out - x).pow(2) / self.config.recon_sigma**2
        return nll.flatten(2).sum(2)

    # ----------------------------------------------------------------- ELBO terms
    def forward(
        self, x, generator=None, temperature: float = 1.0, use_z: bool = True
    ) -> dict[str, torch.Tensor]:
        """Loss terms averaged over the batch: ``recon``, ``kl_z`` [, ``kl_angle``,
        ``kl_shift``] [, ``kl_disc``] [, ``kl_marg``: KL of the batch-mean class
        posterior from uniform, joint kinds with ``discrete`` "exact" or
        "enumerate"; weighted by ``TrainConfig.class_balance``].

        ``use_z=False`` decodes with z = 0 (the trainer's rotation warm-up: the
        decoder must then explain orientation through the grid, not through z).
        """
        c = self.config
        b = x.shape[0]
        p = self.posterior(x)

        def sample(mu, logstd):
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            return mu + torch.exp(logstd) * eps

        z = sample(p["z_mu"], p["z_logstd"])
        if not use_z:
            z = torch.zeros_like(z)
        terms = {"kl_z": kl_normal(p["z_mu"], p["z_logstd"], 1.0)}
        angles = shift = None
        if c.rotation:
            shift = sample(p["shift"], p["shift_logstd"])
            terms["kl_shift"] = kl_normal(p["shift"], p["shift_logstd"], c.sigma_shift)
            if self.grid_angles:
                angles = p["angle_offset"]
            else:
                angles = sample(p["angle"], p["angle_logstd"])
                terms["kl_angle"] = kl_normal(
                    p["angle"][:, None], p["angle_logstd"][:, None], c.sigma_angle
                )
        kk = self.n_classes
        q = None
        if not kk:
            out = self.decode_raw(z, angles, shift)[:, None]  # (B, 1, C, H, W)
        else:
            if c.discrete != "exact":
                logq = F.log_softmax(p["logits"].float(), dim=1)
                q = logq.exp()
                terms["kl_disc"] = (q * logq).sum(1) + math.log(kk)
            if c.discrete in ("enumerate", "exact"):
                onehot = torch.eye(kk, device=x.device, dtype=z.dtype).repeat(b, 1)  # (B*K, K)
                rep = lambda t: None if t is None else t.repeat_interleave(kk, 0)  # noqa: E731
                out = self.decode_raw(rep(z), rep(angles), rep(shift), onehot)
                out = out.view(b, kk, *out.shape[1:])
            else:
                u = torch.rand(q.shape, generator=generator, device=x.device).clamp(1e-10, 1)
                soft = F.softmax((logq - torch.log(-torch.log(u))) / temperature, dim=1)
                out = self.decode_raw(z, angles, shift, soft)[:, None]
                q = None
        if self.grid_angles:
            # exact posterior over the bins given z, Δr (and the class):
            # E_q[nll] + KL(q ‖ p) = -log Σ_m p_m exp(-nll_m)
            nll = self._nll_bins(x, out).float()  # (B, K', M)
            logq_rot = F.log_softmax(self.log_prior_bins - nll, dim=2)
            q_rot = logq_rot.exp()
            kl_rot = (q_rot * (logq_rot - self.log_prior_bins)).sum(2)  # (B, K')
            nll = (q_rot * nll).sum(2)
            terms["kl_angle"] = kl_rot[:, 0] if q is None else (q * kl_rot).sum(1)
        else:
            nll = self._nll(x, out)  # (B, K')
        if c.discrete == "exact" and kk:
            # exact class posterior given z and Δ: q(k) ∝ exp(-(nll_k + KL_angle,k))
            per_class = nll + (kl_rot if self.grid_angles else 0.0)
            logq = F.log_softmax(-per_class, dim=1)
            q = logq.exp()
            terms["kl_disc"] = (q * logq).sum(1) + math.log(kk)
            if self.grid_angles:
                terms["kl_angle"] = (q * kl_rot).sum(1)
        terms["recon"] = nll[:, 0] if q is None else (q * nll).sum(1)
        if q is not None:
            # KL of the batch-mean class posterior from uniform (class balance)
            qbar = q.mean(0).clamp_min(1e-12)
            terms["kl_marg"] = ((qbar * qbar.log()).sum() + math.log(kk)).expand(b)
        return {k: v.mean() for k, v in terms.items()}

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

    def _nll_bins(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """NLL of ``x`` under ``out`` rotated by each bin angle, on the inscribed disk.

        ``x`` (B, C, H, W), ``out`` (B, K, C, H, W) -> (B, K, M).  The input is
        smoothed (:meth:`smooth`) and rotated (no gradient needed) instead of the
        output, and the NLL is linear
        in the data given the output, so all M bins cost one batched product.
        """
        b, ch, h, w = x.shape
        m = self.config.angle_bins
        with torch.no_grad():
            x = self.smooth(x)
            g = self.rot_grid.to(x.dtype)[None].expand(b, -1, -1, -1).reshape(b, m * h, w, 2)
            xm = F.grid_sample(x, g, mode="bilinear", padding_mode="zeros", align_corners=True)
            xm = xm.view(b, ch, m, h * w)[..., self.disk].transpose(1, 2).reshape(b, m, -1)
            x0 = x.flatten(2)[..., self.disk].reshape(b, -1)
        o = out.flatten(3)[..., self.disk].flatten(2)  # (B, K, C*Pd)
        cross = o @ xm.transpose(1, 2).to(o.dtype)  # (B, K, M)
        if self.config.likelihood == "bernoulli":
            return F.softplus(o).sum(2, keepdim=True) - cross
        s2 = self.config.recon_sigma**2
        xx = x0.pow(2).sum(1)[:, None, None]
        return 0.5 / s2 * (xx - 2 * cross + o.pow(2).sum(2, keepdim=True))
